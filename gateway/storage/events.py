"""Events: every accepted event with its signed body; messages quarantined; events purged by retention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, func, insert, select, tuple_

from gateway.storage.postgres.partitions import EventPartitions, drop_partition, expired_partitions, month_of
from gateway.storage.schema import events, purged_events, quarantine

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx

EVENT_COLUMNS = ("id", "site", "device", "kind", "seq", "captured_at", "received_at", "verdict", "subject",
                 "score", "body", "sig", "clock_suspect", "retain_from")
# What the API adds beside the signed body: drop these and the rest is exactly what the device signed.
GATEWAY_FIELDS = ("received_at", "sig", "clock_suspect", "acknowledgement")  # the last: lists of verdicts
# Release 1 recorded a digest of the first twelve columns; entries since record all of them ("v": 2).
DIGEST_V1_COLUMNS = 12


@dataclass(frozen=True)
class StoredEvent:
    """One accepted event as the gateway keeps it."""

    id: str
    site: str
    device: str
    kind: str
    seq: int
    captured_at: str  # wire.events.utc_text, as the device's clock said
    received_at: str
    verdict: str | None  # what a verdict decided, or a door event's outcome (opened, failed)
    subject: str | None
    score: float | None
    body: str  # canonical JSON of the signed body
    sig: str
    clock_suspect: bool = False  # the device's clock was implausible: retention counts from received_at
    retain_from: str = ""  # empty: from captured_at

    def __post_init__(self) -> None:
        if not self.retain_from:
            object.__setattr__(self, "retain_from", self.received_at if self.clock_suspect else self.captured_at)

    def row(self) -> tuple:
        return tuple(int(v) if isinstance(v, bool) else v for v in (getattr(self, c) for c in EVENT_COLUMNS))

    def api(self) -> dict:
        """The event as the API returns it: its body, plus where and when the gateway got it."""
        return {**json.loads(self.body), "received_at": self.received_at, "sig": self.sig,
                "clock_suspect": self.clock_suspect}


@dataclass(frozen=True)
class EventQuery:
    site: str | None = None
    device: str | None = None
    kind: str | None = None
    verdict: str | None = None
    subject: str | None = None
    since: str | None = None  # captured_at >= since
    until: str | None = None  # captured_at < until
    before: tuple[str, str] | None = None  # cursor: (captured_at, id) of the last row already seen
    limit: int = 100
    hidden_kinds: frozenset[str] = field(default_factory=frozenset)  # kinds the asker's role may not see


@dataclass(frozen=True)
class QuarantinedMessage:
    id: int
    received_at: str
    topic: str
    device: str | None
    reason: str
    error: str | None
    payload: bytes
    sha256: str

    def api(self) -> dict:
        """Without the payload's bytes: they are kept for an engineer, not shown (they may hold anything)."""
        return {"id": self.id, "received_at": self.received_at, "topic": self.topic, "device": self.device,
                "reason": self.reason, "error": self.error, "size": len(self.payload), "sha256": self.sha256}


def _event(row) -> StoredEvent:
    values = list(row)
    values[12] = bool(values[12])
    values[13] = values[13] or values[5]
    return StoredEvent(*values)


_SELECT = select(*(events.c[c] for c in EVENT_COLUMNS))


