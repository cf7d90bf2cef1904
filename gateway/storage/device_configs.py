"""Devices' configurations from the centre: numbered versions per device, and what became of each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from gateway.storage.schema import device_configs, devices

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class ConfigVersion:
    device: str
    version: int
    document: dict  # door passwords masked
    payload: bytes  # the signed `cmd/config` message (the document sealed to the device)
    changes: dict[str, list]  # "section.key" -> [old, new], against the version before
    created_at: str
    created_by: str
    rollback_of: int | None
    published_at: str | None
    outcome: str | None  # "applied" | "refused" | None (not heard of yet)
    how: str | None
    reason: str | None
    reported_at: str | None


_COLUMNS = (device_configs.c.device, device_configs.c.version, device_configs.c.document, device_configs.c.payload,
            device_configs.c.changes, device_configs.c.created_at, device_configs.c.created_by,
            device_configs.c.rollback_of, device_configs.c.published_at, device_configs.c.outcome,
            device_configs.c.how, device_configs.c.reason, device_configs.c.reported_at)


_LATEST = (select(device_configs.c.device, func.max(device_configs.c.version).label("version"))
           .group_by(device_configs.c.device).subquery())
_NEWEST = select(*_COLUMNS).join(_LATEST, (device_configs.c.device == _LATEST.c.device)
                                 & (device_configs.c.version == _LATEST.c.version))  # each device's newest version


def _version(row) -> ConfigVersion:
    (device, version, document, payload, changes, created_at, created_by, rollback_of, published_at, outcome, how,
     reason, reported_at) = row
    return ConfigVersion(device, version, json.loads(document), payload.encode(), json.loads(changes), created_at,
                         created_by, rollback_of, published_at, outcome, how, reason, reported_at)


class DeviceConfigs:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, device: str, version: int, document: dict, payload: bytes, changes: dict, by: str,
            rollback_of: int | None) -> None:
        tx.execute(insert(device_configs).values(
            device=device, version=version, document=json.dumps(document, ensure_ascii=False), payload=payload.decode(),
            changes=json.dumps(changes, ensure_ascii=False), created_at=tx.now, created_by=by,
            rollback_of=rollback_of))

    def latest(self, device: str, tx: Tx | None = None) -> ConfigVersion | None:
        """The device's newest version (in `tx`, holding the write lock, when given)."""
        query = (select(*_COLUMNS).where(device_configs.c.device == device)
                 .order_by(device_configs.c.version.desc()).limit(1))
        if tx is not None:
            row = tx.execute(query).first()
        else:
            with self.db.read() as conn:
                row = conn.execute(query).first()
        return _version(row) if row else None

    def get(self, device: str, version: int) -> ConfigVersion | None:
        with self.db.read() as conn:
            row = conn.execute(select(*_COLUMNS).where(device_configs.c.device == device,
                                                       device_configs.c.version == version)).first()
        return _version(row) if row else None

    def history(self, device: str, limit: int = 100) -> list[ConfigVersion]:
        """The device's versions, newest first."""
        query = (select(*_COLUMNS).where(device_configs.c.device == device)
                 .order_by(device_configs.c.version.desc()).limit(limit))
        with self.db.read() as conn:
            return [_version(r) for r in conn.execute(query)]

    def unpublished(self) -> list[ConfigVersion]:
        """Each device's newest version, where the broker has not taken it yet (an older one never need be)."""
        query = _NEWEST.where(device_configs.c.published_at.is_(None))
        with self.db.read() as conn:
            return [_version(r) for r in conn.execute(query)]

    def newest_of_every_device(self) -> dict[str, ConfigVersion]:
        """device -> its newest version, for every device that has one (one query, for the fleet's view)."""
        with self.db.read() as conn:
            return {r[0]: _version(r) for r in conn.execute(_NEWEST)}

    def mark_published(self, tx: Tx, device: str, version: int) -> None:
        tx.execute(update(device_configs).where(device_configs.c.device == device, device_configs.c.version == version)
                   .values(published_at=tx.now))

    def record_outcome(self, tx: Tx, device: str, version: int, outcome: str, how: str | None, reason: str,
                       at: str) -> bool:
        """What the device made of `version` (its newest word wins); False if there is no such version."""
        return tx.execute(update(device_configs)
                          .where(device_configs.c.device == device, device_configs.c.version == version)
                          .values(outcome=outcome, how=how, reason=reason or None, reported_at=at)).rowcount == 1

    def record_running(self, tx: Tx, device: str, version: int, at: str) -> None:
        """The version the device says it runs now (0: its local file)."""
        tx.execute(update(devices).where(devices.c.id == device).values(config_version=version, config_at=at))
