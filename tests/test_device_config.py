"""A device's configuration from the centre (issue 29): versions made, checked, audited and sent by the gateway; a
real `facegate edge run` applying them live or by restarting its node, refusing a bad one while it keeps running
the last good one; forged, replayed and foreign messages refused."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.link.config_sync import ConfigSync
from edge.link.events import DeviceEvents
from edge.link.outbox import Outbox
from gate_process import Device, next_verdict, scene
from network_camera import NetworkCamera
from stack import DeviceClient, Stack, free_port, wait_for
from wire import DeviceKey, cmd_topic
from wire.bundle import DeviceBundle, load_bundle
from wire.commands import CONFIG
from wire.device_config import seal_config



# -- what the device accepts ---------------------------------------------------------------------------------------


def a_bundle(device: str = "gate-x") -> tuple[DeviceBundle, DeviceKey]:
    gateway = DeviceKey.generate()
    bundle = DeviceBundle(site="site-a", device=device, username=device, password="x",
                          key=DeviceKey.generate().to_text(), gallery_key=base64.b64encode(os.urandom(32)).decode(),
                          gateway_key=gateway.public_text)
    return bundle, gateway


def reports(outbox: Outbox) -> list[dict]:
    """The `config` events the device committed, oldest first."""
    bodies = [json.loads(p.payload)["body"] for p in outbox.pending(limit=1000)]
    return [{k: b[k] for k in ("version", "outcome", "running", "reason")} for b in bodies if b["kind"] == "config"]


def test_the_device_refuses_forged_foreign_replayed_and_invalid_configurations_saying_why(tmp_path):
    bundle, gateway = a_bundle()
    outbox = Outbox(tmp_path / "outbox.db")
    events = DeviceEvents(bundle.site, bundle.device, DeviceKey.from_text(bundle.key), outbox, "buffalo_s")
    sync = ConfigSync(bundle, tmp_path / "config.signed", events)
    now = datetime.now(timezone.utc)

    def message(document, version, device=bundle.device, key=gateway, gallery_key=bundle.gallery_key):
        return seal_config(document, device, version, "admin-1", now, gallery_key, key)

    sync.handle(message({"policy": {"identify_threshold": 0.4}}, 2, key=DeviceKey.generate()))  # another key
    other_key = base64.b64encode(os.urandom(32)).decode()
    sync.handle(message({"policy": {"identify_threshold": 0.4}}, 2, device="gate-y"))  # another device's
    sync.handle(message({"policy": {"identify_threshold": 0.4}}, 2, gallery_key=other_key))  # sealed to another key
    sync.handle(message({"policy": {"identify_treshold": 0.4}}, 3))  # a misspelt key
    assert not sync.arrived.is_set() and sync.running == 0
    assert [(r["version"], r["outcome"], r["reason"].split(":")[0]) for r in reports(outbox)] == [
        (None, "refused", "bad_signature"), (None, "refused", "other_device"), (None, "refused", "unsealed"),
        (3, "refused", "invalid")]
    assert "policy.identify_treshold" in reports(outbox)[-1]["reason"]

    good = message({"policy": {"identify_threshold": 0.4}}, 5)
    sync.handle(good)
    pending = sync.take()
    assert pending.version == 5 and pending.document == {"policy": {"identify_threshold": 0.4}}
    sync.applied(pending, "live")
    kept = tmp_path / "config.signed"
    assert kept.read_bytes() == good and kept.stat().st_mode & 0o077 == 0  # owner-only: it holds door logins
    sync.handle(good)  # its retained copy, come again on a reconnect: nothing to do, nothing to say
    sync.handle(message({"policy": {"identify_threshold": 0.3}}, 4))  # older: replayed, or from before a rollback
    assert not sync.arrived.is_set()
    assert reports(outbox)[-2:] == [
        {"version": 5, "outcome": "applied", "running": 5, "reason": ""},
        {"version": 4, "outcome": "refused", "running": 5,
         "reason": "replayed: version 4 is older than version 5, which this device runs"}]
    again = ConfigSync(bundle, tmp_path / "config.signed")  # the device restarted: it runs what it applied last
    assert again.load() == {"policy": {"identify_threshold": 0.4}} and again.running == 5
    outbox.close()


# -- the gateway's side --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("config"), new_db("config"))
    s.add_device("gate-c1", "site-a")
    yield s
    s.close()


DOOR = {"lane": 1, "kind": "webhook", "url": "http://10.0.0.9/open", "username": "gate", "password": "s3cret-door"}


def test_an_admin_makes_versions_that_are_checked_audited_sealed_and_rolled_back(stack):
    bad = stack.put("/api/devices/gate-c1/config", {"document": {"policy": {"identify_treshold": 0.5},
                                                                  "cameras": [{"id": "a", "fps": -1}]}})
    assert bad.status_code == 422
    assert "policy.identify_treshold" in bad.json()["detail"] and "cameras.0.fps" in bad.json()["detail"]
    assert stack.put("/api/devices/gate-c1/config", {"document": {}}, role="operator").status_code == 403

    first = stack.put("/api/devices/gate-c1/config", {"document": {"doors": [DOOR], "liveness": {"enabled": False}}})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["document"]["doors"][0]["password"] == "**********"
    # The page sends the document back as it shows it: the masked password keeps the door's.
    shown = first.json()["document"]
    second = stack.put("/api/devices/gate-c1/config",
                       {"document": {**shown, "policy": {"identify_threshold": 0.5}}}).json()
    assert second["version"] == 2 and second["changes"] == {"policy.identify_threshold": [None, 0.5]}
    assert stack.put("/api/devices/gate-c1/config", {"document": {**shown, "policy": {"identify_threshold": 0.5}}}
                     ).status_code == 409  # nothing changes

    back = stack.post("/api/devices/gate-c1/config/rollback", {"version": 1})
    assert back.status_code == 201 and back.json()["rollback_of"] == 1 and back.json()["version"] == 3
    assert back.json()["document"] == first.json()["document"]
    assert back.json()["changes"] == {"policy.identify_threshold": [0.5, None]}

    # Retained for the device, signed and sealed: the door's password is in it, readable by that device alone.
    retained = retained_config(stack, "gate-c1")
    assert b"s3cret-door" not in retained
    sync = ConfigSync(load_bundle(stack.devices["gate-c1"]), stack.root / "device-copy" / "config.signed")
    sync.handle(retained)
    assert sync.take().document["doors"][0]["password"] == "s3cret-door"

    versions = stack.get("/api/devices/gate-c1/config/versions", role="auditor").json()
    assert [v["version"] for v in versions] == [3, 2, 1] and all(v["published"] for v in versions)
    audit = stack.get("/api/audit", role="auditor", action="device.config", target="gate-c1").json()
    assert sorted(e["detail"]["version"] for e in audit) == [1, 2, 3]
    assert "s3cret-door" not in json.dumps(audit) and all(e["actor"] == "user:admin-1" for e in audit)


def test_one_action_changes_a_setting_on_every_gate_of_a_site_or_on_none(stack):
    for gate in ("gate-b1", "gate-b2"):
        stack.add_device(gate, "site-b")
    stack.add_device("exam-b1", "site-b", kind="exam")
    assert stack.put("/api/devices/gate-b1/config", {"document": {"motion": {"enabled": False}}}).status_code == 201

    bad = stack.post("/api/fleet/config", {"site": "site-b", "kind": "gate", "settings": {"policy.margin": "wide"}})
    assert bad.status_code == 422 and "gate-b1" in bad.json()["detail"] and "policy.margin" in bad.json()["detail"]
    assert stack.get("/api/devices/gate-b2/config", role="auditor").json()["latest"] is None  # none was made

    done = stack.post("/api/fleet/config", {"site": "site-b", "kind": "gate",
                                            "settings": {"policy.identify_threshold": 0.45}})
    assert done.status_code == 201, done.text
    assert done.json() == {"changed": {"gate-b1": 2, "gate-b2": 1}, "unchanged": []}
    kept = stack.get("/api/devices/gate-b1/config", role="auditor").json()["latest"]
    assert kept["document"] == {"motion": {"enabled": False}, "policy": {"identify_threshold": 0.45}}
    assert stack.get("/api/devices/exam-b1/config", role="auditor").json()["latest"] is None  # not a gate
    again = stack.post("/api/fleet/config", {"devices": ["gate-b1", "gate-b2"],
                                             "settings": {"policy.identify_threshold": 0.45}})
    assert again.json() == {"changed": {}, "unchanged": ["gate-b1", "gate-b2"]}
    assert stack.post("/api/fleet/config", {"site": "site-b", "settings": {"policy.margin": 0.1}},
                      role="supervisor").status_code == 403


def retained_config(stack: Stack, device: str) -> bytes | None:
    """What the broker keeps on the device's `cmd/config`, read as the device."""
    client = DeviceClient(stack, device)
    try:
        client.client.subscribe(cmd_topic(client.bundle.site, device, CONFIG), qos=1)
        wait_for(lambda: client.received, 5, "the retained message")
        return client.received[-1].payload
    finally:
        client.close()


