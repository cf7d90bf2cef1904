"""Camera sources: video files, RTSP/HTTP streams and USB cameras through OpenCV.

A reader thread decodes frames so the matching loop never waits on I/O:
- live sources (and files played at real-time speed) go through a one-frame
  slot: the loop always gets the newest frame, and older ones are dropped and
  counted rather than queued into a growing backlog;
- files played as fast as possible go through a small blocking queue, so every
  frame is processed, in order.
A live stream that fails, or sends nothing for `read_timeout_s`, is reopened with exponential backoff, forever,
and says why it is down meanwhile (`CameraStats.down`, in every heartbeat); a file that cannot be opened is retried
a few times, then given up with a clear error. A live camera sending faster than its declared `fps` is taken at
that rate, and the frames beyond it are counted.

A camera with a sub-stream (`substream`: the same camera at a lower resolution) is read frame for frame beside
its main stream: the motion gate and the detector look at the small image, and faces are cut from the main one.
While its consumer says it needs no main image (`need_main`: nobody in view), the main stream's frames are
decoded but not converted to pixels (what that saves: benchmarks/substream.py). A sub-stream whose aspect differs
from the main stream's is refused (the camera stops with the reason): its faces could not be placed on the main
stream.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np

from edge.settings import CameraSettings
from wire.redact import redact

log = logging.getLogger(__name__)


@dataclass
class Frame:
    index: int  # position in the stream, counting frames decoded (dropped ones too)
    timestamp: float  # seconds of stream time: the file's clock, or wall time for live sources
    image: np.ndarray | None  # the main stream's pixels; None only beside a sub-stream image, when not asked for
    decode_s: float = 0.0  # time the reader spent decoding it
    received: float = field(default_factory=time.monotonic)  # when the reader handed it over (monotonic clock)
    small: np.ndarray | None = None  # the sub-stream's image of the same moment, if the camera has one
    size: tuple[int, int] = (0, 0)  # the main stream's width and height

    def __post_init__(self) -> None:
        if self.image is not None and not self.size[0]:
            self.size = (self.image.shape[1], self.image.shape[0])

    @property
    def detect_image(self) -> np.ndarray:
        """What the motion gate and the detector look at: the sub-stream's image if there is one."""
        return self.small if self.small is not None else self.image

    @property
    def detect_scale(self) -> float:
        """Main-stream pixels per pixel of `detect_image` (1.0 without a sub-stream)."""
        return self.size[0] / self.small.shape[1] if self.small is not None else 1.0


class Ended:
    """What `Camera.poll` returns once the source has ended (or was given up: see `CameraStats.error`)."""


ENDED = Ended()


