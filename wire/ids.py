"""UUIDv7 event ids: unique, and sortable by creation time (RFC 9562).

Python gains `uuid.uuid7` only in 3.14; this is the same layout: 48-bit Unix
milliseconds, version 7, 12 bits of sub-millisecond counter, variant, 62 random
bits. Ids made in one process are strictly increasing even within a millisecond.
"""

from __future__ import annotations

import os
import threading
import time
import uuid


class _Uuid7Source:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def __call__(self, unix_ms: int | None = None) -> uuid.UUID:
        with self._lock:
            ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
            if ms <= self._last_ms:
                # Same (or an earlier, after a clock step back) millisecond: count up so order holds.
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFF:
                    ms += 1
                    self._counter = 0
            else:
                self._counter = 0
            self._last_ms = ms
            rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
            value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | self._counter << 64 | 0b10 << 62 | rand
            return uuid.UUID(int=value)


uuid7 = _Uuid7Source()


def uuid7_time_ms(value: str | uuid.UUID) -> int:
    """The Unix millisecond timestamp inside a UUIDv7."""
    return uuid.UUID(str(value)).int >> 80
