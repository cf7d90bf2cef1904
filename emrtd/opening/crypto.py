"""The ciphers BAC and secure messaging use (ICAO 9303 part 11, 9.8): two-key 3DES in CBC mode with a zero IV,
ISO/IEC 9797-1 padding method 2, and the retail MAC (ISO/IEC 9797-1 MAC algorithm 3 with single DES).

3DES comes from `cryptography`'s decrepit module: it is what the chips speak, not a choice of ours.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

_ZERO_IV = bytes(8)


def _key(key: bytes) -> TripleDES:
    # Written out as three DES keys (K1 K2 K1, or K K K for single DES): the shorter forms are deprecated.
    return TripleDES(key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key)


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 method 2: 0x80, then zeros to a multiple of 8 bytes."""
    return data + b"\x80" + bytes(-(len(data) + 1) % 8)


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
