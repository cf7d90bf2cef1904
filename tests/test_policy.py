"""Gate policy: frames combined into one verdict, repeated only after the re-verify interval."""

from __future__ import annotations

import numpy as np

from edge.settings import PolicySettings
from edge.vision.gallery import GalleryIndex
from edge.vision.policy import GatePolicy


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_person_still_in_view_is_verified_again_after_the_interval():
    rng = np.random.default_rng(3)
    alice = unit(rng.normal(size=512))
    index = GalleryIndex(["alice"], alice[None])
    policy = GatePolicy(PolicySettings(frames_needed=3, reverify_interval_s=10.0), index, threshold=0.36, margin=0.05)

    def frame(t: float):
        return policy.observe(7, unit(alice + 0.03 * rng.normal(size=512)), 0.8, t)

    verdicts = [v for t in np.arange(0.0, 25.0, 0.1) if (v := frame(float(t)))]
    # One verdict on arrival, then one per 10 s interval while alice stays: not one per frame.
    assert [v.verdict for v in verdicts] == ["granted"] * 3
    assert [round(v.timestamp, 1) for v in verdicts] == [0.2, 10.4, 20.6]
    assert all(v.subject == "alice" and v.frames == 3 for v in verdicts)


def test_a_stranger_is_unknown_and_a_split_track_is_not_announced_twice():
    rng = np.random.default_rng(4)
    alice, stranger = unit(rng.normal(size=512)), unit(rng.normal(size=512))
    policy = GatePolicy(PolicySettings(frames_needed=2), GalleryIndex(["alice"], alice[None]), threshold=0.36, margin=0.05)
    first = [policy.observe(1, unit(stranger + 0.03 * rng.normal(size=512)), 0.8, t) for t in (0.0, 0.1)]
    assert first[-1] is not None and first[-1].verdict == "unknown" and first[-1].subject is None
    # The tracker lost the stranger and started a new track for them.
    again = [policy.observe(2, unit(stranger + 0.03 * rng.normal(size=512)), 0.8, t) for t in (1.0, 1.1)]
    assert again == [None, None]


def test_each_verdict_says_how_long_after_the_first_good_frame_it_came():
    """Issue 16's time to decision, in stream time: from the first frame whose face passed the quality gate (the
    first one the policy is given) to the verdict; it travels in the signed verdict event."""
    import tempfile
    from datetime import datetime, timezone
    from pathlib import Path

    from edge.link.events import DeviceEvents
    from edge.link.outbox import Outbox
    from wire import DeviceKey
    from wire.events import parse_envelope, parse_event

    rng = np.random.default_rng(5)
    alice = unit(rng.normal(size=512))
    policy = GatePolicy(PolicySettings(frames_needed=3), GalleryIndex(["alice"], alice[None]), threshold=0.36,
                        margin=0.05)
    frames = (4.0, 4.0667, 4.1333)  # every 2nd frame of a 30 fps stream, from the face's first good one
    verdicts = [policy.observe(1, unit(alice + 0.03 * rng.normal(size=512)), 0.8, t) for t in frames]
    assert verdicts[:2] == [None, None] and verdicts[2].time_to_decision_s == 0.1333
    outbox = Outbox(Path(tempfile.mkdtemp()) / "outbox.db")
    events = DeviceEvents("site-a", "gate-01", DeviceKey.generate(), outbox, "buffalo_s")
    events.verdict(verdicts[2], "cam-1", datetime.now(timezone.utc))
    [sent] = outbox.pending()
    assert parse_event(parse_envelope(sent.payload)[0]).time_to_decision_ms == 133.3


def test_a_clear_face_is_decided_at_once_and_a_doubtful_one_waits_for_its_frames():
    """The early decision: frames that already match one subject at the early threshold (with the margin, and
    with liveness's frames when it is on) decide; anything less waits for `frames_needed` as before."""
    rng = np.random.default_rng(6)
    alice, bob, stranger = (unit(rng.normal(size=512)) for _ in range(3))
    index = GalleryIndex(["alice", "bob"], np.stack([alice, bob]))

    def near(template: np.ndarray, score: float) -> np.ndarray:
        """A unit template with cosine `score` to `template`."""
        other = unit(rng.normal(size=512) - (rng.normal(size=512) @ template) * template)
        other = unit(other - (other @ template) * template)
        return unit(score * template + np.sqrt(1 - score ** 2) * other)

    def policy(**kw) -> GatePolicy:
        return GatePolicy(PolicySettings(frames_needed=3), index, threshold=0.36, margin=0.05, **kw)

    def decided_after(p: GatePolicy, template_of, live=None) -> tuple[int, str] | None:
        for n in range(1, 4):
            v = p.observe(1, template_of(), 0.8, 0.1 * n, live)
            if v:
                return n, v.verdict
        return None

    clear = lambda: near(alice, 0.5)  # noqa: E731
    assert decided_after(policy(early_threshold=0.40), clear) == (1, "granted")
    assert decided_after(policy(early_threshold=0.40, live_threshold=0.5, live_frames=2), clear, 0.9) == (2, "granted")
    assert decided_after(policy(early_threshold=0.40, live_threshold=0.5, live_frames=2), clear, 0.1) == \
        (2, "spoof_suspected")
    assert decided_after(policy(), clear) == (3, "granted")  # no early threshold: as before
    doubtful = near(alice, 0.38)  # the same frame thrice: the mean stays at 0.38, over the threshold, under early
    assert decided_after(policy(early_threshold=0.40), lambda: doubtful) == (3, "granted")
    assert decided_after(policy(early_threshold=0.40), lambda: stranger) == (3, "unknown")
    # Close to two subjects at once: the margin is not there, so no early decision either.
    both = lambda: unit(alice + bob)  # noqa: E731
    assert decided_after(policy(early_threshold=0.40), both)[0] == 3
