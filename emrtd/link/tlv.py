"""BER-TLV as the chip's files use it (ISO/IEC 7816-4): one- or two-byte tags, definite lengths."""

from __future__ import annotations


class TlvError(ValueError):
    """Bytes that are not the TLV they should be (a truncated or corrupt file)."""


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, length, offset of the value) of the TLV at `offset`: the header alone, as the first bytes of a
    file tell how long it is."""
    try:
        tag = data[offset]
        offset += 1
        if tag & 0x1F == 0x1F:  # the tag goes on while the high bit is set
            while True:
                tag = tag << 8 | data[offset]
                offset += 1
                if not data[offset - 1] & 0x80:
                    break
        length = data[offset]
        offset += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 3:
                raise TlvError(f"length of {size} bytes at {offset - 1}")
            if offset + size > len(data):
                raise IndexError
            length = int.from_bytes(data[offset:offset + size], "big")
            offset += size
    except IndexError:
        raise TlvError("truncated") from None
    return tag, length, offset


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, offset after it) of the TLV at `offset`."""
    tag, length, offset = read_header(data, offset)
    if offset + length > len(data):
        raise TlvError(f"value of {length} bytes at {offset} runs past the end ({len(data)} bytes)")
    return tag, data[offset:offset + length], offset + length


def file_value(data: bytes, tag: int, name: str) -> bytes:
    """The value of a chip file that must start with `tag` (DG1 61, DG2 75, ...); TlvError naming `name` if it
    does not."""
    found, value, _ = read_tlv(data)
    if found != tag:
        raise TlvError(f"{name} starts with tag {found:X}, not {tag:X}")
    return value


def children(value: bytes) -> dict[int, bytes]:
    """The TLVs inside a constructed value, by tag (the last one of a tag wins)."""
    found, offset = {}, 0
    while offset < len(value):
        tag, inner, offset = read_tlv(value, offset)
        found[tag] = inner
    return found


def tlv(tag: int, value: bytes) -> bytes:
    """The TLV of `tag` and `value`, definite length in the fewest bytes."""
    size = len(value)
    if size < 0x80:
        length = bytes((size,))
    else:
        body = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes((0x80 | len(body),)) + body
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big") + length + value
