"""Fan-out of newly stored events to live listeners (the SSE stream).

Ingest calls `publish` from its writer thread; each listener is an asyncio
queue on the server's event loop. A listener that falls behind loses its
oldest items rather than slowing ingest; `take` tells it how many it lost.

A stored batch crosses to the event loop in one call and leaves a listener's
queue in one piece: per-event hand-offs cost each event a turn of the GIL
against ingest's busy threads, and at 1,000 events/s the stream fell seconds
behind the database.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from gateway.storage import StoredEvent


@dataclass(eq=False)
class Listener:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    missed: int = 0

    def offer(self, events: list[StoredEvent]) -> None:
        for event in events:
            if self.queue.full():
                self.queue.get_nowait()
                self.missed += 1
            self.queue.put_nowait(event)

    def take(self, most: int = 500) -> tuple[list[StoredEvent], int]:
        """What is waiting now (at most `most`), and how many were dropped since the last call."""
        events = []
        while len(events) < most and not self.queue.empty():
            events.append(self.queue.get_nowait())
        missed, self.missed = self.missed, 0
        return events, missed


class LiveFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()

    def subscribe(self) -> Listener:
        listener = Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, events: list[StoredEvent]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(listener.offer, events)
            except RuntimeError:  # its loop has closed
                self.unsubscribe(listener)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)
