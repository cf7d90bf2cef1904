"""`facegate demo --scale`: the scaled-out topology on this machine.

PostgreSQL (a cluster of its own under the demo folder), the central Mosquitto
with a certificate listener, two gateway replicas sharing ingest (API on 8080
and 8081), and two sites: each a Mosquitto of its own, bridged to the centre
over TLS with its own certificate, and a gate replaying the demo stream into
it. The pages of either replica show both sites. Needs Debian's `mosquitto`
and `postgresql-15`. Ctrl-C stops everything; the next run starts clean.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.node.demo import prepare
from edge.node.packs import open_pack
from edge.settings import load_config
from facegate.demo import DEMO_PASSWORD, _free_port, _replay_gate, _stop_on_sigterm
from facegate.postgres import LocalPostgres, PostgresUnavailable, free_port
from gateway.services.broker.mosquitto import BrokerFiles, configure_central, configure_site
from gateway.services.devices.registry import add_site, provision_device
from gateway.services.people.enrolment import Enroller, EnrolmentRequest, requests_from
from gateway.services.security.audit import open_store, verify
from gateway.services.security.auth import STAFF, Auth
from gateway.services.security.pki import CertificateAuthority
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import EventQuery
from wire.bundle import write_bundle

log = logging.getLogger(__name__)

SITES = {"north-gate": "Hoàng thành Thăng Long, cổng Bắc", "south-gate": "Hoàng thành Thăng Long, cổng Nam"}
REPLICAS = ("gw-1", "gw-2")


class _Processes:
    """The demo's child processes, stopped together."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], port: int) -> None:
        log_file = (self.workdir / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
        self.running.append((name, proc))
        deadline = time.monotonic() + 60
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: see {self.workdir / 'logs' / f'{name}.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        for _name, proc in reversed(self.running):
            proc.terminate()
        for _name, proc in reversed(self.running):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def run_scale_demo(workdir: Path, exit_when_stored: int | None = None, api_port: int = 8080) -> int:
    """Bring the topology up and keep it running; with `exit_when_stored`, stop once each site has that many
    verdicts stored (and report)."""
    _stop_on_sigterm()
    mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if not mosquitto:
        raise PostgresUnavailable("the scaled-out demo runs real brokers: apt-get install mosquitto postgresql-15")
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "logs").mkdir(parents=True)
    processes = _Processes(workdir)
    pg = LocalPostgres(workdir / "postgres")
    stop = threading.Event()
    gates: list[threading.Thread] = []
    try:
        pg.start()
        db = pg.create_database("facegate")
        secrets_dir, broker_dir = workdir / "secrets", workdir / "broker"
        store, anchor = open_store(db, secrets_dir)
        auth = Auth(store)
        for role in STAFF:
            auth.add_user(role, role, DEMO_PASSWORD)
        auth.close()
        ca = CertificateAuthority(secrets_dir / "pki")
        ca.init("FaceGate demo CA")
        secrets = GatewaySecrets(secrets_dir)
        central, central_tls = free_port(), free_port()
        files = BrokerFiles(broker_dir)
        configure_central(files, [], ca, port=central, tls_port=central_tls, tls_bind="127.0.0.1",
                          hosts=["127.0.0.1", "localhost"])
        site_ports, bundles = {}, {}
        for site, name in SITES.items():
            add_site(store, site, name)
            site_ports[site] = free_port()
            bundles[site] = provision_device(store, files, secrets, site=site, device=f"{site}-01",
                                             broker_url=f"mqtt://127.0.0.1:{site_ports[site]}", ca=ca, actor="demo")
            write_bundle(bundles[site], workdir / "devices" / f"{site}-01.toml")
        accounts = store.devices.broker_accounts()
        files.write_accounts(accounts)
        processes.start("central-broker", [mosquitto, "-c", str(files.conf)], central)
        for site in SITES:
            site_files = configure_site(workdir / "sites" / site, site, f"mqtts://127.0.0.1:{central_tls}",
                                        accounts, ca, port=site_ports[site], bind="127.0.0.1")
            processes.start(f"{site}-broker", [mosquitto, "-c", str(site_files.conf)], site_ports[site])
        urls = []
        for n, replica in enumerate(REPLICAS):
            port = _free_port(api_port + n)
            processes.start(replica, [sys.executable, "-m", "facegate", "gateway", "run", "--db", db, "--replica",
                                      replica, "--mqtt", f"mqtt://127.0.0.1:{central}", "--broker-dir",
                                      str(broker_dir), "--secrets-dir", str(secrets_dir), "--port", str(port)], port)
            urls.append(f"http://127.0.0.1:{port}")

        edge_config = load_config(None)
        pack = open_pack(edge_config)
        _, stream = prepare(workdir / "edge", pack, edge_config)
        enroller = Enroller(store, secrets, {pack.name: pack}, edge_config.quality, actor="demo")
        for request in requests_from(workdir / "edge" / "enrol", EnrolmentRequest(
                source="", subject="", purpose="gate", sites=list(SITES), notice_version="demo-1", channel="demo")):
            log.info("enrol %s", enroller.enrol(request).line())
        for site, bundle in bundles.items():
            config = edge_config.model_copy(deep=True)
            config.events.outbox = workdir / "edge" / site / "outbox.db"
            config.events.gallery = workdir / "edge" / site / "gallery.enc"
            gate = threading.Thread(target=_replay_gate, args=(bundle, config, pack, stream, stop), daemon=True)
            gate.start()
            gates.append(gate)

        print(f"\nFaceGate scaled out: PostgreSQL ({pg.url('facegate').split('@')[1]}), the central broker "
              f"(certificates on {central_tls}), replicas {', '.join(REPLICAS)} at {' and '.join(urls)}, and sites "
              f"{', '.join(SITES)} each with its own broker bridged over TLS and a gate.\n"
              f"Log in at either address as operator, supervisor, admin or auditor; password {DEMO_PASSWORD!r}.\n"
              f"Logs: {workdir / 'logs'}.  Ctrl-C stops everything.", flush=True)
        while True:
            counts = {site: len(store.events.query(EventQuery(site=site, kind="verdict", limit=1000)))
                      for site in SITES}
            if exit_when_stored and all(c >= exit_when_stored for c in counts.values()):
                log.info("verdicts stored per site: %s; %s", counts, verify(store, anchor).line())
                return 0
            time.sleep(1.0)
    except KeyboardInterrupt:
        log.info("stopping: gates, replicas, brokers, PostgreSQL")
        return 0
    finally:
        stop.set()
        for gate in gates:
            gate.join(timeout=30)
        processes.stop()
        pg.stop()
