"""Exam supervision on the device: check the candidate in, keep checking, flag what a supervisor must see.

`ExamStation.process(frame)` looks at each frame (faces, quality, whether the
camera is blocked) and hands what it saw to `ExamSupervisor`, which holds the
session's state:

- **check-in**: 1:1 against the candidate's template with the exam threshold
  (the pack's `verify_threshold`, not the gate's 1:N one), `checkin_frames`
  good frames combined; liveness fused over them -- a presentation attack is
  flagged `presentation_attack` and blocks the check-in;
- **supervision**: a 1:1 check every `reverify_interval_s`, again
  `recheck_after_s` after a failed one, and at once when a face returns;
  flags, each debounced (one bad frame is never a flag):
  `face_mismatch` (`mismatch_checks` failed checks in a row), `no_face`
  (absent beyond `no_face_grace_s`), `multiple_faces` (two or more faces for
  `multiple_faces_s`), `camera_blocked` (dark, uniform or defocused for
  `blocked_s`), `low_quality` (a face, but never usable, for `low_quality_s`);
- **evidence**: a face crop and a context frame at check-in, at logout and at
  every flag, reported through `ExamReporter` (the device encrypts and signs them);
- **summary** at the end: every check, flag and evidence id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import cv2
import numpy as np

from edge.vision.camera import Frame
from edge.settings import ExamSettings
from models.quality import QualitySettings
from edge.vision.gallery import GalleryIndex
from edge.vision.liveness import LivenessChecker
from models import LoadedPack
from models.faces import Face, people_in_view
from wire import uuid7

log = logging.getLogger(__name__)


@dataclass
class FrameSeen:
    at: datetime
    image: np.ndarray
    faces: list[Face]  # faces big enough to be a person at the desk, largest first
    blocked: str | None  # "dark" | "uniform" | "defocused" | None


@dataclass
class Check:
    at: datetime
    reason: str  # checkin | periodic | face_returned | logout
    score: float | None
    passed: bool
    liveness: float | None = None


@dataclass
class Flag:
    id: str
    kind: str
    start: datetime
    confidence: float
    severity: str
    detail: str = ""
    end: datetime | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds()


class ExamReporter(Protocol):
    def session_changed(self, supervisor: ExamSupervisor) -> None: ...
    def flag_changed(self, supervisor: ExamSupervisor, flag: Flag) -> None: ...
    def evidence(self, supervisor: ExamSupervisor, reason: str, image: np.ndarray, face: Face | None) -> list[str]: ...


@dataclass
class _Timer:
    """Since when a condition has held (None: it does not)."""

    since: datetime | None = None

    def update(self, holds: bool, at: datetime) -> None:
        self.since = (self.since or at) if holds else None

    def held(self, at: datetime, seconds: float) -> bool:
        return self.since is not None and (at - self.since).total_seconds() >= seconds


class ExamSupervisor:
    def __init__(self, session: str, candidate: str, exam_type: str, stage: str, seat: str | None,
                 template_score, threshold: float, settings: ExamSettings, reporter: ExamReporter,
                 embed, live_score=None, live_threshold: float | None = None, chip_score=None):
        self.session, self.candidate, self.exam_type, self.stage, self.seat = session, candidate, exam_type, stage, seat
        self.score_of = template_score  # template -> 1:1 score against the candidate
        # template -> 1:1 score against the portrait on the chip ID card the candidate presented (issue 15), or None
        self.chip_score = chip_score
        self.embed = embed  # list of aligned crops -> templates
        self.live_score = live_score  # (image, boxes) -> live scores, or None when liveness is off
        self.live_threshold = live_threshold
        self.threshold = threshold
        self.settings = settings
        self.reporter = reporter
        self.checkin = "pending"
        self.checkin_score: float | None = None
        self.checkin_chip_score: float | None = None  # with a card: the live face against its chip portrait
        self.reason = ""
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.checks: list[Check] = []
        self.flags: list[Flag] = []
        self.evidence: list[str] = []
        self._samples: list[tuple[np.ndarray, float | None]] = []  # (template, live) for the check under way
        self._check_reason: str | None = "checkin"
        self._attempts = 0
        self._next_check: datetime | None = None
        self._failures = 0
        self._first_failure: datetime | None = None
        self._last_face: datetime | None = None
        self._open: dict[str, Flag] = {}
        self._multi, self._single = _Timer(), _Timer()
        self._blocked, self._clear = _Timer(), _Timer()
        self._unusable, self._usable = _Timer(), _Timer()

    @property
    def active(self) -> bool:
        return self.ended_at is None and self.checkin in ("pending", "passed")

    def observe(self, seen: FrameSeen) -> None:
        if self.started_at is None:
            self.started_at = seen.at
            self.reporter.session_changed(self)
        if not self.active:
            return
        if self.checkin == "passed":
            self._watch(seen)
        self._verify(seen)
        if self.checkin == "pending" and (seen.at - self.started_at).total_seconds() > self.settings.checkin_timeout_s:
            self._checkin_done("failed", None, seen, f"no match within {self.settings.checkin_timeout_s:.0f}s")

    def end(self, seen: FrameSeen | None, at: datetime) -> None:
        """Logout: a last check and evidence if the candidate is there, then the summary."""
        if self.ended_at is not None:
            return
        if seen is not None and self.checkin == "passed":
            face = seen.faces[0] if seen.faces else None
            if face is not None and face.usable:
                template = self.embed([face.crop])[0]
                score = float(self.score_of(template))
                self.checks.append(Check(at, "logout", round(score, 4), score >= self.threshold))
            self.evidence += self.reporter.evidence(self, "logout", seen.image, face)
        for flag in list(self._open.values()):
            self._close(flag.kind, at)
        self.ended_at = at
        self.reporter.session_changed(self)

    # -- verification --------------------------------------------------------------------

    def _verify(self, seen: FrameSeen) -> None:
        if self._check_reason is None and self._next_check is not None and seen.at >= self._next_check:
            self._check_reason = "periodic"
        if self._check_reason is None or not seen.faces or not seen.faces[0].usable:
            return
        if len(seen.faces) > 1 and self.checkin == "pending":
            return  # check-in needs the candidate alone before the camera
        face = seen.faces[0]
        template = self.embed([face.crop])[0]
        live = None
        if self.live_score is not None and self.checkin == "pending":
            live = float(self.live_score(seen.image, face.box[None])[0])
        self._samples.append((template, live))
        wanted = self.settings.checkin_frames if self.checkin == "pending" else self.settings.check_frames
        if len(self._samples) < wanted:
            return
        combined = np.mean([t for t, _ in self._samples], axis=0)
        combined /= max(float(np.linalg.norm(combined)), 1e-12)
        lives = [v for _, v in self._samples if v is not None]
        live = float(np.mean(lives)) if lives else None
        score = float(self.score_of(combined))
        reason, self._samples = self._check_reason, []
        passed = score >= self.threshold
        self.checks.append(Check(seen.at, reason, round(score, 4), passed, None if live is None else round(live, 4)))
        if self.checkin == "pending":
            chip = None
            if self.chip_score is not None:
                chip = float(self.chip_score(combined))
                self.checkin_chip_score = round(chip, 4)
            self._checkin_attempt(score, live, seen, chip)
        else:
            self._supervision_check(passed, score, seen)

    def _checkin_attempt(self, score: float, live: float | None, seen: FrameSeen, chip: float | None = None) -> None:
        """One check-in decision: live, matching the enrolled template and, when a card was presented, matching
        its chip portrait too (both scores are recorded either way)."""
        self._attempts += 1
        if self.live_threshold is not None and live is not None and live < self.live_threshold:
            flag = self._open_flag("presentation_attack", seen, seen.at, confidence=1 - live, severity="high",
                                   detail=f"live score {live:.2f} < {self.live_threshold}")
            self._close("presentation_attack", seen.at)
            self.checkin_score = round(score, 4)
            self._checkin_done("presentation_attack", score, seen, flag.detail)
        elif score >= self.threshold and (chip is None or chip >= self.threshold):
            self._checkin_done("passed", score, seen, "")
        elif self._attempts >= self.settings.checkin_attempts:
            reason = f"best 1:1 score {score:.2f} < {self.threshold}" if score < self.threshold else \
                f"the live face does not match the chip card's portrait ({chip:.2f} < {self.threshold})"
            self._checkin_done("failed", score, seen, reason)

    def _checkin_done(self, result: str, score: float | None, seen: FrameSeen, reason: str) -> None:
        self.checkin, self.reason = result, reason
        self.checkin_score = None if score is None else round(score, 4)
        self.evidence += self.reporter.evidence(self, "checkin", seen.image, seen.faces[0] if seen.faces else None)
        self._check_reason = None
        self._next_check = seen.at + timedelta(seconds=self.settings.reverify_interval_s)
        self._last_face = seen.at
        log.info("session %s: check-in %s for %s (score %s)", self.session, result, self.candidate, score)
        self.reporter.session_changed(self)

    def _supervision_check(self, passed: bool, score: float, seen: FrameSeen) -> None:
        self._check_reason = None
        if passed:
            self._failures = 0
            self._close("face_mismatch", seen.at)
            self._next_check = seen.at + timedelta(seconds=self.settings.reverify_interval_s)
            return
        self._failures += 1
        if self._failures == 1:
            self._first_failure = seen.at
        if self._failures >= self.settings.mismatch_checks and "face_mismatch" not in self._open:
            self._open_flag("face_mismatch", seen, self._first_failure,
                            confidence=round(min(1.0, max(0.0, 1 - score / self.threshold)), 3), severity="high",
                            detail=f"1:1 score {score:.2f} < {self.threshold}")
        # Confirm a suspicion quickly; once flagged, look often enough to see the candidate come back.
        again = self.settings.recheck_after_s if "face_mismatch" not in self._open else \
            max(self.settings.recheck_after_s, self.settings.reverify_interval_s / 3)
        self._next_check = seen.at + timedelta(seconds=again)

    # -- what the camera shows -------------------------------------------------------------

    def _watch(self, seen: FrameSeen) -> None:
        s, at = self.settings, seen.at
        self._blocked.update(seen.blocked is not None, at)
        self._clear.update(seen.blocked is None, at)
        if self._blocked.held(at, s.blocked_s):
            self._open_flag("camera_blocked", seen, self._blocked.since, 1.0, "medium", seen.blocked or "")
        elif "camera_blocked" in self._open and self._clear.held(at, s.clear_s):
            self._close("camera_blocked", self._clear.since)

        if seen.faces:
            if self._last_face is not None and "no_face" in self._open:
                self._close("no_face", at)
                self._check_reason = "face_returned"  # whoever came back is checked at once
                self._samples = []
            self._last_face = at
        elif (self._last_face is not None and (at - self._last_face).total_seconds() > s.no_face_grace_s
              and "camera_blocked" not in self._open):
            self._open_flag("no_face", seen, self._last_face, 1.0, "medium", "")

        self._multi.update(len(seen.faces) > 1, at)
        self._single.update(len(seen.faces) <= 1, at)
        if self._multi.held(at, s.multiple_faces_s):
            self._open_flag("multiple_faces", seen, self._multi.since, 0.9, "high", f"{len(seen.faces)} faces")
        elif "multiple_faces" in self._open and self._single.held(at, s.clear_s):
            self._close("multiple_faces", self._single.since)

        present = bool(seen.faces)
        self._unusable.update(present and not seen.faces[0].usable, at)
        self._usable.update(present and seen.faces[0].usable, at)
        if self._unusable.held(at, s.low_quality_s):
            self._open_flag("low_quality", seen, self._unusable.since, 0.6, "low", "")
        elif "low_quality" in self._open and self._usable.held(at, s.clear_s):
            self._close("low_quality", self._usable.since)

    def _open_flag(self, kind: str, seen: FrameSeen, start: datetime, confidence: float, severity: str,
                   detail: str) -> Flag:
        if kind in self._open:
            return self._open[kind]
        flag = Flag(str(uuid7()), kind, start, round(confidence, 3), severity, detail)
        self._open[kind] = flag
        self.flags.append(flag)
        flag.evidence = self.reporter.evidence(self, flag.id, seen.image, seen.faces[0] if seen.faces else None)
        self.evidence += flag.evidence
        log.warning("session %s: %s flagged (%s)", self.session, kind, detail or severity)
        self.reporter.flag_changed(self, flag)
        return flag

    def _close(self, kind: str, at: datetime) -> None:
        flag = self._open.pop(kind, None)
        if flag is not None:
            flag.end = max(at, flag.start)
            self.reporter.flag_changed(self, flag)


class ExamStation:
    """Turns camera frames into what the supervisor needs: significant faces, quality, a blocked lens."""

    def __init__(self, pack: LoadedPack, quality: QualitySettings, settings: ExamSettings,
                 liveness: LivenessChecker | None):
        self.pack, self.quality, self.settings, self.liveness = pack, quality, settings, liveness

    def see(self, frame: Frame, at: datetime) -> FrameSeen:
        # A face in a poster far back, or a false detection, is not a person at this desk.
        faces = people_in_view(frame.image, self.pack, self.quality, self.settings.min_face_eye_px)
        return FrameSeen(at, frame.image, faces, self._blocked(frame.image))

    def _blocked(self, image: np.ndarray) -> str | None:
        small = cv2.cvtColor(cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        if small.mean() < self.settings.dark_below:
            return "dark"
        if small.std() < self.settings.uniform_below:
            return "uniform"
        if cv2.Laplacian(small, cv2.CV_64F).var() < self.settings.defocused_below:
            return "defocused"
        return None

    def supervisor(self, session: str, candidate: str, gallery: GalleryIndex, reporter: ExamReporter,
                   exam_type: str = "theory", stage: str = "theory", seat: str | None = None,
                   chip: np.ndarray | None = None) -> ExamSupervisor:
        """A supervisor for one session; ValueError if the candidate has no template on this device. `chip`: the
        template of the portrait on the chip ID card the candidate presented (check-in matches both)."""
        if candidate not in set(gallery.subjects.tolist()):
            raise ValueError(f"candidate {candidate!r} has no template on this device (no exam consent for this "
                             f"site, or the gallery is not synced yet): the session cannot start")
        threshold = self.settings.verify_threshold or self.pack.spec.verify_threshold
        return ExamSupervisor(
            session, candidate, exam_type, stage, seat, lambda t: gallery.verify(t, candidate), threshold,
            self.settings, reporter, embed=lambda crops: self.pack.embedder.embed(np.stack(crops)),
            live_score=self.liveness.scores if self.liveness else None,
            live_threshold=self.liveness.threshold if self.liveness else None,
            chip_score=None if chip is None else lambda t: float(np.asarray(t, dtype=np.float32) @ chip))
