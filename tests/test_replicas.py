"""Several gateway replicas on one PostgreSQL database, sharing one broker's events.

Each test runs real `facegate gateway run --replica` processes on a real
PostgreSQL and Mosquitto, with devices publishing through their real outbox;
the faults are real too (SIGKILL, a database restart).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import TEMPLATE
from stack import REPO, Stack, run_device_sim, sql, wait_for
from test_delivery import assert_exactly_once, wait_until_committed

RESEND_S = 3  # a device sends its unconfirmed events again after this long (a replica died holding them)


@pytest.fixture
def cluster(tmp_path, postgres, request):
    db = postgres.create_database(f"replicas_{request.node.name[:40].lower()}", template=TEMPLATE)
    s = Stack.create(tmp_path / "stack", db, replicas=2)
    s.add_device("gate-01", "site-a")
    s.add_device("gate-02", "site-b")
    yield s
    s.close()


class LiveStream:
    """The ids a replica's live stream (SSE) shows, collected on a thread."""

    def __init__(self, stack: Stack, gateway):
        self.ids: set[str] = set()
        self.connected = threading.Event()
        self._url = f"{gateway.base_url}/api/events/stream"
        self._headers = {"Authorization": f"Bearer {stack.token('operator')}"}
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the live stream did not open"

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self._url, headers=self._headers, timeout=None) as stream:
                for line in stream.iter_lines():
                    self.connected.set()
                    if line.startswith("data: "):
                        self.ids.add(json.loads(line[6:])["id"])
        except httpx.HTTPError:  # the replica stopped at the end of the test
            pass


def runs_jobs(stack: Stack, gateway) -> bool:
    return stack.get("/api/metrics", role="auditor", via=gateway).json()["runs_jobs"]


def test_a_replica_killed_mid_ingest_loses_and_doubles_nothing_and_hands_over_its_jobs(cluster, tmp_path):
    first, second = cluster.replicas
    holder = wait_for(lambda: next((g for g in (first, second) if runs_jobs(cluster, g)), None), 15,
                      "one replica to take the background jobs")
    other = second if holder is first else first
    assert not runs_jobs(cluster, other)  # one at a time
    live = LiveStream(cluster, other)  # the survivor's live stream must show what the holder stored too
    n = 900
    sims = [run_device_sim(cluster.devices[d], tmp_path / f"{d}.db", n, rate=300, resend_s=RESEND_S,
                           stdout=subprocess.PIPE, text=True) for d in ("gate-01", "gate-02")]
    wait_until_committed(sims[0], 300)
    stored_by = {g.replica: cluster.get("/api/metrics", role="auditor", via=g).json()["ingest"]["stored"]
                 for g in (first, second)}
    assert all(stored_by.values()), f"both replicas take a share of the stream: {stored_by}"
    holder.kill(signal.SIGKILL)
    cluster.gateway = other
    wait_for(lambda: runs_jobs(cluster, other), 15, "the survivor to take over the background jobs")
    for sim in sims:
        sim.stdout.read()
        assert sim.wait(timeout=120) == 0
    for device in ("gate-01", "gate-02"):
        assert_exactly_once(cluster, device, n)
    stored = {e["id"] for e in cluster.events(kind="verdict")}
    wait_for(lambda: stored <= live.ids, 10, "every stored verdict on the survivor's live stream")

    # What Prometheus scrapes from the survivor: its own ingest, its jobs, and every device's health.
    scrape = httpx.get(f"{other.base_url}/metrics", headers={"Authorization": f"Bearer {cluster.token('auditor')}"})
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scrape.text) for s in family.samples}
    assert samples[("facegate_ingest_messages_total", (("outcome", "stored"), ("replica", other.replica)))] > 0
    assert samples[("facegate_replica_runs_jobs", (("replica", other.replica),))] == 1
    devices = {dict(labels)["device"] for name, labels in samples if name == "facegate_device_online"}
    assert devices == {"gate-01", "gate-02"}
    assert httpx.get(f"{other.base_url}/metrics").status_code == 401  # a role, like every route


def test_events_sent_while_no_replica_was_subscribed_come_again_as_soon_as_one_is(cluster, tmp_path):
    """Replicas hold no broker session (clean, shared): what a device sends while none is subscribed goes nowhere.
    The replica that comes back announces itself on `gateway/online`, and the device sends its window again at
    once -- not after its resend timer (600 s here, far beyond the simulator's 60 s to drain)."""
    for gateway in cluster.replicas:
        gateway.kill(signal.SIGKILL)
    n = 150
    sim = run_device_sim(cluster.devices["gate-01"], tmp_path / "outbox.db", n, rate=300, resend_s=600,
                         stdout=subprocess.PIPE, text=True)
    wait_until_committed(sim, n)
    cluster.replicas[0].start()
    cluster.gateway = cluster.replicas[0]
    sim.stdout.read()
    assert sim.wait(timeout=90) == 0
    assert_exactly_once(cluster, "gate-01", n)


def test_postgresql_restarted_mid_ingest_loses_and_doubles_nothing(cluster, postgres, tmp_path):
    n = 900
    sim = run_device_sim(cluster.devices["gate-01"], tmp_path / "outbox.db", n, rate=300, resend_s=RESEND_S,
                         stdout=subprocess.PIPE, text=True)
    wait_until_committed(sim, 300)
    postgres.restart()  # every replica's connections break mid-batch
    sim.stdout.read()
    assert sim.wait(timeout=120) == 0
    assert_exactly_once(cluster, "gate-01", n)
    first, second = cluster.replicas
    wait_for(lambda: runs_jobs(cluster, first) != runs_jobs(cluster, second), 15, "one replica with the jobs again")


def test_replicas_keep_working_while_a_newer_release_migrates_and_an_old_one_refuses_to_restart_on_it(
        cluster, tmp_path):
    """The documented upgrade order (deploy/README.md): the first replica of a new release migrates the database
    while the others still run the old one; they keep working until they are stopped, and an old one
    restarted on the newer schema refuses to start rather than misread it."""
    # What the next release's first replica does on start: an additive migration, and its revision.
    newer = f"{int(sql(cluster, 'SELECT version_num FROM alembic_version')[0][0]) + 1:04d}"
    sql(cluster, "ALTER TABLE events ADD COLUMN from_next_release TEXT")
    sql(cluster, "UPDATE alembic_version SET version_num = ?", newer)
    n = 200
    sim = run_device_sim(cluster.devices["gate-01"], tmp_path / "outbox.db", n, rate=200, resend_s=RESEND_S,
                         stdout=subprocess.PIPE, text=True)
    sim.stdout.read()
    assert sim.wait(timeout=60) == 0
    assert_exactly_once(cluster, "gate-01", n)  # the old replicas stored everything on the new schema
    old = cluster.replicas[1]
    old.kill(signal.SIGTERM)
    restarted = subprocess.run([sys.executable, "-m", "facegate", "gateway", "run", "--db", cluster.db, "--replica",
                                "gw-2", "--secrets-dir", str(cluster.root / "secrets"), "--no-ingest", "--port", "1"],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
    assert restarted.returncode == 2 and newer in restarted.stderr and "newer FaceGate" in restarted.stderr
