"""A device's identity: who it is, where its broker is, and its secrets.

Written once by provisioning (`facegate provision device`), read by
`facegate edge run --bundle FILE`. The file holds the device's Ed25519
private key and MQTT password, so it is written readable by its owner only.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from wire import DeviceKey
from wire.mqtt import BrokerUrl, TlsSettings
from wire.names import DeviceKind
from wire.topics import ID_PATTERN


class BundleError(ValueError):
    """The bundle file is missing, unreadable or invalid."""


class DeviceBundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=ID_PATTERN.pattern)
    device: str = Field(pattern=ID_PATTERN.pattern)
    kind: DeviceKind = "gate"
    broker: str = "mqtt://127.0.0.1:1883"
    username: str
    password: str
    key: str  # base64 of the raw Ed25519 private key
    model_pack: str = "buffalo_s"
    gallery_key: str  # base64 AES-256 key: galleries arrive, and rest on disk, encrypted with it
    gateway_key: str  # base64 Ed25519 public key that signs the galleries
    ca_cert: str | None = None  # PEM: the FaceGate CA, to check an mqtts:// broker
    client_cert: str | None = None  # PEM: this device's certificate (CN = device id), when its broker wants mTLS
    client_key: str | None = None  # PEM: its key

    def device_key(self) -> DeviceKey:
        return DeviceKey.from_text(self.key)

    def broker_url(self, override: str | None = None) -> BrokerUrl:
        """The broker address (optionally another host/port), always with this device's login."""
        return BrokerUrl.parse(override or self.broker).with_login(self.username, self.password)

    def tls(self) -> TlsSettings | None:
        """What the device needs to reach an mqtts:// broker (None without a CA certificate)."""
        return TlsSettings(self.ca_cert, self.client_cert, self.client_key) if self.ca_cert else None


def load_bundle(path: Path) -> DeviceBundle:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return DeviceBundle(**data)
    except FileNotFoundError as exc:
        raise BundleError(f"device bundle {path} not found") from exc
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        raise BundleError(f"device bundle {path} is invalid: {exc}") from exc


def bundle_text(bundle: DeviceBundle) -> str:
    """The bundle as TOML."""
    lines = [f"{name} = {_toml_string(str(value))}" for name, value in bundle.model_dump().items()
             if value is not None]
    return "# FaceGate device bundle: secret (device key and broker password)\n" + "\n".join(lines) + "\n"


def write_bundle(bundle: DeviceBundle, path: Path) -> None:
    """Write the bundle as TOML, readable only by its owner."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(bundle_text(bundle))


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
