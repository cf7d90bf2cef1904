"""Bringing a device into service, and taking it out.

`provision_device` creates the device's identity (Ed25519 key pair, MQTT
password), registers the public key and the password hash with the gateway's
registry, regenerates the broker's password file and ACL, and returns the
bundle the device runs with. `revoke_device` removes it from the broker and
makes the gateway refuse anything it still sends.
"""

from __future__ import annotations

from datetime import datetime, timezone

from wire.bundle import DeviceBundle
from gateway.audit import AuditEntry
from gateway.secrets import GatewaySecrets
from gateway.storage import Storage
from provisioning.broker import BrokerFiles, mosquitto_secret, new_password
from wire import DeviceKey
from wire.events import utc_text
from wire.gallery import new_gallery_key
from wire.topics import check_id


class ProvisioningError(ValueError):
    """The device cannot be provisioned or revoked as asked."""


def provision_device(storage: Storage, broker: BrokerFiles, secrets: GatewaySecrets, *, site: str, device: str,
                     kind: str = "gate", name: str | None = None, broker_url: str = "mqtt://127.0.0.1:1883",
                     model_pack: str = "buffalo_s", actor: str = "system") -> DeviceBundle:
    check_id(site, "site")
    check_id(device, "device")
    if kind not in ("gate", "exam"):
        raise ProvisioningError(f"device kind must be gate or exam, not {kind!r}")
    if site not in dict(storage.sites()):
        raise ProvisioningError(f"unknown site {site!r}: add it first (facegate site add {site})")
    if storage.device(device) is not None:
        raise ProvisioningError(f"device {device!r} already exists")
    key, password, gallery_key = DeviceKey.generate(), new_password(), new_gallery_key()
    now = utc_text(datetime.now(timezone.utc))
    storage.add_device(device, site, kind, name or device, key.public_text, mosquitto_secret(password), now,
                       model_pack=model_pack, gallery_key=gallery_key)
    storage.append_audit(AuditEntry(now, actor, "device.provisioned", device, {"site": site, "kind": kind}))
    broker.write_accounts(storage.broker_accounts())
    return DeviceBundle(site=site, device=device, kind=kind, broker=broker_url, username=device, password=password,
                        key=key.to_text(), model_pack=model_pack, gallery_key=gallery_key,
                        gateway_key=secrets.signing_key.public_text)


def add_site(storage: Storage, site: str, name: str | None = None, actor: str = "system") -> None:
    check_id(site, "site")
    if site in dict(storage.sites()):
        raise ProvisioningError(f"site {site!r} already exists")
    now = utc_text(datetime.now(timezone.utc))
    storage.add_site(site, name or site, now)
    storage.append_audit(AuditEntry(now, actor, "site.added", site, {"name": name or site}))


def revoke_device(storage: Storage, broker: BrokerFiles, device: str, actor: str = "system") -> None:
    if not storage.set_device_status(device, "revoked"):
        raise ProvisioningError(f"no device {device!r}")
    storage.append_audit(AuditEntry(utc_text(datetime.now(timezone.utc)), actor, "device.revoked", device, {}))
    broker.write_accounts(storage.broker_accounts())
