"""Periodic device health as heartbeat events: fps, per-stage latency, drops, gallery size, each camera.

Per camera, over the window since the last heartbeat: the rate the camera delivered and the rate the loop kept,
and the median time to decision of its verdicts. A camera whose loop kept under 95 % of what it delivered is
`behind`, and the node says it is over capacity -- in the heartbeat and in its log -- rather than dropping
decisions silently.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Protocol

from edge.link.events import DeviceEvents
from edge.node.feed import Feed
from edge.vision.pipeline import STAGES
from edge.vision.policy import Verdict

log = logging.getLogger(__name__)

KEPT_AT_LEAST = 0.95  # of a camera's frames, or it is behind


class HasStatus(Protocol):
    def status(self) -> dict: ...


class _Window:
    """One camera's counters at the last look, and its decisions since."""

    def __init__(self):
        self.read = self.processed = 0
        self.stream_ms: list[float] = []
        self.wall_ms: list[float] = []

    def rates(self, feed: Feed, span: float) -> tuple[float, float, bool]:
        """(fps kept, fps delivered, behind) since the last look, which this one becomes."""
        read, processed = feed.camera.stats.frames_read, feed.pipeline.stats.frames
        new_read, new_processed = read - self.read, processed - self.processed
        self.read, self.processed = read, processed
        behind = not feed.ended and new_read > 0 and new_processed < KEPT_AT_LEAST * new_read
        return (new_processed / span if span > 0 else 0.0), (new_read / span if span > 0 else 0.0), behind


class Capacity:
    """Whether every camera keeps up, looked at every `every_s`; the node's log says when one falls behind and
    when all keep up again (with or without a gateway to send heartbeats to)."""

    def __init__(self, feeds: list[Feed], every_s: float = 10.0):
        self.feeds, self.every_s = feeds, every_s
        self._windows = {feed.id: _Window() for feed in feeds}
        self._last_at = time.monotonic()
        self.behind: set[str] = set()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_at < self.every_s:
            return
        span, self._last_at = now - self._last_at, now
        behind = {feed.id for feed in self.feeds if self._windows[feed.id].rates(feed, span)[2]}
        if behind and behind != self.behind:
            motion_off = any(feed.pipeline.motion is None for feed in self.feeds)
            log.warning("over capacity: camera %s kept under %d%% of its frames; give the node fewer cameras, %s",
                        ", ".join(sorted(behind)), round(100 * KEPT_AT_LEAST),
                        "or turn the motion gate back on ([motion] enabled)" if motion_off
                        else "or narrow their regions of interest (roi) so movement beside the lanes wakes no detector")
        elif self.behind and not behind:
            log.info("every camera keeps up again")
        self.behind = behind


class Heartbeats:
    """Sends a heartbeat event every `interval_s` with the loop's recent health, per camera and in all."""

    def __init__(self, events: DeviceEvents, feeds: list[Feed], interval_s: float, gate: HasStatus | None = None):
        self.events, self.feeds, self.interval_s = events, feeds, interval_s
        self.gate = gate  # edge.gate.rules.Gate: its doors and refused commands go into every heartbeat
        self.started = time.monotonic()
        self._last_at = 0.0
        self._windows = {feed.id: _Window() for feed in feeds}

    def decided(self, feed: Feed, verdict: Verdict, wall_s: float | None) -> None:
        """A verdict of `feed`'s camera: its time to decision counts in the next heartbeat."""
        window = self._windows[feed.id]
        if verdict.time_to_decision_s is not None:
            window.stream_ms.append(1000 * verdict.time_to_decision_s)
        if wall_s is not None:
            window.wall_ms.append(1000 * wall_s)

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_at < self.interval_s:
            return
        span = now - (self._last_at or self.started)
        self._last_at = now
        cameras = [self._camera(feed, span) for feed in self.feeds]
        pipelines = [feed.pipeline for feed in self.feeds]
        frames = sum(p.stats.frames for p in pipelines)
        timed = max(sum(p.timer.frames for p in pipelines), 1)  # per frame over every camera's frames
        stage_ms = {stage: round(1000 * sum(p.timer.totals.get(stage, 0.0) for p in pipelines) / timed, 3)
                    for stage in STAGES}
        errors = [f"{c['camera']}: {c['error']}" if len(cameras) > 1 else c["error"] for c in cameras if c["error"]]
        self.events.heartbeat(
            fps=round(sum(c["fps"] for c in cameras), 2), stage_ms=stage_ms, frames=frames,
            frames_dropped=sum(c["frames_dropped"] for c in cameras),
            gallery_version=None, gallery_size=pipelines[0].policy.index.subject_count,
            liveness_enabled=pipelines[0].liveness is not None, uptime_s=round(now - self.started, 1),
            camera_error="; ".join(errors)[:1000] or None,  # the contract bounds it
            cameras=cameras, over_capacity=any(c["behind"] for c in cameras),
            **(self.gate.status() if self.gate else {}),
        )

    def _camera(self, feed: Feed, span: float) -> dict:
        window = self._windows[feed.id]
        fps, source_fps, behind = window.rates(feed, span)
        status = {
            "camera": feed.id, "lane": feed.lane,
            "fps": round(fps, 2), "source_fps": round(source_fps, 2), "behind": behind,
            "frames": feed.pipeline.stats.frames, "frames_dropped": feed.camera.stats.frames_dropped,
            "static_skipped": feed.pipeline.stats.static_skipped, "sub_detected": feed.pipeline.stats.sub_detected,
            "main_skipped": feed.camera.stats.main_skipped, "decisions": len(window.stream_ms),
            "time_to_decision_ms": _median(window.stream_ms), "time_to_decision_wall_ms": _median(window.wall_ms),
            "over_rate": feed.camera.stats.over_rate,
            "error": (feed.trouble or "")[:1000] or None,
        }
        window.stream_ms, window.wall_ms = [], []
        return status


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None
