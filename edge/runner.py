"""`facegate edge run`: the camera loop with its outputs (JSON verdicts, status line)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from edge.camera import Camera
from edge.config import EdgeConfig
from edge.enrolment import build_gallery
from models.photos import PhotoResult
from edge.events import DeviceEvents
from edge.gate import Gate
from edge.gallery import GalleryIndex, GalleryStore
from edge.heartbeat import Heartbeats
from edge.pipeline import FacePipeline
from edge.policy import Verdict
import models.settings
from models import LoadedPack

log = logging.getLogger(__name__)


class GalleryError(ValueError):
    """The gallery cannot be used with this model pack."""


def open_pack(config: EdgeConfig) -> LoadedPack:
    """The model pack the edge configuration names."""
    return models.settings.open_pack(config.models)


def open_gallery(source: Path, pack: LoadedPack, config: EdgeConfig,
                 on_photo: Callable[[PhotoResult], None] | None = None) -> GalleryIndex:
    """A gallery index from a SQLite gallery file, or built in memory from a folder of photos."""
    if source.is_dir():
        store = GalleryStore(None)
        build_gallery(source, store, pack, config.quality, on_photo)
    elif source.is_file():
        store = GalleryStore(source)
    else:
        raise GalleryError(f"gallery {source} not found (give a folder of photos or a gallery database)")
    index = GalleryIndex.from_store(store, pack.name)
    if len(index) == 0:
        other = [p for p in store.packs() if p != pack.name]
        if other:
            raise GalleryError(f"gallery {source} holds templates for pack(s) {', '.join(other)}, not {pack.name}; "
                               f"rebuild it with `facegate gallery build`")
        log.warning("gallery %s is empty: every person will be 'unknown'", source)
    return index


def verdict_record(verdict: Verdict, camera: str, pack: str, lane: int | None = None) -> dict:
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
        "model_pack": pack,
        "lane": lane,
    }


@dataclass
class RunSummary:
    frames: int
    seconds: float
    verdicts: int
    camera_error: str | None

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
    """Process frames until the source ends, `max_frames` is reached, `should_stop()` or Ctrl-C.

    Each verdict passes the `gate` (which may open the lane's door, or turn it into `passback`), then goes to
    `emit` as a JSON-ready record and, with `events`, into the outbox as a signed event, together with
    periodic heartbeats.
    """
    cam_id, pack = camera.settings.id, pipeline.pack.name
    lane = gate.lane if gate else None
    started = time.perf_counter()
    verdicts = 0
    last_ts = 0.0
    heartbeats = Heartbeats(events, camera, pipeline, heartbeat_interval_s, gate) if events else None

    def publish(vs: list[Verdict]) -> None:
        nonlocal verdicts
        for v in vs:
            if gate:
                v = gate.verdict(v)  # the door is asked to open before anything is written
            verdicts += 1
            emit(verdict_record(v, cam_id, pack, lane))
            if events:
                events.verdict(v, cam_id, lane=lane, direction=gate.direction if gate else None)
            if status:
                status.last_verdict = " ".join(filter(None, (v.verdict, v.subject, f"{v.score:.2f}")))

    try:
        with camera:
            for frame in camera.frames():
                pipeline.timer.add("decode", frame.decode_s)
                publish(pipeline.process(frame))
                if gate:
                    gate.frame(pipeline.report)
                last_ts = frame.timestamp
                if heartbeats:
                    heartbeats.tick()
                if status:
                    status.update(pipeline.stats.frames, time.perf_counter() - started, pipeline.active_tracks)
                if (max_frames and pipeline.stats.frames >= max_frames) or (should_stop and should_stop()):
                    break
    except KeyboardInterrupt:
        log.info("interrupted; finishing open tracks")
    publish(pipeline.finish(last_ts))
    if gate:
        gate.frame(pipeline.report)
    if heartbeats:
        heartbeats.tick(force=True)
    if status:
        status.update(pipeline.stats.frames, time.perf_counter() - started, pipeline.active_tracks, force=True)
        status.close()
    return RunSummary(pipeline.stats.frames, time.perf_counter() - started, verdicts, camera.stats.error)


def print_json_line(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
