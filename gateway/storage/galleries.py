"""Gallery versions made for each device, and erasures tracked until every device confirms them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from gateway.storage.schema import device_galleries, erasure_devices, erasures

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class GalleryVersion:
    device: str
    version: int  # 0: none made yet
    members: list[str]
    created_at: str | None = None
    published_at: str | None = None
    applied_at: str | None = None
    admits: str | None = None  # digest of the members' passes it carries (None: made before passes, or none)


@dataclass(frozen=True)
class Erasure:
    id: int
    subject: str
    reason: str
    requested_at: str
    requested_by: str
    completed_at: str | None
    devices: dict[str, dict] = field(default_factory=dict)  # device -> {"version", "confirmed_at"}

    def api(self) -> dict:
        return {"id": self.id, "subject": self.subject, "reason": self.reason, "requested_at": self.requested_at,
                "requested_by": self.requested_by, "completed_at": self.completed_at, "devices": self.devices}


def _version(row) -> GalleryVersion:
    device, version, members, created, published, applied, admits = row
    return GalleryVersion(device, version, json.loads(members or "[]"), created, published, applied, admits)


_VERSION = select(device_galleries.c.device, device_galleries.c.version, device_galleries.c.members,
                  device_galleries.c.created_at, device_galleries.c.published_at, device_galleries.c.applied_at,
                  device_galleries.c.admits)


class Galleries:
    def __init__(self, db: Database):
        self.db = db

    # -- gallery versions -------------------------------------------------------------------------------

    def latest(self, device: str) -> GalleryVersion:
        """The device's newest gallery (version 0, no members, if none was made)."""
        query = _VERSION.where(device_galleries.c.device == device).order_by(device_galleries.c.version.desc()).limit(1)
        row = self._first(query)
        return _version(row) if row else GalleryVersion(device, 0, [])

    def newest_of_every_device(self) -> dict[str, GalleryVersion]:
        """device -> its newest gallery, for every device that has one (one query, for the pusher's pass)."""
        newest = (select(device_galleries.c.device, func.max(device_galleries.c.version).label("version"))
                  .group_by(device_galleries.c.device).subquery())
        query = _VERSION.join(newest, (device_galleries.c.device == newest.c.device)
                              & (device_galleries.c.version == newest.c.version))
        with self.db.read() as conn:
            return {row[0]: _version(row) for row in conn.execute(query)}

    def latest_applied(self, device: str) -> GalleryVersion:
        """The newest gallery the device has confirmed running (version 0 if none)."""
        query = (_VERSION.where(device_galleries.c.device == device, device_galleries.c.applied_at.is_not(None))
                 .order_by(device_galleries.c.version.desc()).limit(1))
        row = self._first(query)
        return _version(row) if row else GalleryVersion(device, 0, [])

    def add_version(self, tx: Tx, device: str, members: list[str], admits: str | None = None) -> int:
        """Record the device's next gallery version (`admits`: its passes' digest); its number."""
        newest = tx.execute(select(func.max(device_galleries.c.version))
                            .where(device_galleries.c.device == device)).scalar() or 0
        tx.execute(insert(device_galleries).values(device=device, version=newest + 1,
                                                   members=json.dumps(sorted(members)), created_at=tx.now,
                                                   admits=admits))
        return newest + 1

    def mark_published(self, tx: Tx, device: str, version: int) -> None:
        tx.execute(update(device_galleries).where(device_galleries.c.device == device,
                                                  device_galleries.c.version == version).values(published_at=tx.now))

    def mark_applied(self, tx: Tx, device: str, version: int, at: str) -> None:
        """The device runs `version`: it and every older one unconfirmed are confirmed at `at`."""
        tx.execute(update(device_galleries).where(device_galleries.c.device == device,
                                                  device_galleries.c.version <= version,
                                                  device_galleries.c.applied_at.is_(None)).values(applied_at=at))

    # -- erasures ---------------------------------------------------------------------------------------

    def open_erasure(self, tx: Tx, subject: str, reason: str, actor: str) -> int:
        return tx.execute(insert(erasures).values(subject=subject, reason=reason, requested_at=tx.now,
                                                  requested_by=actor)).inserted_primary_key[0]

    def add_erasure_device(self, tx: Tx, erasure: int, device: str, version: int | None) -> None:
        tx.execute(insert(erasure_devices).values(erasure=erasure, device=device, version=version))

    def assign_version(self, tx: Tx, device: str, version: int, erasure_ids: list[int]) -> None:
        """These erasures wait for `version` on `device` (the first gallery that leaves their subject out)."""
        if erasure_ids:
            tx.execute(update(erasure_devices).where(erasure_devices.c.device == device,
                                                     erasure_devices.c.version.is_(None),
                                                     erasure_devices.c.erasure.in_(erasure_ids)).values(version=version))

    def confirm_device(self, tx: Tx, device: str, version: int, at: str) -> list[int]:
        """Confirm the device's erasures waiting on `version` or older; the erasure ids confirmed."""
        ids = [r[0] for r in tx.execute(select(erasure_devices.c.erasure).where(
            erasure_devices.c.device == device, erasure_devices.c.version <= version,
            erasure_devices.c.confirmed_at.is_(None)))]
        if ids:
            tx.execute(update(erasure_devices).where(erasure_devices.c.device == device,
                                                     erasure_devices.c.erasure.in_(ids)).values(confirmed_at=at))
        return ids

    def release_device(self, tx: Tx, device: str) -> list[int]:
        """Stop waiting for `device` (revoked) in every erasure it has not confirmed; those erasure ids."""
        ids = [r[0] for r in tx.execute(select(erasure_devices.c.erasure).where(
            erasure_devices.c.device == device, erasure_devices.c.confirmed_at.is_(None)))]
        if ids:
            tx.execute(delete(erasure_devices).where(erasure_devices.c.device == device,
                                                     erasure_devices.c.erasure.in_(ids)))
        return ids

    def complete(self, tx: Tx, erasure: int) -> None:
        tx.execute(update(erasures).where(erasures.c.id == erasure).values(completed_at=tx.now))

    def erasures(self, outstanding_only: bool = False, tx: Tx | None = None, ids: list[int] | None = None) -> list[Erasure]:
        query = select(erasures.c.id, erasures.c.subject, erasures.c.reason, erasures.c.requested_at,
                       erasures.c.requested_by, erasures.c.completed_at).order_by(erasures.c.id)
        if outstanding_only:
            query = query.where(erasures.c.completed_at.is_(None))
        if ids is not None:
            query = query.where(erasures.c.id.in_(ids))
        devices_query = select(erasure_devices.c.erasure, erasure_devices.c.device, erasure_devices.c.version,
                               erasure_devices.c.confirmed_at)

        def load(conn) -> list[Erasure]:
            rows = conn.execute(query).fetchall()
            wanted = [r[0] for r in rows]
            by_erasure: dict[int, dict] = {}
            if wanted:
                for erasure, device, version, confirmed in conn.execute(
                        devices_query.where(erasure_devices.c.erasure.in_(wanted))):
                    by_erasure.setdefault(erasure, {})[device] = {"version": version, "confirmed_at": confirmed}
            return [Erasure(*r, devices=by_erasure.get(r[0], {})) for r in rows]

        if tx is not None:
            return load(tx.conn)
        with self.db.read() as conn:
            return load(conn)

    def _first(self, query):
        with self.db.read() as conn:
            return conn.execute(query).first()
