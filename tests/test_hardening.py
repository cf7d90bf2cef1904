"""The attacks that worked on release 1, each tried again through the real broker and the real HTTP app.

One test per finding of the gateway-hardening issue; each failed on release 1 (488ee3e).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import zlib
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from gateway.storage import Store
from stack import PASSWORD, REPO, DeviceClient, GatewayProcess, Stack, sql, wait_for
from wire import HeartbeatEvent, sign_event, uuid7
from wire.events import ExamFlagEvent, ExamSessionEvent
from wire.signing import canonical_json
from wire.topics import cmd_topic, event_topic


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("hardening"), new_db("hardening"))
    s.add_device("gate-h1", "site-h")
    s.add_device("gate-h2", "site-h")
    s.add_device("exam-c1", "centre-c", kind="exam")
    s.add_device("exam-c2", "centre-c", kind="exam")
    s.add_device("gate-x1", "site-x")
    yield s
    s.close()


def next_seq(stack: Stack, device: str) -> int:
    return stack.store.devices.get(device).last_seq + 1


def stored(stack: Stack, event_id: str) -> bool:
    return stack.get(f"/api/events/{event_id}").status_code == 200


def rejected(stack: Stack, reason: str) -> int:
    return stack.metrics()["ingest"]["rejected"].get(reason, 0)


def heartbeat(device: DeviceClient, seq: int, **overrides) -> HeartbeatEvent:
    fields = dict(id=str(uuid7()), site=device.bundle.site, device=device.bundle.device, seq=seq,
                  captured_at=datetime.now(timezone.utc), fps=25.0, stage_ms={"detect": 4.0}, frames=100,
                  frames_dropped=0, outbox_depth=0, outbox_refused=0, gallery_version="1", gallery_size=0,
                  liveness_enabled=False, uptime_s=1.0)
    return HeartbeatEvent(**(fields | overrides))


# -- ingest never wedges -------------------------------------------------------------------------------------


def costs_one_message(stack: Stack, make_poison, reason: str) -> None:
    """gate-h1 sends the poison `make_poison(client)` returns; gate-h2's next event must still be stored, and the
    poison counted under `reason`."""
    d1, d2 = DeviceClient(stack, "gate-h1"), DeviceClient(stack, "gate-h2")
    try:
        before = rejected(stack, reason)
        d1.publish(make_poison(d1))
        good = d2.event(next_seq(stack, "gate-h2"))
        d2.publish(sign_event(good, d2.key))
        wait_for(lambda: stored(stack, good.id), 10, "the next device's event")
        assert rejected(stack, reason) == before + 1
    finally:
        d1.close()
        d2.close()


def test_an_integer_out_of_range_costs_one_message_not_the_stream(stack):
    """Release 1: a signed seq of 2**70 overflowed SQLite's integer; the batch was retried for ever."""
    def poison(device: DeviceClient) -> bytes:
        body = device.event(next_seq(stack, "gate-h1")).model_dump(mode="json") | {"seq": 2**70}
        return json.dumps({"body": body, "sig": device.key.sign(canonical_json(body))}).encode()
    costs_one_message(stack, poison, "invalid")


