"""Gate policy: frames combined into one verdict, repeated only after the re-verify interval."""

from __future__ import annotations

import numpy as np

from edge.config import PolicySettings
from edge.gallery import GalleryIndex
from edge.policy import GatePolicy


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

    from edge.events import DeviceEvents
    from edge.outbox import Outbox
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
