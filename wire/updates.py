"""Updates the gateway sends a device (issue 29): a model pack, or a release of FaceGate itself.

An update travels on `cmd/update` (retained: the newest waits on every reconnect) as an `UpdateCommand`, signed by
the gateway and addressed to one device. It names the files to fetch -- each with its SHA-256 and size -- and where
to fetch them (the gateway's HTTPS address); the files themselves never travel over MQTT.

`sequence` numbers every update command to a device, so a replayed one (a number at or below the last one the
device took) is refused. `version` is the version of what is installed; a device refuses one older than what it
runs unless the command says `rollback` -- which only the gateway can sign.

A file is fetched with a request signed by the device's own key (`device_request_signature`): the gateway serves
update files to its registered devices only, and each request says which device asked.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Annotated, Literal

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wire.commands import open_command
from wire.signing import DeviceKey, verify_canonical

FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # a plain name: no folder, no ".."
FileName = Annotated[str, Field(pattern=FILE_NAME)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
UpdateVersion = Annotated[int, Field(ge=0, le=2**31 - 1)]  # 0: what came with the device (the built-in pack)
SELF_TEST_TOLERANCE = 0.95  # least cosine between a reference image's embedding and the one published with it
AUTH_SCHEME = "FaceGate-Device"
REQUEST_MAX_AGE_S = 600.0  # a device's clock may be some minutes off; a signed request older is refused


class UpdateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FileName
    sha256: Sha256
    size: int = Field(ge=0, le=2**40)


class Reference(BaseModel):
    """A reference image of a pack's self-test and the embedding the fleet's pack gives it."""

    model_config = ConfigDict(extra="forbid")

    file: FileName  # one of the update's files
    embedding: Annotated[str, Field(max_length=8192)]  # base64 of float32, L2-normalised

    def vector(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.embedding), dtype=np.float32)


def embedding_text(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()


UpdateKind = Literal["pack", "software"]
RELEASE = r"^[0-9][0-9A-Za-z.+-]{0,39}$"  # a FaceGate version as its wheel names it (0.2.0, 0.2.0rc1)


class UpdateCommand(BaseModel):
    """Install `version` of `name` -- a model pack, or (`software`) FaceGate `release` -- fetching `files` from
    `url` (signed by the gateway)."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    device: str
    sequence: int = Field(ge=1, le=2**31 - 1)
    kind: UpdateKind = "pack"
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]  # the pack's; "facegate" for a release
    version: UpdateVersion
    release: Annotated[str, Field(pattern=RELEASE)] | None = None  # software: the FaceGate version it installs
    rollback: bool = False  # going back to an earlier version, on purpose
    rollout: int | None = None  # the rollout this command belongs to (None: sent on its own)
    url: Annotated[str, Field(max_length=500)] = ""  # where the files are: <url>/<file name>
    files: Annotated[list[UpdateFile], Field(max_length=16)] = Field(default_factory=list)
    manifest: Annotated[str, Field(max_length=20000)] = ""  # the pack's manifest (models/manifest.toml's format)
    lock: Annotated[str, Field(max_length=100000)] = ""  # software: its hash-locked requirements (pip's format)
    reference: Annotated[list[Reference], Field(max_length=16)] = Field(default_factory=list)
    tolerance: float = Field(SELF_TEST_TOLERANCE, ge=0.5, le=1.0)
    issued_at: AwareDatetime
    by: Annotated[str, Field(max_length=64)]


def open_update(payload: bytes, device: str, gateway_key: Ed25519PublicKey) -> UpdateCommand:
    """The verified command; CommandRefused(malformed | unsigned | bad_signature | other_device) otherwise."""
    return open_command(payload, UpdateCommand, device, gateway_key)


def _request_text(device: str, method: str, path: str, at: int) -> bytes:
    return f"{AUTH_SCHEME}\n{device}\n{method.upper()}\n{path}\n{at}".encode()


def device_request_signature(key: DeviceKey, device: str, method: str, path: str,
                             now: datetime | None = None) -> str:
    """The `Authorization` header value of `device`'s request for `path`: its id, the time, and its signature."""
    at = int((now or datetime.now(timezone.utc)).timestamp())
    return f"{AUTH_SCHEME} {device}:{at}:{key.sign(_request_text(device, method, path, at))}"


def device_of_request(header: str) -> tuple[str, int, str]:
    """(device, time, signature) from an `Authorization` header; ValueError if it is not one of ours."""
    scheme, _, rest = header.partition(" ")
    device, at, signature = rest.split(":", 2) if rest.count(":") >= 2 else ("", "0", "")
    if scheme != AUTH_SCHEME or not device or not at.isdigit() or not signature:
        raise ValueError("not a device's signed request")
    return device, int(at), signature


def verify_request(public_key: Ed25519PublicKey, device: str, at: int, signature: str, method: str, path: str,
                   now: datetime | None = None) -> None:
    """Raise ValueError unless `signature` is the device's over this request, made within REQUEST_MAX_AGE_S."""
    now_s = (now or datetime.now(timezone.utc)).timestamp()
    if abs(now_s - at) > REQUEST_MAX_AGE_S:
        raise ValueError(f"signed {now_s - at:.0f} s from now")
    verify_canonical(_request_text(device, method, path, at), signature, public_key)
