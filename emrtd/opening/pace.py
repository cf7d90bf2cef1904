"""PACE, Password Authenticated Connection Establishment (ICAO 9303 part 11, 4.4): the access protocol of the
2024 cards and of most passports, which may one day be the only one they accept.

The password is the same MRZ information as BAC's (emrtd/opening/bac.py), hashed; from it the reader decrypts
a nonce the chip chose, and both sides map that nonce to a fresh generator of the curve (generic mapping:
G' = s*G + H, H an ECDH of two throw-away keys), then agree the session's secret on G' with a second pair.
Each side proves it ended with the same secret by a MAC over the other's public key (the authentication
token); a wrong password shows there, where the chip refuses the reader's token. What is implemented: the
ECDH generic mapping with the 3DES and AES suites, on the curves of emrtd/opening/curves.py. The exchange
matches ICAO 9303-11's worked example (appendix G.1) byte for byte (tests/test_emrtd.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from emrtd.files.security import parse_security_infos
from emrtd.link.apdu import OK, AccessDenied, CardError, StatusError, Transport, command, split
from emrtd.link.tlv import TlvError, children, tlv
from emrtd.opening import crypto
from emrtd.opening.crypto import AES_128, AES_192, AES_256, ENC, MAC, PASSWORD, TRIPLE_DES, Suite
from emrtd.opening.curves import STANDARD, Curve, CurveError
from emrtd.opening.secure_messaging import SecureChannel

PACE_PREFIX = bytes.fromhex("04007F0007020204")  # id-PACE, 0.4.0.127.0.7.2.2.4
ECDH_GM = 2  # id-PACE-ECDH-GM, 0.4.0.127.0.7.2.2.4.2
SUITES = {1: TRIPLE_DES, 2: AES_128, 3: AES_192, 4: AES_256}  # its last arc: the cipher suite
MRZ_PASSWORD = 1  # the password's reference in MSE:Set AT (2 would be the CAN)


@dataclass(frozen=True)
class PaceInfo:
    """One way EF.CardAccess offers PACE: the protocol (its OID), its version and the curve's number."""

    oid: bytes
    version: int | None
    parameter: int | None

    @property
    def supported(self) -> bool:
        return (len(self.oid) == 10 and self.oid[:8] == PACE_PREFIX and self.oid[8] == ECDH_GM
                and self.oid[9] in SUITES and self.version == 2 and self.parameter in STANDARD)

    @property
    def suite(self) -> Suite:
        return SUITES[self.oid[9]]

    @property
    def curve(self) -> Curve:
        return STANDARD[self.parameter]

    def describe(self) -> str:
        if not self.supported:
            return f"PACE {self.oid.hex().upper()} (parameters {self.parameter})"
        suite = self.suite.name if self.suite.name == "3DES" else f"AES-{self.suite.key_size * 8}"
        return f"PACE ECDH-GM {suite} {self.curve.name}"


def pace_infos(card_access: bytes) -> list[PaceInfo]:
    """The PACE entries of EF.CardAccess (other SecurityInfos are for other protocols); TlvError if it does not
    parse."""
    return [PaceInfo(info.oid, info.integer(0), info.integer(1))
            for info in parse_security_infos(card_access) if info.oid[:8] == PACE_PREFIX]


def choose(infos: list[PaceInfo]) -> PaceInfo | None:
    """The entry this reader runs: the strongest supported suite; None if none is supported (then BAC)."""
    usable = [info for info in infos if info.supported]
    return max(usable, key=lambda info: (info.suite.name != "3DES", info.suite.key_size), default=None)


def _scalar(curve: Curve) -> int:
    return secrets.randbelow(curve.n - 1) + 1


def token_input(oid: bytes, public_point: bytes) -> bytes:
    """What the authentication token MACs: the protocol and the other side's public key (a public key data
    object, tag 7F49, ICAO 9303-11 4.4.3.4)."""
    return tlv(0x7F49, tlv(0x06, oid) + tlv(0x86, public_point))


