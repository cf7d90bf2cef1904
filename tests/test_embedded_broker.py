"""The demo path: the gateway with its embedded broker, no Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gateway.services.broker.mosquitto import GATEWAY_USER
from wire.bundle import load_bundle
from gateway.storage import EventQuery, Store
from stack import REPO, DeviceClient, Stack, connect_result, check_clip_verdicts_stored, edge_run_over_clip, wait_for
from wire import event_topic, sign_event
from wire.mqtt import BrokerUrl

# The embedded broker serves the demo, which keeps its events in SQLite; a gateway on PostgreSQL runs Mosquitto
# (every other broker test) and its ingest is tested on both databases there.
pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("embedded"), new_db("embedded"), embedded=True)
    s.add_device("gate-d1", "demo")
    s.add_device("gate-d2", "demo")
    yield s
    s.close()


def test_edge_verdicts_reach_the_api_through_the_embedded_broker(stack, tmp_path):
    printed = edge_run_over_clip(stack, "gate-d1", tmp_path)
    check_clip_verdicts_stored(stack, "gate-d1", printed)


def test_the_embedded_broker_enforces_the_same_logins_and_topics(stack):
    base = BrokerUrl.parse(stack.broker_url)
    assert connect_result(base, "anon") != "Success"
    assert connect_result(base.with_login("gate-d1", "wrong-password-123"), "guess") != "Success"
    assert connect_result(load_bundle(stack.devices["gate-d1"]).broker_url(), "d1") == "Success"
    # One login, one client id, as on Mosquitto: neither a device nor a wrong password under the gateway's client
    # id takes the gateway's connection (checked below: it never had to connect again).
    connects = stack.metrics()["ingest"]["broker_connects"]
    assert connect_result(load_bundle(stack.devices["gate-d2"]).broker_url(), GATEWAY_USER) == "Success"
    assert connect_result(base.with_login(GATEWAY_USER, "wrong-password-123"), GATEWAY_USER) != "Success"

    d1 = DeviceClient(stack, "gate-d1")
    received = stack.metrics()["ingest"]["received"]
    seq = stack.store.devices.get("gate-d1").last_seq + 1
    d1.client.publish(event_topic("demo", "gate-d2", "verdict"), sign_event(d1.event(seq), d1.key), qos=1)
    marker = d1.event(seq + 1)
    d1.publish(sign_event(marker, d1.key))
    wait_for(lambda: stack.get(f"/api/events/{marker.id}").status_code == 200, 10, "the marker event")
    d1.close()
    assert stack.metrics()["ingest"]["received"] == received + 1
    assert stack.metrics()["ingest"]["broker_connects"] == connects


def test_the_demo_runs_the_whole_event_path_with_nothing_installed(tmp_path):
    """`facegate demo` (what `make demo` runs): embedded broker, gateway, a gate device, its verdicts stored."""
    workdir = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "facegate", "demo", "--exit", "--fast", "--workdir", str(workdir)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 left on the device" in result.stderr and "audit chain intact" in result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    stored = Store.open(workdir / "gateway.db").events.query(EventQuery(kind="verdict"))
    assert sorted((e.subject or "", e.verdict) for e in stored) == sorted(
        (v["subject"] or "", v["verdict"]) for v in printed)
    assert {e.subject for e in stored if e.verdict == "granted"} == {f"person-{n}" for n in range(1, 5)}
    # Its door (a webhook) opened for them, and said so. Unpaced (--fast), grants come quicker than the door's
    # 0.8 s: one arriving while the door stands open goes through that opening.
    doors = Store.open(workdir / "gateway.db").events.query(EventQuery(kind="door"))
    assert doors and all(e.verdict == "opened" and e.subject in {f"person-{n}" for n in range(1, 5)} for e in doors)
    assert f"the door opened {len(doors)} times" in result.stderr
