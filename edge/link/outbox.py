"""The edge outbox: every event is on disk before anyone is told about it.

An event is committed to a local SQLite file (WAL, synchronous=FULL: the
commit survives power loss) under the device's next sequence number, and is
deleted only once the gateway confirms it committed the event (`cmd/ack`,
which implies the broker's QoS 1 acknowledgement came first). A crash, a
reboot, a broker outage or a broker crash therefore loses nothing;
publishing resumes from the oldest unconfirmed event, in order.

The outbox is bounded. When it is full:
- the oldest heartbeat is dropped to make room (health reports age quickly);
- if no heartbeat is left, a new heartbeat is dropped, and a new verdict is
  refused with `OutboxFull` -- never silently: the caller logs it and every
  later heartbeat reports the count.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CAPACITY = 200_000
EVICTABLE_KINDS = ("heartbeat",)


class OutboxFull(RuntimeError):
    """The outbox holds `capacity` events none of which may be dropped."""


@dataclass(frozen=True)
class Pending:
    seq: int
    event_id: str
    topic: str
    payload: bytes


# Builds one event given its sequence number: (event id, topic, payload).
EventBuilder = Callable[[int], tuple[str, str, bytes]]


class Outbox:
    def __init__(self, path: Path | str, capacity: int = DEFAULT_CAPACITY):
        if capacity < 1:
            raise ValueError("outbox capacity must be at least 1")
        self.path = Path(path)
        # Events name people: the file (and the -wal/-shm SQLite gives the same mode) is the owner's alone.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.capacity = capacity
        self._lock = threading.Lock()
        # One connection shared by the camera loop (append) and the publisher (read, delete).
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY,  -- the event's sequence number
                event_id TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                created REAL NOT NULL
            );
            CREATE INDEX IF NOT EXISTS outbox_kind ON outbox(kind, seq);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO counters VALUES ('seq', 0), ('refused', 0), ('dropped', 0);
        """)

    def append(self, kind: str, build: EventBuilder) -> int:
        """Commit one event built with the next sequence number; returns that number.

        Raises OutboxFull for a non-evictable event when nothing can make room.
        """
        with self._lock, self._transaction():
            if self._depth() >= self.capacity and not self._evict_one():
                counter = "dropped" if kind in EVICTABLE_KINDS else "refused"
                self._db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (counter,))
                if kind in EVICTABLE_KINDS:
                    return 0
                raise OutboxFull(f"outbox {self.path} holds {self.capacity} undeliverable events")
            seq = self._counter("seq") + 1
            event_id, topic, payload = build(seq)
            self._db.execute("INSERT INTO outbox (seq, event_id, kind, topic, payload, created) VALUES (?, ?, ?, ?, ?, ?)",
                             (seq, event_id, kind, topic, payload, time.time()))
            self._db.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (seq,))
            return seq

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[Pending]:
        """The oldest unconfirmed events after `after_seq`, in order."""
        with self._lock:
            rows = self._db.execute("SELECT seq, event_id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [Pending(*r) for r in rows]

    def confirm(self, seqs: list[int]) -> int:
        """Forget events the gateway has committed; how many were still here."""
        if not seqs:
            return 0
        with self._lock, self._transaction():
            return sum(self._db.execute("DELETE FROM outbox WHERE seq = ?", (s,)).rowcount for s in seqs)

    def depth(self) -> int:
        with self._lock:
            return self._depth()

    @property
    def refused(self) -> int:
        """Verdicts refused because the outbox was full (over the file's lifetime)."""
        with self._lock:
            return self._counter("refused")

    @property
    def dropped(self) -> int:
        """Heartbeats dropped to make room."""
        with self._lock:
            return self._counter("dropped")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _depth(self) -> int:
        return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def _counter(self, name: str) -> int:
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def _evict_one(self) -> bool:
        marks = ",".join("?" * len(EVICTABLE_KINDS))
        victim = self._db.execute(f"SELECT seq FROM outbox WHERE kind IN ({marks}) ORDER BY seq LIMIT 1",
                                  EVICTABLE_KINDS).fetchone()
        if victim is None:
            return False
        self._db.execute("DELETE FROM outbox WHERE seq = ?", victim)
        self._db.execute("UPDATE counters SET value = value + 1 WHERE name = 'dropped'")
        return True

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; OutboxFull still commits its refusal count."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or exc_type is OutboxFull:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
