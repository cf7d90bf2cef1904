"""The real parts for integration tests: Mosquitto, the gateway process, devices, an API client.

Nothing is faked: Mosquitto runs from the files FaceGate generates, the gateway
is `facegate gateway run` in its own process (so it can be SIGKILLed), and
devices publish through the real outbox and publisher.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import threading
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from conftest import CLIP, WIDE_SHOT, clip_gallery
from wire.bundle import DeviceBundle, load_bundle, write_bundle
from gateway.services.security.auth import STAFF, Auth
from gateway.services.broker.mosquitto import BrokerFiles, configure_central
from gateway.services.security.pki import CertificateAuthority
from gateway.services.devices.registry import add_site, provision_device
from gateway.services.security.secrets import GatewaySecrets
from gateway.services.events.ingest import store_batch
from gateway.storage import Store, StoredEvent
from gateway.storage.events import GATEWAY_FIELDS
from wire import GateVerdictEvent, canonical_json, event_topic, public_key_from_text, uuid7
from wire.mqtt import BrokerUrl, TlsSettings, new_client

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"

# The tests' API client reads English (the gateway's default language is Vietnamese: a client says what it reads).
READS_ENGLISH = {"Accept-Language": "en"}


def register_device(store: Store, device: str, site: str = "site-a", kind: str = "gate",
                    public_key: str = "-") -> None:
    """A device row as provisioning makes it, without the broker files (for tests of one layer)."""
    with store.db.transaction() as tx:
        store.devices.add(tx, device, site, kind, device, public_key, "x", "buffalo_s", None)
        tx.audit("test", "device.provisioned", device, {"site": site, "kind": kind})


def store_events(store: Store, events: list[StoredEvent]) -> list[str]:
    """Store admitted events the way ingest does (one transaction, audited); each one's outcome."""
    with store.db.transaction(unaudited="only duplicates") as tx:
        return store_batch(store, tx, events, 120.0).outcomes


def sql(target: "Stack | Store", query: str, *args) -> list[tuple]:
    """Run a statement on the gateway's database directly, as an insider with a shell would, bypassing the
    gateway (and its audit); its rows. `?` marks a parameter on either database."""
    store = getattr(target, "store", target)
    with store.db.engine.begin() as conn:
        if store.db.postgres:
            query = query.replace("?", "%s")
        result = conn.exec_driver_sql(query, args)
        return result.fetchall() if result.returns_rows else []


def everything_stored(store: Store) -> str:
    """Every value in every table of the gateway's database as text (and, for SQLite, its files' bytes)."""
    from sqlalchemy import inspect, text

    with store.db.read() as conn:
        parts = [repr(conn.execute(text(f'SELECT * FROM "{table}"')).fetchall())
                 for table in inspect(conn).get_table_names()]
    if store.path:
        parts += [Path(f"{store.path}{suffix}").read_bytes().decode("latin-1")
                  for suffix in ("", "-wal") if Path(f"{store.path}{suffix}").exists()]
    return "\n".join(parts)


# Ports the tests' servers listen on: below Linux's ephemeral range (32768-60999), so that no client connection and
# no other `bind(0)` takes one between our look and the server's bind, and a range of 1,000 per xdist worker, so
# that two workers never pick the same one (the kernel's own pick did: "Address already in use" in a clean run).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_PORTS = iter(range(20000 + 1000 * (_WORKER % 12), 21000 + 1000 * (_WORKER % 12)))


def free_port() -> int:
    """A port nothing listens on, this worker's own."""
    for port in _PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("this test worker has used its 1,000 ports")


