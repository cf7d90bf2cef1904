"""The gallery a gateway sends a device (`cmd/gallery`): a signed, encrypted, versioned snapshot.

The gateway publishes it retained, so a device that was offline gets the newest
version the moment it reconnects, even if the gateway itself is down then. The
body names the device, version and model pack in clear; the templates are
AES-256-GCM encrypted with the device's gallery key (from its bundle), with
device and version as associated data, so a ciphertext cannot be replayed to
another device or as another version. The gateway's Ed25519 signature covers
the whole body. The device keeps the payload as it came: its gallery at rest
is this encrypted, signed file.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wire.signing import DeviceKey, SignatureError, canonical_json, public_key_from_text, verify_envelope

EMBEDDING_DTYPE = np.float32


class GalleryError(ValueError):
    """A gallery payload that is not for this device, not from the gateway, or damaged."""


@dataclass(frozen=True)
class Gallery:
    device: str
    version: int
    pack: str
    subjects: list[str]
    templates: np.ndarray  # (n, d) float32, L2-normalised


def new_gallery_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def seal_gallery(device: str, version: int, pack: str, dim: int, members: dict[str, bytes], gallery_key: str,
                 gateway_key: DeviceKey, issued_at: str) -> bytes:
    """The `cmd/gallery` payload for `members` (subject -> float32 template bytes)."""
    subjects = sorted(members)
    plain = json.dumps({"subjects": subjects,
                        "templates": [base64.b64encode(members[s]).decode("ascii") for s in subjects]}).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(gallery_key)).encrypt(nonce, plain, f"{device}|{version}".encode())
    body = {"v": 1, "device": device, "version": version, "pack": pack, "dim": dim, "size": len(subjects),
            "issued_at": issued_at, "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(sealed).decode("ascii")}
    return json.dumps({"body": body, "sig": gateway_key.sign(canonical_json(body))}, separators=(",", ":")).encode()


def open_gallery(payload: bytes, device: str, gallery_key: str, gateway_public_key: str) -> Gallery:
    """Verify, decrypt and unpack a `cmd/gallery` payload; GalleryError if anything is off."""
    try:
        envelope = json.loads(payload)
        body = envelope["body"]
        verify_envelope(body, envelope.get("sig"), public_key_from_text(gateway_public_key))
        if body.get("v") != 1 or body["device"] != device:
            raise GalleryError(f"gallery is for device {body.get('device')!r}, not {device!r}")
        plain = AESGCM(base64.b64decode(gallery_key)).decrypt(
            base64.b64decode(body["nonce"]), base64.b64decode(body["ciphertext"]),
            f"{device}|{body['version']}".encode())
        content = json.loads(plain)
    except SignatureError as exc:
        raise GalleryError(f"gallery signature: {exc}") from None
    except InvalidTag:
        raise GalleryError("gallery cannot be decrypted with this device's key") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise GalleryError(f"malformed gallery payload: {exc}") from None
    rows = [np.frombuffer(base64.b64decode(t), dtype=EMBEDDING_DTYPE) for t in content["templates"]]
    templates = np.vstack(rows) if rows else np.zeros((0, int(body["dim"])), dtype=EMBEDDING_DTYPE)
    return Gallery(device, int(body["version"]), body["pack"], list(content["subjects"]), templates)
