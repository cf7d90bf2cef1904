"""An exam session end to end: exam device process, Mosquitto, gateway, supervisor review."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import tomllib
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from conftest import DATA
from gateway.i18n import catalogue
from stack import REPO, DeviceClient, Stack, wait_for
from edge.eval.synthetic import Sitter, desk_frames, face_patch, write_video
from wire import sign_event, uuid7
from wire.events import ExamSessionEvent

CELEBS = DATA / "faces" / "celebrities"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("exam"), new_db("exam"))
    s.add_device("exam-01", "centre-1", kind="exam")
    for subject, name, photo, purpose in (("cand-1", "Nguyễn Văn An", "img2.jpg", "exam"),
                                          ("gate-only", "gate-only", "img24.jpg", "gate")):
        r = s.post("/api/subjects", {"subject": subject, "display_name": name, "purpose": purpose, "sites": ["centre-1"],
                                     "photo": base64.b64encode((CELEBS / photo).read_bytes()).decode()})
        assert r.status_code == 201, r.text
    wait_for(lambda: "cand-1" in s.store.galleries.latest("exam-01").members, 10, "the candidate on exam-01")
    yield s
    s.close()


@pytest.fixture(scope="module")
def desk_video(pack, tmp_path_factory):
    """16 s at a desk: the candidate throughout, a second person leaning in from 5 s to 10 s."""
    def patch(name, height):
        image = cv2.imread(str(CELEBS / name))
        d = pack.detector.detect(image)
        return face_patch(image, d.boxes[int(np.argmax(d.scores))], height)
    sitters = [Sitter(patch("img1.jpg", 220), 0, 16, 220, 120), Sitter(patch("img16.jpg", 180), 5, 10, 450, 200)]
    path = tmp_path_factory.mktemp("video") / "desk.avi"
    return write_video(path, (frame for _, frame in desk_frames(sitters, 16, 10.0)), 10.0)


def exam_cmd(stack, workdir, candidate, source, *extra):
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "exam.toml"
    config.write_text(f'[events]\noutbox = "{workdir / "outbox.db"}"\ngallery = "{workdir / "gallery.enc"}"\n'
                      f'flush_on_exit_s = 3\n')
    who = ["--candidate", candidate] if candidate else []  # none: run the session the gateway sends
    return [sys.executable, "-m", "facegate", "exam", "run", "--bundle", str(stack.devices["exam-01"]), *who,
            "--source", str(source), "--config", str(config), *extra]


@pytest.fixture(scope="module")
def exam_01(tmp_path_factory):
    """exam-01's own folder: one device keeps one outbox, or its sequence numbers restart."""
    return tmp_path_factory.mktemp("exam-01")


