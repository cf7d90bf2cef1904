"""Basic Access Control keys (ICAO 9303 part 11, 4.3 and appendix D).

The chip opens only to a reader that knows three fields printed on the card: the document number, the
holder's birth date and the card's expiry date (YYMMDD), each followed by its check digit. Their SHA-1 gives
the key seed; the seed with a counter (1: encryption, 2: MAC) gives each two-key 3DES key, with the DES
parity bit of every byte set.

Mutual authentication (4.3.3) then proves to each side that the other knows those keys and agrees fresh
session keys for secure messaging: the reader sends its random and key half encrypted with the card's random,
the card answers likewise, and the two key halves XORed seed the session.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from emrtd.files.dg1 import MRZ_FIELD, check_digit
from emrtd.link.apdu import OK, AccessDenied, CardError, StatusError, Transport, command, split
from emrtd.opening import crypto
from emrtd.opening.crypto import ENC, MAC, TRIPLE_DES
from emrtd.opening.secure_messaging import SecureChannel


def mrz_information(document: str, birth: str, expiry: str) -> str:
    """The MRZ information BAC keys come from: document number (padded to 9 with '<'), birth date and expiry
    date (YYMMDD), each with its check digit. ValueError naming the field that is not well formed."""
    document = document.strip().upper()
    if not MRZ_FIELD.match(document or "!") or len(document) > 9:
        raise ValueError(f"document number {document!r}: up to 9 of 0-9, A-Z")
    for name, date in (("birth date", birth), ("expiry date", expiry)):
        if not re.fullmatch(r"\d{6}", date) or not (1 <= int(date[2:4]) <= 12 and 1 <= int(date[4:6]) <= 31):
            raise ValueError(f"{name} {date!r}: YYMMDD")
    document = document.ljust(9, "<")
    return "".join(f + check_digit(f) for f in (document, birth, expiry))


def key_seed(mrz_info: str) -> bytes:
    return hashlib.sha1(mrz_info.encode("ascii")).digest()[:16]


@dataclass(frozen=True)
class BacKeys:
    enc: bytes
    mac: bytes

    @classmethod
    def from_mrz(cls, document: str, birth: str, expiry: str) -> BacKeys:
        return cls.from_mrz_information(mrz_information(document, birth, expiry))

    @classmethod
    def from_mrz_information(cls, mrz_info: str) -> BacKeys:
        seed = key_seed(mrz_info)
        return cls(TRIPLE_DES.derive(seed, ENC), TRIPLE_DES.derive(seed, MAC))


def authenticate(transport: Transport, keys: BacKeys, rnd_ifd: bytes | None = None,
                 k_ifd: bytes | None = None) -> SecureChannel:
    """Run BAC's mutual authentication with the card (the application already selected) and return the secure
    channel. AccessDenied if the card refuses the keys, i.e. the MRZ details are not this card's.

    `rnd_ifd` and `k_ifd` are the reader's random and key half, fresh unless given (the worked example)."""
    rnd_ifd = rnd_ifd or os.urandom(8)
    k_ifd = k_ifd or os.urandom(16)
    rnd_icc, status = split(transport.transmit(command(0x00, 0x84, 0x00, 0x00, le=8)))
    if status != OK or len(rnd_icc) != 8:
        raise StatusError("GET CHALLENGE", status)
    e_ifd = crypto.encrypt(keys.enc, rnd_ifd + rnd_icc + k_ifd)
    answer, status = split(transport.transmit(
        command(0x00, 0x82, 0x00, 0x00, e_ifd + crypto.retail_mac(keys.mac, e_ifd), le=0x28)))
    if status != OK:
        raise AccessDenied("the card did not accept these details (document number, birth date, expiry date)")
    if len(answer) != 40 or not crypto.same_mac(answer[32:], crypto.retail_mac(keys.mac, answer[:32])):
        raise CardError("the card's answer to authentication is not valid")
    plain = crypto.decrypt(keys.enc, answer[:32])
    if plain[:8] != rnd_icc or plain[8:16] != rnd_ifd:
        raise CardError("the card's answer to authentication does not match our challenge")
    seed = bytes(a ^ b for a, b in zip(k_ifd, plain[16:32]))
    return SecureChannel(TRIPLE_DES.derive(seed, ENC), TRIPLE_DES.derive(seed, MAC), rnd_icc[4:] + rnd_ifd[4:])
