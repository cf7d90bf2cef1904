"""`make demo`: the whole event path on one machine, nothing to install.

Starts the gateway (SQLite under the demo folder) with its embedded MQTT
broker, creates demo users and a site, provisions one gate device, enrols
four consenting people from insightface's sample photo at the gateway (which
sends the gate its encrypted gallery), and runs the edge demo stream
(edge/demo.py) on the gate: verdicts go through the device's outbox and the
broker into the gateway, where the API serves them. Each run starts clean.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn

from edge.bundle import write_bundle
from edge.camera import Camera
from edge.config import load_config
from edge.demo import ENROLLED, HEIGHT, NO_LIVENESS, WIDTH, prepare
from edge.gallery_sync import index_of
from edge.link import EventLink
from edge.pipeline import FacePipeline
from edge.runner import StatusLine, open_pack, print_json_line, run_edge
from gateway import audit
from gateway.auth import ROLES, Auth
from gateway.config import GatewayConfig
from gateway.secrets import GatewaySecrets
from gateway.service import build_gateway
from gateway.storage import Storage
from provisioning.broker import BrokerFiles
from provisioning.devices import add_site, provision_device
from provisioning.enrolment import Enroller, EnrolmentRequest, requests_from

log = logging.getLogger(__name__)

SITE, DEVICE = "demo-site", "gate-01"
DEMO_PASSWORD = "facegate-demo"  # printed at start; a demo folder is not a deployment


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_system_demo(workdir: Path, realtime: bool = True, keep_serving: bool = True, api_port: int = 8080) -> int:
    if workdir.exists():
        shutil.rmtree(workdir)  # start clean: a demo never inherits yesterday's state
    workdir.mkdir(parents=True)
    config = GatewayConfig(db=workdir / "gateway.db", broker_dir=workdir / "broker",
                           secrets_dir=workdir / "secrets", embedded_broker=True,
                           embedded_broker_port=_free_port(1883), port=_free_port(api_port))
    storage = Storage(config.db)
    auth = Auth(storage)
    for role in ROLES:
        auth.add_user(role, role, DEMO_PASSWORD)
    files = BrokerFiles(config.broker_dir)
    files.init(port=config.embedded_broker_port)
    add_site(storage, SITE, "FaceGate demo site")
    secrets = GatewaySecrets(config.secrets_dir)
    bundle = provision_device(storage, files, secrets, site=SITE, device=DEVICE,
                              broker_url=f"mqtt://127.0.0.1:{config.embedded_broker_port}")
    write_bundle(bundle, workdir / f"{DEVICE}.toml")

    server = uvicorn.Server(uvicorn.Config(build_gateway(config), host=config.host, port=config.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://{config.host}:{config.port}"
    log.info("gateway at %s (API docs %s/docs); logins: %s, password %r",
             url, url, ", ".join(ROLES), DEMO_PASSWORD)

    edge_config = load_config(None)
    edge_config.events.outbox = workdir / "edge" / "outbox.db"
    edge_config.events.gallery = workdir / "edge" / "gallery.enc"
    pack = open_pack(edge_config)
    _, stream = prepare(workdir / "edge", pack, edge_config)
    # The admin's part: enrol the consenting people at the gateway, which sends the gate its gallery.
    enroller = Enroller(storage, secrets, {pack.name: pack}, edge_config.quality, actor="demo")
    enrolled = set()
    for request in requests_from(workdir / "edge" / "enrol", EnrolmentRequest(
            source="", subject="", purpose="gate", sites=[SITE], notice_version="demo-1", channel="demo")):
        result = enroller.enrol(request)
        log.info("enrol %s", result.line())
        enrolled |= {result.subject} if result.enrolled else set()
    link = EventLink.open(bundle, edge_config, pack.name)
    try:
        deadline = time.monotonic() + 30
        while not (set(storage.latest_gallery(DEVICE)[1]) == enrolled
                   and link.gallery.version >= storage.latest_gallery(DEVICE)[0]):
            if time.monotonic() > deadline:
                raise RuntimeError("the gate got no gallery with the enrolled people from the gateway")
            time.sleep(0.1)
        index = index_of(link.gallery.current)
        log.info("gate %s: gallery v%d with %d people; stream %s (%dx%d)", DEVICE, link.gallery.version,
                 index.subject_count, stream, WIDTH, HEIGHT)
        log.warning(NO_LIVENESS)
        pipeline = FacePipeline(pack, index, edge_config)
        link.on_gallery = pipeline.use_gallery
        camera = Camera(str(stream), edge_config.camera, realtime=realtime)
        summary = run_edge(camera, pipeline, print_json_line, status=StatusLine(), events=link.events,
                           heartbeat_interval_s=5.0)
    finally:
        left = link.close(flush_timeout_s=10)
    stored = storage.count_events()
    report = audit.verify(storage)
    log.info("demo: %d verdicts for 6 people passing (%d enrolled); %d events stored at the gateway, %d left "
             "on the device; %s", summary.verdicts, ENROLLED, stored, left, report.line())
    if keep_serving:
        log.info("try: curl -s -X POST %s/api/auth/token -H 'content-type: application/json' "
                 "-d '{\"username\":\"operator\",\"password\":\"%s\"}'  -- then GET %s/api/events with the token. "
                 "Ctrl-C stops.", url, DEMO_PASSWORD, url)
        try:
            while thread.is_alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    server.should_exit = True
    thread.join(timeout=10)
    return 0 if left == 0 and report.ok else 1
