"""DG1: the machine-readable zone as the chip holds it (tag 61, inside it 5F1F), parsed (ICAO 9303 parts 4-5).

Two layouts: TD1, three lines of 30 (ID cards, Vietnam's CCCD among them), and TD3, two lines of 44
(passports). Each check digit is checked: a chip whose MRZ does not add up is reported, not believed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emrtd.link.tlv import TlvError, children, file_value

_WEIGHTS = (7, 3, 1)
MRZ_FIELD = re.compile(r"^[0-9A-Z<]+$")


def check_digit(field: str) -> str:
    """The MRZ check digit of `field`: digits as themselves, A-Z as 10-35, '<' as 0, weighted 7, 3, 1."""
    if not MRZ_FIELD.match(field):
        raise ValueError(f"MRZ field {field!r}: only digits, A-Z and '<'")
    total = 0
    for i, char in enumerate(field):
        value = int(char) if char.isdigit() else 0 if char == "<" else ord(char) - ord("A") + 10
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


@dataclass(frozen=True)
class Mrz:
    document_type: str
    issuing_state: str
    document_number: str
    birth: str  # YYMMDD
    sex: str  # M, F or < (unspecified)
    expiry: str  # YYMMDD
    nationality: str
    surname: str
    given_names: str
    optional: str  # TD1's optional data (the CCCD's 12-digit personal number sits here)

    @property
    def name(self) -> str:
        """The holder's name in the order of the issuing state: family name first on a Vietnamese card
        (NGUYEN VAN AN), given names first elsewhere (ERIKA MUSTERMANN)."""
        parts = (self.surname, self.given_names) if self.issuing_state == "VNM" else (self.given_names, self.surname)
        return " ".join(filter(None, parts))

    @property
    def card_number(self) -> str:
        """The number that identifies the holder: a CCCD's 12-digit citizen number (its MRZ's optional data
        carries it in full), else the document number."""
        digits = self.optional[:12]
        if self.issuing_state == "VNM" and len(digits) == 12 and digits.isdigit():
            return digits
        return self.document_number


def _names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _checked(field: str, digit: str, what: str) -> str:
    if check_digit(field) != digit:
        raise ValueError(f"DG1: the check digit of the {what} is wrong")
    return field


def parse_mrz(text: str) -> Mrz:
    """The fields of a TD1 (90 characters) or TD3 (88) MRZ; ValueError if a check digit is wrong."""
    if len(text) == 90:
        a, b, c = text[:30], text[30:60], text[60:]
        number = a[5:14]
        if a[14] == "<":  # a document number longer than 9 goes on in the optional data, its check digit last
            extra = a[15:30].split("<", 1)[0]
            number, digit, optional = number + extra[:-1], extra[-1:], ""
        else:
            digit, optional = a[14], a[15:30].rstrip("<")
        surname, given = _names(c)
        return Mrz(a[0:2].replace("<", ""), a[2:5], _checked(number, digit, "document number").rstrip("<"),
                   _checked(b[0:6], b[6], "birth date"), b[7], _checked(b[8:14], b[14], "expiry date"),
                   b[15:18], surname, given, optional)
    if len(text) == 88:
        a, b = text[:44], text[44:]
        surname, given = _names(a[5:44])
        return Mrz(a[0:2].replace("<", ""), a[2:5], _checked(b[0:9], b[9], "document number").rstrip("<"),
                   _checked(b[13:19], b[19], "birth date"), b[20], _checked(b[21:27], b[27], "expiry date"),
                   b[10:13], surname, given, b[28:42].rstrip("<"))
    raise ValueError(f"DG1: an MRZ of {len(text)} characters is neither TD1 (90) nor TD3 (88)")


def parse_dg1(data: bytes) -> Mrz:
    """The MRZ of a DG1 file; ValueError (TlvError) if the file is not one."""
    value = file_value(data, 0x61, "DG1")
    mrz = children(value).get(0x5F1F)
    if mrz is None:
        raise TlvError("DG1 holds no MRZ (tag 5F1F)")
    return parse_mrz(mrz.decode("ascii", "replace"))