def wait_for(predicate, timeout: float, what: str, every: float = 0.05):
    """Poll until `predicate()` is truthy; its value, or AssertionError naming `what`. The polls start `every`
    seconds apart and slow to at most 0.2 s: most predicates ask the gateway, whose answers cost CPU the
    processes under test need more."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
        if every < 0.2:
            every = min(every * 1.25, 0.2)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Service:
    """A process that serves on a local port: started, waited for, killed with any signal."""

    port: int
    log: Path
    proc: subprocess.Popen | None = None

    def _launch(self, cmd: list[str], what: str, timeout: float, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(cmd, cwd=env and env.get("PYTHONPATH") or REPO, env=env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, timeout, what)
        assert self.proc.poll() is None, self.log.read_text()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop it with `sig`; SIGKILL if it has not exited after 15 s (a process stuck in a loop ignores
        SIGTERM, and must not outlive the test)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


class Mosquitto(_Service):
    """A real mosquitto process on the generated configuration."""

    def __init__(self, files: BrokerFiles, port: int, log: Path):
        self.files, self.port, self.log = files, port, log

    def start(self) -> None:
        self._launch([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.files.conf)],
                     "mosquitto to listen", 10)


# To show a test fails on an older release, run its gateway from that release's tree (a git worktree):
# FACEGATE_TEST_GATEWAY_TREE=/tmp/r1 pytest tests/test_hardening.py. The rest of the harness stays current.
OTHER_TREE = os.environ.get("FACEGATE_TEST_GATEWAY_TREE")


class GatewayProcess(_Service):
    """`facegate gateway run` in its own process."""

    def __init__(self, db: Path | str, broker_dir: Path, mqtt: str | None, log: Path,
                 embedded_broker_port: int | None = None, secrets_dir: Path | None = None, replica: str | None = None,
                 tls: tuple[Path, Path, Path] | None = None):
        self.db, self.broker_dir, self.mqtt, self.log, self.replica = db, broker_dir, mqtt, log, replica
        self.tls = tls  # (certificate, key, the CA's certificate): HTTPS only
        self.secrets_dir = secrets_dir or Path(db).parent / "secrets"
        self.trust_dir = self.secrets_dir.parent / "trust"
        self.embedded_broker_port = embedded_broker_port
        self.port = free_port()
        self._http: httpx.Client | None = None

    def start(self) -> None:
        entry = "edge.cli" if OTHER_TREE else "facegate"  # release 1's command lived in edge/cli.py
        cmd = [sys.executable, "-m", entry, "gateway", "run", "--db", str(self.db), "--broker-dir",
               str(self.broker_dir), "--secrets-dir", str(self.secrets_dir), "--port", str(self.port)]
        if self.replica:
            cmd += ["--replica", self.replica]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if not OTHER_TREE:  # the CSCAs chip cards are checked against, beside the secrets (PostgreSQL has no folder)
            cmd += ["--trust-dir", str(self.trust_dir)]
        if self.embedded_broker_port:
            cmd += ["--embedded-broker", "--broker-port", str(self.embedded_broker_port)]
        elif self.mqtt:
            cmd += ["--mqtt", self.mqtt]
        else:
            cmd.append("--no-ingest")
        env = {**os.environ, "PYTHONPATH": OTHER_TREE} if OTHER_TREE else None
        self._launch(cmd, "the gateway API", 30, env)

    @property
    def base_url(self) -> str:
        return f"http{'s' if self.tls else ''}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an HTTP client checks the gateway's certificate with."""
        return ssl.create_default_context(cafile=str(self.tls[2])) if self.tls else True

    @property
    def http(self) -> httpx.Client:
        """A client kept for this gateway: a new one costs ~30 ms of CPU (its TLS context, made even for plain
        HTTP), a request on a kept one ~1 ms, and the tests poll the API many times a second."""
        if self._http is None:
            # It keeps no cookies: a test's request says who it is, as a fresh one would. It drops a connection
            # idle for 1 s: the gateway (uvicorn) closes one idle for 5 s, and a request sent as it closes is lost.
            self._http = httpx.Client(verify=self.verify, timeout=60, limits=httpx.Limits(keepalive_expiry=1.0),
                                      cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))
        return self._http

    def kill(self, sig: int = signal.SIGKILL) -> None:
        super().kill(sig)
        if self._http is not None:  # its connections went with the process
            self._http.close()
            self._http = None


