"""Camera sources: video files, RTSP/HTTP streams and USB cameras through OpenCV.

A reader thread decodes frames so the matching loop never waits on I/O:
- live sources (and files played at real-time speed) go through a one-frame
  slot: the loop always gets the newest frame, and older ones are dropped and
  counted rather than queued into a growing backlog;
- files played as fast as possible go through a small blocking queue, so every
  frame is processed, in order.
A live stream that fails is reopened with exponential backoff, forever; a file
that cannot be opened is retried a few times, then given up with a clear error.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.config import CameraSettings

log = logging.getLogger(__name__)


@dataclass
class Frame:
    index: int  # position in the stream, counting frames decoded (dropped ones too)
    timestamp: float  # seconds of stream time: the file's clock, or wall time for live sources
    image: np.ndarray
    decode_s: float = 0.0  # time the reader spent decoding it
    received: float = field(default_factory=time.monotonic)  # when the reader handed it over (monotonic clock)


class Ended:
    """What `Camera.poll` returns once the source has ended (or was given up: see `CameraStats.error`)."""


ENDED = Ended()


@dataclass
class CameraStats:
    frames_read: int = 0
    frames_dropped: int = 0  # replaced by a newer frame before the loop took them
    bad_frames: int = 0  # decode failures and malformed frames, skipped
    reconnects: int = 0
    error: str | None = None  # why the source was given up, if it was


def _parse_source(source: str) -> tuple[str | int, bool]:
    """(OpenCV source, is_live). A bare integer is a USB camera index."""
    if source.isdigit():
        return int(source), True
    if "://" in source:
        return source, True
    return source, False


@dataclass
class Camera:
    """A frame source with its own reader thread. Iterate `frames()` to consume."""

    source: str
    settings: CameraSettings = field(default_factory=CameraSettings)
    realtime: bool = False  # play files at their own frame rate, dropping what the loop cannot keep up with
    # Newest frames a live (or real-time) source keeps waiting for the loop; older ones are dropped and counted.
    # One for a camera alone; a node's cameras keep three, so turns that run long cost no frame (edge/runner.py).
    backlog: int = 1

    def __post_init__(self) -> None:
        self._target, self.live = _parse_source(self.source)
        self.latest_only = self.live or self.realtime
        self._queue: queue.Queue = queue.Queue()  # sized at start(), when `backlog` is final
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = CameraStats()
        self.fps: float = 0.0
        self.on_frame: Callable[[], None] | None = None  # called by the reader after each delivery (and the end)

    # -- consumer side -------------------------------------------------
    def start(self) -> Camera:
        self._queue = queue.Queue(maxsize=max(1, self.backlog) if self.latest_only else 8)
        self._thread = threading.Thread(target=self._run, name=f"camera:{self.source}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def frames(self):
        """Yield frames until the source ends (files) or `stop()` is called."""
        if self._thread is None:
            self.start()
        while True:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set() and not (self._thread and self._thread.is_alive()):
                    return
                continue
            if item is None:
                return
            yield item

    def poll(self) -> Frame | None | Ended:
        """The next frame if one is waiting, `ENDED` once the source has ended, else None (never waits)."""
        if self._thread is None:
            self.start()
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        return ENDED if item is None else item

    def __enter__(self) -> Camera:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- reader thread -------------------------------------------------
    def _deliver(self, item: Frame | None) -> None:
        self._put(item)
        if self.on_frame is not None:
            self.on_frame()

    def _put(self, item: Frame | None) -> None:
        if self.latest_only and item is not None:
            while True:
                try:
                    self._queue.put_nowait(item)
                    return
                except queue.Full:  # the oldest waiting frame makes room
                    try:
                        self._queue.get_nowait()
                        self.stats.frames_dropped += 1
                    except queue.Empty:
                        pass
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        if item is None:  # stopping: make room for the end marker so the consumer wakes
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._queue.put_nowait(None)

    def _open(self) -> cv2.VideoCapture | None:
        delay = self.settings.reconnect_initial_s
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            threads = self.settings.decode_threads
            if isinstance(self._target, str) and threads:
                cap = cv2.VideoCapture(self._target, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
            else:
                cap = cv2.VideoCapture(self._target)
            if cap.isOpened():
                return cap
            cap.release()
            if not self.live and attempt >= self.settings.open_retries_file:
                self.stats.error = f"cannot open {self.source!r} after {attempt} attempts"
                log.error("camera %s: %s", self.source, self.stats.error)
                return None
            log.warning("camera %s: cannot open (attempt %d); retrying in %.1fs", self.source, attempt, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)
        return None

    def _run(self) -> None:
        try:
            self._read_loop()
        finally:
            self._deliver(None)

    def _read_loop(self) -> None:
        cap = self._open()
        if cap is None:
            return
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        started = time.monotonic()
        index = 0
        bad_run = 0
        while not self._stop.is_set():
            decode_start = time.perf_counter()
            ok, image = cap.read()
            decode_s = time.perf_counter() - decode_start
            if not (ok and image is not None and image.ndim == 3 and image.size):
                if not self.live and (frame_count == 0 or index >= frame_count):
                    break  # end of file
                bad_run += 1
                self.stats.bad_frames += 1
                index += 1
                if bad_run < self.settings.max_consecutive_bad_frames:
                    continue
                if not self.live:
                    log.warning("camera %s: %d undecodable frames in a row; treating as end", self.source, bad_run)
                    break
                cap.release()
                self.stats.reconnects += 1
                log.warning("camera %s: stream lost; reconnecting", self.source)
                cap = self._open()
                if cap is None:
                    return
                bad_run = 0
                continue
            bad_run = 0

            if self.live:
                timestamp = time.time()
            else:
                # The file's own clock, so verdict timing does not depend on how fast we decode.
                timestamp = index / self.fps if self.fps > 0 else (cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
                if self.realtime:
                    # Pace to the file's clock: sleep until this frame is due.
                    self._stop.wait(max(0.0, started + timestamp - time.monotonic()))
            self.stats.frames_read += 1
            self._deliver(Frame(index=index, timestamp=timestamp, image=image, decode_s=decode_s))
            index += 1
        cap.release()
