"""Background jobs on one replica at a time, and the live stream across replicas.

Gallery pushes, retention and consent expiry change shared state on a clock:
two replicas running them at once would publish every gallery twice and race
each other's purges. So they run only where `JobsLease.held` is true:
- on SQLite there is one gateway per database, and it always holds the lease;
- on PostgreSQL the lease is an advisory lock on a connection of its own
  (`gateway.storage.postgres.replicas.SessionLock`). Every replica tries to take it every
  `every_s`; when its holder dies or loses the database, the connection and the
  lock go with it and another replica takes over within `every_s`. A holder
  that loses its connection stops at once; a job already under way finishes its
  transaction (the write lock keeps two of them from interleaving).

`LiveRelay` brings the events other replicas stored to this replica's live
stream: they announce each committed batch on a PostgreSQL channel
(`replicas.announce`, in ingest's transaction), and the relay reads those
events and hands them to the local `LiveFeed`.
"""

from __future__ import annotations

import logging
import threading

from gateway.services.events.live import LiveFeed
from gateway.storage import Store
from gateway.storage.postgres.replicas import JOBS_LOCK, Channel, SessionLock

log = logging.getLogger(__name__)


class JobsLease:
    """Whether this replica runs the background jobs now (`held`)."""

    def __init__(self, store: Store, replica: str, every_s: float = 2.0):
        self.replica = replica
        self.every_s = every_s
        self._held = threading.Event()
        self._stop = threading.Event()
        self._lock = SessionLock(store.db, JOBS_LOCK) if store.db.postgres else None
        self._thread = threading.Thread(target=self._loop, name="jobs-lease", daemon=True)
        if self._lock is None:
            self._held.set()

    @property
    def held(self) -> bool:
        return self._held.is_set()

    def start(self) -> None:
        if self._lock is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._lock is not None:
            if self._thread.is_alive():
                self._thread.join(timeout=10)
            self._lock.release()
            self._held.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.held and not self._lock.still_held():
                self._held.clear()
                log.warning("replica %s lost the jobs lock with its database connection", self.replica)
            elif not self.held and self._lock.try_acquire():
                self._held.set()
                log.info("replica %s runs the background jobs", self.replica)
            self._stop.wait(self.every_s)


class LiveRelay:
    """Hands the events other replicas store to this replica's live stream (PostgreSQL LISTEN)."""

    def __init__(self, store: Store, live: LiveFeed, replica: str):
        self.store, self.live, self.replica = store, live, replica
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-relay", daemon=True)
        self._channel: Channel | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._channel = Channel(self.store.db)
            try:
                for note in self._channel.listen():
                    if self._stop.is_set():
                        break
                    # Another replica's batch, and someone here watching it (else there is nothing to read).
                    if note and note[0] != self.replica and self.live.listeners:
                        events = self.store.events.get_many(note[1])
                        if events:
                            self.live.publish(events)
            except Exception as exc:  # the database is away: listen again when it is back
                log.warning("live relay lost the database (%s); listening again", exc)
                self._stop.wait(1.0)
            finally:
                self._channel.close()
