"""What gateway replicas sharing one PostgreSQL database use to coordinate: a lock and a channel.

Both live on a PostgreSQL connection of their own, outside the pool, so that
what they hold ends with the connection: a replica that dies, or loses the
database, drops its lock and stops listening without anyone cleaning up.

- `SessionLock`: a session-level advisory lock; one holder at a time across
  every replica (which one runs the background jobs, `gateway.services.operations.jobs`).
- `Channel`: LISTEN/NOTIFY. `announce()` runs inside a write transaction, so
  listeners hear of a change only once it is committed, and never of one rolled
  back; `listen()` yields each payload as it arrives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from sqlalchemy import text

from gateway.storage.database import Database, Tx

log = logging.getLogger(__name__)

JOBS_LOCK = 0x4661636547617465 + 1  # beside database.WRITE_LOCK
EVENTS_CHANNEL = "facegate_events"
_MAX_PAYLOAD = 7000  # PostgreSQL refuses a notification payload of 8000 bytes or more


def _connect(db: Database):
    import psycopg

    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


class SessionLock:
    """An advisory lock held by a connection of its own for as long as that connection lives."""

    def __init__(self, db: Database, key: int):
        self.db, self.key = db, key
        self._conn = None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it; True if we now hold it."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _connect(self.db)
            return bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0])
        except Exception as exc:  # the database is away: we hold nothing
            log.warning("cannot reach the database for the jobs lock: %s", exc)
            self.release()
            return False

    def still_held(self) -> bool:
        """Whether our connection -- and so the lock -- is still alive."""
        try:
            return self._conn is not None and bool(self._conn.execute("SELECT 1").fetchone())
        except Exception:
            self.release()
            return False

    def release(self) -> None:
        _close(self._conn)
        self._conn = None


def announce(tx: Tx, origin: str, ids: list[str]) -> None:
    """Tell every listening replica, once `tx` commits, that the events `ids` were stored by `origin`."""
    batch: list[str] = []
    size = 0
    for event_id in ids:
        if batch and size + len(event_id) + 4 > _MAX_PAYLOAD:
            _notify(tx, origin, batch)
            batch, size = [], 0
        batch.append(event_id)
        size += len(event_id) + 4
    if batch:
        _notify(tx, origin, batch)


def _notify(tx: Tx, origin: str, ids: list[str]) -> None:
    tx.execute(text("SELECT pg_notify(:channel, :payload)"),
               {"channel": EVENTS_CHANNEL, "payload": json.dumps({"from": origin, "ids": ids})})


class Channel:
    """LISTEN on a connection of its own: `listen()` yields each notification's (origin, ids)."""

    def __init__(self, db: Database, channel: str = EVENTS_CHANNEL):
        self.db, self.channel = db, channel
        self._conn = None

    def listen(self, timeout_s: float = 1.0) -> Iterator[tuple[str, list[str]] | None]:
        """Notifications as they come; None every `timeout_s` without one (so the caller can stop). Raises when
        the connection is lost: notifications sent meanwhile are not replayed."""
        self._conn = _connect(self.db)
        self._conn.execute(f"LISTEN {self.channel}")
        while True:
            got = False
            for note in self._conn.notifies(timeout=timeout_s, stop_after=1):
                got = True
                body = json.loads(note.payload)
                yield body["from"], body["ids"]
            if not got:
                yield None

    def close(self) -> None:
        _close(self._conn)


def _close(conn) -> None:
    """Close a connection that may already be broken (what it held ends with it either way)."""
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass
