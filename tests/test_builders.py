"""Each device kind is built from its configuration in one place (edge/node/): the gate, the exam device and the
kiosk that `facegate edge|exam|kiosk run`, the demos and the benchmarks start, linked to a real gateway through
a real Mosquitto, with what the gateway sends handed to the right part of the device."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import CLIP, DATA
from door_standins import RelayBoard
from edge.node.exam_node import Session, build_exam
from edge.node.gate_node import build_gate
from edge.node.kiosk_node import build_kiosk
from edge.settings import EdgeConfig, load_config
from emrtd.link.apdu import CardError
from stack import Stack, wait_for
from wire.bundle import load_bundle

CELEBS = DATA / "faces" / "celebrities"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("builders"), new_db("builders"))
    for device, kind in (("gate-1", "gate"), ("exam-1", "exam"), ("kiosk-1", "kiosk")):
        s.add_device(device, "site-a", kind=kind)
    enrol(s, "ann", "img2.jpg", "gate")
    enrol(s, "cand-1", "img16.jpg", "exam")
    wait_for(lambda: "ann" in s.store.galleries.latest("gate-1").members
             and "cand-1" in s.store.galleries.latest("exam-1").members, 20, "the galleries made for both")
    yield s
    s.close()


def enrol(stack: Stack, subject: str, photo: str, purpose: str) -> None:
    r = stack.post("/api/subjects", {"subject": subject, "purpose": purpose, "sites": ["site-a"],
                                     "photo": base64.b64encode((CELEBS / photo).read_bytes()).decode()})
    assert r.status_code == 201, r.text


def device_config(config: EdgeConfig, folder, toml: str) -> EdgeConfig:
    """The device's TOML as an operator writes it, read as the device reads it (with the suite's model folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "device.toml"
    path.write_text(f'[events]\noutbox = "{folder / "outbox.db"}"\ngallery = "{folder / "gallery.enc"}"\n' + toml)
    built = load_config(path)
    built.models = config.models.model_copy()
    return built


def subjects(node) -> list[set[str]]:
    return [set(feed.pipeline.policy.index.subjects.tolist()) for feed in node.feeds]


def test_a_gate_is_built_with_each_camera_on_its_lane_its_door_and_the_gateways_gallery(stack, config, pack,
                                                                                         tmp_path):
    board = RelayBoard()
    cfg = device_config(config, tmp_path / "gate-1", f"""
[[cameras]]
id = "north-in"
source = "{CLIP}"
lane = 1
[[cameras]]
id = "north-out"
source = "{CLIP}"
lane = 2
direction = "out"
[[doors]]
lane = 1
kind = "serial"
port = "{board.path}"
pulse_ms = 300
""")
    node = build_gate(cfg, bundle=load_bundle(stack.devices["gate-1"]), pack=pack)
    try:
        assert [(f.id, f.lane) for f in node.feeds] == [("north-in", 1), ("north-out", 2)]
        assert node.gate.direction_of(1) == "in" and node.gate.direction_of(2) is None
        wait_for(lambda: subjects(node) == [{"ann"}, {"ann"}], 30, "the gateway's gallery on every camera")

        enrol(stack, "bob", "img24.jpg", "gate")  # a newer gallery reaches every camera while the node is up
        wait_for(lambda: subjects(node) == [{"ann", "bob"}, {"ann", "bob"}], 30, "bob on both cameras")

        # An operator's "open once" reaches the gate's door (the node sends no heartbeat until it runs: say it).
        node.link.events.heartbeat(fps=0.0, stage_ms={}, frames=0, frames_dropped=0, gallery_version=None,
                                   gallery_size=2, liveness_enabled=True, uptime_s=1.0, **node.gate.status())
        wait_for(lambda: (stack.store.devices.get("gate-1").last_heartbeat or {}).get("doors"), 10, "lane 1 known")
        r = stack.post("/api/devices/gate-1/doors/1/open", {"reason": "a wheelchair"}, role="operator")
        assert r.status_code == 202, r.text
        wait_for(lambda: board.relay_on(1), 5, "the relay of lane 1")
    finally:
        assert node.close(flush_timeout_s=5) == 0
        board.close()


def test_an_exam_device_is_built_with_its_exam_settings_and_the_candidates_gallery(stack, config, pack, tmp_path):
    cfg = device_config(config, tmp_path / "exam-1", "[exam]\nreverify_interval_s = 42\ncheckin_frames = 2\n")
    device = build_exam(cfg, load_bundle(stack.devices["exam-1"]), pack=pack)
    try:
        wait_for(lambda: "cand-1" in (device.link.gallery.current.subjects if device.link.gallery.current else []),
                 30, "the candidate's gallery on the device")
        supervisor = device.supervisor(Session("cand-1", "session-1", seat="A-07"))
        assert (supervisor.settings.reverify_interval_s, supervisor.settings.checkin_frames) == (42, 2)
        assert supervisor.seat == "A-07" and supervisor.threshold == pack.spec.verify_threshold
        with pytest.raises(ValueError, match="no template on this device"):  # a gate-only person is not sent here
            device.supervisor(Session("ann", "session-2"))
    finally:
        device.close(flush_timeout_s=2)
    with pytest.raises(ValueError, match="is a gate device"):
        build_exam(cfg, load_bundle(stack.devices["gate-1"]), pack=pack)


def test_a_kiosk_is_built_with_its_threshold_and_takes_the_gateways_card_reads(stack, config, pack, tmp_path):
    cfg = device_config(config, tmp_path / "kiosk-1", "[kiosk]\nverify_threshold = 0.45\n[liveness]\nenabled = false\n")
    asked = []

    def no_card():  # the reader has no card on it: the read fails, saying so
        asked.append(time.monotonic())
        raise CardError("no card on the reader")

    device = build_kiosk(cfg, load_bundle(stack.devices["kiosk-1"]), None, pack=pack, reader=no_card)
    try:
        assert device.kiosk.threshold == 0.45 and device.kiosk.liveness is None
        # A read goes only to a kiosk online, as the operator's page shows it (409 before it has connected).
        wait_for(lambda: stack.get("/api/kiosks/kiosk-1/setup", role="operator").json()["online"], 30,
                 "kiosk-1 online")
        ticket = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        r = stack.post("/api/kiosks/kiosk-1/reads", {"document": "203001344", "birth": "900315", "expiry": "351231",
                                                     "valid_until": ticket}, role="operator")
        assert r.status_code == 202, r.text
        read = r.json()["read"]
        wait_for(lambda: stack.get(f"/api/kiosks/kiosk-1/reads/{read}", role="operator").json()["stage"] == "failed",
                 20, "the kiosk's answer")
        assert len(asked) == 1
    finally:
        device.kiosk.stop()
        device.link.close(2.0)
    with pytest.raises(ValueError, match="is a gate device"):
        build_kiosk(cfg, load_bundle(stack.devices["gate-1"]), None, pack=pack)
