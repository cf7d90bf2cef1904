"""Each device's configuration from the centre (issue 29): cameras, doors, thresholds, liveness, motion, exam
timings, kiosk -- one document, in numbered versions.

A new version is checked against the schema the device itself reads (wire/device_config.py) before anything is
stored, recorded with its changes in its own audited transaction, and published retained on the device's
`cmd/config`, signed and sealed to the device (a door's login is in it). The device applies it live or restarts
its node on it, and says so with a `config` event (`reported`, called by ingest): applied, or refused and why,
with the version it still runs. Going back is one action: a new version with an earlier one's document
(`rollback`), so versions only ever go up and a device refuses anything older than what it runs.

Door passwords are never shown: pages and the API see `MASK` in their place, and a document sent back with `MASK`
keeps the password the door had.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import ConfigVersion, Device, Store, Tx
from wire.commands import CONFIG
from wire.device_config import ConfigInvalid, changes, open_config, seal_config, validate_document
from wire.signing import public_key_from_text
from wire.topics import cmd_topic

log = logging.getLogger(__name__)

MASK = "**********"
Publish = Callable[[str, bytes], bool]  # retained, QoS 1; True once the broker has it


def shown(document: dict) -> dict:
    """`document` as pages and the API show it: each door's password masked."""
    doors = [{**door, "password": MASK} if isinstance(door, dict) and door.get("password") else door
             for door in document.get("doors") or []]
    return {**document, "doors": doors} if "doors" in document else dict(document)


def full_document(secrets: GatewaySecrets, device: Device, version: ConfigVersion) -> dict:
    """The document of `version` with its secrets, opened from the message sealed to the device."""
    key = secrets.signing_key
    _, document = open_config(version.payload, device.id, public_key_from_text(key.public_text), device.gallery_key)
    return document


def change(store: Store, secrets: GatewaySecrets, publish: Publish | None, device_id: str, document: dict,
           by: str, rollback_of: int | None = None) -> ConfigVersion:
    """Make `document` the device's next configuration version and send it; the version made. Invalid if it does
    not validate (saying where and why), Conflict if it changes nothing."""
    device = _configurable(store, device_id)
    with store.db.transaction() as tx:  # the version number is taken under the write lock
        previous = store.device_configs.latest(device.id, tx)
        before = full_document(secrets, device, previous) if previous else {}
        document = _with_kept_passwords(document, before)
        try:
            validate_document(document)
        except ConfigInvalid as exc:
            raise Invalid("this configuration is not valid: {problems}", problems=str(exc)) from None
        if previous and document == before:
            raise Conflict("this is the configuration version {version} already: nothing to change",
                           version=previous.version)
        version = previous.version + 1 if previous else 1
        diff = {path: list(pair) for path, pair in changes(shown(before), shown(document)).items()}
        diff.update(_password_changes(before, document))
        payload = seal_config(document, device.id, version, by, datetime.now(timezone.utc), device.gallery_key,
                              secrets.signing_key, rollback_of)
        store.device_configs.add(tx, device.id, version, shown(document), payload, diff, by, rollback_of)
        tx.audit(f"user:{by}", "device.config", device.id,
                 {"version": version, "changes": diff, **({"rollback_of": rollback_of} if rollback_of else {})})
    made = store.device_configs.get(device.id, version)
    if publish:
        publish_version(store, publish, device, made)
    return made


def change_many(store: Store, secrets: GatewaySecrets, publish: Publish | None, device_ids: list[str],
                settings: dict[str, object], by: str) -> tuple[list[ConfigVersion], list[str]]:
    """The same settings changed on many devices in one action ("policy.identify_threshold": 0.5 at every gate of
    a site): each device's newest document with `settings` set (dotted paths; None takes a setting back to its
    default), made its next version. Every document is checked first: if one does not validate, nothing is made
    (Invalid names the device and the field). (versions made, devices it changed nothing on.)"""
    devices = [_configurable(store, device_id) for device_id in device_ids]
    documents = {}
    for device in devices:
        latest = store.device_configs.latest(device.id)
        document = _with(full_document(secrets, device, latest) if latest else {}, settings)
        try:
            validate_document(document)
        except ConfigInvalid as exc:
            raise Invalid("{device}: this configuration is not valid: {problems}", device=device.id,
                          problems=str(exc)) from None
        documents[device.id] = document
    made, unchanged = [], []
    for device_id, document in documents.items():
        try:
            made.append(change(store, secrets, publish, device_id, document, by))
        except Conflict:
            unchanged.append(device_id)
    return made, unchanged


