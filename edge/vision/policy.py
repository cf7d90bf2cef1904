"""Gate policy: combine several good frames of a person into one verdict.

Per track: collect `frames_needed` good templates, average them weighted by
quality, search the gallery, and decide
- `granted`: best subject scores at least the 1:N threshold AND beats the
  runner-up subject by the margin (so a look-alike pair never opens the gate);
- `unknown`: anything else.
Early decision: with an `early_threshold`, a track whose frames so far (at
least `live_frames` of them when liveness is on) already score that high for
one subject, with the margin, is decided at once rather than after
`frames_needed`. The threshold is the pack's, chosen where no different-person
pair of LFW DevTest scores (docs/benchmarks.md), so granting on it adds no
false accept the operating threshold would not already allow there.

One verdict per person passing: a track is decided once, and verified again
only if it is still in view after `reverify_interval_s`. A person whose track
broke in two is recognised as recently decided (the same subject within
`repeat_window_s`, or for strangers template similarity) and not announced
twice; `outcome(track)` still says what that track was decided to be.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.settings import PolicySettings
from edge.vision.gallery import GalleryIndex


@dataclass
class Verdict:
    timestamp: float  # stream time of the decision
    track: int
    verdict: str  # "granted" | "unknown" | "spoof_suspected"
    subject: str | None  # for spoof_suspected: whom the presented face matched, if anyone
    score: float  # best subject's cosine similarity (0 if the gallery is empty)
    runner_up: float | None
    threshold: float
    margin: float
    quality: float  # mean quality of the frames combined
    frames: int
    liveness_enabled: bool = False
    liveness: float | None = None  # mean live score of the frames combined (when enabled)
    first_good_at: float | None = None  # stream time of the first frame whose face passed the quality gate
    first_good_received: float | None = None  # when that frame reached the loop (monotonic clock), if known
    pass_id: str | None = None  # the pass the gate's rules let them in on (or refused), edge/gate/passes.py
    method: str = "face"  # "qr": a QR ticket was shown (`ticket` its text, for the gate's rules to check)
    ticket: str | None = None
    crop: bytes | None = None  # unknown, spoof_suspected: a small JPEG of the face, for the operator's card

    @property
    def time_to_decision_s(self) -> float | None:
        """Stream time from the first frame whose face passed the quality gate to this verdict (issue 16)."""
        return None if self.first_good_at is None else round(self.timestamp - self.first_good_at, 4)


@dataclass
class _TrackState:
    embeddings: list[np.ndarray] = field(default_factory=list)
    qualities: list[float] = field(default_factory=list)
    liveness: list[float] = field(default_factory=list)
    first_frame_at: float | None = None
    first_frame_received: float | None = None
    decided_at: float | None = None


@dataclass
class _Recent:
    template: np.ndarray
    at: float
    verdict: str
    subject: str | None


class GatePolicy:
    def __init__(self, settings: PolicySettings, index: GalleryIndex, threshold: float, margin: float,
                 live_threshold: float | None = None, early_threshold: float | None = None, live_frames: int = 1):
        self.settings = settings
        self.index = index
        self.threshold = threshold
        self.margin = margin
        self.live_threshold = live_threshold  # None: liveness is off
        self.early_threshold = early_threshold  # None: always wait for frames_needed
        self.live_frames = live_frames  # live scores an early decision needs (when liveness is on)
        self._tracks: dict[int, _TrackState] = {}
        self._recent: list[_Recent] = []
        self._outcomes: dict[int, str] = {}  # track -> its latest decision, announced or not

    def outcome(self, track_id: int) -> str | None:
        """What the track was last decided to be ("granted", ...), even if not announced; None if undecided."""
        return self._outcomes.get(track_id)

    def forget(self, track_id: int) -> None:
        """The track has ended and its outcome has been read."""
        self._outcomes.pop(track_id, None)

    def wants_frames(self, track_id: int, timestamp: float) -> bool:
        """Whether this track still needs templates (so the pipeline embeds it)."""
        state = self._tracks.get(track_id)
        if state is None or state.decided_at is None:
            return True
        return timestamp - state.decided_at >= self.settings.reverify_interval_s

    def deciding(self, track_id: int) -> bool:
        """Whether the track has good frames waiting for a decision (someone at the gate is waiting for it)."""
        state = self._tracks.get(track_id)
        return state is not None and state.decided_at is None and bool(state.embeddings)

    def wants_liveness(self, track_id: int, frames: int) -> bool:
        """Whether this track's next decision still needs live scores (it takes `frames` of them)."""
        state = self._tracks.get(track_id)
        return state is None or state.decided_at is not None or len(state.liveness) < frames

    def observe(self, track_id: int, template: np.ndarray, quality: float, timestamp: float,
                liveness: float | None = None, received: float | None = None) -> Verdict | None:
        """Add one good frame's template (and live score); returns a verdict when the track is decided.
        `received`: when the frame reached the loop (monotonic), for the wall time to decision."""
        if not self.wants_frames(track_id, timestamp):
            return None
        state = self._tracks.setdefault(track_id, _TrackState())
        if state.decided_at is not None:  # re-verification: collect a fresh set of frames
            self._tracks[track_id] = state = _TrackState()
        state.embeddings.append(template)
        state.qualities.append(quality)
        if liveness is not None:
            state.liveness.append(liveness)
        if state.first_frame_at is None:
            state.first_frame_at, state.first_frame_received = timestamp, received
        enough = len(state.embeddings) >= self.settings.frames_needed
        waited = timestamp - state.first_frame_at >= self.settings.max_wait_s
        early = not (enough or waited) and self.early_threshold is not None \
            and (self.live_threshold is None or len(state.liveness) >= self.live_frames)
        if not (enough or waited or early):
            return None
        combined = _combined(state)
        matches = self.index.search(combined, k=2)  # one search, for the early test and the verdict alike
        if early and not self._clear(matches):
            return None
        return self._decide(track_id, state, timestamp, combined, matches)

    def _clear(self, matches: list) -> bool:
        """The frames so far already match one subject at the early threshold, with the margin."""
        if not matches or matches[0].score < self.early_threshold:
            return False
        return len(matches) == 1 or matches[0].score - matches[1].score >= self.margin

    def track_ended(self, track_id: int, timestamp: float) -> Verdict | None:
        """A person left: decide on what was seen if nothing was decided yet."""
        state = self._tracks.pop(track_id, None)
        if state is None or not state.embeddings:  # decided already, or never seen well enough
            return None
        combined = _combined(state)
        return self._decide(track_id, state, timestamp, combined, self.index.search(combined, k=2))

    def _decide(self, track_id: int, state: _TrackState, timestamp: float, combined: np.ndarray,
                matches: list) -> Verdict | None:
        best = matches[0] if matches else None
        runner_up = matches[1].score if len(matches) > 1 else None
        granted = (best is not None and best.score >= self.threshold
                   and (runner_up is None or best.score - runner_up >= self.margin))
        live = round(float(np.mean(state.liveness)), 4) if state.liveness else None
        spoof = self.live_threshold is not None and live is not None and live < self.live_threshold
        verdict = Verdict(
            timestamp=timestamp, track=track_id,
            verdict="spoof_suspected" if spoof else "granted" if granted else "unknown",
            subject=best.subject if granted else None, score=round(best.score, 4) if best else 0.0,
            runner_up=round(runner_up, 4) if runner_up is not None else None,
            threshold=self.threshold, margin=self.margin,
            quality=round(float(np.mean(state.qualities)), 4), frames=len(state.embeddings),
            liveness_enabled=self.live_threshold is not None, liveness=live, first_good_at=state.first_frame_at,
            first_good_received=state.first_frame_received,
        )
        state.decided_at = timestamp
        state.embeddings, state.qualities, state.liveness = [], [], []
        state.first_frame_at = state.first_frame_received = None
        self._outcomes[track_id] = verdict.verdict
        if self._seen_recently(combined, verdict, timestamp):
            return None
        return verdict

    def _seen_recently(self, template: np.ndarray, verdict: Verdict, timestamp: float) -> bool:
        """True if the same person got the same verdict just now: the same granted subject within the repeat
        window, or, for unknown people, a
        template close to the earlier one within the re-verify interval (a track that broke in two).
        """
        horizon = timestamp - self.settings.reverify_interval_s
        repeat_horizon = timestamp - min(self.settings.repeat_window_s, self.settings.reverify_interval_s)
        self._recent = [r for r in self._recent if r.at > horizon]
        for recent in self._recent:
            if verdict.subject is not None and recent.subject == verdict.subject:
                if recent.at > repeat_horizon:
                    return True  # granted to this subject just now; a second track of them adds nothing
                continue
            same_person = float(recent.template @ template) >= self.settings.same_person_threshold
            if same_person and recent.verdict == verdict.verdict:
                return True
        self._recent.append(_Recent(template, timestamp, verdict.verdict, verdict.subject))
        return False


def _combined(state: _TrackState) -> np.ndarray:
    """The track's frames as one template: their mean weighted by quality, unit length."""
    weights = np.asarray(state.qualities, np.float32) + 1e-3
    combined = (np.stack(state.embeddings) * weights[:, None]).sum(axis=0)
    return combined / max(float(np.linalg.norm(combined)), 1e-12)
