"""SecurityInfos (ICAO 9303 part 11, 9.2): what a chip says it can do, in EF.CardAccess (read before the chip
is opened: PACE) and in DG14 (covered by EF.SOD: Chip Authentication, Active Authentication's algorithm).

Each entry is a SEQUENCE of a protocol's object identifier and the data that protocol defines; this module
splits them, and the protocol's own module reads the data (emrtd/opening/pace.py, emrtd/checks/clone.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from emrtd.link.tlv import TlvError, read_tlv

SET, SEQUENCE, INTEGER, OID = 0x31, 0x30, 0x02, 0x06
DG14_TAG = 0x6E


@dataclass(frozen=True)
class SecurityInfo:
    oid: bytes  # the identifier's encoded value (no tag, no length): compared with the constants as they are
    data: tuple[tuple[int, bytes], ...]  # what follows it: (tag, value) of each object
    raw: tuple[bytes, ...]  # the same objects with their tags and lengths (a key to hand to a parser)

    def integer(self, index: int) -> int | None:
        """The INTEGER at `index` among the data, or None if there is none."""
        if index < len(self.data) and self.data[index][0] == INTEGER:
            return int.from_bytes(self.data[index][1], "big")
        return None


def parse_security_infos(data: bytes) -> list[SecurityInfo]:
    """The entries of EF.CardAccess (a SET) or of DG14 (tag 6E around the SET); TlvError if it is not one."""
    tag, value, _ = read_tlv(data)
    if tag == DG14_TAG:
        tag, value, _ = read_tlv(value)
    if tag != SET:
        raise TlvError(f"SecurityInfos: a SET was expected, not tag {tag:02X}")
    infos, offset = [], 0
    while offset < len(value):
        tag, entry, offset = read_tlv(value, offset)
        if tag != SEQUENCE:
            raise TlvError(f"SecurityInfo: a SEQUENCE was expected, not tag {tag:02X}")
        inner, objects, raws = 0, [], []
        while inner < len(entry):
            start = inner
            inner_tag, inner_value, inner = read_tlv(entry, inner)
            objects.append((inner_tag, inner_value))
            raws.append(entry[start:inner])
        if not objects or objects[0][0] != OID:
            raise TlvError("SecurityInfo without its protocol's identifier")
        infos.append(SecurityInfo(objects[0][1], tuple(objects[1:]), tuple(raws[1:])))
    return infos