@dataclass
class Stack:
    """Broker + gateway + one user per role + devices, under one folder."""

    root: Path
    port: int  # the broker's
    store: Store
    files: BrokerFiles
    broker: Mosquitto | None
    gateway: GatewayProcess
    devices: dict[str, Path] = field(default_factory=dict)  # device id -> bundle file
    _tokens: dict[str, str] = field(default_factory=dict)
    replicas: list[GatewayProcess] = field(default_factory=list)  # the gateway and any more sharing its database
    tls_port: int | None = None  # the broker's certificate listener

    @classmethod
    def create(cls, root: Path, db: str | None = None, embedded: bool = False, replicas: int = 0,
               tls: bool = False, https: bool = False) -> Stack:
        """A stack under `root` on the database `db` (an SQLite path or a PostgreSQL URL; default root/gateway.db);
        with `replicas`, that many gateways named gw-1, gw-2, ... share it (PostgreSQL); with `tls`, a FaceGate
        CA and a certificate (mTLS) listener on the broker (`tls_port`); with `https`, the gateway serves HTTPS only,
        with a certificate of the FaceGate CA (which the devices' bundles carry)."""
        root.mkdir(parents=True, exist_ok=True)
        db = db or str(root / "gateway.db")
        store = Store.open(db)
        files = BrokerFiles(root / "broker")
        port = free_port()
        ca = CertificateAuthority(root / "secrets" / "pki")
        tls_port = None
        if tls or https:
            ca.init()
        if tls:
            tls_port = free_port()
        served = None
        if https:
            issued = ca.issue("gateway-https", "server", ["127.0.0.1"])
            served = (issued.cert, issued.key, ca.ca_cert)
        configure_central(files, [], ca, port=port, tls_port=tls_port)
        broker = None if embedded else Mosquitto(files, port, root / "mosquitto.log")
        gateways = [GatewayProcess(db, files.dir, None if embedded else f"mqtt://127.0.0.1:{port}",
                                   root / f"gateway{f'-{n}' if replicas else ''}.log",
                                   embedded_broker_port=port if embedded else None, secrets_dir=root / "secrets",
                                   replica=f"gw-{n}" if replicas else None, tls=served)
                    for n in range(1, max(replicas, 1) + 1)]
        auth = Auth(store)
        for role in STAFF:  # a kiosk's login comes with its kiosk (test_kiosk.py)
            auth.add_user(f"{role}-1", role, PASSWORD)
        stack = cls(root, port, store, files, broker, gateways[0], replicas=gateways, tls_port=tls_port)
        if broker:
            broker.start()
        for gateway in gateways:
            gateway.start()
        return stack

    @property
    def db(self) -> str:
        """The database as `--db` takes it."""
        return str(self.store.db.location)

    @property
    def broker_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def secrets(self) -> GatewaySecrets:
        return GatewaySecrets(self.root / "secrets")

    @property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority(self.root / "secrets" / "pki")

    def add_device(self, device: str, site: str = "site-a", kind: str = "gate", broker_url: str | None = None,
                   client_certificate: bool = False) -> DeviceBundle:
        if site not in self.store.people.site_ids():
            add_site(self.store, site)
        bundle = provision_device(self.store, self.files, self.secrets, site=site, device=device,
                                  broker_url=broker_url or self.broker_url, kind=kind, ca=self.ca,
                                  client_certificate=client_certificate)
        path = self.root / "devices" / f"{device}.toml"
        write_bundle(bundle, path)
        self.devices[device] = path
        return bundle

    def token(self, role: str) -> str:
        if role not in self._tokens:
            r = self.gateway.http.post(f"{self.gateway.base_url}/api/auth/token",
                                       json={"username": f"{role}-1", "password": PASSWORD})
            r.raise_for_status()
            self._tokens[role] = r.json()["access_token"]
        return self._tokens[role]

    def get(self, path: str, role: str = "admin", via: GatewayProcess | None = None, **params) -> httpx.Response:
        gateway = via or self.gateway
        return gateway.http.get(f"{gateway.base_url}{path}", params=params, timeout=30,
                                headers={"Authorization": f"Bearer {self.token(role)}", **READS_ENGLISH})

    def post(self, path: str, body: dict, role: str = "admin") -> httpx.Response:
        return self.gateway.http.post(f"{self.gateway.base_url}{path}", json=body,
                                      headers={"Authorization": f"Bearer {self.token(role)}", **READS_ENGLISH})

    def put(self, path: str, body: dict, role: str = "admin") -> httpx.Response:
        return self.gateway.http.put(f"{self.gateway.base_url}{path}", json=body,
                                     headers={"Authorization": f"Bearer {self.token(role)}", **READS_ENGLISH})

    def events(self, **params) -> list[dict]:
        """Every stored event matching the filters, following the cursor."""
        out, cursor = [], None
        while True:
            page = self.get("/api/events", limit=1000, **params, **({"cursor": cursor} if cursor else {}))
            page.raise_for_status()
            body = page.json()
            out += body["events"]
            cursor = body["next_cursor"]
            if not cursor:
                return out

    def metrics(self) -> dict:
        return self.get("/api/metrics").json()

    def close(self) -> None:
        for gateway in self.replicas:
            gateway.kill(signal.SIGTERM)
        if self.broker:
            self.broker.kill(signal.SIGTERM)


