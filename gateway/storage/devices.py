"""Devices: identity, keys, status, sequence high-water mark, last heartbeat."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from gateway.storage.schema import devices

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx

DEFAULT_PACK = "buffalo_s"


@dataclass(frozen=True)
class Device:
    id: str
    site: str
    kind: str  # "gate" | "exam"
    name: str
    public_key: str
    status: str  # "active" | "revoked"
    created_at: str
    last_seq: int
    online: bool
    status_at: str | None
    last_heartbeat: dict | None
    last_heartbeat_at: str | None
    model_pack: str
    gallery_key: str | None  # base64 AES key its galleries and evidence are encrypted with; a secret
    clock_skew_s: float | None  # gateway minus device clock at its last heartbeat
    room: str | None = None  # an exam device's place at its test centre: the room ...
    seat: str | None = None  # ... and the seat (the schedule seats candidates in seat order)
    config_version: int | None = None  # the configuration version it says it runs (0: its local file; None: unsaid)
    config_at: str | None = None  # ... when it said so

    @property
    def active(self) -> bool:
        return self.status == "active"


_COLUMNS = (devices.c.id, devices.c.site, devices.c.kind, devices.c.name, devices.c.public_key, devices.c.status,
            devices.c.created_at, devices.c.last_seq, devices.c.online, devices.c.status_at, devices.c.last_heartbeat,
            devices.c.last_heartbeat_at, devices.c.model_pack, devices.c.gallery_key, devices.c.clock_skew_s,
            devices.c.room, devices.c.seat, devices.c.config_version, devices.c.config_at)


def _device(row) -> Device:
    (id_, site, kind, name, public_key, status, created_at, last_seq, online, status_at, heartbeat, heartbeat_at,
     pack, gallery_key, skew, room, seat, config_version, config_at) = row
    return Device(id_, site, kind, name or id_, public_key, status, created_at, last_seq or 0, bool(online), status_at,
                  json.loads(heartbeat) if heartbeat else None, heartbeat_at, pack or DEFAULT_PACK, gallery_key, skew,
                  room, seat, config_version, config_at)


class Devices:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, device: str, site: str, kind: str, name: str, public_key: str, mqtt_secret: str,
            model_pack: str, gallery_key: str | None) -> None:
        """Register a device: its public key, its MQTT password hash (mosquitto format, for the broker files),
        the model pack its templates must come from, and the key its gallery is encrypted with."""
        tx.execute(insert(devices).values(
            id=device, site=site, kind=kind, name=name, public_key=public_key, mqtt_secret=mqtt_secret,
            status="active", created_at=tx.now, last_seq=0, online=0, model_pack=model_pack, gallery_key=gallery_key))

    def set_status(self, tx: Tx, device: str, status: str) -> bool:
        return tx.execute(update(devices).where(devices.c.id == device).values(status=status)).rowcount == 1

    def place(self, tx: Tx, device: str, room: str | None, seat: str | None) -> None:
        """Where an exam device stands: its room and seat (None: not placed)."""
        tx.execute(update(devices).where(devices.c.id == device).values(room=room, seat=seat))

    def record_online(self, tx: Tx, device: str, online: bool, at: str) -> None:
        tx.execute(update(devices).where(devices.c.id == device).values(online=int(online), status_at=at))

    def record_progress(self, tx: Tx, last_seq: dict[str, int], heartbeats: dict[str, tuple[str, str, float]]) -> None:
        """New sequence high-water marks, and each device's newest heartbeat (body, captured_at, clock skew)."""
        tx.update_many(devices, "id", ["last_seq"], [(seq, device) for device, seq in last_seq.items()])
        tx.update_many(devices, "id", ["last_heartbeat", "last_heartbeat_at", "clock_skew_s"],
                       [(body, captured_at, skew, device) for device, (body, captured_at, skew) in heartbeats.items()])

    def last_seqs(self, tx: Tx, ids: set[str]) -> dict[str, int]:
        rows = tx.execute(select(devices.c.id, devices.c.last_seq).where(devices.c.id.in_(ids)))
        return {d: s or 0 for d, s in rows}

    def all(self, site: str | None = None) -> list[Device]:
        query = select(*_COLUMNS).order_by(devices.c.site, devices.c.id)
        if site:
            query = query.where(devices.c.site == site)
        with self.db.read() as conn:
            return [_device(r) for r in conn.execute(query)]

    def get(self, device: str) -> Device | None:
        with self.db.read() as conn:
            row = conn.execute(select(*_COLUMNS).where(devices.c.id == device)).first()
        return _device(row) if row else None

    def broker_accounts(self) -> list[tuple[str, str, str]]:
        """(device, site, mqtt_secret) of every active device: who may connect to the broker."""
        with self.db.read() as conn:
            return [tuple(r) for r in conn.execute(
                select(devices.c.id, devices.c.site, devices.c.mqtt_secret)
                .where(devices.c.status == "active").order_by(devices.c.id))]
