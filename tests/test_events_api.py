"""Events end to end through a real Mosquitto and the real gateway process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from wire.bundle import load_bundle
from stack import (REPO, DeviceClient, Stack, connect_result, check_clip_verdicts_stored, edge_run_over_clip,
                   gateway_client, sql, wait_for)
from wire import DeviceKey, canonical_json, event_topic, sign_event, uuid7
from wire.events import utc_text
from wire.mqtt import BrokerUrl


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("stack"), new_db("stack"))
    s.add_device("gate-a1", "site-a")
    s.add_device("gate-b1", "site-b")
    yield s
    s.close()


def test_edge_verdicts_from_a_video_are_queryable_with_their_content(stack, tmp_path):
    printed = edge_run_over_clip(stack, "gate-a1", tmp_path)
    check_clip_verdicts_stored(stack, "gate-a1", printed)
    device = {d["id"]: d for d in stack.get("/api/devices").json()}["gate-a1"]
    assert device["online"] is False  # the run ended: its retained status says offline


def next_seq(stack: Stack, device: str) -> int:
    return stack.store.devices.get(device).last_seq + 1


def test_bad_events_are_dropped_and_counted_by_reason_and_the_gateway_keeps_going(stack):
    a1 = DeviceClient(stack, "gate-a1")
    b1_key = load_bundle(stack.devices["gate-b1"]).device_key()
    before = Counter(stack.metrics()["ingest"]["rejected"])
    seq = next_seq(stack, "gate-a1")
    good = a1.event(seq)
    a1.publish(sign_event(good, a1.key))
    wait_for(lambda: stack.get(f"/api/events/{good.id}").status_code == 200, 10, "the good event")

    def envelope(body: dict, sig: str) -> bytes:
        return json.dumps({"body": body, "sig": sig}).encode()

    body = a1.event(seq + 1).model_dump(mode="json")
    stranger = DeviceKey.generate()
    sent = {
        "malformed": [b"{not json", b"[1,2,3]", b"\xff\xfe"],
        "schema_version": [envelope(body | {"v": 2}, a1.key.sign(canonical_json(body | {"v": 2})))],
        "too_large": [envelope(body, a1.key.sign(canonical_json(body))) + b" " * (70 * 1024)],
        "invalid": [envelope({k: v for k, v in body.items() if k != "score"}, "x")],
        "missing_signature": [envelope(body, "")],
        "bad_signature": [envelope(body, stranger.sign(canonical_json(body)))],
        "unknown_device": [sign_event(a1.event(1, device="ghost-9"), stranger)],
        # Signed by gate-b1 but sent by gate-a1 on its own topic: a relay, not gate-a1's event.
        "topic_mismatch": [sign_event(a1.event(1, device="gate-b1", site="site-b"), b1_key)],
        "duplicate": [sign_event(good, a1.key)],  # verbatim replay of a stored event
        "replay": [sign_event(a1.event(seq), a1.key)],  # a new event reusing a used sequence number
    }
    for payloads in sent.values():
        for payload in payloads:
            a1.publish(payload)
    marker = a1.event(seq + 2)  # the connection keeps order: once this is stored, all the above were seen
    a1.publish(sign_event(marker, a1.key))
    wait_for(lambda: stack.get(f"/api/events/{marker.id}").status_code == 200, 10, "the marker event")
    a1.close()

    rejected = Counter(stack.metrics()["ingest"]["rejected"]) - before
    assert rejected == {reason: len(p) for reason, p in sent.items()}
    assert stack.gateway.proc.poll() is None
    stored_ids = {e["id"] for e in stack.events(device="gate-a1")}
    assert body["id"] not in stored_ids  # none of the bad variants of it got in
    # Logged once per device and reason a minute, however many arrive.
    log = stack.gateway.log.read_text()
    assert log.count("dropped event from gate-a1: malformed") == 1


def test_a_device_cannot_publish_or_listen_as_another_device(stack):
    received_before = stack.metrics()["ingest"]["received"]
    a1 = DeviceClient(stack, "gate-a1")
    seq = next_seq(stack, "gate-a1")
    # gate-a1's own valid event, sent on gate-b1's topic: the broker's ACL refuses it
    # (Mosquitto drops the offending connection).
    a1.client.publish(event_topic("site-b", "gate-b1", "verdict"), sign_event(a1.event(seq), a1.key), qos=1)
    wait_for(lambda: not a1.client.is_connected(), 5, "the broker to cut gate-a1 off")
    a1.close()

    a1 = DeviceClient(stack, "gate-a1")
    a1.client.subscribe("facegate/v1/site-b/gate-b1/cmd/#", qos=1)  # granted, but filtered on delivery
    marker = a1.event(seq + 1)
    a1.publish(sign_event(marker, a1.key))
    wait_for(lambda: stack.get(f"/api/events/{marker.id}").status_code == 200, 10, "the marker event")
    assert stack.metrics()["ingest"]["received"] == received_before + 1  # only the marker reached the gateway

    # A command for gate-b1 reaches gate-b1, not gate-a1.
    b1 = DeviceClient(stack, "gate-b1")
    b1.client.subscribe("facegate/v1/site-b/gate-b1/cmd/#", qos=1)
    gw = gateway_client(stack, "test-cmd")
    time.sleep(0.3)
    gw.publish("facegate/v1/site-b/gate-b1/cmd/ping", b"hello", qos=1).wait_for_publish(timeout=5)
    wait_for(lambda: b1.received, 5, "gate-b1 to get its command")
    time.sleep(0.3)
    assert a1.received == []
    for c in (a1, b1):
        c.close()
    gw.disconnect()
    gw.loop_stop()


def test_broker_refuses_strangers_wrong_passwords_and_revoked_devices(stack):
    from gateway.services.devices.registry import revoke_device

    base = BrokerUrl.parse(stack.broker_url)
    assert connect_result(base, "anon") != "Success"
    assert connect_result(base.with_login("gate-a1", "not-the-password"), "guess") != "Success"
    bundle = stack.add_device("gate-x9", "site-a")
    assert connect_result(bundle.broker_url(), "gate-x9") == "Success"
    revoke_device(stack.store, stack.files, "gate-x9")
    assert wait_for(lambda: connect_result(bundle.broker_url(), "gate-x9") != "Success", 5, "the revocation")
    assert {d["id"]: d["status"] for d in stack.get("/api/devices").json()}["gate-x9"] == "revoked"


def test_a_live_verdict_reaches_an_sse_client_within_a_second(stack):
    a1 = DeviceClient(stack, "gate-a1")
    got: list[tuple[float, dict]] = []
    ready = threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {stack.token('operator')}"}
        with httpx.stream("GET", f"{stack.gateway.base_url}/api/events/stream", params={"kind": "verdict"},
                          headers=headers, timeout=30) as r:
            assert r.status_code == 200
            data = None
            for line in r.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data:
                    got.append((time.monotonic(), data))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    event = a1.event(next_seq(stack, "gate-a1"), subject="live-person")
    sent_at = time.monotonic()
    a1.publish(sign_event(event, a1.key))
    listener.join(timeout=5)
    a1.close()
    assert got, "no event on the stream"
    arrived, data = got[0]
    assert data["id"] == event.id and data["subject"] == "live-person"
    assert arrived - sent_at < 1.0


def test_events_page_with_a_cursor_and_filter(stack):
    a1 = DeviceClient(stack, "gate-a1")
    seq = next_seq(stack, "gate-a1")
    ids = []
    for i in range(120):
        e = a1.event(seq + i, verdict="unknown" if i % 4 == 0 else "granted", subject=None if i % 4 == 0 else "pager")
        ids.append(e.id)
        a1.publish(sign_event(e, a1.key))
    wait_for(lambda: stack.get(f"/api/events/{ids[-1]}").status_code == 200, 10, "the last event")
    a1.close()
    pages, cursor, seen = 0, None, []
    while True:
        body = stack.get("/api/events", role="auditor", subject="pager", limit=25,
                         **({"cursor": cursor} if cursor else {})).json()
        seen += body["events"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 90 and len({e["id"] for e in seen}) == 90 and pages == 4
    times = [(e["captured_at"], e["id"]) for e in seen]
    assert times == sorted(times, reverse=True)  # newest first, no overlap between pages
    first = stack.get(f"/api/events/{ids[0]}").json()["captured_at"]
    unknown = stack.events(device="gate-a1", verdict="unknown", since=first)
    assert {e["id"] for e in unknown} == {ids[i] for i in range(0, 120, 4)}
    # A time window: only events captured inside it.
    mid = seen[45]["captured_at"]
    assert all(e["captured_at"] < mid for e in stack.events(subject="pager", until=mid))


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": "many"}, "limit"), ({"since": "yesterday"}, "since"),
    ({"kind": "nope"}, "kind"), ({"verdict": "maybe"}, "verdict"), ({"device": "BAD ID!"}, "device"),
    ({"cursor": "%%%"}, "cursor"),
])
def test_invalid_query_parameters_are_422_naming_the_field(stack, params, field):
    r = stack.get("/api/events", **params)
    assert r.status_code == 422
    assert any(field in err["loc"] for err in r.json()["detail"])


def test_audit_verify_finds_a_row_altered_in_the_database(stack, tmp_path):
    # Something to protect: the events of the earlier tests, plus reads of them.
    assert stack.events(device="gate-a1")
    cli = [sys.executable, "-m", "facegate", "audit", "verify", "--db", stack.db, "--secrets-dir",
           str(stack.root / "secrets")]
    ok = subprocess.run(cli, cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    assert stack.get("/api/audit/verify", role="auditor").json()["ok"] is True

    victim = stack.events(device="gate-a1", verdict="granted")[0]
    [(entry,)] = sql(stack, "SELECT seq FROM audit WHERE action = 'event.stored' AND target = ?", victim["id"])
    sql(stack, "UPDATE events SET subject = 'someone-else' WHERE id = ?", victim["id"])  # an insider, directly
    try:
        broken = subprocess.run(cli, cwd=REPO, capture_output=True, text=True)
        assert broken.returncode == 1
        assert f"BROKEN at entry {entry}" in broken.stdout and victim["id"] in broken.stdout
        report = stack.get("/api/audit/verify", role="admin").json()
        assert report["ok"] is False and report["first_broken"] == entry
    finally:
        sql(stack, "UPDATE events SET subject = ? WHERE id = ?", victim["subject"], victim["id"])
    # Editing the log itself breaks the chain at that entry.
    sql(stack, "UPDATE audit SET actor = 'user:nobody' WHERE seq = 2")
    assert stack.get("/api/audit/verify", role="auditor").json()["first_broken"] == 2


def test_the_days_counters_are_counted_by_the_server_on_the_sites_local_day(stack):
    """Vietnam is UTC+7: a verdict at 06:30 there is on that day, though its UTC date is the day before."""
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    day = datetime.now(hcm).date() - timedelta(days=3)
    r = stack.get("/api/events/counts", role="operator", device="gate-b1", day=day.isoformat())
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["time_zone"] == "Asia/Ho_Chi_Minh"
    assert before["since"] == f"{day - timedelta(days=1)}T17:00:00.000Z" and before["until"] == f"{day}T17:00:00.000Z"

    b1 = DeviceClient(stack, "gate-b1")
    seq = next_seq(stack, "gate-b1")
    early = datetime.combine(day, datetime.min.time(), hcm).replace(hour=6, minute=30)
    sent = [b1.event(seq, captured_at=early), b1.event(seq + 1, captured_at=early + timedelta(hours=10)),
            b1.event(seq + 2, captured_at=early + timedelta(hours=12), verdict="unknown", subject=None)]
    for e in sent:
        b1.publish(sign_event(e, b1.key))
    b1.close()
    wait_for(lambda: stack.get(f"/api/events/{sent[-1].id}").status_code == 200, 10, "the verdicts stored")

    after = stack.get("/api/events/counts", role="operator", device="gate-b1", day=day.isoformat()).json()
    added = {v: after["counts"][v] - before["counts"][v] for v in after["counts"]}
    assert added == {"granted": 2, "unknown": 1, "spoof_suspected": 0, "passback": 0, "no_pass": 0, "wrong_gate": 0,
                     "used": 0, "forged": 0, "full": 0, "door_opened": 0, "door_failed": 0, "tailgate": 0}
    eve = stack.get("/api/events/counts", role="operator", device="gate-b1",
                    day=(day - timedelta(days=1)).isoformat()).json()
    assert early.astimezone(timezone.utc).date() == day - timedelta(days=1)  # its UTC date is the day before ...
    assert eve["counts"]["granted"] == 0  # ... and it is not counted there
    assert stack.get("/api/events/counts", role="auditor").status_code == 403
    assert stack.get("/api/events/counts", role="operator", day="02/12/2026").status_code == 422


def test_an_unknown_verdicts_face_crop_is_shown_to_operators_for_a_day_and_never_listed(stack):
    """Issue 28: an unknown card had no picture to tell whom to stop. The gate sends the face beside the verdict,
    sealed with its key; the gateway shows it to who sees verdicts (each look audited), lists it to nobody, and
    forgets it after a day."""
    import hashlib

    import cv2
    import numpy as np

    from gateway.config import RetentionSettings
    from gateway.services.operations.retention import run_retention
    from wire.events import GateCropEvent
    from wire.evidence import seal_evidence

    device = DeviceClient(stack, "gate-a1")
    jpeg = cv2.imencode(".jpg", np.full((112, 112, 3), 128, np.uint8))[1].tobytes()
    seq = stack.store.devices.get("gate-a1").last_seq + 1
    verdict = device.event(seq, verdict="unknown", subject=None, crop_sha256=hashlib.sha256(jpeg).hexdigest())
    nonce, sealed = seal_evidence(device.bundle.gallery_key, "gate-a1", verdict.id, jpeg)
    crop = GateCropEvent(id=str(uuid7()), site="site-a", device="gate-a1", seq=seq + 1,
                         captured_at=verdict.captured_at, verdict=verdict.id, sha256=verdict.crop_sha256,
                         nonce=nonce, ciphertext=sealed)
    granted = device.event(seq + 2)
    for event in (verdict, crop, granted):
        device.publish(sign_event(event, device.key), topic=event_topic("site-a", "gate-a1", event.kind))
    device.close()
    wait_for(lambda: stack.get(f"/api/events/{granted.id}").status_code == 200, 10, "the events stored")

    shown = stack.get(f"/api/events/{verdict.id}/crop", role="operator")
    assert (shown.status_code, shown.headers["content-type"], shown.content) == (200, "image/jpeg", jpeg)
    assert stack.get(f"/api/events/{granted.id}/crop", role="operator").status_code == 404  # none let in is pictured
    assert stack.get(f"/api/events/{verdict.id}/crop", role="auditor").status_code == 403
    looked = stack.get("/api/audit", role="auditor", who="reads", target=verdict.id).json()
    assert [(e["actor"], e["detail"]) for e in looked] == [("user:operator-1", {"crop": True})]
    for role in ("operator", "admin"):  # the sealed blob is not an event anyone reads
        listed = stack.get("/api/events", role=role, device="gate-a1", limit=1000).json()["events"]
        assert crop.id not in {e["id"] for e in listed}
    # A day later it is gone; the verdict stays.
    sql(stack, "UPDATE events SET retain_from = ? WHERE id = ?",
        utc_text(datetime.now(timezone.utc) - timedelta(days=2)), crop.id)
    run_retention(stack.store, RetentionSettings())
    assert stack.get(f"/api/events/{verdict.id}/crop", role="operator").status_code == 404
    assert stack.get(f"/api/events/{verdict.id}", role="operator").status_code == 200