def _with(document: dict, settings: dict[str, object]) -> dict:
    """`document` with each dotted setting set ("policy.margin": 0.06), or removed where the value is None."""
    document = json.loads(json.dumps(document))  # a copy, nested sections too
    for path, value in settings.items():
        *sections, key = path.split(".")
        where = document
        for section in sections:
            if not isinstance(where.get(section, {}), dict):
                raise Invalid("{setting} is not a setting of a section", setting=path)
            where = where.setdefault(section, {})
        if value is None:
            where.pop(key, None)
        else:
            where[key] = value
    return document


def rollback(store: Store, secrets: GatewaySecrets, publish: Publish | None, device_id: str, version: int,
             by: str) -> ConfigVersion:
    """A new version with version `version`'s document: back to it in one action."""
    device = _configurable(store, device_id)
    earlier = store.device_configs.get(device.id, version)
    if earlier is None:
        raise NotFound("{device} has no configuration version {version}", device=device.id, version=version)
    return change(store, secrets, publish, device.id, full_document(secrets, device, earlier), by,
                  rollback_of=version)


def publish_version(store: Store, publish: Publish, device: Device, version: ConfigVersion) -> bool:
    """Publish `version` retained on the device's `cmd/config`; True once the broker has it (else the pusher
    tries again: `ConfigPusher`)."""
    if not publish(cmd_topic(device.site, device.id, CONFIG), version.payload):
        log.warning("configuration version %d for %s: the broker did not take it; trying again", version.version,
                    device.id)
        return False
    with store.db.transaction(unaudited="the broker took a configuration already recorded") as tx:
        store.device_configs.mark_published(tx, device.id, version.version)
    return True


class ConfigPusher:
    """Publishes each device's newest configuration the broker has not taken yet (it was away when the version
    was made); run by the gallery pusher's loop."""

    def __init__(self, store: Store, publish: Publish):
        self.store, self.publish = store, publish

    def sync(self) -> int:
        """Versions published now."""
        published = 0
        for version in self.store.device_configs.unpublished():
            device = self.store.devices.get(version.device)
            if device is not None and device.active and self.publish and publish_version(
                    self.store, self.publish, device, version):
                published += 1
        return published


def reported(store: Store, tx: Tx, device: str, body: dict, at: str) -> None:
    """A device's `config` event (in the transaction storing it): what became of a version, and what it runs."""
    if body.get("version"):
        store.device_configs.record_outcome(tx, device, body["version"], body["outcome"], body.get("how"),
                                            body.get("reason") or "", at)
    store.device_configs.record_running(tx, device, int(body.get("running") or 0), at)


def _configurable(store: Store, device_id: str) -> Device:
    device = store.devices.get(device_id)
    if device is None:
        raise NotFound("no device '{device}'", device=device_id)
    if not device.active:
        raise Invalid("{device} is not an active device", device=device_id)
    if not device.gallery_key:
        raise Invalid("{device} was provisioned without a key to seal its configuration to", device=device_id)
    return device


def _with_kept_passwords(document: dict, before: dict) -> dict:
    """`document` with each door's `MASK` password replaced by the password the door on that lane had."""
    if not isinstance(document, dict) or not isinstance(document.get("doors"), list):
        return document
    had = _passwords(before)
    doors = []
    for door in document["doors"]:
        if isinstance(door, dict) and door.get("password") == MASK:
            lane = door.get("lane", 1)
            if not had.get(lane):
                raise Invalid("the door on lane {lane} has no password yet: type it", lane=lane)
            door = {**door, "password": had[lane]}
        doors.append(door)
    return {**document, "doors": doors}


def _password_changes(before: dict, after: dict) -> dict[str, list]:
    """A door whose password changed, said without the password: "doors.lane N.password" -> [MASK, "changed"]."""
    old = _passwords(before)
    found = {}
    for door in after.get("doors") or []:
        lane = door.get("lane", 1)
        if lane in old and door.get("password") != old[lane]:
            found[f"doors.lane {lane}.password"] = [MASK if old[lane] else None, "changed" if door.get("password")
                                                    else None]
    return found


def _passwords(document: dict) -> dict[int, str | None]:
    """Each door's password by its lane."""
    return {d.get("lane", 1): d.get("password") for d in document.get("doors") or [] if isinstance(d, dict)}
