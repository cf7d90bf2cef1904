"""`make demo`: the whole event path on one machine, nothing to install.

Starts the gateway (SQLite under the demo folder) with its embedded MQTT
broker, creates demo users and a site, provisions a gate and an exam device,
enrols four consenting people from insightface's sample photo at the gateway
(which sends each device its encrypted gallery), runs the edge demo stream
(edge/node/demo.py) on the gate, and an exam session on the exam device in which
the candidate is replaced half-way. Everything goes through the devices'
outboxes and the broker into the gateway, whose pages and API then show it.
Each run starts clean.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import uvicorn

from edge.eval.synthetic import Sitter, desk_frames, face_patch
from edge.node.demo import ENROLLED, HEIGHT, NO_LIVENESS, WIDTH, prepare, sample_photo
from edge.node.exam_node import Session, build_exam
from edge.node.gate_node import build_gate
from edge.node.packs import open_pack
from edge.node.runner import StatusLine, print_json_line
from edge.settings import DoorSettings, load_config
from edge.vision.camera import Frame
from gateway.config import GatewayConfig
from gateway.server import build_gateway
from gateway.services.broker.mosquitto import BrokerFiles
from gateway.services.devices.registry import add_site, provision_device
from gateway.services.people.consent import grant
from gateway.services.people.enrolment import Enroller, EnrolmentRequest, requests_from
from gateway.services.security.audit import open_store, verify
from gateway.services.security.auth import STAFF, Auth
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Store
from models.photos import read_image
from wire import uuid7
from wire.bundle import write_bundle

log = logging.getLogger(__name__)

SITE, DEVICE, EXAM_DEVICE = "demo-site", "gate-01", "exam-01"
DEMO_PASSWORD = "facegate-demo"  # printed at start; a demo folder is not a deployment


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ExamDemo:
    supervisor: object
    left: int


def run_exam_demo(storage: Store, bundle, workdir: Path, pack, edge_config) -> ExamDemo:
    """An exam session on the exam device: Person-1 checks in, Person-2 takes the seat half-way."""
    grant(storage, "person-1", "exam", [SITE], "demo-1", "demo", actor="demo")
    config = edge_config.model_copy(deep=True)
    config.events.outbox = workdir / "outbox.db"
    config.events.gallery = workdir / "gallery.enc"
    config.exam.reverify_interval_s = 5.0  # a short demo session: check often
    device = build_exam(config, bundle, pack=pack)
    try:
        deadline = time.monotonic() + 30
        gallery = device.link.gallery
        while "person-1" not in (gallery.current.subjects if gallery.current else []):
            if time.monotonic() > deadline:
                raise RuntimeError("the exam device got no gallery with the candidate")
            time.sleep(0.1)
        photo = read_image(sample_photo())
        faces = pack.detector.detect(photo)
        order = np.argsort(faces.boxes[:, 0])
        candidate = face_patch(photo, faces.boxes[order[0]], 220)
        impostor = face_patch(photo, faces.boxes[order[1]], 220)
        supervisor = device.supervisor(Session("person-1", str(uuid7()), "theory", "theory", "A-01"))
        start = datetime.now(timezone.utc)
        seen = None
        for t, image in desk_frames([Sitter(candidate, 0, 15, 220, 120), Sitter(impostor, 15, 40, 220, 120)], 40):
            seen = device.station.see(Frame(int(t * 5), t, image), start + timedelta(seconds=t))
            supervisor.observe(seen)
        supervisor.end(seen, start + timedelta(seconds=40))
    finally:
        left = device.close(flush_timeout_s=10)
    return ExamDemo(supervisor, left)


class DemoDoor:
    """The demo gate's door: a webhook on this machine, as a door controller would take it, that logs each
    opening. The door is the hardware boundary; the demo has none, as it has no camera."""

    def __init__(self):
        door = self

        class Controller(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                order = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if order.get("action") == "open":
                    door.opened += 1
                    log.info("demo door: lane %s opened (%d so far)", order.get("lane"), door.opened)
                self.send_response(204)
                self.end_headers()

        self.opened = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Controller)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/door"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _replay_gate(bundle, edge_config, pack, stream: Path, stop: threading.Event) -> None:
    """People keep passing the demo gate: the stream again, in real time, every few seconds, until `stop`. Each
    pass is a new day at the gate (so nobody is still "inside": no passback)."""
    while not stop.wait(5.0):
        node = build_gate(edge_config, [str(stream)], bundle=bundle, realtime=True, pack=pack)
        try:
            node.run(lambda record: None, should_stop=stop.is_set, heartbeat_interval_s=5.0)
        finally:
            node.close(flush_timeout_s=5)


def _stop_on_sigterm() -> None:
    """`kill` stops the demo as cleanly as Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def run_system_demo(workdir: Path, realtime: bool = True, keep_serving: bool = True, api_port: int = 8080) -> int:
    _stop_on_sigterm()
    if workdir.exists():
        shutil.rmtree(workdir)  # start clean: a demo never inherits yesterday's state
    workdir.mkdir(parents=True)
    config = GatewayConfig(db=str(workdir / "gateway.db"), broker_dir=workdir / "broker",
                           secrets_dir=workdir / "secrets", embedded_broker=True,
                           embedded_broker_port=_free_port(1883), port=_free_port(api_port))
    storage, anchor = open_store(config.db, config.secrets_dir)
    auth = Auth(storage)
    for role in STAFF:
        auth.add_user(role, role, DEMO_PASSWORD)
    files = BrokerFiles(config.broker_dir)
    files.init(port=config.embedded_broker_port)
    add_site(storage, SITE, "FaceGate demo site")
    secrets = GatewaySecrets(config.secrets_dir)
    bundle = provision_device(storage, files, secrets, site=SITE, device=DEVICE,
                              broker_url=f"mqtt://127.0.0.1:{config.embedded_broker_port}")
    write_bundle(bundle, workdir / f"{DEVICE}.toml")
    exam_bundle = provision_device(storage, files, secrets, site=SITE, device=EXAM_DEVICE, kind="exam",
                                   broker_url=f"mqtt://127.0.0.1:{config.embedded_broker_port}")
    write_bundle(exam_bundle, workdir / f"{EXAM_DEVICE}.toml")

    server = uvicorn.Server(uvicorn.Config(build_gateway(config), host=config.host, port=config.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://{config.host}:{config.port}"
    log.info("gateway at %s (API docs %s/docs); logins: %s, password %r",
             url, url, ", ".join(STAFF), DEMO_PASSWORD)

    edge_config = load_config(None)
    edge_config.events.outbox = workdir / "edge" / "outbox.db"
    edge_config.events.gallery = workdir / "edge" / "gallery.enc"
    edge_config.liveness.enabled = False  # NO_LIVENESS, said out loud: the door opens on grants without it
    door = DemoDoor()
    edge_config.doors = [DoorSettings(lane=1, kind="webhook", url=door.url, direction="in", pulse_ms=800)]
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
    node = build_gate(edge_config, [str(stream)], bundle=bundle, realtime=realtime, pack=pack)
    try:
        deadline = time.monotonic() + 30
        while not (set(storage.galleries.latest(DEVICE).members) == enrolled
                   and node.link.gallery.version >= storage.galleries.latest(DEVICE).version):
            if time.monotonic() > deadline:
                raise RuntimeError("the gate got no gallery with the enrolled people from the gateway")
            time.sleep(0.1)
        log.info("gate %s: gallery v%d with %d people; stream %s (%dx%d)", DEVICE, node.link.gallery.version,
                 node.index.subject_count, stream, WIDTH, HEIGHT)
        log.warning(NO_LIVENESS)
        summary = node.run(print_json_line, status=StatusLine(), heartbeat_interval_s=5.0)
    finally:
        left = node.close(flush_timeout_s=10)
    exam = run_exam_demo(storage, exam_bundle, workdir / "exam", pack, edge_config)
    left += exam.left
    stored = storage.events.count()
    report = verify(storage, anchor)
    log.info("demo: %d verdicts for 6 people passing (%d enrolled), the door opened %d times; exam session: "
             "check-in %s, flags %s; %d events stored at the gateway, %d left on the devices; %s",
             summary.verdicts, ENROLLED, door.opened,
             exam.supervisor.checkin, [f.kind for f in exam.supervisor.flags] or "none", stored, left, report.line())
    if keep_serving:
        print(f"\nFaceGate demo is running: open {url}/ and log in as operator (live gate), supervisor "
              f"(exam review), admin (devices & people) or auditor (audit log); password {DEMO_PASSWORD!r}.\n"
              f"The gate keeps replaying its stream, so the live page keeps getting verdicts.\n"
              f"API docs: {url}/docs.  Ctrl-C stops everything; the next `make demo` starts clean.", flush=True)
        stop = threading.Event()
        replay = threading.Thread(target=_replay_gate, args=(bundle, edge_config, pack, stream, stop), daemon=True)
        replay.start()
        try:
            while thread.is_alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            log.info("stopping: the gate, the gateway, its ingest and the embedded broker")
        stop.set()
        replay.join(timeout=30)
    door.close()
    server.should_exit = True
    thread.join(timeout=10)
    return 0 if left == 0 and report.ok else 1