@dataclass
class CameraStats:
    frames_read: int = 0
    frames_dropped: int = 0  # replaced by a newer frame before the loop took them
    bad_frames: int = 0  # decode failures and malformed frames, skipped
    reconnects: int = 0
    main_skipped: int = 0  # main-stream frames decoded but never converted to pixels (a sub-stream was enough)
    over_rate: int = 0  # frames of a live camera beyond its declared fps, skipped
    error: str | None = None  # why the source was given up, if it was
    down: str | None = None  # why a live source delivers nothing right now (it is being reconnected), if so


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
    # One for a camera alone; a node's cameras keep three, so turns that run long cost no frame (edge/node/runner.py).
    backlog: int = 1

    def __post_init__(self) -> None:
        self._target, self.live = _parse_source(self.source)
        # What logs, heartbeats and errors name the camera by: its source with any password or token masked.
        self.shown = redact(self.source)
        self.latest_only = self.live or self.realtime
        self._queue: queue.Queue = queue.Queue()  # sized at start(), when `backlog` is final
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = CameraStats()
        self.fps: float = 0.0
        self.on_frame: Callable[[], None] | None = None  # called by the reader after each delivery (and the end)
        # Whether the consumer wants the main stream's pixels in the next frames. Only a camera with a sub-stream
        # ever goes without them, and only if its consumer clears this (the gate's loop, while nobody is tracked).
        self.need_main = True

    # -- consumer side -------------------------------------------------
    def start(self) -> Camera:
        self._queue = queue.Queue(maxsize=max(1, self.backlog) if self.latest_only else 8)
        self._thread = threading.Thread(target=self._run, name=f"camera:{self.shown}", daemon=True)
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

    def _capture(self, target: str | int) -> cv2.VideoCapture:
        if not isinstance(target, str):  # a USB camera
            return cv2.VideoCapture(target)
        params = [cv2.CAP_PROP_N_THREADS, self.settings.decode_threads] if self.settings.decode_threads else []
        if "://" in target:  # without timeouts, a camera that stops answering blocks its reader for ever
            params += [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(1000 * self.settings.open_timeout_s),
                       cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(1000 * self.settings.read_timeout_s)]
        return cv2.VideoCapture(target, cv2.CAP_ANY, params)

    def _open(self) -> _Streams | None:
        delay = self.settings.reconnect_initial_s
        attempt = 0
        substream = self.settings.substream
        lost = self.stats.down  # why it is being reopened (None: opening it the first time)
        while not self._stop.is_set():
            attempt += 1
            cap = self._capture(self._target)
            sub = self._capture(_parse_source(substream)[0]) if substream else None
            if cap.isOpened() and (sub is None or sub.isOpened()):
                return _Streams(cap, sub)
            which = self.shown if not cap.isOpened() else f"sub-stream {redact(substream)}"
            cap.release()
            if sub is not None:
                sub.release()
            if not self.live and attempt >= self.settings.open_retries_file:
                self.stats.error = f"cannot open {which!r} after {attempt} attempts"
                log.error("camera %s: %s", self.shown, self.stats.error)
                return None
            self.stats.down = "; ".join(filter(None, (lost, f"cannot open {which!r} (attempt {attempt})")))
            log.warning("camera %s: cannot open (attempt %d); retrying in %.1fs", self.shown, attempt, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)
        return None

    def _run(self) -> None:
        try:
            self._read_loop()
        finally:
            self._deliver(None)

    def _read_loop(self) -> None:
        streams = self._open()
        if streams is None:
            return
        self.fps = streams.main.get(cv2.CAP_PROP_FPS) or 0.0
        sub_fps = streams.sub.get(cv2.CAP_PROP_FPS) if streams.sub is not None else 0.0
        if self.fps and sub_fps and abs(sub_fps - self.fps) > 0.05 * self.fps:  # read frame for frame together
            log.warning("camera %s: the sub-stream says %.1f fps, the main stream %.1f: give both the same rate, "
                        "or faces will be cut from another moment than the one detected", self.shown, sub_fps,
                        self.fps)
        frame_count = int(streams.main.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        rate = _RateLimit(self.settings.fps) if self.live and self.settings.fps else None
        started = last_good = time.monotonic()
        index = 0
        bad_run = 0
        while not self._stop.is_set():
            decode_start = time.perf_counter()
            ok, image, small = streams.read(self.need_main)
            decode_s = time.perf_counter() - decode_start
            if ok and streams.mismatch:
                self.stats.error = streams.mismatch
                log.error("camera %s: %s", self.shown, self.stats.error)
                break
            if not ok:
                if not self.live and (frame_count == 0 or index >= frame_count):
                    break  # end of file
                bad_run += 1
                self.stats.bad_frames += 1
                index += 1
                silent = time.monotonic() - last_good >= self.settings.read_timeout_s
                if bad_run < self.settings.max_consecutive_bad_frames and not (self.live and silent):
                    continue
                if not self.live:
                    log.warning("camera %s: %d undecodable frames in a row; treating as end", self.shown, bad_run)
                    break
                streams.release()
                self.stats.reconnects += 1
                since = datetime.now(timezone.utc) - timedelta(seconds=time.monotonic() - last_good)
                self.stats.down = f"stream lost: no frame since {since.isoformat(timespec='seconds')}; reconnecting"
                log.warning("camera %s: %s", self.shown, self.stats.down)
                streams = self._open()
                if streams is None:
                    return
                bad_run = 0
                continue
            bad_run = 0
            last_good = time.monotonic()
            if self.stats.down:
                log.info("camera %s: frames again after %s", self.shown, self.stats.down)
                self.stats.down = None
            if rate is not None and not rate.take(last_good):
                self.stats.over_rate += 1
                continue

            if self.live:
                timestamp = time.time()
            else:
                # The file's own clock, so verdict timing does not depend on how fast we decode.
                position_ms = 0.0 if self.fps > 0 else streams.main.get(cv2.CAP_PROP_POS_MSEC) or 0.0
                timestamp = index / self.fps if self.fps > 0 else position_ms / 1000.0
                if self.realtime:
                    # Pace to the file's clock: sleep until this frame is due.
                    self._stop.wait(max(0.0, started + timestamp - time.monotonic()))
            self.stats.frames_read += 1
            if image is None:
                self.stats.main_skipped += 1
            self._deliver(Frame(index=index, timestamp=timestamp, image=image, decode_s=decode_s, small=small,
                                size=streams.size))
            index += 1
        streams.release()


class _RateLimit:
    """At most `fps` frames a second on average, a burst of two let through (network jitter bunches frames)."""

    def __init__(self, fps: float, burst: float = 2.0):
        self.fps, self.burst = fps, burst
        self._credit, self._at = burst, time.monotonic()

    def take(self, now: float) -> bool:
        self._credit = min(self.burst, self._credit + (now - self._at) * self.fps)
        self._at = now
        if self._credit < 1.0:
            return False
        self._credit -= 1.0
        return True


def _usable(image: np.ndarray | None) -> bool:
    return image is not None and image.ndim == 3 and image.size > 0


def _aspect(width: int, height: int) -> str:
    return f"{width}x{height} ({width / height:.2f}:1)"


class _Streams:
    """A camera's open main stream and, if it has one, its sub-stream, read frame for frame together."""

    ASPECT_TOLERANCE = 0.01  # relative: 1920x1080 beside 640x360 is the same picture; 704x576 is not

    def __init__(self, main: cv2.VideoCapture, sub: cv2.VideoCapture | None):
        self.main, self.sub = main, sub
        self.size = (0, 0)  # the main stream's width and height, once a frame was converted
        self.mismatch: str | None = None  # why the two streams cannot be used together

    def read(self, need_main: bool) -> tuple[bool, np.ndarray | None, np.ndarray | None]:
        """(ok, main image or None, sub-stream image or None). The main image is converted when `need_main`, or
        while its size is not known yet, or without a sub-stream."""
        if self.sub is None:
            ok, image = self.main.read()
            ok = ok and _usable(image)
            if ok:
                self.size = (image.shape[1], image.shape[0])
            return ok, image if ok else None, None
        if not self.main.grab():
            return False, None, None
        ok, small = self.sub.read()
        if not (ok and _usable(small)):
            return False, None, None
        image = None
        if need_main or not self.size[0]:
            ok, image = self.main.retrieve()
            if not (ok and _usable(image)):
                return False, None, None
            if not self.size[0]:
                self.size = (image.shape[1], image.shape[0])
                self._check(small)
        return True, image, small

    def _check(self, small: np.ndarray) -> None:
        (width, height), (sub_w, sub_h) = self.size, (small.shape[1], small.shape[0])
        if abs(sub_w / sub_h - width / height) > self.ASPECT_TOLERANCE * width / height:
            self.mismatch = (f"the sub-stream is {_aspect(sub_w, sub_h)}, the main stream {_aspect(width, height)}: "
                             f"a face found on the sub-stream cannot be placed on the main stream; give the "
                             f"sub-stream the main stream's aspect, or remove `substream`")

    def release(self) -> None:
        self.main.release()
        if self.sub is not None:
            self.sub.release()