def config_metrics(stack: Stack, device: str) -> dict[str, float]:
    """The device's configuration gauges at /metrics."""
    scrape = httpx.get(f"{stack.gateway.base_url}/metrics",
                       headers={"Authorization": f"Bearer {stack.token('auditor')}"})
    return {s.name: s.value for family in text_string_to_metric_families(scrape.text) for s in family.samples
            if s.name.startswith("facegate_device_config_") and s.labels.get("device") == device}


def config_of(stack: Stack, device: str) -> dict:
    return stack.get(f"/api/devices/{device}/config", role="auditor").json()


@pytest.mark.backends("sqlite")  # the device is the subject; the versions' storage runs on both above
def test_a_running_gate_applies_a_change_live_refuses_a_bad_one_and_restarts_on_a_good_one(stack, tmp_path):
    stack.add_device("gate-c2", "site-a")
    with NetworkCamera(scene(True), fps=5.0) as camera:
        device = Device(stack, "gate-c2", tmp_path / "gate-c2", camera.url)
        try:
            first = wait_for(lambda: next(iter(device.verdicts), None), 60, "a first verdict")
            assert (first["verdict"], first["subject"]) == ("granted", "antonio-palocci")

            # Live: only the policy changes; the camera keeps streaming, the next person meets the new threshold.
            strict = {**device.local, "policy": {**device.local["policy"], "identify_threshold": 0.97}}
            assert stack.put("/api/devices/gate-c2/config", {"document": strict}).status_code == 201
            wait_for(lambda: (config_of(stack, "gate-c2")["latest"] or {}).get("outcome") == "applied", 30, "applied")
            now = config_of(stack, "gate-c2")
            assert (now["running"], now["latest"]["how"]) == (1, "live")
            after = next_verdict(device, camera, "a verdict on version 1")
            assert (after["verdict"], after["threshold"]) == ("unknown", 0.97)

            # A camera that does not open: refused with the reason, version 1 still running.
            dead = f"http://127.0.0.1:{free_port()}/mjpg/video.mjpg"
            broken = {**strict, "camera": {**strict["camera"], "source": dead}}
            assert stack.put("/api/devices/gate-c2/config", {"document": broken}).status_code == 201
            wait_for(lambda: config_of(stack, "gate-c2")["latest"]["outcome"] == "refused", 60, "refused")
            now = config_of(stack, "gate-c2")
            assert now["running"] == 1 and "camera cam-1" in now["latest"]["reason"]
            assert "cannot open" in now["latest"]["reason"] or "no frame" in now["latest"]["reason"]
            still = next_verdict(device, camera, "a verdict on version 1 again")
            assert (still["verdict"], still["threshold"]) == ("unknown", 0.97)
            # ... and what Prometheus scrapes says it: the newest version refused, an older one running.
            assert config_metrics(stack, "gate-c2") == {"facegate_device_config_latest": 2,
                                                        "facegate_device_config_running": 1,
                                                        "facegate_device_config_refused": 1}

            # A model pack this device does not have: the node cannot even be built on it.
            unknown = {**strict, "models": {**strict["models"], "pack": "no_such_pack"}}
            assert stack.put("/api/devices/gate-c2/config", {"document": unknown}).status_code == 201
            wait_for(lambda: config_of(stack, "gate-c2")["latest"]["version"] == 3
                     and config_of(stack, "gate-c2")["latest"]["outcome"] == "refused", 60, "refused")
            now = config_of(stack, "gate-c2")
            assert now["running"] == 1 and "the node does not start on it" in now["latest"]["reason"]
            assert "no_such_pack" in now["latest"]["reason"]

            # A change the loop cannot take while running (the camera's rate): the node restarts on it.
            slower = {**strict, "camera": {**strict["camera"], "fps": 4.0}, "policy": device.local["policy"]}
            assert stack.put("/api/devices/gate-c2/config", {"document": slower}).status_code == 201
            wait_for(lambda: config_of(stack, "gate-c2")["latest"]["outcome"] == "applied", 60, "applied")
            now = config_of(stack, "gate-c2")
            assert (now["running"], now["latest"]["version"], now["latest"]["how"]) == (4, 4, "restart")
            granted = next_verdict(device, camera, "a verdict on version 4")
            assert (granted["verdict"], granted["subject"]) == ("granted", "antonio-palocci")

            # The device restarted: it starts on the last version it applied, not on its local file.
            device.stop()
            device.start()
            wait_for(lambda: config_of(stack, "gate-c2")["latest"]["how"] == "start", 60, "started on version 4")
            assert config_of(stack, "gate-c2")["running"] == 4
        finally:
            device.stop()
