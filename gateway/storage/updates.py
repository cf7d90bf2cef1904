"""Updates over the air: published model packs and FaceGate releases, rollouts stage by stage, and each update
command a device got."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from gateway.storage.schema import device_updates, packs, releases, rollouts

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class PackVersion:
    name: str
    version: int
    files: list[dict]  # [{name, sha256, size}]
    manifest: str
    reference: list[dict]  # [{file, embedding}]
    published_at: str
    published_by: str


@dataclass(frozen=True)
class ReleaseVersion:
    version: int  # the gateway's number
    release: str  # FaceGate's version
    files: list[dict]  # [{name, sha256, size}]
    lock: str
    published_at: str
    published_by: str

    @property
    def name(self) -> str:
        return "facegate"


@dataclass(frozen=True)
class Rollout:
    id: int
    kind: str
    name: str
    version: int
    stages: list[list[str]]  # device ids, stage by stage
    stage: int  # the stage going out now (0-based)
    state: str  # "running" | "done" | "stopped"
    reason: str | None
    created_at: str
    created_by: str
    updated_at: str


@dataclass(frozen=True)
class DeviceUpdate:
    device: str
    sequence: int
    kind: str
    name: str
    version: int
    rollback: bool
    rollout: int | None
    previous: int | None
    baseline_fps: float | None
    payload: bytes
    created_at: str
    published_at: str | None
    outcome: str | None  # "applied" | "refused" | None (not heard of yet)
    reason: str | None
    self_test: float | None
    reported_at: str | None


_PACK = (packs.c.name, packs.c.version, packs.c.files, packs.c.manifest, packs.c.reference, packs.c.published_at,
         packs.c.published_by)
_RELEASE = (releases.c.version, releases.c.release, releases.c.files, releases.c.lock, releases.c.published_at,
            releases.c.published_by)
_ROLLOUT = (rollouts.c.id, rollouts.c.kind, rollouts.c.name, rollouts.c.version, rollouts.c.stages, rollouts.c.stage,
            rollouts.c.state, rollouts.c.reason, rollouts.c.created_at, rollouts.c.created_by, rollouts.c.updated_at)
_UPDATE = (device_updates.c.device, device_updates.c.sequence, device_updates.c.kind, device_updates.c.name,
           device_updates.c.version, device_updates.c.rollback, device_updates.c.rollout, device_updates.c.previous,
           device_updates.c.baseline_fps, device_updates.c.payload, device_updates.c.created_at,
           device_updates.c.published_at, device_updates.c.outcome, device_updates.c.reason, device_updates.c.self_test,
           device_updates.c.reported_at)
_LATEST = (select(device_updates.c.device, func.max(device_updates.c.sequence).label("sequence"))
           .group_by(device_updates.c.device).subquery())
_NEWEST = select(*_UPDATE).join(_LATEST, (device_updates.c.device == _LATEST.c.device)
                                & (device_updates.c.sequence == _LATEST.c.sequence))  # each device's newest command


def _pack(row) -> PackVersion:
    name, version, files, manifest, reference, at, by = row
    return PackVersion(name, version, json.loads(files), manifest, json.loads(reference), at, by)


def _release(row) -> ReleaseVersion:
    version, release, files, lock, at, by = row
    return ReleaseVersion(version, release, json.loads(files), lock, at, by)


def _rollout(row) -> Rollout:
    id_, kind, name, version, stages, stage, state, reason, created_at, created_by, updated_at = row
    return Rollout(id_, kind, name, version, json.loads(stages), stage, state, reason, created_at, created_by,
                   updated_at)


def _update(row) -> DeviceUpdate:
    (device, sequence, kind, name, version, rollback, rollout, previous, baseline, payload, created_at, published_at,
     outcome, reason, self_test, reported_at) = row
    return DeviceUpdate(device, sequence, kind, name, version, bool(rollback), rollout, previous, baseline,
                        payload.encode(),
                        created_at, published_at, outcome, reason, self_test, reported_at)


class Updates:
    def __init__(self, db: Database):
        self.db = db

    def _all(self, query) -> list:
        with self.db.read() as conn:
            return conn.execute(query).fetchall()

    # packs

    def add_pack(self, tx: Tx, name: str, files: list[dict], manifest: str, reference: list[dict], by: str) -> int:
        """Record the next version of pack `name`; its number."""
        version = (tx.execute(select(func.max(packs.c.version)).where(packs.c.name == name)).scalar() or 0) + 1
        tx.execute(insert(packs).values(name=name, version=version, files=json.dumps(files),
                                        manifest=manifest, reference=json.dumps(reference), published_at=tx.now,
                                        published_by=by))
        return version

    def pack(self, name: str, version: int) -> PackVersion | None:
        rows = self._all(select(*_PACK).where(packs.c.name == name, packs.c.version == version))
        return _pack(rows[0]) if rows else None

    def packs(self) -> list[PackVersion]:
        """Every published pack version, newest first."""
        return [_pack(r) for r in self._all(select(*_PACK).order_by(packs.c.published_at.desc(),
                                                                      packs.c.version.desc()))]

    # releases

    def add_release(self, tx: Tx, release: str, files: list[dict], lock: str, by: str) -> int:
        """Record FaceGate `release` as the next release; its number."""
        version = (tx.execute(select(func.max(releases.c.version))).scalar() or 0) + 1
        tx.execute(insert(releases).values(version=version, release=release, files=json.dumps(files), lock=lock,
                                           published_at=tx.now, published_by=by))
        return version

    def release(self, version: int) -> ReleaseVersion | None:
        rows = self._all(select(*_RELEASE).where(releases.c.version == version))
        return _release(rows[0]) if rows else None

    def release_named(self, release: str) -> ReleaseVersion | None:
        rows = self._all(select(*_RELEASE).where(releases.c.release == release))
        return _release(rows[0]) if rows else None

    def releases(self) -> list[ReleaseVersion]:
        """Every published release, newest first."""
        return [_release(r) for r in self._all(select(*_RELEASE).order_by(releases.c.version.desc()))]

    # rollouts

    def add_rollout(self, tx: Tx, kind: str, name: str, version: int, stages: list[list[str]], by: str) -> int:
        return tx.execute(insert(rollouts).values(
            kind=kind, name=name, version=version, stages=json.dumps(stages), stage=0, state="running",
            created_at=tx.now, created_by=by, updated_at=tx.now)).inserted_primary_key[0]

    def rollout(self, id_: int, tx: Tx | None = None) -> Rollout | None:
        query = select(*_ROLLOUT).where(rollouts.c.id == id_)
        rows = tx.execute(query).fetchall() if tx is not None else self._all(query)
        return _rollout(rows[0]) if rows else None

    def rollouts(self, running_only: bool = False, limit: int = 50) -> list[Rollout]:
        """Rollouts, newest first."""
        query = select(*_ROLLOUT).order_by(rollouts.c.id.desc()).limit(limit)
        if running_only:
            query = query.where(rollouts.c.state == "running")
        return [_rollout(r) for r in self._all(query)]

    def set_rollout(self, tx: Tx, id_: int, *, stage: int, state: str, reason: str | None = None) -> None:
        tx.execute(update(rollouts).where(rollouts.c.id == id_)
                   .values(stage=stage, state=state, reason=reason, updated_at=tx.now))

    # commands to devices

    def next_sequence(self, tx: Tx, device: str) -> int:
        return (tx.execute(select(func.max(device_updates.c.sequence))
                           .where(device_updates.c.device == device)).scalar() or 0) + 1

    def add_command(self, tx: Tx, device: str, sequence: int, kind: str, name: str, version: int, rollback: bool,
                    rollout: int | None, previous: int | None, baseline_fps: float | None, payload: bytes) -> None:
        tx.execute(insert(device_updates).values(
            device=device, sequence=sequence, kind=kind, name=name, version=version, rollback=int(rollback),
            rollout=rollout, previous=previous, baseline_fps=baseline_fps, payload=payload.decode(),
            created_at=tx.now))

    def of_rollout(self, rollout: int, tx: Tx | None = None) -> list[DeviceUpdate]:
        query = select(*_UPDATE).where(device_updates.c.rollout == rollout).order_by(device_updates.c.sequence)
        rows = tx.execute(query).fetchall() if tx is not None else self._all(query)
        return [_update(r) for r in rows]

    def history(self, device: str, limit: int = 50) -> list[DeviceUpdate]:
        """The device's update commands, newest first."""
        return [_update(r) for r in self._all(select(*_UPDATE).where(device_updates.c.device == device)
                                              .order_by(device_updates.c.sequence.desc()).limit(limit))]

    def newest_of_every_device(self) -> dict[str, DeviceUpdate]:
        return {r[0]: _update(r) for r in self._all(_NEWEST)}

    def unpublished(self) -> list[DeviceUpdate]:
        """Each device's newest command, where the broker has not taken it yet (an older one never need be)."""
        return [_update(r) for r in self._all(_NEWEST.where(device_updates.c.published_at.is_(None)))]

    def mark_published(self, tx: Tx, device: str, sequence: int) -> None:
        tx.execute(update(device_updates).where(device_updates.c.device == device,
                                                device_updates.c.sequence == sequence).values(published_at=tx.now))

    def record_outcome(self, tx: Tx, device: str, sequence: int, outcome: str, reason: str,
                       self_test: float | None, at: str) -> bool:
        """What the device made of command `sequence`; False if there is no such command."""
        return tx.execute(update(device_updates)
                          .where(device_updates.c.device == device, device_updates.c.sequence == sequence)
                          .values(outcome=outcome, reason=reason or None, self_test=self_test,
                                  reported_at=at)).rowcount == 1
