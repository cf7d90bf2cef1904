"""DG13 of Vietnam's chip ID card: the holder's name as written, with its diacritics.

DG1's name is ASCII only ("TRAN<<THI<BINH"); the card keeps the name as written
("Trần Thị Bình") in DG13, Vietnam's own data group: tag 6D, then a SEQUENCE of
entries, each a field id (INTEGER) and its value (UTF-8 text), field 2 the full
name (../shared/data/README.md). DG13 also holds ethnicity, religion, home town,
residence and parents' names -- sensitive personal data FaceGate has no use for:
`full_name` decodes field 2 and skips every other value without reading it.
"""

from __future__ import annotations

from emrtd.link.tlv import TlvError, file_value, read_tlv

FULL_NAME = 2


def full_name(dg13: bytes) -> str | None:
    """The holder's full name from DG13's bytes, or None if it has none; TlvError (a ValueError) if DG13 is not
    what the card's profile says."""
    body = file_value(dg13, 0x6D, "DG13")
    tag, entries, _ = read_tlv(body)
    if tag != 0x30:
        raise TlvError(f"DG13 holds tag {tag:X}, not a SEQUENCE")
    offset, field = 0, None
    while offset < len(entries):
        tag, value, offset = read_tlv(entries, offset)
        if tag == 0x30:  # an entry as a SEQUENCE of its own: its id, then its value
            if (name := _entry(value)) is not None:
                return name
        elif tag == 0x02:  # entries laid out flat: an id, then its value
            field = int.from_bytes(value, "big")
        elif field == FULL_NAME:
            return _text(value)
        else:
            field = None
    return None


def _entry(entry: bytes) -> str | None:
    tag, value, offset = read_tlv(entry)
    if tag != 0x02 or int.from_bytes(value, "big") != FULL_NAME or offset >= len(entry):
        return None
    return _text(read_tlv(entry, offset)[1])


def _text(value: bytes) -> str | None:
    try:
        text = value.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TlvError("DG13's name is not UTF-8 text") from None
    return " ".join(text.split()) or None
