"""Is this the chip the state issued, or a copy of its files? (ICAO 9303 part 11, 6.1 and 6.2.)

Passive authentication proves the files are what the state signed; a clone copies the files, but not the
chip's private keys, which never leave the chip. Two checks make the chip use them:
- **Chip Authentication** (DG14): the reader agrees new session keys with DG14's public key (ECDH with a
  throw-away key of its own); only a chip holding the private key can go on with secure messaging under them.
- **Active Authentication** (DG15): the chip signs a fresh challenge with DG15's key (RSA: ISO/IEC 9796-2
  scheme 1; ECDSA: plain r||s, the hash named in DG14).
Where the card offers either (EF.SOD covers DG14 or DG15), a failure makes the read `clone_suspected`,
treated like `tampered` everywhere. A card that offers neither is read as before.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from emrtd.checks.keys import EcKey, RsaKey, parse_public_key
from emrtd.files.security import parse_security_infos
from emrtd.link.apdu import OK, CardError
from emrtd.link.tlv import TlvError, tlv
from emrtd.opening.crypto import AES_128, AES_192, AES_256, ENC, MAC, TRIPLE_DES, Suite
from emrtd.opening.secure_messaging import SecureChannel

CLONE_SUSPECTED = "clone_suspected"
PASSED, FAILED, NOT_OFFERED = "passed", "failed", "not_offered"

PK_ECDH = bytes.fromhex("04007F000702020102")  # id-PK-ECDH: ChipAuthenticationPublicKeyInfo
CA_ECDH = bytes.fromhex("04007F000702020302")  # id-CA-ECDH, then the suite's arc
CA_SUITES = {1: TRIPLE_DES, 2: AES_128, 3: AES_192, 4: AES_256}
ACTIVE_AUTHENTICATION = bytes.fromhex("678108010105")  # id-AA, 2.23.136.1.1.5
ECDSA_PLAIN = bytes.fromhex("04007F000701010401")  # ecdsa-plain-signatures, then the hash's arc
ECDSA_HASHES = {1: "sha1", 2: "sha224", 3: "sha256", 4: "sha384", 5: "sha512"}
RSA_TRAILERS = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}  # ISO/IEC 10118-3

# (ins, p1, p2, data, le) -> (data, status): a command under the session's secure messaging
Exchange = Callable[[int, int, int, bytes, int | None], tuple[bytes, int]]


class CloneSuspected(CardError):
    """The chip could not prove it holds the private key its signed files name."""


@dataclass(frozen=True)
class ChipAuthentication:
    """DG14's offer: the protocol (its suite), its version, the key and the key's id where there are several."""

    oid: bytes
    version: int | None
    key: EcKey
    key_id: int | None = None

    @property
    def suite(self) -> Suite:
        return CA_SUITES[self.oid[-1]]


@dataclass(frozen=True)
class Dg14:
    chip_authentication: ChipAuthentication | None
    active_hash: str | None  # Active Authentication's hash for ECDSA, as DG14 names it


def parse_dg14(data: bytes) -> Dg14:
    """What DG14 offers, of what this reader runs (ECDH Chip Authentication; Active Authentication's hash);
    ValueError (TlvError) if it does not parse."""
    infos = parse_security_infos(data)
    public_keys = {}
    for info in infos:
        if info.oid == PK_ECDH and info.raw:
            try:
                public_keys[info.integer(1)] = parse_public_key(info.raw[0])
            except ValueError as exc:
                raise TlvError(f"DG14's Chip Authentication key: {exc}") from None
    chip = None
    for info in infos:
        if len(info.oid) == len(CA_ECDH) + 1 and info.oid[:-1] == CA_ECDH and info.oid[-1] in CA_SUITES:
            key_id = info.integer(1)
            key = public_keys.get(key_id) or (next(iter(public_keys.values())) if len(public_keys) == 1 else None)
            if isinstance(key, EcKey):
                chip = ChipAuthentication(info.oid, info.integer(0), key, key_id)
                break
    if chip is None and len(public_keys) == 1 and isinstance(key := next(iter(public_keys.values())), EcKey):
        chip = ChipAuthentication(CA_ECDH + b"\x01", 1, key)  # no CA info: version 1 with 3DES (9303-11 9.2.5)
    active_hash = None
    for info in infos:
        if info.oid == ACTIVE_AUTHENTICATION and len(info.data) > 1 and info.data[1][0] == 0x06:
            algorithm = info.data[1][1]
            if algorithm[:-1] == ECDSA_PLAIN:
                active_hash = ECDSA_HASHES.get(algorithm[-1])
    return Dg14(chip, active_hash)


def chip_authentication(exchange: Exchange, offer: ChipAuthentication,
                        private: int | None = None) -> SecureChannel:
    """Run Chip Authentication over the open session and return the channel under the keys it agrees (the
    card answers this command under the old ones, then switches). CloneSuspected if the chip refuses it.
    Whether the chip really holds the key shows at the next command: only the real one can MAC its answer."""
    curve, suite = offer.key.curve, offer.suite
    private = private or secrets.randbelow(curve.n - 1) + 1
    public = curve.encode(curve.multiply(private, curve.g))
    key_ref = tlv(0x84, offer.key_id.to_bytes(max(1, (offer.key_id.bit_length() + 7) // 8), "big")) \
        if offer.key_id is not None else b""
    if suite is TRIPLE_DES and offer.version in (None, 1):  # MSE:Set KAT (9303-11 6.2.4.1)
        _, status = exchange(0x22, 0x41, 0xA6, tlv(0x91, public) + key_ref, None)
    else:  # MSE:Set AT, then GENERAL AUTHENTICATE with the reader's key
        _, status = exchange(0x22, 0x41, 0xA4, tlv(0x80, offer.oid) + key_ref, None)
        if status == OK:
            _, status = exchange(0x86, 0x00, 0x00, tlv(0x7C, tlv(0x80, public)), 256)
    if status != OK:
        raise CloneSuspected(f"the chip refused the Chip Authentication its DG14 offers ({status:04X})")
    shared = curve.multiply(private, offer.key.point)[0].to_bytes(curve.size, "big")
    return SecureChannel(suite.derive(shared, ENC), suite.derive(shared, MAC), bytes(suite.block), suite)


def active_authentication(exchange: Exchange, key: EcKey | RsaKey, hash_name: str | None,
                          challenge: bytes | None = None) -> None:
    """Ask the chip to sign a fresh challenge (INTERNAL AUTHENTICATE) and check the signature with DG15's key;
    CloneSuspected if it does not verify or the chip refuses."""
    challenge = challenge or secrets.token_bytes(8)
    signature, status = exchange(0x88, 0x00, 0x00, challenge, 256)
    if status != OK or not signature:
        raise CloneSuspected(f"the chip refused the Active Authentication its DG15 offers ({status:04X})")
    if isinstance(key, RsaKey):
        good = verify_iso9796_2(key, challenge, signature)
    else:
        names = [hash_name] if hash_name else list(ECDSA_HASHES.values())  # DG14 silent: any standard hash
        good = any(verify_ecdsa_plain(key, challenge, signature, name) for name in names)
    if not good:
        raise CloneSuspected("the chip's Active Authentication signature does not verify with DG15's key")


def verify_iso9796_2(key: RsaKey, challenge: bytes, signature: bytes) -> bool:
    """ISO/IEC 9796-2 digital signature scheme 1, partial message recovery: the signature opens to 6A, the
    chip's part of the message (M1), the hash of M1 and the challenge, and a trailer naming the hash (BC:
    SHA-1; xx CC: the hash xx)."""
    value = pow(int.from_bytes(signature, "big"), key.exponent, key.modulus)
    if value & 0xF != 0xC:
        value = key.modulus - value  # the other representative (ISO/IEC 9796-2 B.6)
    opened = value.to_bytes(key.size, "big").lstrip(b"\x00")
    if not opened or opened[0] != 0x6A:
        return False
    if opened[-1] == 0xBC:
        name, trailer = "sha1", 1
    elif opened[-1] == 0xCC and opened[-2] in RSA_TRAILERS:
        name, trailer = RSA_TRAILERS[opened[-2]], 2
    else:
        return False
    size = hashlib.new(name).digest_size
    if len(opened) < 1 + size + trailer:
        return False
    recovered, digest = opened[1:-(size + trailer)], opened[-(size + trailer):-trailer]
    return secrets.compare_digest(digest, hashlib.new(name, recovered + challenge).digest())


def verify_ecdsa_plain(key: EcKey, message: bytes, signature: bytes, hash_name: str) -> bool:
    """ECDSA over `message`, the signature as r||s (BSI TR-03111's plain format)."""
    curve = key.curve
    size = (curve.n.bit_length() + 7) // 8
    if len(signature) != 2 * size:
        return False
    r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    if not (0 < r < curve.n and 0 < s < curve.n):
        return False
    digest = hashlib.new(hash_name, message).digest()
    e = int.from_bytes(digest, "big") >> max(0, 8 * len(digest) - curve.n.bit_length())
    w = pow(s, -1, curve.n)
    point = curve.add(curve.multiply(e * w % curve.n, curve.g), curve.multiply(r * w % curve.n, key.point))
    return point is not None and point[0] % curve.n == r


@dataclass
class CloneChecks:
    """What the two checks gave: `passed`, `failed` or `not_offered` each, and why a check failed."""

    chip: str = NOT_OFFERED
    active: str = NOT_OFFERED
    problems: list[str] = field(default_factory=list)

    @property
    def suspected(self) -> bool:
        return FAILED in (self.chip, self.active)
