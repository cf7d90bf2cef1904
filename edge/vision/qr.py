"""QR codes shown to a gate's camera, read beside the face step without slowing it.

OpenCV's ArUco-based QR detector reads codes of 3 px a module at a gate camera's distance, where the classic one
misses them, and passes over an empty 540p frame in about 4 ms (the classic: 20-100 ms). Even so a frame with a
code takes ~15 ms, more than a frame's share of the node at 16 cameras: it runs on a thread of its own per camera
(OpenCV lets go of the GIL while it works): the loop hands it the newest frame
(`offer`, never waiting; a frame offered while one is being read replaces the one waiting), at most `max_fps`
times a second, and collects what it read on a later turn (`take`). A code held up to the camera is read in
many frames: it is reported once, and again only after it has been out of view for `hold_s`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shown:
    text: str
    timestamp: float  # stream time of the frame it was read in
    received: float  # when that frame reached the loop (monotonic)


class QrReader:
    """Reads QR codes in the frames of one camera, on a thread of its own."""

    def __init__(self, max_fps: float = 8.0, hold_s: float = 3.0):
        self.min_interval_s = 1.0 / max_fps
        self.hold_s = hold_s
        self.frames_read = 0
        self._detector = cv2.QRCodeDetectorAruco()
        self._waiting: tuple[np.ndarray, float, float] | None = None
        self._read: list[Shown] = []
        self._last_seen: dict[str, float] = {}  # text -> stream time it was last in view
        self._last_offer = -1e9
        self._busy = False
        self._lock = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="qr", daemon=True)
        self._thread.start()

    def offer(self, image: np.ndarray, timestamp: float, received: float) -> None:
        """The newest frame: read it when the thread is free (frames closer than 1/max_fps are passed over)."""
        if timestamp - self._last_offer < self.min_interval_s:
            return
        self._last_offer = timestamp
        with self._lock:
            self._waiting = (image, timestamp, received)
            self._lock.notify()

    def take(self) -> list[Shown]:
        """Codes newly shown since the last call."""
        with self._lock:
            read, self._read = self._read, []
        return read

    def drain(self, timeout_s: float = 5.0) -> list[Shown]:
        """Wait until the frame offered last has been read (the camera's source has ended); what was read."""
        with self._lock:
            self._lock.wait_for(lambda: self._waiting is None and not self._busy, timeout_s)
        return self.take()

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._waiting is not None or self._stop)
                if self._stop:
                    return
                (image, timestamp, received), self._waiting = self._waiting, None
                self._busy = True
            try:
                text, _, _ = self._detector.detectAndDecode(image)
            except cv2.error as exc:  # a frame the detector cannot take is one frame: go on with the next
                log.debug("QR detector: %s", exc)
                text = ""
            self.frames_read += 1
            shown = self._new(text, timestamp, received) if text else None
            with self._lock:  # the result before "not busy": `drain` returns with it
                if shown:
                    self._read.append(shown)
                self._busy = False
                self._lock.notify_all()

    def _new(self, text: str, timestamp: float, received: float) -> Shown | None:
        """The code, if newly shown: not one still held up since it was last reported."""
        last = self._last_seen.get(text)
        self._last_seen[text] = timestamp
        if last is not None and timestamp - last < self.hold_s:
            return None
        self._last_seen = {t: at for t, at in self._last_seen.items() if timestamp - at < self.hold_s}
        return Shown(text, timestamp, received)
