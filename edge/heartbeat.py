"""Periodic device health as heartbeat events: fps, per-stage latency, drops, gallery size."""

from __future__ import annotations

import time
from typing import Protocol

from edge.camera import Camera
from edge.events import DeviceEvents
from edge.pipeline import FacePipeline


class HasStatus(Protocol):
    def status(self) -> dict: ...


class Heartbeats:
    """Sends a heartbeat event every `interval_s` with the loop's recent health."""

    def __init__(self, events: DeviceEvents, camera: Camera, pipeline: FacePipeline, interval_s: float,
                 gate: HasStatus | None = None):
        self.events, self.camera, self.pipeline, self.interval_s = events, camera, pipeline, interval_s
        self.gate = gate  # edge.gate.Gate: its doors and refused commands go into every heartbeat
        self.started = time.monotonic()
        self._last_at = 0.0
        self._last_frames = 0

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_at < self.interval_s:
            return
        frames = self.pipeline.stats.frames
        window = now - (self._last_at or self.started)
        fps = (frames - self._last_frames) / window if window > 0 else 0.0
        self._last_at, self._last_frames = now, frames
        self.events.heartbeat(
            fps=round(fps, 2), stage_ms={k: round(v, 3) for k, v in self.pipeline.timer.per_frame_ms().items()},
            frames=frames, frames_dropped=self.camera.stats.frames_dropped,
            gallery_version=None, gallery_size=self.pipeline.policy.index.subject_count,
            liveness_enabled=self.pipeline.liveness is not None, uptime_s=round(now - self.started, 1),
            camera_error=(self.camera.stats.error or "")[:1000] or None,  # the contract bounds it
            **(self.gate.status() if self.gate else {}),
        )
