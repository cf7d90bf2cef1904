"""Fan-out of newly stored events to live listeners (the SSE stream).

Ingest calls `publish` from its writer thread; each listener is an asyncio
queue on the server's event loop. A listener that falls behind loses its
oldest items rather than slowing ingest; it is told so by a gap marker.
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

    def offer(self, event: StoredEvent) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.missed += 1
        self.queue.put_nowait(event)


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
            for event in events:
                try:
                    listener.loop.call_soon_threadsafe(listener.offer, event)
                except RuntimeError:  # its loop has closed
                    self.unsubscribe(listener)
                    break

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)
