"""`facegate edge run` over a real video: who is granted, and how often."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from conftest import CLIP, CLIP_PEOPLE, WIDE_SHOT, clip_gallery

PEOPLE = list(CLIP_PEOPLE)


def run_edge(tmp_path, people: list[str]) -> list[dict]:
    gallery = clip_gallery(tmp_path / "gallery", people)
    config = tmp_path / "site.toml"
    config.write_text(WIDE_SHOT)
    result = subprocess.run(
        [sys.executable, "-m", "facegate", "edge", "run", "--source", str(CLIP), "--gallery", str(gallery),
         "--config", str(config)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def granted(verdicts: list[dict]) -> Counter:
    return Counter(v["subject"] for v in verdicts if v["verdict"] == "granted")


def test_both_enrolled_people_are_granted_once_each(tmp_path):
    verdicts = run_edge(tmp_path, PEOPLE)
    assert granted(verdicts) == Counter({"alex-lacamoire": 1, "lin-manuel-miranda": 1})
    # One verdict per person passing, not one per frame (the clip has 275 frames).
    assert len(verdicts) <= 5
    first = verdicts[0]
    for key in ("time", "camera", "track", "verdict", "subject", "score", "threshold", "quality", "model_pack"):
        assert key in first
    assert all(v["score"] >= v["threshold"] for v in verdicts if v["verdict"] == "granted")


@pytest.mark.parametrize("left_out", PEOPLE)
def test_nobody_else_is_granted_when_one_photo_is_left_out(tmp_path, left_out):
    kept = [p for p in PEOPLE if p != left_out]
    verdicts = run_edge(tmp_path, kept)
    assert granted(verdicts) == Counter({kept[0]: 1})


def test_missing_source_is_retried_then_reported_without_crashing(tmp_path):
    gallery = clip_gallery(tmp_path / "g", ["alex-lacamoire"])
    result = subprocess.run(
        [sys.executable, "-m", "facegate", "edge", "run", "--source", str(tmp_path / "nope.mp4"),
         "--gallery", str(gallery)],
        capture_output=True, text=True, timeout=120,
        env={"FACEGATE_CAMERA__RECONNECT_INITIAL_S": "0.05", "PATH": ""},
    )
    assert result.returncode == 3
    assert result.stderr.count("cannot open") >= 3  # retried with a log line each time
    assert "Traceback" not in result.stderr