def run_device_sim(bundle: Path, outbox: Path, count: int, rate: float, resend_s: float = 60,
                   **kw) -> subprocess.Popen:
    """Start tests/device_sim.py: a device emitting `count` verdicts at `rate`/s through the real outbox, sending
    its unconfirmed events again after `resend_s` without a confirmation."""
    cmd = [sys.executable, str(REPO / "tests" / "device_sim.py"), str(bundle), str(outbox), str(count), str(rate)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACEGATE_SIM_RESEND_S": str(resend_s)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, **kw)




def start_edge(stack: Stack, device: str, workdir: Path, local_gallery: bool = True,
               realtime: bool = False) -> subprocess.Popen:
    """`facegate edge run --bundle` over the Hamilton clip, its state under `workdir`.

    local_gallery: match against the clip's two enrolment photos; else against the gallery the gateway sends.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "site.toml"
    config.write_text(WIDE_SHOT + f'[events]\noutbox = "{workdir / "outbox.db"}"\n'
                      f'gallery = "{workdir / "gallery.enc"}"\ngallery_wait_s = 20\n')
    cmd = [sys.executable, "-m", "facegate", "edge", "run", "--source", str(CLIP), "--config", str(config),
           "--bundle", str(stack.devices[device])]
    if local_gallery:
        cmd += ["--gallery", str(clip_gallery(workdir / "photos"))]
    if realtime:
        cmd.append("--realtime")
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def verdict_lines(proc: subprocess.Popen, timeout: float = 300) -> list[dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def edge_run_over_clip(stack: Stack, device: str, workdir: Path, local_gallery: bool = True) -> list[dict]:
    """Run the edge over the clip to the end; the verdict lines it printed."""
    return verdict_lines(start_edge(stack, device, workdir, local_gallery))


def check_clip_verdicts_stored(stack: Stack, device: str, printed: list[dict]) -> None:
    assert Counter(v["subject"] for v in printed if v["verdict"] == "granted") == {
        "alex-lacamoire": 1, "lin-manuel-miranda": 1}
    stored = wait_for(lambda: (lambda e: e if len(e) == len(printed) else None)(
        stack.events(device=device, kind="verdict")), 10, "the verdicts in the API")
    by_track = {e["track"]: e for e in stored}
    for line in printed:
        event = by_track[line["track"]]
        assert (event["verdict"], event["subject"], event["camera"]) == (line["verdict"], line["subject"], "cam-1")
        assert event["score"] == pytest.approx(line["score"], abs=1e-4)
        assert event["threshold"] == line["threshold"] and event["model_pack"] == "buffalo_s"
    # Anyone holding the device's public key can check a stored event is what the device signed.
    key = public_key_from_text(stack.store.devices.get(device).public_key)
    for event in stored:
        body = {k: v for k, v in event.items() if k not in GATEWAY_FIELDS}
        key.verify(base64.b64decode(event["sig"]), canonical_json(body))
    assert sorted(e["seq"] for e in stored) == sorted(set(e["seq"] for e in stored))
    # The run's health reached the device list: its heartbeat, and offline once it stopped.
    listed = {d["id"]: d for d in stack.get("/api/devices", role="operator").json()}
    assert listed[device]["last_heartbeat"]["frames"] == 275


class DeviceClient:
    """A raw MQTT client logged in as a device, to send exactly the bytes a test wants."""

    def __init__(self, stack: Stack, device: str):
        self.bundle = load_bundle(stack.devices[device])
        self.key = self.bundle.device_key()
        self.client = new_client(f"{device}-raw", self.bundle.broker_url(), clean_session=True, tls=self.bundle.tls())
        self.received: list[mqtt.MQTTMessage] = []
        self.client.on_message = lambda c, u, m: self.received.append(m)
        connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: connected.set()
        broker = self.bundle.broker_url()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert connected.wait(5), f"{device} could not connect"

    def event(self, seq: int, **overrides) -> GateVerdictEvent:
        fields = dict(id=str(uuid7()), site=self.bundle.site, device=self.bundle.device, seq=seq,
                      captured_at=datetime.now(timezone.utc), model_pack="buffalo_s", camera="cam-raw", track=seq,
                      verdict="granted", subject="someone", score=0.6, runner_up=0.1, threshold=0.36, margin=0.05,
                      quality=0.9, frames=3)
        return GateVerdictEvent(**(fields | overrides))

    def publish(self, payload: bytes, topic: str | None = None) -> None:
        topic = topic or event_topic(self.bundle.site, self.bundle.device, "verdict")
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def gateway_client(stack: Stack, name: str) -> mqtt.Client:
    """An MQTT client with a gateway's broker rights, connected: a login of its own (a replica's; the gateway's own
    would take the gateway's connection). Make it before starting devices: a new login makes the broker reload."""
    from gateway.services.devices.registry import write_broker_logins

    if stack.files.add_replica(name):
        write_broker_logins(stack.store, stack.files)
    login = stack.files.gateway_url(stack.broker_url, name)
    wait_for(lambda: connect_result(login, f"probe-{name}") == "Success", 5, "the broker to take the new login")
    client = new_client(name, login, clean_session=True)
    client.connect(login.host, login.port)
    client.loop_start()
    return client


def connect_result(url: BrokerUrl, client_id: str, tls: TlsSettings | None = None) -> str:
    """What the broker says to a login attempt: 'Success', its refusal, or the TLS handshake's failure."""
    outcome: list[str] = []
    client = new_client(client_id, url, clean_session=True, tls=tls)
    client.on_connect = lambda c, u, f, rc, p: outcome.append(str(rc))
    client.on_disconnect = lambda c, u, f, rc, p: outcome.append(f"disconnected: {rc}")
    try:
        client.connect(url.host, url.port)
    except (ssl.SSLError, OSError) as exc:
        return f"TLS refused: {exc}"
    client.loop_start()
    wait_for(lambda: outcome, 5, "the broker's answer")
    client.disconnect()
    client.loop_stop()
    return outcome[0]