def _general_authenticate(transport: Transport, data: bytes, answer_tag: int, last: bool = False) -> bytes:
    """One step of GENERAL AUTHENTICATE (command chaining until the last): `data` inside its dynamic
    authentication data (7C), the chip's object `answer_tag` back."""
    answer, status = split(transport.transmit(command(0x00 if last else 0x10, 0x86, 0x00, 0x00,
                                                      tlv(0x7C, data), le=256)))
    if status != OK:
        if last:  # the chip refuses the reader's token: the password (the MRZ details) is not this card's
            raise AccessDenied("the card did not accept these details (document number, birth date, expiry date)")
        raise StatusError("PACE", status)
    try:
        return children(children(answer)[0x7C])[answer_tag]
    except (TlvError, KeyError):
        raise CardError("the card's answer to PACE is not what ICAO 9303 says") from None


def authenticate(transport: Transport, info: PaceInfo, mrz_info: str, *, ambiguous: bool = False,
                 map_private: int | None = None, agreement_private: int | None = None) -> SecureChannel:
    """Run PACE with the MRZ password and return the secure channel (its counter at zero). AccessDenied if the
    chip refuses the password, CardError if its answers do not add up. `ambiguous`: the card offers more than
    one curve, so the number is named. `map_private` and `agreement_private` are the reader's two secret
    scalars, fresh unless given (the worked example)."""
    suite, curve = info.suite, info.curve
    k_pi = suite.derive(hashlib.sha1(mrz_info.encode("ascii")).digest(), PASSWORD)
    mechanism = tlv(0x80, info.oid) + tlv(0x83, bytes((MRZ_PASSWORD,)))
    if ambiguous:
        mechanism += tlv(0x84, bytes((info.parameter,)))
    _, status = split(transport.transmit(command(0x00, 0x22, 0xC1, 0xA4, mechanism)))
    if status != OK:
        raise StatusError(f"the card refused {info.describe()}", status)
    encrypted_nonce = _general_authenticate(transport, b"", 0x80)
    if len(encrypted_nonce) % suite.block:
        raise CardError("the card's PACE nonce is not whole blocks")
    nonce = int.from_bytes(suite.decrypt(k_pi, encrypted_nonce), "big")
    try:
        # Mapping: H from the first pair, then G' = s*G + H.
        map_private = map_private or _scalar(curve)
        chip_map = curve.decode(_general_authenticate(
            transport, tlv(0x81, curve.encode(curve.multiply(map_private, curve.g))), 0x82))
        mapped = curve.with_generator(curve.add(curve.multiply(nonce, curve.g),
                                                curve.multiply(map_private, chip_map)))
        # Key agreement on G'.
        agreement_private = agreement_private or _scalar(curve)
        public = mapped.multiply(agreement_private, mapped.g)
        chip_public = mapped.decode(_general_authenticate(transport, tlv(0x83, mapped.encode(public)), 0x84))
    except CurveError as exc:
        raise CardError(f"PACE: the card's key is not valid ({exc})") from None
    if chip_public == public:
        raise CardError("PACE: the card echoed the reader's key")
    shared = mapped.multiply(agreement_private, chip_public)[0].to_bytes(curve.size, "big")
    ks_enc, ks_mac = suite.derive(shared, ENC), suite.derive(shared, MAC)
    chip_token = _general_authenticate(
        transport, tlv(0x85, suite.token(ks_mac, token_input(info.oid, mapped.encode(chip_public)))), 0x86,
        last=True)
    if not crypto.same_mac(chip_token, suite.token(ks_mac, token_input(info.oid, mapped.encode(public)))):
        raise CardError("PACE: the card's authentication token is wrong (not the card that was asked)")
    return SecureChannel(ks_enc, ks_mac, bytes(suite.block), suite)

