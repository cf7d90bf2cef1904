"""The per-frame loop: detect -> track -> quality -> align+embed -> match -> policy.

Work is spent only where a decision needs it:
- the detector runs on every `detect_every`-th frame, tracks carrying over in between -- but on every
  `detect_every_deciding`-th while a face is being decided, since the person at the gate waits for it;
- with the motion gate on (`[motion]`), not even then while nobody is tracked and the camera's region of interest
  has not changed since the detector last looked (edge/vision/motion.py);
- on a camera with a sub-stream, the motion gate and the detector look at the sub-stream's small image, and while
  nobody is tracked the main stream's frames are not even converted to pixels (`wants_main`);
- only tracks the policy still needs templates for are aligned and embedded
  (a person already decided costs one detection per cycle, nothing more);
- all crops of a frame are embedded in one batch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from edge.vision.camera import Frame
from edge.settings import CameraSettings, EdgeConfig
from edge.vision.gallery import GalleryIndex
from edge.vision.policy import GatePolicy, Verdict
from edge.vision.tracker import Tracker
from edge.vision.liveness import LivenessChecker
from edge.vision.motion import MotionGate
from models import LoadedPack
from models.faces import embed_faces, gate_faces

STAGES = ("decode", "motion", "detect", "track", "align+embed", "liveness", "match")


@dataclass
class StageTimer:
    """Wall time spent per stage, for the status line and the benchmark table."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] += time.perf_counter() - start

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] += seconds

    def per_frame_ms(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {s: 1000 * self.totals.get(s, 0.0) / n for s in STAGES}


@dataclass
class EndedTrack:
    id: int
    first_seen: float
    last_seen: float
    outcome: str | None  # what the policy decided about this person ("granted", ...), None if never decided


@dataclass
class FrameReport:
    """What the last frame showed beyond verdicts, for the door rules (edge/gate/rules.py)."""

    timestamp: float = 0.0
    faces: int = 0  # faces in view: detected in this frame, or tracked through it
    ended: list[EndedTrack] = field(default_factory=list)  # people who left the view


@dataclass
class PipelineStats:
    frames: int = 0
    detections: int = 0
    detect_runs: int = 0  # frames the detector ran on
    embedded: int = 0
    static_skipped: int = 0  # detections the motion gate saved: nobody tracked, nothing changed
    sub_detected: int = 0  # detections run on a sub-stream's image instead of the main stream's
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by quality reason kind


class FacePipeline:
    def __init__(self, pack: LoadedPack, index: GalleryIndex, config: EdgeConfig,
                 liveness: LivenessChecker | None = None, camera: CameraSettings | None = None):
        """One camera's loop (`camera`: its settings, `config.camera` if not given). Several pipelines may share
        one `pack` and `liveness`: each keeps its own tracker, policy and motion gate."""
        self.pack = pack
        self.config = config
        self.liveness = liveness
        self.tracker = Tracker(config.tracker.iou_threshold, config.tracker.lost_after_s)
        threshold = config.policy.identify_threshold
        margin = config.policy.margin
        self.policy = GatePolicy(
            config.policy, index,
            threshold=pack.spec.identify_threshold if threshold is None else threshold,
            margin=pack.spec.margin if margin is None else margin,
            live_threshold=liveness.threshold if liveness else None,
            early_threshold=pack.spec.early_threshold if config.policy.early_decision else None,
            live_frames=config.liveness.frames,
        )
        self.camera = camera or config.camera
        self.motion = MotionGate(config.motion, self.camera.roi) if config.motion.enabled else None
        self.timer = StageTimer()
        self.stats = PipelineStats()
        self.report = FrameReport()
        self._since_detect = 1 << 30  # frames since the detector last ran: the first frame is always detected
        self._crops: dict[int, np.ndarray] = {}  # track -> its latest aligned face (for the refused ones' cards)

    def retune(self, config: EdgeConfig) -> None:
        """Take `config`'s policy, quality, tracker and motion settings from the next frame on (a configuration
        from the gateway, applied live: edge/node/managed.py); tracks and decisions in progress carry on. The
        camera, the pack and liveness stay: changing those restarts the node."""
        self.config = config
        self.tracker.iou_threshold = config.tracker.iou_threshold
        self.tracker.lost_after_s = config.tracker.lost_after_s
        policy, spec = self.policy, self.pack.spec
        policy.settings = config.policy
        policy.threshold = spec.identify_threshold if config.policy.identify_threshold is None \
            else config.policy.identify_threshold
        policy.margin = spec.margin if config.policy.margin is None else config.policy.margin
        policy.early_threshold = spec.early_threshold if config.policy.early_decision else None
        if not config.motion.enabled:
            self.motion = None
        elif self.motion is None:
            self.motion = MotionGate(config.motion, self.camera.roi)
        else:
            self.motion.settings = config.motion

    def use_gallery(self, index: GalleryIndex) -> None:
        """Match against `index` from the next search on (a gallery update from the gateway)."""
        self.policy.index = index

    @property
    def active_tracks(self) -> int:
        return len(self.tracker.tracks)

    @property
    def wants_main(self) -> bool:
        """Whether the next frames need the main stream's pixels: only while someone is tracked (a face found on a
        sub-stream frame without them starts a track, and is aligned from the next frame)."""
        return bool(self.tracker.tracks)

    def process(self, frame: Frame) -> list[Verdict]:
        """Run one frame through the loop; returns the verdicts it produced."""
        ts = frame.timestamp
        verdicts: list[Verdict] = []
        deciding = any(self.policy.deciding(t) for t in self.tracker.tracks)
        every = self.config.tracker.detect_every_deciding if deciding else self.config.tracker.detect_every
        detect_now = self._since_detect + 1 >= max(1, every)
        self._since_detect = 0 if detect_now else self._since_detect + 1
        self.stats.frames += 1
        self.timer.frames += 1
        if detect_now and self.motion is not None:
            with self.timer.stage("motion"):
                changed = self.motion.changed(frame.detect_image, frame.detect_scale)
            if not changed and not self.tracker.tracks:
                detect_now = False
                self.stats.static_skipped += 1
        if not detect_now:
            with self.timer.stage("track"):
                ended = self.tracker.expire(ts)
            self.report = FrameReport(ts, len(self.tracker.tracks))
            return self._end(ended, ts)

        with self.timer.stage("detect"):
            detections = self.pack.detector.detect(frame.detect_image).scaled(frame.detect_scale)
        self.stats.detect_runs += 1
        if frame.small is not None:
            self.stats.sub_detected += 1
        if self.motion is not None:
            self.motion.detected()
        self.stats.detections += len(detections)
        with self.timer.stage("track"):
            update = self.tracker.update(detections, ts)
        self.report = FrameReport(ts, len(detections))
        if frame.image is None:  # a sub-stream frame while nobody was in view: its faces are tracked from here on,
            return verdicts + self._end(update.ended, ts)  # and cut from the next frames' main images

        with self.timer.stage("align+embed"):
            wanted = [(track, di) for track, di in update.matched if self.policy.wants_frames(track.id, ts)]
            faces = gate_faces(frame.image, detections, [di for _, di in wanted], self.config.quality)
            good = []
            for (track, _), face in zip(wanted, faces):
                if face.usable:
                    good.append((track, face))
                else:
                    self._count_rejection(face.reason)
            templates = embed_faces(self.pack, [face for _, face in good])
            self.stats.embedded += len(good)

        live: list[float | None] = [None] * len(good)
        if self.liveness:
            frames = self.config.liveness.frames
            needed = [i for i, (track, _) in enumerate(good) if self.policy.wants_liveness(track.id, frames)]
            if needed:
                with self.timer.stage("liveness"):
                    scores = self.liveness.scores(frame.image, np.stack([good[i][1].box for i in needed]))
                for i, score in zip(needed, scores):
                    live[i] = float(score)

        with self.timer.stage("match"):
            for (track, face), template, score in zip(good, templates, live):
                if self.config.policy.face_crops:
                    self._crops[track.id] = face.crop
                verdict = self.policy.observe(track.id, template, face.quality.score(self.config.quality), ts, score,
                                              frame.received)
                if verdict:
                    verdicts.append(self._with_crop(verdict))
        return verdicts + self._end(update.ended, ts)

    def _with_crop(self, verdict: Verdict) -> Verdict:
        """A verdict that needs a person carries the face it was about (a few kB of JPEG); no other does."""
        crop = self._crops.get(verdict.track)
        if crop is None or verdict.verdict not in ("unknown", "spoof_suspected"):
            return verdict
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return replace(verdict, crop=jpeg.tobytes()) if ok else verdict

    def finish(self, timestamp: float) -> list[Verdict]:
        """The stream ended: every person still in view has left."""
        self.report = FrameReport(timestamp, 0)
        return self._end(self.tracker.end_all(), timestamp)

    def _end(self, ended, timestamp: float) -> list[Verdict]:
        if not ended:
            return []
        with self.timer.stage("match"):
            verdicts = [self._with_crop(v) for t in ended if (v := self.policy.track_ended(t.id, timestamp))]
        for track in ended:
            self._crops.pop(track.id, None)
            self.report.ended.append(EndedTrack(track.id, track.first_seen, track.last_seen,
                                                self.policy.outcome(track.id)))
            self.policy.forget(track.id)
        return verdicts

    def _count_rejection(self, reason: str | None) -> None:
        self.stats.rejected[(reason or "unknown").split(":")[0]] += 1
