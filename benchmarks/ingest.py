"""Event ingest and API speed: simulated devices -> Mosquitto -> gateway -> SQLite -> API.

    .venv/bin/python benchmarks/ingest.py [--devices 20] [--events 100000] [--stored 1000000]
                                          [--baseline-ref 488ee3e] [--skip-api]
    .venv/bin/python benchmarks/ingest.py --databases   # this release on SQLite, then on PostgreSQL

Each gateway is set up through its own command line (site, user, devices,
broker files) and run as its own process, so two releases are measured the same
way in the same run. The baseline is an earlier release checked out in a git
worktree (`--baseline-ref`, default 488ee3e: release 1, before the gateway
hardening).

1. Sustained ingest, both releases: every device publishes pre-signed events
   (QoS 1) as fast as it can; rate = events / (first publish -> last one
   stored). Then: 0 lost, 0 duplicated? Also this release committing each event
   on its own (`ingest_batch_max = 1`): what batching buys.
2. `/api/me` while 64 clients send bogus logins as fast as they can, both
   releases: p50/p95 of the authenticated call, and the gateway's peak memory.
3. Latency at a paced 1,000 events/s: publish -> received on the live SSE stream
   (sent after the commit, so the event is queryable by then).
4. `/api/events` with `--stored` events in the database: p50/p95 per query,
   against the floor of an authenticated round trip (`/api/me`).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.services.broker.mosquitto import BrokerFiles  # noqa: E402
from gateway.services.events.ingest import store_batch  # noqa: E402
from gateway.storage import Store, StoredEvent  # noqa: E402
from wire.bundle import DeviceBundle, load_bundle  # noqa: E402
from wire import GateVerdictEvent, event_topic, sign_event, uuid7  # noqa: E402
from wire.events import utc_text  # noqa: E402

PASSWORD = "benchmark-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def baseline_tree(ref: str) -> Path:
    """A worktree of `ref` beside the system temp folder (made once, reused)."""
    tree = Path(tempfile.gettempdir()) / f"facegate-baseline-{ref}"
    if not (tree / ".git").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--force", "--detach", str(tree), ref], check=True,
                       capture_output=True)
    return tree


class System:
    """Mosquitto + `facegate gateway run` + provisioned devices, in a temporary folder, from one source tree."""

    def __init__(self, root: Path, devices: int, batch_max: int, ingest: bool = True, tree: Path = REPO,
                 db: str | None = None):
        self.root, self.tree = root, tree
        self.db = db or str(root / "gateway.db")  # an SQLite file, or a PostgreSQL URL
        root.mkdir(parents=True, exist_ok=True)
        # Release 1's command lived in edge/cli.py; later ones in facegate/.
        self.entry = "facegate" if (tree / "facegate" / "cli.py").exists() else "edge.cli"
        self.env = {**os.environ, "PYTHONPATH": str(tree), "FACEGATE_PASSWORD": PASSWORD}
        self.broker_port, self.api_port = free_port(), free_port()
        self.files = BrokerFiles(root / "broker")
        where = self.where()
        self.run("site", "add", "bench", *where)
        self.run("user", "add", "bench", "--role", "admin", *where)
        for i in range(devices):
            self.run("provision", "device", "--site", "bench", "--name", f"gate-{i:03d}", "--broker-url",
                     f"mqtt://127.0.0.1:{self.broker_port}", "--out", str(root / "devices" / f"gate-{i:03d}.toml"),
                     *where)
        self.run("broker", "config", "--broker-port", str(self.broker_port), *where)
        self.bundles: list[DeviceBundle] = [load_bundle(root / "devices" / f"gate-{i:03d}.toml") for i in range(devices)]
        self.procs: list[subprocess.Popen] = []
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.procs.append(subprocess.Popen([mosquitto, "-c", str(self.files.conf)], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        wait_port(self.broker_port)
        cmd = [sys.executable, "-m", self.entry, "gateway", "run", *where, "--port", str(self.api_port)]
        cmd += ["--mqtt", f"mqtt://127.0.0.1:{self.broker_port}"] if ingest else ["--no-ingest"]
        env = {**self.env, "FACEGATE_GATEWAY__INGEST_BATCH_MAX": str(batch_max)}
        self.procs.append(subprocess.Popen(cmd, cwd=tree, env=env, stdout=(root / "gateway.log").open("ab"),
                                           stderr=subprocess.STDOUT))
        wait_port(self.api_port)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=60)
        token = self.api.post("/api/auth/token", json={"username": "bench", "password": PASSWORD}).json()
        self.api.headers["Authorization"] = f"Bearer {token['access_token']}"

    def where(self) -> list[str]:
        return ["--db", self.db, "--broker-dir", str(self.root / "broker"),
                "--secrets-dir", str(self.root / "secrets")]

    def run(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", self.entry, *args], cwd=self.tree, env=self.env,
                              capture_output=True, text=True)
        if done.returncode and "already exists" not in done.stderr:  # a reused workdir already has them
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr[-2000:]}")

    @property
    def gateway_pid(self) -> int:
        return self.procs[-1].pid

    def query(self, sql: str) -> list[tuple]:
        if "://" in self.db:
            import psycopg

            with psycopg.connect(self.db) as db:
                return db.execute(sql).fetchall()
        with sqlite3.connect(self.db) as db:
            return db.execute(sql).fetchall()

    def stored(self) -> int:
        return self.query("SELECT count(*) FROM events")[0][0]

    def exactly_once(self, per_device: int) -> tuple[int, int]:
        """(lost, duplicated) over every device's sequence numbers 1..per_device."""
        rows = self.query("SELECT device, count(*), count(DISTINCT seq) FROM events GROUP BY device")
        counts = {d: (n, distinct) for d, n, distinct in rows}
        lost = sum(per_device - counts.get(b.device, (0, 0))[1] for b in self.bundles)
        duplicated = sum(n - distinct for n, distinct in counts.values())
        return lost, duplicated

    def close(self) -> None:
        self.api.close()
        for p in reversed(self.procs):
            p.terminate()
            p.wait(timeout=15)