@pytest.fixture(scope="module")
def session(stack, desk_video, exam_01):
    """Run the session; the broker goes down before it ends; the summary must still arrive."""
    workdir = exam_01
    proc = subprocess.Popen(exam_cmd(stack, workdir, "cand-1", desk_video, "--realtime"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = wait_for(lambda: [s for s in stack.get("/api/exam/sessions", role="supervisor").json()
                                if s["checkin"] == "passed"], 20, "the check-in at the gateway")[0]
    wait_for(lambda: stack.store.exams.flags(started["id"]), 15, "the multiple_faces flag at the gateway")
    stack.broker.kill(signal.SIGTERM)  # the centre's network goes down before the session ends
    out, err = proc.communicate(timeout=60)
    assert "multiple_faces" in out, err
    assert stack.get(f"/api/exam/sessions/{started['id']}", role="supervisor").json()["ended_at"] is None
    stack.broker.start()
    config = workdir / "exam.toml"
    flush = subprocess.run([sys.executable, "-m", "facegate", "edge", "flush", "--bundle", str(stack.devices["exam-01"]),
                            "--config", str(config)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert flush.returncode == 0, flush.stderr
    return started["id"]


def test_the_session_summary_reaches_the_gateway_across_a_broker_outage(stack, session):
    s = wait_for(lambda: (lambda r: r if r["ended_at"] else None)(
        stack.get(f"/api/exam/sessions/{session}", role="supervisor").json()), 30, "the summary")
    assert s["checkin"] == "passed" and s["candidate"] == "cand-1" and s["device"] == "exam-01"
    assert [c["reason"] for c in s["checks"]][0] == "checkin" and s["checks"][-1]["reason"] == "logout"
    [flag] = s["flag_list"]
    assert flag["kind"] == "multiple_faces" and flag["end"] and 3 <= flag["duration_s"] <= 7
    assert s["status"] == "needs review" and s["flag_counts"] == {"multiple_faces": 1}
    # Evidence: check-in and logout shots and the flag's, each decrypting to what the device signed.
    reasons = {e["reason"] for e in s["evidence_list"]}
    assert {"checkin", "logout", flag["id"]} <= reasons
    for e in s["evidence_list"]:
        r = stack.get(f"/api/exam/evidence/{e['id']}", role="supervisor")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert hashlib.sha256(r.content).hexdigest() == e["sha256"]
        assert cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR) is not None


def test_a_supervisor_reviews_flags_and_sets_the_verdict_an_operator_cannot(stack, session):
    [flag] = stack.get(f"/api/exam/sessions/{session}", role="supervisor").json()["flag_list"]
    body = {"decision": "confirmed", "note": "a second person leaned in and spoke"}
    assert stack.post(f"/api/exam/flags/{flag['id']}/review", body, role="operator").status_code == 403
    assert stack.post(f"/api/exam/flags/{flag['id']}/review", {"decision": "maybe", "note": "x"},
                      role="supervisor").status_code == 422
    for blank in ("", "   ", "\t\n "):  # a decision needs its reason in words
        assert stack.post(f"/api/exam/flags/{flag['id']}/review", {"decision": "confirmed", "note": blank},
                          role="supervisor").status_code == 422
        assert stack.post(f"/api/exam/sessions/{session}/verdict", {"verdict": "incident", "note": blank},
                          role="supervisor").status_code == 422
    r = stack.post(f"/api/exam/flags/{flag['id']}/review", body, role="supervisor")
    assert r.status_code == 200, r.text
    reviewed = r.json()
    assert (reviewed["review"], reviewed["reviewed_by"]) == ("confirmed", "supervisor-1") and reviewed["reviewed_at"]
    s = stack.get(f"/api/exam/sessions/{session}", role="admin").json()
    assert s["status"] == "confirmed incident" and s["verdict"] is None  # the machine never sets a verdict
    r = stack.post(f"/api/exam/sessions/{session}/verdict", {"verdict": "incident", "note": "exam voided"},
                   role="supervisor")
    assert r.status_code == 200 and r.json()["verdict_by"] == "supervisor-1"
    report = stack.get(f"/api/exam/sessions/{session}/report", role="supervisor")
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    words = catalogue("vi").gettext  # a document for people: in the pages' language (the default: Vietnamese)
    for text in ("cand-1", words("confirmed"), "a second person leaned in and spoke", "supervisor-1", words("incident")):
        assert text in report.text
    assert stack.get(f"/api/exam/sessions/{session}/report", role="operator").status_code == 403
    actions = [e["action"] for e in stack.get("/api/audit", role="auditor", limit=1000).json()]
    assert "exam.flag.confirmed" in actions and "exam.verdict" in actions and "exam.evidence.read" in actions
    # Everything about the session, its flag's review with it: the review's target is the session, not the flag.
    about = stack.get("/api/audit", role="auditor", target=session, who="people").json()
    assert ["exam.verdict", "exam.flag.confirmed"] == [e["action"] for e in about][:2]
    assert about[1]["detail"] == {"flag": flag["id"], "kind": flag["kind"], "note": body["note"], "amended": False}


def test_a_candidate_without_exam_consent_cannot_start_a_session(stack, session, desk_video, exam_01):
    result = subprocess.run(exam_cmd(stack, exam_01, "gate-only", desk_video), cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "FACEGATE_EXAM__GALLERY_WAIT_S": "2"})
    assert result.returncode == 2 and "has no template on this device" in result.stderr
    assert "waiting up to 2s" in result.stderr  # a bounded wait for a gallery that might hold them, first
    refused = wait_for(lambda: [s for s in stack.get("/api/exam/sessions", role="supervisor").json()
                                if s["candidate"] == "gate-only"], 10, "the refusal at the gateway")
    assert refused[0]["checkin"] == "refused"


def test_a_session_created_at_the_gateway_runs_on_the_device(stack, session, desk_video, exam_01):
    refused = stack.post("/api/exam/sessions", {"device": "exam-01", "candidate": "gate-only"}, role="supervisor")
    assert refused.status_code == 422 and "no live exam consent" in refused.json()["detail"]
    created = stack.post("/api/exam/sessions", {"device": "exam-01", "candidate": "cand-1", "seat": "A-07"},
                         role="supervisor")
    assert created.status_code == 201, created.text
    session_id = created.json()["session"]
    # Its exam timings from the centre (issue 29): the device keeps them for its next start, one session a process.
    local = tomllib.loads((exam_01 / "exam.toml").read_text())
    timed = stack.put("/api/devices/exam-01/config", {"document": {**local, "exam": {"reverify_interval_s": 15.0}}})
    assert timed.status_code == 201, timed.text
    result = subprocess.run(exam_cmd(stack, exam_01, None, desk_video, "--wait", "20"), cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert session_id in result.stdout
    s = wait_for(lambda: (lambda r: r if r["ended_at"] else None)(
        stack.get(f"/api/exam/sessions/{session_id}", role="supervisor").json()), 20, "the session's summary")
    assert (s["candidate"], s["seat"], s["checkin"], s["created_by"]) == ("cand-1", "A-07", "passed", "user:supervisor-1")
    # It ran: the gateway cleared the command, so the device does not run it again.
    again = subprocess.run(exam_cmd(stack, exam_01, None, desk_video, "--wait", "3"), cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "no exam session from the gateway" in again.stderr
    config = stack.get("/api/devices/exam-01/config", role="auditor").json()  # the second run started on it
    assert (config["running"], config["latest"]["outcome"], config["latest"]["how"]) == (1, "applied", "start")


def test_a_session_not_yet_run_is_not_started_never_clean_one_at_a_time_and_can_be_cancelled(stack, session, desk_video,
                                                                                               exam_01):
    """Issue 27's review-page defects: a session that never ran showed a green "clean" light and "in progress";
    two sessions at once were accepted for one candidate on one device, and none could be cancelled; the list
    showed ids, not names; the light ignored the verdict."""
    created = stack.post("/api/exam/sessions", {"device": "exam-01", "candidate": "cand-1", "seat": "A-09"},
                         role="supervisor")
    assert created.status_code == 201, created.text
    waiting = created.json()["session"]
    s = stack.get(f"/api/exam/sessions/{waiting}", role="supervisor").json()
    assert (s["status"], s["verdict"], s["ended_at"]) == ("not started", None, None)
    again = stack.post("/api/exam/sessions", {"device": "exam-01", "candidate": "cand-1"}, role="supervisor")
    assert again.status_code == 409 and "already has a session that has not ended" in again.json()["detail"]
    [listed] = [r for r in stack.get("/api/exam/sessions", role="supervisor").json() if r["id"] == waiting]
    assert listed["candidate_name"] == "Nguyễn Văn An"  # the name, not the id
    assert stack.get("/api/exam/sessions", role="supervisor", status="not started").json()[0]["id"] == waiting
    assert stack.post(f"/api/exam/sessions/{waiting}/cancel", {"note": " "}, role="supervisor").status_code == 422
    cancelled = stack.post(f"/api/exam/sessions/{waiting}/cancel", {"note": "absent: moved to the 13:30 slot"},
                           role="supervisor")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["verdict"]) == ("void", "void")  # the light follows it
    assert stack.post(f"/api/exam/sessions/{waiting}/cancel", {"note": "again"}, role="supervisor").status_code == 409
    [entry] = stack.get("/api/audit", role="auditor", action="exam.session.cancelled", limit=5).json()
    assert entry["target"] == waiting and entry["actor"] == "user:supervisor-1"
    # Withdrawn from the broker: the device finds no session to run.
    result = subprocess.run(exam_cmd(stack, exam_01, None, desk_video, "--wait", "3"), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no exam session from the gateway" in result.stderr
    # A session that ran keeps the light its flags give until a person's verdict decides it.
    ran = stack.get(f"/api/exam/sessions/{session}", role="supervisor").json()
    assert ran["status"] != "not started" and ran["status"] == {"incident": "confirmed incident", None: ran["status"]}[
        ran["verdict"]]


def test_a_session_started_before_its_candidates_gallery_arrived_waits_for_it_and_runs(stack, pack, exam_01,
                                                                                       tmp_path):
    """Issue 25: a session started on the device right after its candidate's enrolment was refused at once ("no
    template on this device"). The device now waits for the gateway's gallery that holds the candidate."""
    image = cv2.imread(str(CELEBS / "img13.jpg"))
    d = pack.detector.detect(image)
    face = face_patch(image, d.boxes[int(np.argmax(d.scores))], 220)
    video = write_video(tmp_path / "desk.avi", (frame for _, frame in desk_frames([Sitter(face, 0, 8, 220, 120)], 8,
                                                                                  10.0)), 10.0)
    proc = subprocess.Popen(exam_cmd(stack, exam_01, "late-cand", video), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # before the candidate is enrolled
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("late-cand is not in this device's gallery" in line for line in log), 60,
                 "the device to say it waits for the candidate's gallery")
        r = stack.post("/api/subjects", {"subject": "late-cand", "purpose": "exam", "sites": ["centre-1"],
                                         "photo": base64.b64encode((CELEBS / "img13.jpg").read_bytes()).decode()})
        assert r.status_code == 201, r.text
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 0, "".join(log)
    finally:
        proc.kill()
    assert "check-in passed" in out
    s = wait_for(lambda: next((s for s in stack.get("/api/exam/sessions", role="supervisor").json()
                               if s["candidate"] == "late-cand" and s["ended_at"]), None), 20, "the session")
    assert s["checkin"] == "passed"


def test_a_device_clock_far_off_is_kept_and_flagged_technical(stack):
    device = DeviceClient(stack, "exam-01")
    skewed = datetime.now(timezone.utc) - timedelta(minutes=10)
    event = ExamSessionEvent(id=str(uuid7()), site="centre-1", device="exam-01",
                             seq=stack.store.devices.get("exam-01").last_seq + 1, captured_at=skewed,
                             session="skewed-session", candidate="cand-1", exam_type="theory", stage="theory",
                             started_at=skewed, checkin="pending")
    device.publish(sign_event(event, device.key), topic="facegate/v1/centre-1/exam-01/events/exam.session")
    device.close()
    s = wait_for(lambda: stack.store.exams.session("skewed-session"), 10, "the skewed session")
    assert s.clock_skew_s >= 590
    [flag] = stack.store.exams.flags("skewed-session")
    assert flag.kind == "technical" and "clock" in flag.detail
    stored = stack.get(f"/api/events/{event.id}").json()
    assert stored["captured_at"].startswith(skewed.strftime("%Y-%m-%dT%H:%M")) and stored["received_at"]
    assert json.dumps(s.__dict__)  # both times are kept: the device's in the event, the gateway's beside it


def test_the_light_follows_a_persons_verdict_and_a_session_not_run_is_never_clean():
    """Issue 27: a voided session showed green; one that never ran showed clean."""
    from gateway.services.exams.sessions import status
    from gateway.storage import ExamFlag, ExamSession

    def session(ran: bool = True, **changes) -> ExamSession:
        run = {"checkin": "passed", "checks_total": 9} if ran else {}
        return ExamSession(id="s", site="c", device="d", candidate="x", exam_type="theory", stage="theory", seat=None,
                           started_at="2027-03-15T00:30:00.000Z", **run, **changes)

    flag = ExamFlag(id="f", session="s", device="d", kind="multiple_faces", start="2027-03-15T00:35:00.000Z",
                    end=None, duration_s=None, confidence=0.9, severity="high", detail="")
    assert status(session(ran=False), []) == "not started"
    assert status(session(ended_at="2027-03-15T00:50:00.000Z"), [flag]) == "needs review"
    assert status(session(verdict="void"), [flag]) == "void"
    assert status(session(verdict="clean"), [flag]) == "clean"  # the person looked and decided
    assert status(session(verdict="incident"), []) == "confirmed incident"