class Events:
    def __init__(self, db: Database):
        self.db = db
        self._partitions = EventPartitions()

    # -- writes (in the caller's transaction) -----------------------------------------------------------

    def known_ids(self, tx: Tx, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update(r[0] for r in tx.select_in("SELECT id FROM events WHERE id IN ({marks})", chunk))
        return found

    def used_seqs(self, tx: Tx, pairs: list[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which (device, seq) pairs are already taken by a stored event (asked per device: the index's order)."""
        by_device: dict[str, list[int]] = {}
        for device, seq in pairs:
            by_device.setdefault(device, []).append(seq)
        found: set[tuple[str, int]] = set()
        for device, seqs in by_device.items():
            for chunk in _chunks(seqs):
                found.update((device, r[0]) for r in tx.select_in(
                    "SELECT seq FROM events WHERE device = {mark} AND seq IN ({marks})", chunk, first=(device,)))
        return found

    def insert(self, tx: Tx, rows: list[tuple]) -> None:
        """Stored events as their EVENT_COLUMNS tuples (`StoredEvent.row()`)."""
        if rows and tx.postgres:
            self._partitions.ensure(tx, {(row[3], month_of(row[13])) for row in rows})
        tx.insert_many(events, EVENT_COLUMNS, rows)

    def purge(self, tx: Tx, kind: str, before: str, limit: int) -> tuple[list[str], str | None]:
        """Delete events of `kind` to be retained from before `before`: their ids, and the partition dropped.

        On PostgreSQL a whole month past the cut-off goes at once (its partition is dropped); otherwise, and for
        the month the cut-off falls in, up to `limit` rows are deleted.
        """
        expired = expired_partitions(tx.conn, kind, before) if tx.postgres else []
        if expired:
            partition = expired[0]
            ids = drop_partition(tx.conn, partition)
            tx.after_commit(lambda: self._partitions.forget(partition))
            return ids, partition.name
        ids = [r[0] for r in tx.execute(select(events.c.id).where(
            events.c.kind == kind, events.c.retain_from < before).limit(limit))]
        for chunk in _chunks(ids):
            tx.execute(delete(events).where(events.c.id.in_(chunk)))
        return ids, None

    def record_purged(self, tx: Tx, ids: list[str], audit_seq: int) -> None:
        tx.insert_many(purged_events, ("id", "audit_seq"), [(i, audit_seq) for i in ids])

    def quarantine(self, tx: Tx, received_at: str, topic: str, device: str | None, reason: str, error: str,
                   payload: bytes, sha256: str) -> bool:
        """Keep a message; False if the same bytes are already kept (a device resending it)."""
        if tx.execute(select(quarantine.c.id).where(quarantine.c.sha256 == sha256)).first():
            return False
        tx.execute(insert(quarantine).values(received_at=received_at, topic=_printable(topic[:300]),
                                             device=_printable(device), reason=reason,
                                             error=_printable(error[:2000]), payload=payload, sha256=sha256))
        return True

    # -- reads ------------------------------------------------------------------------------------------

    def query(self, q: EventQuery) -> list[StoredEvent]:
        """Newest first, at most `q.limit`, after the cursor `q.before`."""
        where = [events.c[c] == getattr(q, c) for c in ("site", "device", "kind", "verdict", "subject")
                 if getattr(q, c) is not None]
        if q.since:
            where.append(events.c.captured_at >= q.since)
        if q.until:
            where.append(events.c.captured_at < q.until)
        if q.before:
            where.append(tuple_(events.c.captured_at, events.c.id) < tuple_(*q.before))
        if q.hidden_kinds:
            where.append(events.c.kind.not_in(sorted(q.hidden_kinds)))
        query = _SELECT.where(and_(*where)) if where else _SELECT
        query = query.order_by(events.c.captured_at.desc(), events.c.id.desc()).limit(q.limit)
        with self.db.read() as conn:
            return [_event(r) for r in conn.execute(query)]

    def day_counts(self, since: str, until: str, site: str | None = None,
                   device: str | None = None) -> dict[tuple[str, str | None], int]:
        """How many verdicts, door events and tailgates of each (kind, verdict or outcome) were captured in
        [since, until), for a site or a device."""
        where = [events.c.kind.in_(("verdict", "door", "tailgate")), events.c.captured_at >= since,
                 events.c.captured_at < until]
        where += [events.c[c] == v for c, v in (("site", site), ("device", device)) if v is not None]
        query = (select(events.c.kind, events.c.verdict, func.count()).where(and_(*where))
                 .group_by(events.c.kind, events.c.verdict))
        with self.db.read() as conn:
            return {(kind, verdict): n for kind, verdict, n in conn.execute(query)}

    def get(self, event_id: str) -> StoredEvent | None:
        with self.db.read() as conn:
            row = conn.execute(_SELECT.where(events.c.id == event_id)).first()
        return _event(row) if row else None

    def get_many(self, ids: list[str]) -> list[StoredEvent]:
        """The stored events among `ids`, oldest first."""
        found: list[StoredEvent] = []
        with self.db.read() as conn:
            for chunk in _chunks(ids):
                found += [_event(r) for r in conn.execute(_SELECT.where(events.c.id.in_(chunk)))]
        return sorted(found, key=lambda e: (e.captured_at, e.id))

    def count(self) -> int:
        with self.db.read() as conn:
            return conn.execute(select(func.count()).select_from(events)).scalar_one()

    def all_rows(self) -> Iterator[tuple]:
        """Every stored event as its column tuple (EVENT_COLUMNS), for the audit check."""
        with self.db.read() as conn:
            for row in conn.execute(select(*(events.c[c] for c in EVENT_COLUMNS))):
                yield tuple(row)

    def purged_ids(self) -> dict[int, list[str]]:
        """audit seq -> event ids it purged."""
        out: dict[int, list[str]] = {}
        with self.db.read() as conn:
            for event_id, seq in conn.execute(select(purged_events.c.id, purged_events.c.audit_seq)):
                out.setdefault(seq, []).append(event_id)
        return out

    def quarantined(self, limit: int = 100, after: int = 0) -> list[QuarantinedMessage]:
        with self.db.read() as conn:
            return [QuarantinedMessage(*r) for r in conn.execute(
                select(quarantine).where(quarantine.c.id > after).order_by(quarantine.c.id).limit(limit))]

    def quarantine_count(self) -> int:
        with self.db.read() as conn:
            return conn.execute(select(func.count()).select_from(quarantine)).scalar_one()


def _printable(value: str | None) -> str | None:
    """Text PostgreSQL can store (no NUL): a message kept because it was malformed may carry anything."""
    return value.replace("\x00", "\\x00") if value else value


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    """Slices small enough for any database's limit on bound parameters."""
    for start in range(0, len(items), size):
        yield items[start:start + size]