def signed_events(bundle: DeviceBundle, count: int, first_seq: int = 1) -> list[tuple[str, str, bytes]]:
    """(event id, topic, payload) for `count` verdicts of one device, signed up front."""
    key = bundle.device_key()
    topic = event_topic(bundle.site, bundle.device, "verdict")
    out = []
    for i in range(count):
        e = GateVerdictEvent(id=str(uuid7()), site=bundle.site, device=bundle.device, seq=first_seq + i,
                             captured_at=datetime.now(timezone.utc), model_pack="buffalo_s", camera="cam-1", track=i,
                             verdict="granted" if i % 5 else "unknown", subject=f"person-{i % 500}" if i % 5 else None,
                             score=0.5, runner_up=0.1, threshold=0.36, margin=0.05, quality=0.8, frames=3)
        out.append((e.id, topic, sign_event(e, key)))
    return out


def _mqtt_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _mqtt_packet(header: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([header]) + bytes(encoded) + body


class AckDrain:
    """One thread that reads (and discards) every simulated device's PUBACKs.

    A reader thread per device would make hundreds of Python threads wake per
    second in the load generator, and the GIL turns they take would show up as
    latency that is not the gateway's.
    """

    _shared: "AckDrain | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        threading.Thread(target=self._run, daemon=True).start()

    @classmethod
    def shared(cls) -> "AckDrain":
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def add(self, sock: socket.socket) -> None:
        self.selector.register(sock, selectors.EVENT_READ)

    def remove(self, sock: socket.socket) -> None:
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _run(self) -> None:
        while True:
            try:
                ready = self.selector.select(timeout=0.5)
            except (OSError, ValueError):  # a socket closed under us: the next turn no longer sees it
                continue
            for key, _ in ready:
                try:
                    if not key.fileobj.recv(65536):
                        self.remove(key.fileobj)
                except OSError:
                    self.remove(key.fileobj)


class RawDevice:
    """A simulated device as a load generator: MQTT 3.1.1 PUBLISH packets, QoS 1, pre-encoded.

    paho costs tens of microseconds of Python per message, which on this 2-core
    machine would take the CPU the gateway is being measured with; this sender
    costs a few. It speaks to the same broker with the device's own login.
    """

    def __init__(self, bundle: DeviceBundle):
        url = bundle.broker_url()
        self.sock = socket.create_connection((url.host, url.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = _mqtt_string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)  # v3.1.1, user+password, clean
        body += _mqtt_string(f"{bundle.device}-load") + _mqtt_string(url.username) + _mqtt_string(url.password)
        self.sock.sendall(_mqtt_packet(0x10, body))
        connack = self.sock.recv(4)
        if len(connack) < 4 or connack[3] != 0:
            raise RuntimeError(f"{bundle.device}: broker refused the connection ({connack!r})")
        AckDrain.shared().add(self.sock)

    def encode(self, items: list[tuple[str, str, bytes]]) -> list[bytes]:
        return [_mqtt_packet(0x32, _mqtt_string(topic) + struct.pack("!H", i % 65535 + 1) + payload)
                for i, (_, topic, payload) in enumerate(items)]

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))

    def close(self) -> None:
        AckDrain.shared().remove(self.sock)
        self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


