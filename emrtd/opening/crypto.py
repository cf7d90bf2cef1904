"""The ciphers that open a chip and protect its secure messaging (ICAO 9303 part 11, 9.7-9.8): two-key 3DES in
CBC mode with a zero IV and the retail MAC (BAC, and PACE's 3DES suite), or AES in CBC mode with the IV made
from the send sequence counter and CMAC (PACE's AES suites). ISO/IEC 9797-1 padding method 2 for both.

A `Suite` is one of them with its key derivation (KDF, 9.7.1): SHA-1 of the shared secret and a 32-bit counter
(1 encryption, 2 MAC, 3 the PACE password), cut to the key's length; SHA-256 for AES-192 and AES-256.

3DES comes from `cryptography`'s decrepit module: it is what the chips speak, not a choice of ours.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

_ZERO_IV = bytes(8)

ENC, MAC, PASSWORD = 1, 2, 3  # the KDF's counters


def _key(key: bytes) -> TripleDES:
    # Written out as three DES keys (K1 K2 K1, or K K K for single DES): the shorter forms are deprecated.
    return TripleDES(key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key)


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 method 2: 0x80, then zeros to a multiple of `block` bytes."""
    return data + b"\x80" + bytes(-(len(data) + 1) % block)


def unpad(data: bytes) -> bytes:
    """`data` without its method-2 padding; ValueError if it has none."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ValueError("padding is not ISO/IEC 9797-1 method 2")
    return stripped[:-1]


def encrypt(key: bytes, data: bytes) -> bytes:
    """3DES-CBC with a zero IV over `data` (a multiple of 8 bytes)."""
    encryptor = Cipher(_key(key), modes.CBC(_ZERO_IV)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    decryptor = Cipher(_key(key), modes.CBC(_ZERO_IV)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """The 8-byte retail MAC of `data` (padded here): single-DES CBC under the key's first half, the last block
    then decrypted under the second half and encrypted again under the first."""
    ka, kb = key[:8], key[8:16]
    last = encrypt(ka, pad(data))[-8:]  # an 8-byte key is single DES
    return encrypt(ka, decrypt(kb, last))


def same_mac(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def des_parity(key: bytes) -> bytes:
    """`key` with the DES parity bit of every byte set (odd parity)."""
    return bytes(b & 0xFE | (bin(b >> 1).count("1") + 1) % 2 for b in key)


@dataclass(frozen=True)
class Suite:
    """A secure-messaging cipher suite: 3DES (`key_size` 16) or AES (16, 24 or 32)."""

    name: str
    key_size: int

    @property
    def block(self) -> int:
        return 8 if self.name == "3DES" else 16

    def derive(self, secret: bytes, counter: int) -> bytes:
        """KDF(secret, counter): the key for encryption (1), MAC (2) or the PACE password (3)."""
        hashed = hashlib.sha256 if self.key_size > 16 else hashlib.sha1
        key = hashed(secret + counter.to_bytes(4, "big")).digest()[:self.key_size]
        return des_parity(key) if self.name == "3DES" else key

    def encrypt(self, key: bytes, data: bytes, ssc: bytes | None = None) -> bytes:
        """CBC over `data` (a whole number of blocks): a zero IV for 3DES; for AES the IV is the send sequence
        counter encrypted under the key (zero without a counter, as for PACE's nonce)."""
        if self.name == "3DES":
            return encrypt(key, data)
        encryptor = Cipher(algorithms.AES(key), modes.CBC(self._iv(key, ssc))).encryptor()
        return encryptor.update(data) + encryptor.finalize()

    def decrypt(self, key: bytes, data: bytes, ssc: bytes | None = None) -> bytes:
        if self.name == "3DES":
            return decrypt(key, data)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(self._iv(key, ssc))).decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def _iv(self, key: bytes, ssc: bytes | None) -> bytes:
        if ssc is None:
            return bytes(16)
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return encryptor.update(ssc) + encryptor.finalize()

    def mac(self, key: bytes, data: bytes) -> bytes:
        """The 8-byte MAC of `data` padded to the block: secure messaging's MAC."""
        return self.token(key, pad(data, self.block)) if self.name != "3DES" else retail_mac(key, data)

    def token(self, key: bytes, data: bytes) -> bytes:
        """The 8-byte MAC of `data` as PACE's authentication token takes it: the retail MAC (which pads) for
        3DES, CMAC over the data as it is for AES."""
        if self.name == "3DES":
            return retail_mac(key, data)
        cmac = CMAC(algorithms.AES(key))
        cmac.update(data)
        return cmac.finalize()[:8]


TRIPLE_DES = Suite("3DES", 16)
AES_128, AES_192, AES_256 = Suite("AES", 16), Suite("AES", 24), Suite("AES", 32)
