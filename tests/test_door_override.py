"""An operator opens a lane by hand through the real gateway, Mosquitto and a device's real gate (relays on a pty
board): signed `cmd/door`, executed and confirmed as a `door` event, audited with who and why."""

from __future__ import annotations

import json
import time

import pytest

from door_standins import GateDevice
from stack import Stack, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("doors"), new_db("doors"))
    s.add_device("gate-d1", "site-a", kind="gate")
    s.add_device("exam-d1", "site-a", kind="exam")
    yield s
    s.close()


@pytest.fixture(scope="module")
def device(stack, tmp_path_factory):
    d = GateDevice(stack.devices["gate-d1"], tmp_path_factory.mktemp("gate-d1"), lanes=(1, 2))
    wait_for(lambda: (stack.store.devices.get("gate-d1").last_heartbeat or {}).get("doors"), 10, "the lanes known")
    yield d
    d.close()


def test_an_override_opens_the_lane_and_the_audit_names_who_and_why(stack, device):
    """How fast it opens is measured by benchmarks/gate_latency.py (docs/benchmarks.md), not asserted here."""
    r = stack.post("/api/devices/gate-d1/doors/2/open", {"reason": "child without a ticket, with parents"},
                   role="operator")
    assert r.status_code == 202, r.text
    order = r.json()
    wait_for(lambda: device.board.relay_on(2), 10, "the stand-in")
    door = wait_for(lambda: stack.events(kind="door", device="gate-d1"), 10, "the door event")[-1]
    assert (door["command"], door["outcome"], door["cause"], door["lane"]) == (order["command"], "opened", "operator", 2)
    assert door["operator"] == "operator-1" and door["reason"] == "child without a ticket, with parents"
    assert door["latency_ms"] >= 0  # the device's own figure, from the command's arrival to the relay
    [entry] = stack.get("/api/audit", role="auditor", action="door.open", target=order["command"]).json()
    assert entry["actor"] == "user:operator-1"
    assert entry["detail"] == {"device": "gate-d1", "lane": 2, "reason": "child without a ticket, with parents"}
    assert not device.board.relay_on(1)  # only the lane asked for


def test_a_replayed_command_is_refused_and_counted_in_the_heartbeat(stack, device):
    before = len(device.board.switched)
    stack.post("/api/devices/gate-d1/doors/1/open", {"reason": "bus group leader"}, role="supervisor")
    wait_for(lambda: len(device.board.switched) >= before + 2, 5, "the stand-in")
    time.sleep(0.5)
    switched = len(device.board.switched)
    device.gate.command(device.commands[-1])  # the same signed bytes again
    forged = json.loads(device.commands[-1])
    forged["body"]["lane"], forged["body"]["id"] = 2, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"  # signature no longer fits
    device.gate.command(json.dumps(forged).encode())
    time.sleep(0.5)
    assert len(device.board.switched) == switched  # neither opened anything
    device.heartbeat()
    wait_for(lambda: stack.store.devices.get("gate-d1").last_heartbeat.get("door_commands_refused") == 2, 10,
             "the refusals counted at the gateway")


@pytest.mark.parametrize("role, target, lane, body, status", [
    ("auditor", "gate-d1", 1, {"reason": "just looking"}, 403),
    ("operator", "gate-d1", 1, {"reason": "  "}, 422),  # a reason is required
    ("operator", "gate-d1", 1, {}, 422),
    ("operator", "gate-d1", 7, {"reason": "no such lane"}, 422),
    ("operator", "exam-d1", 1, {"reason": "not a gate"}, 422),
    ("operator", "nobody", 1, {"reason": "no such device"}, 422),
])
def test_an_override_that_may_not_happen_is_refused_and_nothing_opens(stack, device, role, target, lane, body,
                                                                      status):
    def orders() -> int:
        return len(stack.get("/api/audit", role="auditor", action="door.open").json())

    switched, audited = len(device.board.switched), orders()
    r = stack.post(f"/api/devices/{target}/doors/{lane}/open", body, role=role)
    assert r.status_code == status, r.text
    time.sleep(0.3)
    assert len(device.board.switched) == switched and orders() == audited