def throughput(root: Path, devices: int, per_device: int, batch_max: int, tree: Path = REPO,
               db: str | None = None) -> dict:
    system = System(root, devices, batch_max, tree=tree, db=db)
    try:
        fleet = [RawDevice(b) for b in system.bundles]
        packets = [d.encode(signed_events(b, per_device)) for d, b in zip(fleet, system.bundles)]
        total = devices * per_device
        started = time.perf_counter()
        for i in range(0, per_device, 50):  # round robin in slices: every device sends at once
            for device, queue in zip(fleet, packets):
                device.send(queue[i:i + 50])
        while system.stored() < total:
            if time.perf_counter() - started > 600:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        time.sleep(1.0)  # anything extra (a duplicate) would show now
        lost, duplicated = system.exactly_once(per_device)
        for device in fleet:
            device.close()
        return {"events": total, "seconds": elapsed, "rate": total / elapsed,
                "lost": lost, "duplicated": duplicated}
    finally:
        system.close()


def latency(root: Path, devices: int, rate: float, seconds: float) -> dict:
    system = System(root, devices, batch_max=1000)
    try:
        per_device = int(rate * seconds / devices)
        queues = [signed_events(b, per_device) for b in system.bundles]
        sent_at: dict[str, float] = {}
        arrived: dict[str, float] = {}
        ready = threading.Event()

        def listen() -> None:
            with system.api.stream("GET", "/api/events/stream", timeout=None) as r:
                for line in r.iter_lines():
                    ready.set()
                    if line.startswith("id: "):
                        arrived[line[4:]] = time.perf_counter()
                        if len(arrived) >= per_device * devices:
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(10)
        fleet = [RawDevice(b) for b in system.bundles]
        packets = [d.encode(q) for d, q in zip(fleet, queues)]
        started = time.perf_counter()
        n = 0
        for i in range(per_device):
            for device, queue, packet in zip(fleet, queues, packets):
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent_at[queue[i][0]] = time.perf_counter()
                device.send([packet[i]])
                n += 1
        listener.join(timeout=30)
        for device in fleet:
            device.close()
        ms = sorted(1000 * (arrived[i] - sent_at[i]) for i in sent_at if i in arrived)
        return {"events": n, "received": len(ms), "p50": statistics.median(ms), "p95": ms[int(0.95 * len(ms))],
                "max": ms[-1]}
    finally:
        system.close()


