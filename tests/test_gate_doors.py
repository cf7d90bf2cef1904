"""The gate with a door: a generated stream through the real loop, liveness on, a relay board on a pty.

A visitor is granted (one opening) while someone slips in beside them (tailgate); a stranger, a printed photo
held up to the camera, and the visitor coming back a little later open nothing -- the last is refused as
passback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import DATA, SHARED
from door_standins import RelayBoard
from edge.vision.camera import Camera
from edge.settings import EdgeConfig, GateSettings
from edge.settings import DoorSettings
from edge.link.events import DeviceEvents
from edge.vision.gallery import GalleryIndex
from edge.gate.rules import Gate, GateRules
from edge.vision.liveness import LivenessChecker
from edge.link.outbox import Outbox
from edge.vision.pipeline import FacePipeline
from edge.vision.policy import Verdict
from edge.node.runner import run_edge
from edge.eval.synthetic import portrait, scene_video
from models.photos import template_from_image
from stack import REPO, wait_for
from wire import DeviceKey
from wire.commands import DoorCommand, FreshCommands, sign_command
from wire.evidence import open_evidence
from wire.gallery import new_gallery_key

LFW = DATA / "faces" / "lfw-devtest" / "images"
WIDTH, HEIGHT, FPS = 960, 540, 15.0


def gate_stream(path: Path) -> Path:
    """(start, end, picture, x, y) scenes on a plain wall, each face standing before the camera as people do."""
    visitor = portrait(LFW / "Abdullah_Gul" / "Abdullah_Gul_0014.jpg", 480)
    scenes = [
        (0.4, 2.9, visitor, 120, 30),  # the visitor: granted, the door opens
        (1.2, 1.8, portrait(LFW / "Abdul_Majeed_Shobokshi" / "Abdul_Majeed_Shobokshi_0001.jpg", 220), 700, 200),
        (4.4, 6.4, portrait(LFW / "AJ_Lamas" / "AJ_Lamas_0001.jpg", 480), 240, 30),  # a stranger
        (7.9, 9.9, portrait(DATA / "pad" / "image_F1.jpg", 510), 200, 15),  # a printed photo held up
        (11.4, 13.4, visitor, 200, 30),  # the visitor again, never having gone out
    ]
    return scene_video(path, scenes, WIDTH, HEIGHT, FPS, 14.5)


@pytest.fixture(scope="module")
def gate_config(config):
    cfg = config.model_copy(deep=True)
    cfg.models.search_paths = [*cfg.models.search_paths, SHARED / "models" / "minifasnet"]
    return cfg


def test_one_grant_opens_once_and_the_tailgater_stranger_spoof_and_passback_do_not(gate_config, pack, tmp_path):
    board = RelayBoard()
    config = gate_config.model_copy(deep=True)
    config.doors = [DoorSettings(lane=1, kind="serial", port=board.path, pulse_ms=3000, direction="in")]
    enrolled = template_from_image(cv2.imread(str(LFW / "Abdullah_Gul" / "Abdullah_Gul_0013.jpg")), pack,
                                   config.quality)
    pipeline = FacePipeline(pack, GalleryIndex(["abdullah-gul"], enrolled.embedding[None]), config,
                            LivenessChecker.open(config))
    outbox = Outbox(tmp_path / "outbox.db")
    key = new_gallery_key()
    events = DeviceEvents("site-1", "gate-1", DeviceKey.generate(), outbox, pack.name, evidence_key=key)
    gate = Gate.open(config, events)
    verdicts = []
    try:
        run_edge(Camera(str(gate_stream(tmp_path / "gate.avi")), config.camera), pipeline, verdicts.append,
                 events=events, gate=gate)
        wait_for(lambda: any(e["kind"] == "door" for e in signed(outbox)), 5, "the stand-in")
    finally:
        gate.stop()
        board.close()

    def said(start: float, end: float) -> list[tuple[str, str | None]]:
        return [(v["verdict"], v["subject"]) for v in verdicts if start <= v["stream_time"] < end]

    assert said(0.4, 1.2) == [("granted", "abdullah-gul")]
    assert ("granted", "abdullah-gul") not in said(1.2, 4.4)  # the one who slipped in: no grant of their own
    assert said(4.4, 7.9) == [("unknown", None)]
    assert said(7.9, 11.4) == [("spoof_suspected", None)]
    assert said(11.4, 14.5) == [("passback", "abdullah-gul")]
    assert all(v["lane"] == 1 for v in verdicts)
    # Exactly one opening: locked at start, on once for the pulse, locked again, and left locked at the stop.
    assert [on for _, _, on in board.switched] == [False, True, False, False]
    stored = signed(outbox)
    [door] = [e for e in stored if e["kind"] == "door"]
    assert door["outcome"] == "opened" and door["cause"] == "grant" and door["subject"] == "abdullah-gul"
    assert 0 <= door["latency_ms"] < 1000
    [tailgate] = [e for e in stored if e["kind"] == "tailgate"]
    assert tailgate["after_subject"] == "abdullah-gul" and tailgate["boxes"] == 2 and tailgate["lane"] == 1
    passback = next(e for e in stored if e["kind"] == "verdict" and e["verdict"] == "passback")
    assert passback["direction"] == "in" and passback["subject"] == "abdullah-gul"
    # The stranger's and the photo's faces went with their verdicts, sealed for the gateway; nobody let in, nor the
    # one refused by passback (recognised), had a picture taken.
    crops = {e["verdict"]: e for e in stored if e["kind"] == "crop"}
    pictured = {e["verdict"] for e in stored if e["kind"] == "verdict" and e["id"] in crops}
    assert pictured == {"unknown", "spoof_suspected"}
    for verdict in (e for e in stored if e["kind"] == "verdict" and e["id"] in crops):
        crop = crops[verdict["id"]]
        jpeg = open_evidence(key, "gate-1", verdict["id"], crop["nonce"], crop["ciphertext"], verdict["crop_sha256"])
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (112, 112, 3)
    heartbeat = [e for e in stored if e["kind"] == "heartbeat"][-1]
    assert heartbeat["doors"] == [{"lane": 1, "kind": "serial", "direction": "in", "fail_mode": "secure",
                                   "state": "ok", "door": None, "error": None, "opened": 1}]


def signed(outbox: Outbox) -> list[dict]:
    return [json.loads(p.payload)["body"] for p in outbox.pending(limit=10_000)]


def verdict(kind: str, subject: str | None, at: float, track: int = 1, live: bool = True) -> Verdict:
    return Verdict(timestamp=at, track=track, verdict=kind, subject=subject, score=0.7, runner_up=None,
                   threshold=0.4, margin=0.05, quality=0.8, frames=3, liveness_enabled=live,
                   liveness=0.9 if live else None)


def test_going_out_lifts_the_passback_and_so_does_time():
    rules = GateRules(GateSettings(passback_s=600), [DoorSettings(lane=1, kind="webhook", url="http://x"),
                                                     DoorSettings(lane=2, kind="webhook", url="http://x",
                                                                  direction="out")], liveness_off=False)
    assert rules.decide(verdict("granted", "ann", 0.0), 1)[1] is True
    assert rules.decide(verdict("granted", "ann", 60.0), 1)[0].verdict == "passback"
    assert rules.decide(verdict("granted", "ann", 90.0), 2)[1] is True  # out through lane 2
    assert rules.decide(verdict("granted", "ann", 120.0), 1)[1] is True  # so in again
    assert rules.decide(verdict("granted", "ann", 721.0), 1)[1] is True  # ten minutes on: in again
    for kind in ("unknown", "spoof_suspected"):
        assert rules.decide(verdict(kind, None, 800.0), 1) == (verdict(kind, None, 800.0), False)
    # Liveness meant to run but absent from the verdict: never open; explicitly off for the site: open.
    assert rules.decide(verdict("granted", "bob", 900.0, live=False), 1)[1] is False
    off = GateRules(GateSettings(), [DoorSettings(kind="webhook", url="http://x")], liveness_off=True)
    assert off.decide(verdict("granted", "bob", 0.0, live=False), 1)[1] is True


def test_the_device_refuses_forged_stale_replayed_and_foreign_door_commands():
    gateway, forger = DeviceKey.generate(), DeviceKey.generate()
    commands = FreshCommands("gate-1", gateway.public_text)
    now = datetime.now(timezone.utc)

    def order(**changes) -> DoorCommand:
        fields = dict(id="0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", device="gate-1", lane=1, issued_at=now, by="op",
                      reason="child without a ticket")
        return DoorCommand(**{**fields, **changes})

    good = sign_command(order(), gateway)
    assert commands.open(good).reason == "child without a ticket"

    def refused(payload: bytes) -> str:
        with pytest.raises(ValueError) as caught:
            commands.open(payload)
        return caught.value.reason

    assert refused(good) == "replayed"
    assert refused(sign_command(order(id="c-2"), forger)) == "bad_signature"
    unsigned = json.loads(sign_command(order(id="c-3"), gateway))
    unsigned["sig"] = ""
    assert refused(json.dumps(unsigned).encode()) == "unsigned"
    assert refused(sign_command(order(id="c-4", issued_at=now.replace(year=now.year - 1)), gateway)) == "stale"
    assert refused(sign_command(order(id="c-5", device="gate-2"), gateway)) == "other_device"
    tampered = json.loads(sign_command(order(id="c-6"), gateway))
    tampered["body"]["lane"] = 2
    assert refused(json.dumps(tampered).encode()) == "bad_signature"
    assert refused(b"{not json") == "malformed"


def test_a_door_that_fails_still_leaves_the_verdict_recorded_and_says_why(tmp_path):
    config = EdgeConfig(doors=[DoorSettings(kind="serial", port=str(tmp_path / "ttyUSB0"), pulse_ms=50)],
                        liveness={"enabled": False})
    outbox = Outbox(tmp_path / "outbox.db")
    events = DeviceEvents("site-1", "gate-1", DeviceKey.generate(), outbox, "buffalo_s")
    gate = Gate.open(config, events)
    granted = gate.verdict(verdict("granted", "ann-lee", 1.0, live=False), 1)  # liveness explicitly off: opens
    events.verdict(granted, "cam-1", lane=1, direction="in")
    wait_for(lambda: any(e["kind"] == "door" for e in signed(outbox)), 5, "the stand-in")
    gate.stop()
    stored = signed(outbox)
    assert [e["verdict"] for e in stored if e["kind"] == "verdict"] == ["granted"]
    [door] = [e for e in stored if e["kind"] == "door"]
    assert door["outcome"] == "failed" and door["attempts"] == 3 and "ttyUSB0" in door["error"]
    assert gate.status()["doors"][0]["state"] == "fault"


def test_facegate_edge_run_drives_the_door_of_its_configuration(gate_config, tmp_path):
    board = RelayBoard()
    photos = tmp_path / "enrol"
    photos.mkdir()
    (photos / "abdullah-gul.jpg").write_bytes((LFW / "Abdullah_Gul" / "Abdullah_Gul_0013.jpg").read_bytes())
    paths = ", ".join(f'"{p}"' for p in gate_config.models.search_paths)
    (tmp_path / "gate.toml").write_text(
        f'[models]\ndir = "{gate_config.models.dir}"\nsearch_paths = [{paths}]\n\n'
        f'[camera]\nlane = 2\n\n[[doors]]\nlane = 2\nkind = "serial"\nport = "{board.path}"\npulse_ms = 3000\n')
    try:
        result = subprocess.run([sys.executable, "-m", "facegate", "edge", "run", "--source",
                                 str(gate_stream(tmp_path / "gate.avi")), "--gallery", str(photos), "--config",
                                 str(tmp_path / "gate.toml")], cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        board.close()
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(v["verdict"], v["lane"]) for v in lines if v["subject"]] == [("granted", 2), ("passback", 2)]
    assert [on for _, _, on in board.switched] == [False, True, False, False]
    assert "tailgate on lane 2" in result.stderr
