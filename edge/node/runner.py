"""`facegate edge run`: the camera loop with its outputs (JSON verdicts, status line)."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from edge.gate.rules import Gate
from edge.link.events import DeviceEvents
from edge.node.feed import Feed
from edge.node.heartbeat import Capacity, Heartbeats
from edge.vision.camera import ENDED, Camera
from edge.vision.motion import RegionError
from edge.vision.pipeline import FacePipeline
from edge.vision.policy import Verdict
from edge.vision.qr import Shown

log = logging.getLogger(__name__)


def verdict_record(verdict: Verdict, camera: str, pack: str, lane: int | None = None,
                   direction: str | None = None, wall_s: float | None = None) -> dict:
    """The JSON line printed (and later published) for one verdict."""
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "stream_time": round(verdict.timestamp, 3),
        "camera": camera,
        "track": verdict.track,
        "verdict": verdict.verdict,
        "subject": verdict.subject,
        "score": verdict.score,
        "runner_up": verdict.runner_up,
        "threshold": verdict.threshold,
        "margin": verdict.margin,
        "quality": verdict.quality,
        "frames": verdict.frames,
        "liveness_enabled": verdict.liveness_enabled,
        "liveness": verdict.liveness,
        "time_to_decision_s": verdict.time_to_decision_s,
        # the same in wall time: from that frame reaching the loop to this record (the loop's own delay included)
        "wall_time_to_decision_s": None if wall_s is None else round(wall_s, 4),
        "model_pack": pack,
        "lane": lane,
        "direction": direction,
        "pass": verdict.pass_id,
        "method": verdict.method,
    }


@dataclass
class RunSummary:
    frames: int
    seconds: float
    verdicts: int
    camera_error: str | None  # the first camera error (`cameras` has each one)
    cameras: dict[str, str | None] = field(default_factory=dict)  # camera id -> its error, None if it ran to the end

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class StatusLine:
    """A one-line live status on a terminal: fps, tracks, last verdict."""

    def __init__(self, stream=sys.stderr, every_s: float = 0.5):
        self.stream = stream
        self.enabled = stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self.last_verdict = "-"

    def update(self, frames: int, elapsed: float, tracks: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.every_s):
            return
        self._last = now
        fps = frames / elapsed if elapsed > 0 else 0.0
        self.stream.write(f"\r\x1b[K{frames} frames  {fps:6.1f} fps  tracks {tracks}  last: {self.last_verdict}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def run_edge(camera: Camera, pipeline: FacePipeline, emit: Callable[[dict], None],
             max_frames: int | None = None, status: StatusLine | None = None,
             events: DeviceEvents | None = None, heartbeat_interval_s: float = 30.0,
             should_stop: Callable[[], bool] | None = None, gate: Gate | None = None) -> RunSummary:
    """One camera: `run_node` with a single feed, on its own lane."""
    return run_node([Feed(camera, pipeline)], emit, max_frames, status, events, heartbeat_interval_s, should_stop, gate)


def run_node(feeds: list[Feed], emit: Callable[[dict], None], max_frames: int | None = None,
             status: StatusLine | None = None, events: DeviceEvents | None = None,
             heartbeat_interval_s: float = 30.0, should_stop: Callable[[], bool] | None = None,
             gate: Gate | None = None) -> RunSummary:
    """Process every camera's frames until all sources end, `max_frames` (in all) is reached, `should_stop()` or
    Ctrl-C.

    The cameras take turns (the scheduler, `_Turns`): each turn gives every camera with a new frame one frame,
    the newest its reader kept, starting with a different camera each turn. So no camera waits more than one
    turn, and a node short of time drops the same share of each camera's frames (counted per camera) rather
    than starving one. A camera that fails, or whose region of interest is bad, stops alone: the others go on.

    Each verdict passes the `gate` (which may open its lane's door, or turn it into `passback`), then goes to
    `emit` as a JSON-ready record and, with `events`, into the outbox as a signed event, together with
    periodic heartbeats.
    """
    pack = feeds[0].pipeline.pack.name
    for feed in feeds:
        door_direction = gate.direction_of(feed.lane) if gate else None
        feed.direction = door_direction or feed.camera.settings.direction
        if feed.camera.settings.substream:  # nobody is tracked yet: the sub-stream is enough (see `publish` below)
            feed.camera.need_main = False
        if len(feeds) > 1:  # turns with several detections in a row may outlast two frame intervals (measured:
            feed.camera.backlog = max(feed.camera.backlog, 3)  # 16 cameras kept 92-98 % with two, 99 % with three)
    started = time.perf_counter()
    heartbeats = Heartbeats(events, feeds, heartbeat_interval_s, gate) if events else None
    capacity = Capacity(feeds)
    frames = 0  # processed, every camera together

    def publish(feed: Feed, vs: list[Verdict]) -> None:
        for v in vs:
            if gate:
                v = gate.verdict(v, feed.lane)  # the door is asked to open before anything is written
            feed.verdicts += 1
            wall = None if v.first_good_received is None else time.monotonic() - v.first_good_received
            if heartbeats:
                heartbeats.decided(feed, v, wall)
            emit(verdict_record(v, feed.id, pack, feed.lane, feed.direction, wall))
            if events:
                events.verdict(v, feed.id, lane=feed.lane, direction=feed.direction)
            if status:
                status.last_verdict = " ".join(filter(None, (feed.id if len(feeds) > 1 else None, v.verdict,
                                                             v.subject, f"{v.score:.2f}")))

    def end(feed: Feed) -> None:
        feed.ended = True
        publish(feed, feed.pipeline.finish(feed.last_ts) + (tickets_shown(feed.qr.drain()) if feed.qr else []))
        if gate:
            gate.frame(feed.pipeline.report, feed.lane, feed.id)
        feed.error = feed.trouble  # a live camera still down when the node stopped counts too
        if feed.error and len(feeds) > 1:
            log.error("camera %s (lane %d) stopped: %s; the other cameras go on", feed.id, feed.lane, feed.error)

    turns = _Turns(feeds, should_stop)
    try:
        for feed, frame in turns:
            pipeline = feed.pipeline
            if frame is None:
                end(feed)
                continue
            pipeline.timer.add("decode", frame.decode_s)
            frames += 1
            try:
                verdicts = pipeline.process(frame)
            except RegionError as exc:  # the camera's configuration, not the node: this camera stops
                feed.error = str(exc)
                feed.camera.stop()
                end(feed)
                continue
            if feed.qr:  # read on its own thread: what it found in earlier frames is collected now
                feed.qr.offer(frame.image if frame.image is not None else frame.small, frame.timestamp,
                              frame.received)
                verdicts = verdicts + tickets_shown(feed.qr.take())
            publish(feed, verdicts)
            if feed.camera.settings.substream:  # the main stream's pixels only while someone is tracked
                feed.camera.need_main = pipeline.wants_main
            if gate:
                gate.frame(pipeline.report, feed.lane, feed.id)
            feed.last_ts = frame.timestamp
            capacity.tick()
            if heartbeats:
                heartbeats.tick()
            if status:
                status.update(frames, time.perf_counter() - started, sum(f.pipeline.active_tracks for f in feeds))
            if (max_frames and frames >= max_frames) or (should_stop and should_stop()):
                break
    except KeyboardInterrupt:
        log.info("interrupted; finishing open tracks")
    finally:
        turns.close()
    for feed in feeds:
        if not feed.ended:
            end(feed)
    if heartbeats:
        heartbeats.tick(force=True)
    if status:
        status.update(frames, time.perf_counter() - started, 0, force=True)
        status.close()
    errors = {f.id: f.error for f in feeds}
    first_error = next((e for e in errors.values() if e), None)
    return RunSummary(frames, time.perf_counter() - started, sum(f.verdicts for f in feeds), first_error, errors)


class _Turns:
    """The scheduler: (feed, frame) in turns over the cameras, (feed, None) once a camera's source has ended.
    Waits, without spinning, while no camera has a new frame -- and stops there once `should_stop()` (no frame
    need come for a node to stop: its cameras may all be down)."""

    def __init__(self, feeds: list[Feed], should_stop: Callable[[], bool] | None = None):
        self.feeds = feeds
        self.should_stop = should_stop
        self._wake = threading.Event()
        self._first = 0
        for feed in feeds:
            feed.camera.on_frame = self._wake.set
            feed.camera.start()

    def __iter__(self):
        while True:
            live = [f for f in self.feeds if not f.ended]
            if not live:
                return
            self._wake.clear()  # before looking: a frame arriving from here on wakes the wait below
            self._first = (self._first + 1) % len(live)
            took = False
            for feed in live[self._first:] + live[:self._first]:
                if feed.ended:  # stopped during this turn (a bad region of interest)
                    continue
                item = feed.camera.poll()
                if item is None:
                    continue
                took = True
                yield feed, (None if item is ENDED else item)
            if not took:
                if self.should_stop and self.should_stop():
                    return
                self._wake.wait(0.1)

    def close(self) -> None:
        for feed in self.feeds:
            feed.camera.stop()


def tickets_shown(shown: list[Shown]) -> list[Verdict]:
    """Each QR code shown, as a verdict for the gate's rules to check (its ticket's signature, window, gates and
    entries: edge/gate/passes.py); what a camera alone can say is only that it was shown."""
    return [Verdict(timestamp=s.timestamp, track=0, verdict="granted", subject=None, score=0.0, runner_up=None,
                    threshold=0.0, margin=0.0, quality=0.0, frames=0, first_good_at=s.timestamp,
                    first_good_received=s.received, method="qr", ticket=s.text) for s in shown]


def print_json_line(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