def fill(storage: Store, count: int, devices: int) -> None:
    """`count` stored events (with their audit entries) spread over 30 days, in big batches."""
    start = datetime.now(timezone.utc) - timedelta(days=30)
    step = timedelta(days=30) / count
    done, batch = 0, 20000
    seqs = [0] * devices
    while done < count:
        events = []
        for i in range(done, min(done + batch, count)):
            d = i % devices
            seqs[d] += 1
            at = utc_text(start + i * step)
            verdict = "granted" if i % 5 else "unknown"
            subject = f"person-{i % 5000}" if i % 5 else None
            body = json.dumps({"v": 1, "id": str(uuid7()), "kind": "verdict", "site": "bench",
                               "device": f"gate-{d:03d}", "seq": seqs[d], "captured_at": at, "verdict": verdict,
                               "subject": subject, "score": 0.5}, separators=(",", ":"))
            events.append(StoredEvent(json.loads(body)["id"], "bench", f"gate-{d:03d}", "verdict", seqs[d], at, at,
                                      verdict, subject, 0.5, body, "-"))
        with storage.db.transaction() as tx:
            store_batch(storage, tx, events, 120.0)
        done += len(events)
        print(f"\r  filling: {done}/{count}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


FLOOD = """
import http.client, json, sys, threading
port, clients = int(sys.argv[1]), int(sys.argv[2])
def bogus(n):
    conn, i = http.client.HTTPConnection("127.0.0.1", port, timeout=120), 0
    while True:
        i += 1
        body = json.dumps({"username": "bench", "password": f"wrong-{n}-{i}"})
        try:
            conn.request("POST", "/api/auth/token", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
            print(1, flush=True)
        except OSError:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
threads = [threading.Thread(target=bogus, args=(n,)) for n in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


def login_flood(root: Path, tree: Path, clients: int = 64, window_s: float = 60.0, calls: int = 100) -> dict:
    """/api/me latencies (ms) while another process's `clients` threads send bogus logins as fast as they can;
    stops after `calls` or `window_s`."""
    system = System(root, 0, batch_max=1000, ingest=False, tree=tree)
    flood = subprocess.Popen([sys.executable, "-c", FLOOD, str(system.api_port), str(clients)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    answered = [0]

    def count() -> None:
        for _ in flood.stdout:
            answered[0] += 1

    threading.Thread(target=count, daemon=True).start()
    try:
        time.sleep(2)  # let the flood build up
        times: list[float] = []
        deadline = time.perf_counter() + window_s
        while len(times) < calls and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            system.api.get("/api/me", timeout=120).raise_for_status()
            times.append(1000 * (time.perf_counter() - t0))
        times.sort()
        return {"calls": len(times), "p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
                "max": times[-1], "logins": answered[0], "peak_mb": peak_rss_mb(system.gateway_pid)}
    finally:
        flood.kill()
        flood.wait()
        system.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def api_latency(root: Path, stored: int, devices: int, repeats: int) -> list[tuple[str, float, float]]:
    storage = Store.open(root / "gateway.db")
    for i in range(devices):  # registered devices, so the API lists them
        if storage.devices.get(f"gate-{i:03d}") is None:
            with storage.db.transaction() as tx:
                storage.devices.add(tx, f"gate-{i:03d}", "bench", "gate", f"gate-{i:03d}", "-", "-", "buffalo_s", None)
                tx.audit("benchmark", "device.provisioned", f"gate-{i:03d}")
    if storage.events.count() < stored:
        fill(storage, stored - storage.events.count(), devices)
    system = System(root, 0, batch_max=1000, ingest=False)
    try:
        newest = system.api.get("/api/events", params={"limit": 1}).json()["events"][0]["captured_at"]
        hour_ago = utc_text(datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(hours=1))
        queries = {
            "auth floor: /api/me": ("/api/me", {}),
            "newest 100": ("/api/events", {}),
            "device, 100": ("/api/events", {"device": "gate-007"}),
            "subject, 100": ("/api/events", {"subject": "person-1234"}),
            "verdict=unknown, 100": ("/api/events", {"verdict": "unknown", "kind": "verdict"}),
            "last hour, 100": ("/api/events", {"since": hour_ago}),
            "site + time window": ("/api/events", {"site": "bench", "since": hour_ago, "until": newest}),
        }
        results = []
        for name, (path, params) in queries.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                r = system.api.get(path, params=params)
                times.append(1000 * (time.perf_counter() - t0))
                r.raise_for_status()
            times.sort()
            results.append((name, statistics.median(times), times[int(0.95 * len(times))]))
        # Deep paging: follow the cursor 50 pages down.
        times, cursor = [], None
        for _ in range(50):
            t0 = time.perf_counter()
            body = system.api.get("/api/events", params={"cursor": cursor} if cursor else {}).json()
            times.append(1000 * (time.perf_counter() - t0))
            cursor = body["next_cursor"]
        times.sort()
        results.append(("cursor pages 1-50", statistics.median(times), times[int(0.95 * len(times))]))
        return results
    finally:
        system.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--events", type=int, default=100_000, help="events in the sustained-ingest run")
    parser.add_argument("--baseline-events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced rate of the latency run")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency run")
    parser.add_argument("--stored", type=int, default=1_000_000, help="events in the database for the API run")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--workdir", type=Path, help="keep databases here (the 1M fill is reused)")
    parser.add_argument("--baseline-ref", default="488ee3e", help="the earlier release to compare with (git ref)")
    parser.add_argument("--skip-api", action="store_true", help="only the two comparisons (ingest, login flood)")
    parser.add_argument("--databases", action="store_true",
                        help="only sustained ingest of this release: SQLite (the baseline) and PostgreSQL")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="facegate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# ingest benchmark: {args.devices} devices, Mosquitto {mosquitto_version()}, workdir {work}")
    if args.databases:
        databases(work, args.devices, args.events // args.devices)
        return

    tree = baseline_tree(args.baseline_ref)
    label = f"baseline {args.baseline_ref} (release before)"
    before = throughput(work / f"before-{time.time_ns()}", args.devices, args.events // args.devices, 1000, tree)
    batched = throughput(work / f"batched-{time.time_ns()}", args.devices, args.events // args.devices, 1000)
    single = throughput(work / f"single-{time.time_ns()}", args.devices, args.baseline_events // args.devices, 1)
    print("\n| ingest | events | events/s | lost | duplicated |")
    print("|---|---|---|---|---|")
    for name, r in ((label + ", batched", before), ("this release, one commit per event", single),
                    ("this release, batched", batched)):
        print(f"| {name} | {r['events']} | {r['rate']:.0f} | {r['lost']} | {r['duplicated']} |")
    print(f"this release / baseline: {batched['rate'] / before['rate']:.2f}x")

    flood_before = login_flood(work / f"flood-before-{time.time_ns()}", tree)
    flood_now = login_flood(work / f"flood-now-{time.time_ns()}", REPO)
    print("\n| /api/me during 64 parallel bogus logins | calls | p50 ms | p95 ms | max ms | logins answered "
          "| gateway peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for name, r in ((label, flood_before), ("this release", flood_now)):
        print(f"| {name} | {r['calls']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {r['logins']} "
              f"| {r['peak_mb']:.0f} |")
    if args.skip_api:
        return

    lat = latency(work / f"latency-{time.time_ns()}", args.devices, args.rate, args.seconds)
    print(f"\n| publish -> on the live stream (queryable) at {args.rate:.0f}/s | events | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(f"| {lat['received']}/{lat['events']} received | {lat['events']} | {lat['p50']:.1f} | {lat['p95']:.1f} "
          f"| {lat['max']:.1f} |")

    api = api_latency(work / "api", args.stored, args.devices, args.repeats)
    floor = api[0][2]
    print(f"\n| /api/events with {args.stored:,} stored | p50 ms | p95 ms | p95 / auth floor |")
    print("|---|---|---|---|")
    for name, p50, p95 in api:
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / floor:.1f}x |")


def databases(work: Path, devices: int, per_device: int) -> None:
    """Sustained ingest into SQLite, then PostgreSQL (one gateway, a local cluster), in the same run."""
    from facegate.postgres import LocalPostgres

    work.chmod(0o755)  # PostgreSQL's server runs as its own user when we are root
    server = LocalPostgres(work / f"postgres-{time.time_ns()}").start()
    try:
        results = [("SQLite (baseline)", throughput(work / f"sqlite-{time.time_ns()}", devices, per_device, 1000)),
                   (f"PostgreSQL {server_version(server)}, one gateway",
                    throughput(work / f"postgres-run-{time.time_ns()}", devices, per_device, 1000,
                               db=server.create_database("bench")))]
    finally:
        server.stop()
    print("\n| ingest, this release | events | events/s | lost | duplicated |")
    print("|---|---|---|---|---|")
    for name, r in results:
        print(f"| {name} | {r['events']} | {r['rate']:.0f} | {r['lost']} | {r['duplicated']} |")
    print(f"PostgreSQL / SQLite: {results[1][1]['rate'] / results[0][1]['rate']:.2f}x")


def server_version(server) -> str:
    import psycopg

    with psycopg.connect(server.url("postgres")) as db:
        return db.execute("SHOW server_version").fetchone()[0].split()[0]


def mosquitto_version() -> str:
    out = subprocess.run([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split("\n")[0].split("version")[-1].strip()


if __name__ == "__main__":
    main()
