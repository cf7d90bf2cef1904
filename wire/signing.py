"""Ed25519 signatures over a canonical serialisation of the event body.

Canonical form: JSON with keys sorted, no whitespace, UTF-8, no NaN. Both
sides produce it from plain JSON values (the gateway from the dict it parsed,
never from re-serialised models), so the bytes signed and verified agree.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire.events import EventBase


class SignatureError(ValueError):
    """Missing, malformed or wrong signature."""


def canonical_json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as the base64 of its 32 raw bytes (how the gateway registers it)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


class DeviceKey:
    """A device's Ed25519 private key."""

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> DeviceKey:
        return cls(Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True)))

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        return cls.from_text(Path(path).read_text(encoding="ascii").strip())

    def to_text(self) -> str:
        raw = self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        return base64.b64encode(raw).decode("ascii")

    @property
    def public_text(self) -> str:
        return public_key_text(self._private.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode("ascii")


def sign_event(event: EventBase, key: DeviceKey) -> bytes:
    """The MQTT payload for an event: the envelope with body and signature."""
    body = event.model_dump(mode="json")
    envelope = {"body": body, "sig": key.sign(canonical_json(body))}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal_addressed(body: dict, gateway_key: DeviceKey) -> bytes:
    """A gateway's signed message to one device (`body` names it): the envelope `open_addressed` takes."""
    return json.dumps({"body": body, "sig": gateway_key.sign(canonical_json(body))}, separators=(",", ":")).encode()


def open_addressed(payload: bytes, device: str, gateway_public_key: str) -> dict:
    """The body of a gateway's signed message to `device` (format 1); SignatureError if the signature does not
    hold, ValueError (or KeyError, TypeError) if it is malformed or for another device."""
    envelope = json.loads(payload)
    body = envelope["body"]
    verify_envelope(body, envelope.get("sig"), public_key_from_text(gateway_public_key))
    if body.get("v") != 1 or body["device"] != device:
        raise ValueError(f"meant for device {body.get('device')!r}, not {device!r}")
    return body


def verify_envelope(body: dict, sig: object, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless `sig` is this key's signature over `body`."""
    verify_canonical(canonical_json(body), sig, public_key)


def verify_canonical(message: bytes, sig: object, public_key: Ed25519PublicKey) -> None:
    """`verify_envelope` for a body already in its canonical form (which ingest stores, so serialises once)."""
    if not isinstance(sig, str) or not sig:
        raise SignatureError("missing signature")
    try:
        public_key.verify(base64.b64decode(sig, validate=True), message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("bad signature") from exc
