"""The gallery a gateway sends a device (`cmd/gallery`): a signed, encrypted, versioned snapshot.

The gateway publishes it retained, so a device that was offline gets the newest
version the moment it reconnects, even if the gateway itself is down then. The
body names the device, version and model pack in clear; the templates are
AES-256-GCM encrypted with the device's gallery key (from its bundle), with
device and version as associated data, so a ciphertext cannot be replayed to
another device or as another version. The gateway's Ed25519 signature covers
the whole body. The device keeps the payload as it came: its gallery at rest
is this encrypted, signed file.

Beside the templates, sealed with them, go the passes of the subjects who hold
any at the device's site (`admits`): each pass's window, gates and entries, so
the gate decides offline whether the face it recognised may come in now
(edge/gate/passes.py). A subject without passes there is admitted by their
consent alone, as before passes existed (staff, regulars).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wire.signing import DeviceKey, SignatureError, open_addressed, seal_addressed

EMBEDDING_DTYPE = np.float32


class GalleryError(ValueError):
    """A gallery payload that is not for this device, not from the gateway, or damaged."""


@dataclass(frozen=True)
class Admit:
    """One pass as a gate sees it: when and where it lets its holder in, and how often."""

    pass_id: str
    valid_from: str  # UTC text (wire.events.utc_text): valid from this instant ...
    valid_until: str  # ... until this one, excluded
    gates: tuple[str, ...] | None  # the devices it opens; None: every gate of the site
    entries: int | None  # entries it allows; None: as many as wanted (anti-passback still applies)
    used: int = 0  # entries the gateway had recorded when the gallery was made

    def wire(self) -> list:
        return [self.pass_id, self.valid_from, self.valid_until,
                None if self.gates is None else list(self.gates), self.entries, self.used]

    @classmethod
    def from_wire(cls, row: list) -> Admit:
        pass_id, valid_from, valid_until, gates, entries, used = row
        return cls(str(pass_id), str(valid_from), str(valid_until), None if gates is None else tuple(map(str, gates)),
                   None if entries is None else int(entries), int(used))


@dataclass(frozen=True)
class Gallery:
    device: str
    version: int
    pack: str
    subjects: list[str]
    templates: np.ndarray  # (n, d) float32, L2-normalised
    admits: dict[str, list[Admit]] = field(default_factory=dict)  # subject -> their passes at the site


def new_gallery_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def seal_gallery(device: str, version: int, pack: str, dim: int, members: dict[str, bytes], gallery_key: str,
                 gateway_key: DeviceKey, issued_at: str, admits: dict[str, list[Admit]] | None = None) -> bytes:
    """The `cmd/gallery` payload for `members` (subject -> float32 template bytes) and their passes (`admits`)."""
    subjects = sorted(members)
    plain = json.dumps({"subjects": subjects,
                        "templates": [base64.b64encode(members[s]).decode("ascii") for s in subjects],
                        "admits": {s: [a.wire() for a in passes] for s, passes in sorted((admits or {}).items())
                                   if s in members}}).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(gallery_key)).encrypt(nonce, plain, f"{device}|{version}".encode())
    body = {"v": 1, "device": device, "version": version, "pack": pack, "dim": dim, "size": len(subjects),
            "issued_at": issued_at, "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(sealed).decode("ascii")}
    return seal_addressed(body, gateway_key)


def open_gallery(payload: bytes, device: str, gallery_key: str, gateway_public_key: str) -> Gallery:
    """Verify, decrypt and unpack a `cmd/gallery` payload; GalleryError if anything is off."""
    try:
        body = open_addressed(payload, device, gateway_public_key)
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
    try:
        rows = [np.frombuffer(base64.b64decode(t), dtype=EMBEDDING_DTYPE) for t in content["templates"]]
        admits = {str(s): [Admit.from_wire(a) for a in passes] for s, passes in content.get("admits", {}).items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise GalleryError(f"malformed gallery contents: {exc}") from None
    templates = np.vstack(rows) if rows else np.zeros((0, int(body["dim"])), dtype=EMBEDDING_DTYPE)
    return Gallery(device, int(body["version"]), body["pack"], list(content["subjects"]), templates, admits)
