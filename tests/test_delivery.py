"""Nothing lost, nothing doubled: crashes of the broker, the gateway and the edge mid-run."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from stack import REPO, Stack, run_device_sim, wait_for


@pytest.fixture
def stack(tmp_path, new_db):
    s = Stack.create(tmp_path / "stack", new_db("delivery"))
    s.add_device("gate-01", "site-a")
    yield s
    s.close()


def wait_until_committed(proc: subprocess.Popen, at_least: int, timeout: float = 30) -> None:
    """Read the simulator's 'committed N' lines until N >= at_least."""
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if int(line.split()[-1]) >= at_least:
            return
        assert time.monotonic() < deadline, "the device is too slow"
    raise AssertionError(f"the device stopped before committing {at_least} events")


def assert_exactly_once(stack: Stack, device: str, count: int, timeout: float = 60) -> None:
    """`count` verdicts stored once each, and no gap in the device's sequence numbers.

    (The device also sends a `gallery` event when the gateway's gallery reaches it: seqs cover every kind.)
    """
    def all_there():
        verdicts = stack.events(device=device, kind="verdict")
        return verdicts if len(verdicts) >= count else None
    verdicts = wait_for(all_there, timeout, f"{count} events from {device}", every=0.5)
    assert len(verdicts) == count and len({e["id"] for e in verdicts}) == count
    seqs = sorted(e["seq"] for e in stack.events(device=device))
    assert seqs == list(range(1, len(seqs) + 1))
    assert stack.get("/api/audit/verify", role="auditor").json()["ok"] is True


# The device's outbox and the broker's queue are the subject of these two: they run on SQLite only. Storing each
# event once whatever arrives twice is the gateway's, and its test runs on both databases (below).
@pytest.mark.backends("sqlite")
def test_broker_killed_and_restarted_mid_run_loses_and_doubles_nothing(stack, tmp_path):
    n = 600
    sim = run_device_sim(stack.devices["gate-01"], tmp_path / "outbox.db", n, rate=300,
                         stdout=subprocess.PIPE, text=True)
    wait_until_committed(sim, 150)
    stack.broker.kill(signal.SIGKILL)
    wait_until_committed(sim, 350)  # the device keeps working into its outbox meanwhile
    stack.broker.start()
    sim.stdout.read()
    assert sim.wait(timeout=90) == 0
    assert_exactly_once(stack, "gate-01", n)


def test_gateway_killed_mid_ingest_and_restarted_loses_and_doubles_nothing(stack, tmp_path):
    n = 1500
    sim = run_device_sim(stack.devices["gate-01"], tmp_path / "outbox.db", n, rate=600,
                         stdout=subprocess.PIPE, text=True)
    wait_until_committed(sim, 400)
    stack.gateway.kill(signal.SIGKILL)
    wait_until_committed(sim, 900)  # the broker holds the gateway's queue meanwhile
    stack.gateway.start()
    sim.stdout.read()
    assert sim.wait(timeout=90) == 0
    assert_exactly_once(stack, "gate-01", n)
    assert stack.metrics()["ingest"]["stored"] < n  # the restarted gateway did not store them all: some came before


@pytest.mark.backends("sqlite")
def test_edge_killed_with_unsent_events_sends_them_after_restart(stack, tmp_path):
    n = 80
    outbox = tmp_path / "outbox.db"
    stack.broker.kill(signal.SIGTERM)  # the site's network is down
    sim = run_device_sim(stack.devices["gate-01"], outbox, n, rate=400, stdout=subprocess.PIPE, text=True)
    wait_until_committed(sim, n)
    sim.send_signal(signal.SIGKILL)  # power cut with everything still queued
    sim.wait(timeout=10)
    assert stack.events(device="gate-01") == []
    stack.broker.start()
    # The device comes back: `facegate edge flush` opens the outbox exactly as `edge run` does first.
    config = tmp_path / "device.toml"
    config.write_text(f'[events]\noutbox = "{outbox}"\ngallery = "{tmp_path / "gallery.enc"}"\n')
    flush = subprocess.run([sys.executable, "-m", "facegate", "edge", "flush", "--bundle", str(stack.devices["gate-01"]),
                            "--config", str(config)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert flush.returncode == 0, flush.stderr
    sent = re.search(r"(\d+) events sent and confirmed; 0 left", flush.stdout)
    # n verdicts, and the device's confirmation of the gallery the gateway sends it on reconnection if that
    # arrives before the flush ends.
    assert sent and int(sent.group(1)) in (n, n + 1), flush.stdout
    assert_exactly_once(stack, "gate-01", n)