def test_a_deeply_nested_payload_costs_one_message_and_shows_in_the_metrics(stack):
    """Release 1: unsigned nesting under 64 KiB made json.loads recurse out; ingest retried it for ever,
    across restarts, and the metrics said nothing."""
    costs_one_message(stack, lambda device: b'{"body": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "too_deep")
    # The broker keeps nothing for the gateway to choke on after a restart either.
    stack.gateway.kill(signal.SIGKILL)
    stack.gateway.start()
    stack._tokens.clear()
    d2 = DeviceClient(stack, "gate-h2")
    try:
        after = d2.event(next_seq(stack, "gate-h2"))
        d2.publish(sign_event(after, d2.key))
        wait_for(lambda: stored(stack, after.id), 15, "an event after the restart")
    finally:
        d2.close()


def test_a_message_the_database_refuses_is_quarantined_and_the_rest_stored(stack):
    """Whatever nobody foresaw -- here a row the database refuses -- costs that one message: it is kept with its
    bytes in quarantine (metrics, API), the device may forget it, and the batch around it is stored."""
    poison(stack.store, "subject = 'poison'")  # a storage failure no check foresees
    device = DeviceClient(stack, "gate-h1")
    acks: list[bytes] = []
    device.client.message_callback_add(cmd_topic("site-h", "gate-h1", "ack"), lambda c, u, m: acks.append(m.payload))
    device.client.subscribe(cmd_topic("site-h", "gate-h1", "ack"), qos=1)
    try:
        seq = next_seq(stack, "gate-h1")
        events = [device.event(seq), device.event(seq + 1, subject="poison"), device.event(seq + 2)]
        for e in events:
            device.publish(sign_event(e, device.key))
        wait_for(lambda: stored(stack, events[2].id), 10, "the event after the poisoned one")
        assert stored(stack, events[0].id) and not stored(stack, events[1].id)
        metrics = wait_for(lambda: (m := stack.metrics())["quarantined_total"] and m, 10, "the quarantine count")
        assert metrics["ingest"]["quarantined"] >= 1
        [kept] = [q for q in stack.get("/api/quarantine", role="auditor").json() if q["device"] == "gate-h1"]
        assert kept["reason"] == "store_failed" and "poisoned row" in kept["error"]
        # The device is told it may forget it: it is kept here.
        wait_for(lambda: any(seq + 1 in _seqs(a) for a in acks), 10, "the ack naming the quarantined event")
    finally:
        device.close()
        cure(stack.store)


def poison(store, condition: str) -> None:
    """Make the database itself refuse to insert an event matching `condition` ('poisoned row')."""
    if store.db.postgres:
        sql(store, "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
                   f"{condition.replace('subject', 'NEW.subject')} THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                   "RETURN NEW; END $$")
        sql(store, "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()")
    else:
        sql(store, f"CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.{condition} "
                   "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")


def cure(store) -> None:
    sql(store, "DROP TRIGGER poison" + (" ON events" if store.db.postgres else ""))
    if store.db.postgres:
        sql(store, "DROP FUNCTION poison()")


def _seqs(payload: bytes) -> list[int]:
    return [s for first, last in json.loads(payload)["ranges"] for s in range(first, last + 1)]


# -- one device cannot rewrite another's exam records --------------------------------------------------------


def test_one_device_cannot_rewrite_anothers_exam_records(stack):
    """Release 1: a gate device at another site reused a session id and rewrote the session."""
    owner, rival, gate = (DeviceClient(stack, d) for d in ("exam-c1", "exam-c2", "gate-x1"))
    now = datetime.now(timezone.utc)
    session = str(uuid7())
    common = dict(session=session, candidate="cand-1", exam_type="theory", stage="theory", started_at=now)
    try:
        seq = next_seq(stack, "exam-c1")
        mine = ExamSessionEvent(id=str(uuid7()), site="centre-c", device="exam-c1", seq=seq, captured_at=now,
                                checkin="passed", checkin_score=0.8, **common)
        flag = ExamFlagEvent(id=str(uuid7()), site="centre-c", device="exam-c1", seq=seq + 1, captured_at=now,
                             session=session, flag="flag-c1", flag_kind="face_mismatch", start=now, confidence=0.9,
                             severity="high")
        for e in (mine, flag):
            owner.publish(sign_event(e, owner.key), topic=event_topic("centre-c", "exam-c1", e.kind))
        wait_for(lambda: stack.get(f"/api/exam/sessions/{session}", role="supervisor").status_code == 200, 10,
                 "the session")
        before = {r: rejected(stack, r) for r in ("not_exam_device", "foreign_session")}
        forged = ExamSessionEvent(id=str(uuid7()), site="site-x", device="gate-x1", seq=next_seq(stack, "gate-x1"),
                                  captured_at=now, checkin="failed", reason="forged", **common)
        gate.publish(sign_event(forged, gate.key), topic=event_topic("site-x", "gate-x1", "exam.session"))
        closing = ExamFlagEvent(id=str(uuid7()), site="centre-c", device="exam-c2", seq=next_seq(stack, "exam-c2"),
                                captured_at=now, session=session, flag="flag-c1", flag_kind="face_mismatch",
                                start=now, end=now, confidence=0.1, severity="low", detail="forged")
        rival.publish(sign_event(closing, rival.key), topic=event_topic("centre-c", "exam-c2", "exam.flag"))
        wait_for(lambda: rejected(stack, "not_exam_device") > before["not_exam_device"]
                 and rejected(stack, "foreign_session") > before["foreign_session"], 10, "both refusals")
        view = stack.get(f"/api/exam/sessions/{session}", role="supervisor").json()
        assert view["checkin"] == "passed" and view["device"] == "exam-c1" and view["reason"] != "forged"
        [kept] = view["flag_list"]
        assert kept["end"] is None and kept["severity"] == "high" and kept["detail"] != "forged"
    finally:
        for d in (owner, rival, gate):
            d.close()


def test_exam_events_are_only_for_exam_roles_on_every_route(stack):
    """Release 1: operators and auditors read exam data through /api/events."""
    exam_events = stack.get("/api/events", kind="exam.session", role="supervisor").json()["events"]
    assert exam_events, "the previous test stored exam events"
    for role in ("operator", "auditor"):
        assert stack.get("/api/events", kind="exam.session", role=role).json()["events"] == []
        assert all(not e["kind"].startswith("exam.") for e in stack.get("/api/events", role=role).json()["events"])
        assert stack.get(f"/api/events/{exam_events[0]['id']}", role=role).status_code == 404
    assert stack.get(f"/api/events/{exam_events[0]['id']}", role="admin").status_code == 200


# -- a device's clock --------------------------------------------------------------------------------------


def test_a_device_clock_in_the_past_loses_nothing(stack):
    """Release 1: events captured in 2001 were stored, acknowledged, and deleted by retention a minute later."""
    device = DeviceClient(stack, "gate-h2")
    long_ago = datetime(2001, 1, 1, tzinfo=timezone.utc)
    try:
        seq = next_seq(stack, "gate-h2")
        old = device.event(seq, captured_at=long_ago)
        device.publish(sign_event(old, device.key))
        device.publish(sign_event(heartbeat(device, seq + 1, captured_at=long_ago), device.key),
                       topic=event_topic("site-h", "gate-h2", "heartbeat"))
        wait_for(lambda: stored(stack, old.id), 10, "the old event")
    finally:
        device.close()
    assert stack.get(f"/api/events/{old.id}").json()["clock_suspect"] is True
    run = subprocess.run([sys.executable, "-m", "facegate", "retention", "run", "--db", stack.db, "--secrets-dir",
                          str(stack.root / "secrets")],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert stored(stack, old.id), "retention deleted an event the gateway received today"
    skew = next(d for d in stack.get("/api/devices").json() if d["id"] == "gate-h2")["clock_skew_s"]
    assert skew > 20 * 365 * 86400  # the devices page shows it (tests/test_pages.py)


# -- HTTP ---------------------------------------------------------------------------------------------------


def test_request_bodies_are_limited_before_they_are_read(stack):
    """Release 1: a 200 MiB body cost 1 GiB before anyone was authenticated."""
    url = stack.gateway.base_url
    r = httpx.post(f"{url}/api/auth/token", content=b"{" + b" " * (4 * 1024 * 1024) + b"}",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413

    def endless():  # no Content-Length: counted as it arrives
        for _ in range(64):
            yield b" " * (256 * 1024)
    r = httpx.post(f"{url}/api/sites", content=endless(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_error_bodies_never_echo_what_was_sent(stack):
    """Release 1: a 422 echoed the input, passwords included."""
    secret = "hunter2-never-echo-me"
    r = httpx.post(f"{stack.gateway.base_url}/api/auth/token", json={"username": "admin-1", "password": [secret]})
    assert r.status_code == 422 and secret not in r.text
    r = stack.post("/api/sites", {"id": "Bad Site!", "name": secret})
    assert r.status_code == 422 and secret not in r.text and "Bad Site!" not in r.text


def test_logout_logs_out_and_cookie_changes_need_the_csrf_header(stack):
    """Release 1: "log out" cleared sessionStorage only; the token stayed valid and the cookie survived."""
    client = httpx.Client(base_url=stack.gateway.base_url, follow_redirects=False)
    r = client.post("/api/auth/token", json={"username": "admin-1", "password": PASSWORD})
    token, csrf = r.json()["access_token"], client.cookies["facegate_csrf"]
    assert client.get("/api/me").json()["name"] == "admin-1"  # the cookie reads
    # A change carried by the cookie alone -- what another site's form could make the browser send -- is refused.
    assert client.post("/api/sites", json={"id": "csrf-site", "name": "x"}).status_code == 403
    assert client.post("/api/sites", json={"id": "csrf-site", "name": "x"},
                       headers={"X-CSRF-Token": csrf}).status_code == 201
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert "facegate_token" not in client.cookies  # the server cleared it
    assert httpx.get(f"{stack.gateway.base_url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    stale = httpx.get(f"{stack.gateway.base_url}/gate", cookies={"facegate_token": token})
    # The page sends it to log in, saying the session ended, and back to the page afterwards.
    assert stale.status_code == 303 and stale.headers["location"] == "/login?expired=1&next=%2Fgate"
    actions = [r[0] for r in sql(stack, "SELECT action FROM audit WHERE target = 'admin-1' ORDER BY seq")]
    assert actions[-1] == "user.logout"


def test_a_live_stream_ends_when_its_session_is_revoked(stack):
    """Release 1: an open live stream kept delivering after its token expired."""
    r = httpx.post(f"{stack.gateway.base_url}/api/auth/token", json={"username": "operator-1", "password": PASSWORD})
    token = r.json()["access_token"]
    lines: list[str] = []
    done = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{stack.gateway.base_url}/api/events/stream", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as stream:
            for line in stream.iter_lines():
                lines.append(line)
        done.set()

    threading.Thread(target=listen, daemon=True).start()
    wait_for(lambda: lines, 10, "the stream to open")
    httpx.post(f"{stack.gateway.base_url}/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert done.wait(20), "the stream kept going after logout"
    assert "event: session-ended" in lines


def test_pages_and_api_send_security_headers_and_docs_need_no_cdn(stack):
    """Release 1: no security headers; /docs loaded Swagger UI from a CDN."""
    for path in ("/login", "/api/me", "/docs"):
        r = httpx.get(stack.gateway.base_url + path)
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert r.headers.get("referrer-policy") == "no-referrer", path
    docs = httpx.get(stack.gateway.base_url + "/docs").text
    assert "http://" not in docs and "https://" not in docs and "<script>" not in docs
    for asset in ("/static/swagger-ui-bundle.js", "/static/swagger-ui.css", "/static/docs.js"):
        assert httpx.get(stack.gateway.base_url + asset).status_code == 200, asset


def test_an_enrolment_photo_is_measured_before_it_is_decoded(stack):
    """Release 1: an 875 kB PNG of 20000 x 20000 pixels cost 20 s and 5.4 GiB before being refused.

    Decoding it takes 1.2 GB at least (20000 x 20000 x 3 bytes); the gateway's peak memory shows whether it did.
    """
    warm_up = stack.post("/api/subjects", {"subject": "warm-up", "sites": ["site-h"],  # loads the model pack
                                           "photo": base64.b64encode(_png_of_zeros(64, 64)).decode()})
    assert warm_up.status_code == 422
    peak_before = _peak_rss_mb(stack.gateway.proc.pid)
    bomb = _png_of_zeros(20_000, 20_000)
    assert len(bomb) < 1_000_000
    r = stack.post("/api/subjects", {"subject": "bomb", "sites": ["site-h"],
                                     "photo": base64.b64encode(bomb).decode()})
    assert r.status_code == 422 and "400 megapixels" in r.json()["detail"]
    assert _peak_rss_mb(stack.gateway.proc.pid) - peak_before < 300, "the photo was decoded before being measured"


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _png_of_zeros(width: int, height: int) -> bytes:
    """A valid greyscale PNG, compressed row by row (never held whole in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    compressor, row, parts = zlib.compressobj(9), b"\x00" * (width + 1), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


# -- files -------------------------------------------------------------------------------------------------


def test_files_holding_keys_templates_or_events_are_owner_only(stack, tmp_path):
    """Release 1: the gateway database and its -wal/-shm were 0644, and so were device outboxes."""
    from edge.link.outbox import Outbox

    root = stack.root
    files = [*root.glob("secrets/*.key"), root / "secrets" / "audit-anchor.json", root / "broker" / "passwd",
             root / "broker" / "acl", *root.glob("devices/*.toml")]
    if stack.store.path:  # SQLite; PostgreSQL keeps its files in its own data folder
        files += [stack.store.path, Path(f"{stack.store.path}-wal"), Path(f"{stack.store.path}-shm")]
    Outbox(tmp_path / "device" / "outbox.db").close()  # a device's outbox, as the edge creates it
    files += [tmp_path / "device" / "outbox.db"]
    for path in files:
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path}: {oct(path.stat().st_mode)}"
    for folder in (root / "secrets", root / "broker", tmp_path / "device"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_new_secrets_folder_is_owner_only_from_the_first_command(tmp_path):
    """Issue 25: `facegate pki init --secrets-dir NEW` (step 1 of deploy/README.md) left NEW 0755."""
    existing = tmp_path / "srv"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)  # a folder that was there: not FaceGate's to change
    new = existing / "var" / "secrets"
    run = subprocess.run([sys.executable, "-m", "facegate", "pki", "init", "--secrets-dir", str(new)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert (new / "pki" / "ca.key").exists()
    for folder in (existing / "var", new, new / "pki"):  # every folder it made
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, f"{folder}: {oct(folder.stat().st_mode)}"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755


def test_the_gateway_names_files_others_can_read_when_it_starts(stack, copy_gateway):
    copy, db = copy_gateway()
    exposed = Path(db) if stack.store.path else copy / "secrets"  # PostgreSQL: its files are not ours to check
    exposed.chmod(0o644)
    gateway = GatewayProcess(db, copy / "broker", None, copy / "gateway.log", secrets_dir=copy / "secrets")
    gateway.start()
    try:
        log = (copy / "gateway.log").read_text()
        assert f"{exposed} is readable or writable by other users" in log
    finally:
        gateway.kill(signal.SIGTERM)


# -- the audit chain's tail, and databases that are not the one the gateway wrote ------------------------------


@pytest.fixture
def copy_gateway(stack, tmp_path, request):
    """`copy_gateway()`: the stack's database and secrets copied, something to cut without harming the stack;
    (folder, database)."""

    def make() -> tuple[Path, str]:
        copy = tmp_path / "gw"
        copy.mkdir()
        # The anchor first: it only moves forward, so the database copied after it reaches at least as far.
        shutil.copytree(stack.root / "secrets", copy / "secrets")
        shutil.copytree(stack.root / "broker", copy / "broker", ignore=shutil.ignore_patterns("*.pid", "data"))
        if stack.store.path:
            with sqlite3.connect(stack.store.path) as db:
                db.execute(f"VACUUM INTO '{copy / 'gateway.db'}'")
            return copy, str(copy / "gateway.db")
        server = request.getfixturevalue("postgres")
        return copy, server.copy_database(make_url(stack.db).database, f"copy_{next(COPIES)}")

    return make


COPIES = itertools.count(1)


def _verify(copy: Path, db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facegate", "audit", "verify", "--db", db, "--secrets-dir",
                           str(copy / "secrets")], cwd=REPO, capture_output=True, text=True)


def _start(copy: Path, db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facegate", "gateway", "run", "--db", db, "--secrets-dir",
                           str(copy / "secrets"), "--no-ingest", "--port", "1"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_cutting_the_newest_audit_entries_is_detected(copy_gateway):
    """Release 1: delete the last N entries and their events, and `audit verify` said intact."""
    copy, db = copy_gateway()
    assert _verify(copy, db).returncode == 0
    store = Store.open(db)
    [(newest,)] = sql(store, "SELECT max(seq) FROM audit")
    cut = [r[0] for r in sql(store, "SELECT target FROM audit WHERE seq > ? AND action = 'event.stored'",
                             newest - 40)]
    sql(store, "DELETE FROM audit WHERE seq > ?", newest - 40)
    for event_id in cut:
        sql(store, "DELETE FROM events WHERE id = ?", event_id)
    store.db.close()
    result = _verify(copy, db)
    assert result.returncode == 1 and "entries were cut off" in result.stdout, result.stdout + result.stderr
    started = _start(copy, db)
    assert started.returncode == 2 and "--adopt-database" in started.stderr


def test_an_empty_or_corrupt_database_is_not_taken_for_a_fresh_install(stack, copy_gateway, new_db):
    """Release 1: an empty database passed as "intact: 0 entries" and the gateway started on it."""
    copy, db = copy_gateway()
    if stack.store.path:
        Path(db).unlink()
        Path(db).touch(mode=0o600)
    else:
        db = new_db("empty")
    result = _verify(copy, db)
    assert result.returncode == 1 and "cut off" in result.stdout
    started = _start(copy, db)
    assert started.returncode == 2 and "holds 0 audit entries" in started.stderr
    if stack.store.path:
        Path(db).write_bytes(b"not a database at all " * 100)
    else:
        db = db.rsplit("/", 1)[0] + "/no_such_database"
    result = _verify(copy, db)
    assert result.returncode == 1 and "BROKEN" in result.stdout and "Traceback" not in result.stderr


# -- logins ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flood_stack(tmp_path_factory, new_db):
    """A stack of its own: the flood locks this machine's address out for a while."""
    s = Stack.create(tmp_path_factory.mktemp("flood"), new_db("flood"))
    yield s
    s.close()


@pytest.mark.backends("sqlite")  # the API under a flood is the subject; its lockouts are audit entries, which
# every audited change writes the same way on PostgreSQL
def test_a_login_flood_neither_starves_the_api_nor_goes_unrecorded(flood_stack):
    """Release 1: 64 parallel bogus logins pushed every API call to ~30 s (each login held 64 MiB and a
    worker thread). Now logins hash on a small pool of their own, back off, and each lockout is audited."""
    stack = flood_stack
    token = stack.token("operator")  # logged in before the flood
    statuses: list[int] = []
    me: list[int] = []
    stop = threading.Event()

    def bogus() -> None:
        with httpx.Client(base_url=stack.gateway.base_url, timeout=120) as client:
            while not stop.is_set():
                statuses.append(client.post("/api/auth/token", json={"username": "admin-1",
                                                                      "password": "guess-" + str(len(statuses))}
                                            ).status_code)

    threads = [threading.Thread(target=bogus, daemon=True) for _ in range(64)]
    for t in threads:
        t.start()
    with httpx.Client(base_url=stack.gateway.base_url, timeout=120,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(20):
            me.append(client.get("/api/me").status_code)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert me == [200] * 20
    assert set(statuses) <= {401, 429} and 429 in statuses
    lockouts = sql(stack, "SELECT target FROM audit WHERE action = 'user.login.locked_out'")
    assert ("user:admin-1",) in lockouts and ("address:127.0.0.1",) in lockouts
    r = httpx.post(f"{stack.gateway.base_url}/api/auth/token", json={"username": "admin-1", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # even the right password waits
