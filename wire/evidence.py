"""Exam evidence (small JPEGs) and a kiosk's card reads encrypted with the device's key: on the device's disk
and on the wire.

AES-256-GCM with the device's gallery key; device and evidence id are the
associated data, so a blob cannot be passed off as another device's or another
flag's. The signed `exam.evidence` event carries the JPEG's SHA-256, so the
gateway can prove what it shows is what the device saw.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class EvidenceError(ValueError):
    """Evidence that does not decrypt, or does not match its recorded hash."""


def seal(key: str, device: str, record: str, data: bytes) -> tuple[str, str]:
    """(nonce, ciphertext), base64, of `data` bound to the device and the record it belongs to."""
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(key)).encrypt(nonce, data, f"{device}|{record}".encode())
    return base64.b64encode(nonce).decode("ascii"), base64.b64encode(sealed).decode("ascii")


def open_sealed(key: str | None, device: str, record: str, nonce: str, ciphertext: str) -> bytes:
    """What `seal` sealed; EvidenceError if it does not decrypt with this device's key for this record."""
    try:
        return AESGCM(base64.b64decode(key)).decrypt(base64.b64decode(nonce), base64.b64decode(ciphertext),
                                                     f"{device}|{record}".encode())
    except (InvalidTag, ValueError, TypeError):
        raise EvidenceError(f"{record} does not decrypt with {device}'s key") from None


def seal_evidence(key: str, device: str, evidence_id: str, jpeg: bytes) -> tuple[str, str]:
    """(nonce, ciphertext), base64."""
    return seal(key, device, evidence_id, jpeg)


def open_evidence(key: str, device: str, evidence_id: str, nonce: str, ciphertext: str, sha256: str) -> bytes:
    """The JPEG, checked against the hash the device signed."""
    try:
        jpeg = open_sealed(key, device, evidence_id, nonce, ciphertext)
    except EvidenceError:
        raise EvidenceError(f"evidence {evidence_id} does not decrypt with {device}'s key") from None
    if hashlib.sha256(jpeg).hexdigest() != sha256:
        raise EvidenceError(f"evidence {evidence_id} does not match its signed SHA-256")
    return jpeg
