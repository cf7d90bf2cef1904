"""Provisioning and consent end to end: enrol, distribute, match, withdraw, erase -- Mosquitto, gateway, edge processes."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from conftest import DATA, sample_t1
from wire.bundle import load_bundle
from stack import REPO, Stack, connect_result, edge_run_over_clip, everything_stored, sql, start_edge, verdict_lines, wait_for
from wire.events import utc_text
from wire.gallery import open_gallery

CELEBS = DATA / "faces" / "celebrities"
HAMILTON = ("alex-lacamoire", "lin-manuel-miranda")


def granted(verdicts: list[dict]) -> Counter:
    return Counter(v["subject"] for v in verdicts if v["verdict"] == "granted")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("consent"), new_db("consent"))
    s.add_device("gate-01", "site-a", kind="gate")
    s.add_device("exam-01", "site-a", kind="exam")
    s.add_device("gate-09", "site-b", kind="gate")
    yield s
    s.close()


@pytest.fixture(scope="module")
def gate_01(tmp_path_factory):
    """gate-01's own folder (outbox, gallery): one device keeps one outbox, or its sequence numbers restart."""
    return tmp_path_factory.mktemp("gate-01")


@pytest.fixture(scope="module")
def manifest(stack, tmp_path_factory):
    """A CSV of good and bad rows, with the files it names."""
    d = tmp_path_factory.mktemp("photos")
    for person in HAMILTON:
        (d / f"{person}.png").write_bytes((DATA / "video" / f"{person}.png").read_bytes())
    (d / "notes.txt").write_text("not a photo")
    (d / "corrupt.jpg").write_bytes((CELEBS / "img1.jpg").read_bytes()[:300])
    cv2.imwrite(str(d / "grey.jpg"), cv2.cvtColor(cv2.imread(str(CELEBS / "img3.jpg")), cv2.COLOR_BGR2GRAY))
    rgba = cv2.cvtColor(cv2.imread(str(CELEBS / "img22.jpg")), cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(d / "alpha.png"), rgba)
    cv2.imwrite(str(d / "tiny.jpg"), cv2.resize(cv2.imread(str(CELEBS / "img16.jpg")), (48, 48)))
    cv2.imwrite(str(d / "empty-wall.jpg"), np.full((480, 640, 3), 128, np.uint8))
    huge = np.zeros((6500, 8000, 3), np.uint8)  # 52 megapixels
    cv2.imwrite(str(d / "huge.jpg"), huge, [cv2.IMWRITE_JPEG_QUALITY, 50])
    (d / "t1.jpg").write_bytes(sample_t1().read_bytes())
    for img in ("img20.jpg", "img21.jpg", "img12.jpg"):
        (d / img).write_bytes((CELEBS / img).read_bytes())
    rows = [
        "photo,subject,display_name,id_card,purpose,sites,notice_version,channel,expires_at",
        "alex-lacamoire.png,alex,Alex Lacamoire,001234567890,gate,site-a,v2,counter,",
        "lin-manuel-miranda.png,lin,Lin-Manuel Miranda,009876543210,gate,site-a;site-b,v2,kiosk,",
        "img20.jpg,exam-only,Exam Candidate,,exam,site-a,v2,counter,",
        "grey.jpg,grey,Grey Photo,,gate,site-a,v2,counter,",
        "alpha.png,alpha,Alpha Photo,,gate,site-a,v2,counter,",
        "notes.txt,notes,,,gate,site-a,v2,counter,",
        "corrupt.jpg,corrupt,,,gate,site-a,v2,counter,",
        "huge.jpg,huge,,,gate,site-a,v2,counter,",
        "empty-wall.jpg,nobody,,,gate,site-a,v2,counter,",
        "t1.jpg,group,,,gate,site-a,v2,counter,",
        "tiny.jpg,tiny,,,gate,site-a,v2,counter,",
        "img12.jpg,alex,,,gate,site-a,v2,counter,",  # subject id taken
        "img21.jpg,same-face,,,gate,site-a,v2,counter,",  # the person of img20 again
        "img12.jpg,late,,,gate,site-a,v2,counter,2020-01-01",
        "img12.jpg,elsewhere,,,gate,site-zz,v2,counter,",
        "alex-lacamoire.png,alex-again,,001234567890,gate,site-a,v2,counter,",  # same card (and face)
    ]
    (d / "people.csv").write_text("\n".join(rows) + "\n")
    return d / "people.csv"


@pytest.fixture(scope="module")
def enrolled(stack, manifest):
    result = subprocess.run([sys.executable, "-m", "facegate", "enrol", str(manifest), "--db", stack.db,
                             "--broker-dir", str(stack.files.dir), "--secrets-dir", str(stack.root / "secrets")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    return result


def test_bulk_enrolment_reports_each_row_and_writes_only_whole_enrolments(stack, enrolled):
    assert enrolled.returncode == 1  # some rows were refused
    lines = {line.split("\t")[0].split(":")[-1]: line for line in enrolled.stdout.splitlines() if "\t" in line}
    assert all("enrolled" in lines[str(n)] and "REJECTED" not in lines[str(n)] for n in (2, 3, 4, 5, 6)), lines
    expect = {7: "not an image file", 8: "cannot decode", 9: "too large", 10: "no face", 11: "faces found",
              12: "eye distance", 13: "already exists", 14: "same face as enrolled subject exam-only",
              15: "already expired", 16: "unknown site", 17: "ID card is already enrolled as subject alex"}
    for row, reason in expect.items():
        assert "REJECTED" in lines[str(row)] and reason in lines[str(row)], lines[str(row)]
    assert "5 of 16 enrolled, 11 rejected" in enrolled.stdout
    # Nothing half-written: exactly the five subjects, each with a template and a consent.
    subjects = {s["id"]: s for s in stack.get("/api/subjects").json()}
    assert set(subjects) == {"alex", "lin", "exam-only", "grey", "alpha"}
    assert all(s["packs"] == ["buffalo_s"] and len(s["consents"]) == 1 for s in subjects.values())
    assert subjects["lin"]["consents"][0]["sites"] == ["site-a", "site-b"]
    # A page of them: from an offset, not beyond what a database integer holds (test_fuzz found 2**63 a 500).
    assert [s["id"] for s in stack.get("/api/subjects", limit=2, offset=1).json()] == sorted(subjects)[1:3]
    assert stack.get("/api/subjects", offset=2**63).status_code == 422
    # The ID-card number is nowhere in the database.
    assert "001234567890" not in everything_stored(stack.store)


def test_devices_get_exactly_the_consented_subjects_for_their_site_and_purpose(stack, enrolled):
    # The pusher may publish a gallery while the enrolments are still arriving: wait for the one that follows them.
    expected = {"gate-01": 4,  # alex, lin, grey, alpha: gate consents at site-a
                "gate-09": 1,  # lin only: the one consent covering site-b
                "exam-01": 1}  # exam-only, never on a gate
    sizes = {}

    def settled():
        sizes.update({d["id"]: d["gallery_size"] for d in stack.get("/api/devices").json()})
        return sizes == expected
    try:
        wait_for(settled, 15, "each device's gallery of exactly its consented subjects")
    except AssertionError:
        assert sizes == expected  # shows which device holds whom instead
    members = stack.store.galleries.latest("gate-01").members
    assert "exam-only" not in members and "exam-only" in stack.store.galleries.latest("exam-01").members


def test_the_edge_receives_its_gallery_encrypted_and_grants_on_video(stack, enrolled, gate_01):
    verdicts = edge_run_over_clip(stack, "gate-01", gate_01, local_gallery=False)
    assert granted(verdicts) == {"alex": 1, "lin": 1}
    # At rest the gallery is the signed, encrypted payload: no template in clear, in raw or base64 form.
    blob = (gate_01 / "gallery.enc").read_bytes()
    template = sql(stack, "SELECT embedding FROM templates WHERE subject = 'alex'")[0][0]
    for probe in (template[:64], base64.b64encode(template)[:64], b"alex"):
        assert probe not in blob
    bundle = load_bundle(stack.devices["gate-01"])
    opened = open_gallery(blob, "gate-01", bundle.gallery_key, bundle.gateway_key)
    assert sorted(opened.subjects) == ["alex", "alpha", "grey", "lin"]
    assert opened.templates[opened.subjects.index("alex")].tobytes() == template
    device = {d["id"]: d for d in stack.get("/api/devices").json()}["gate-01"]
    assert device["gallery_applied_version"] == device["gallery_version"] and not device["gallery_pending"]


def test_withdrawal_reaches_a_running_edge_within_seconds_and_is_confirmed(stack, enrolled, gate_01):
    edge = start_edge(stack, "gate-01", gate_01, local_gallery=False, realtime=True)
    wait_for(lambda: stack.get("/api/devices").json() and {d["id"]: d for d in stack.get("/api/devices").json()}[
        "gate-01"]["online"], 20, "the edge to come online")
    started = time.monotonic()
    r = stack.post("/api/subjects/lin/withdraw", {"purpose": "gate"})
    assert r.status_code == 200, r.text
    erasure = r.json()["erasure"]

    def confirmed_by_gate_01():
        erasures = {e["id"]: e for e in stack.get("/api/erasures").json()}
        return erasures[erasure] if erasures[erasure]["devices"]["gate-01"]["confirmed_at"] else None
    state = wait_for(confirmed_by_gate_01, 10, "gate-01 to confirm the erasure")
    assert time.monotonic() - started < 10
    # lin's consent also covered site-b: gate-09 (offline) still holds them, so the erasure stays open.
    assert state["devices"]["gate-09"]["confirmed_at"] is None and state["completed_at"] is None
    assert erasure in [e["id"] for e in stack.get("/api/erasures", outstanding=True).json()]
    verdict_lines(edge)
    # From now on the edge does not grant lin.
    verdicts = edge_run_over_clip(stack, "gate-01", gate_01, local_gallery=False)
    assert granted(verdicts) == {"alex": 1}
    assert any(v["verdict"] == "unknown" for v in verdicts)


def test_an_offline_device_catches_up_on_reconnect(stack, enrolled, gate_01):
    workdir = gate_01  # gate-01 has a gallery from the tests before, and is offline now
    r = stack.post("/api/subjects/alex/withdraw", {})
    assert r.status_code == 200, r.text
    erasure = r.json()["erasure"]

    def pending():
        device = {d["id"]: d for d in stack.get("/api/devices").json()}["gate-01"]
        return device if device["gallery_pending"] else None
    wait_for(pending, 10, "the new gallery to wait for gate-01")
    outstanding = stack.get("/api/erasures", outstanding=True).json()
    assert [e["devices"]["gate-01"]["confirmed_at"] for e in outstanding if e["id"] == erasure] == [None]
    # Central erasure: with no consent left, alex's templates are gone from the gateway too.
    assert sql(stack, "SELECT count(*) FROM templates WHERE subject = 'alex'") == [(0,)]

    verdicts = edge_run_over_clip(stack, "gate-01", workdir, local_gallery=False)
    assert "alex" not in granted(verdicts)
    wait_for(lambda: [e for e in stack.get("/api/erasures").json() if e["id"] == erasure and e["completed_at"]],
             10, "the erasure to complete")
    # The receipt is in the audit log, and the chain holds.
    receipts = [e for e in stack.get("/api/audit", role="auditor", limit=1000).json()
                if e["action"] == "erasure.completed" and e["target"] == "alex"]
    assert receipts and receipts[0]["detail"]["devices"] == ["gate-01"]
    assert stack.get("/api/audit/verify", role="auditor").json()["ok"] is True


def test_enrolment_through_the_api_answers_per_photo(stack, enrolled):
    photo = base64.b64encode((CELEBS / "img24.jpg").read_bytes()).decode()
    ok = stack.post("/api/subjects", {"subject": "api-person", "display_name": "Via API", "purpose": "exam",
                                      "sites": ["site-a"], "notice_version": "v2", "photo": photo})
    assert ok.status_code == 201, ok.text
    assert ok.json()["enrolled"] is True
    group = base64.b64encode(sample_t1().read_bytes()).decode()
    refused = stack.post("/api/subjects", {"subject": "api-group", "photo": group, "sites": ["site-a"]})
    assert refused.status_code == 422 and "faces found" in refused.json()["detail"]
    assert stack.post("/api/subjects", {"subject": "api-x", "photo": "%%%"}).status_code == 422
    assert stack.post("/api/subjects", {"subject": "api-y", "photo": photo}, role="supervisor").status_code == 403
    # The exam device gets the new candidate; no gate device does.
    wait_for(lambda: "api-person" in stack.store.galleries.latest("exam-01").members, 10, "exam-01's gallery")
    assert "api-person" not in stack.store.galleries.latest("gate-01").members
    # A second consent for someone enrolled for the gate brings them to the exam device too.
    added = stack.post("/api/subjects/alpha/consents", {"purpose": "exam", "sites": ["site-a"]})
    assert added.status_code == 201, added.text
    wait_for(lambda: "alpha" in stack.store.galleries.latest("exam-01").members, 10, "alpha on exam-01")
    assert stack.post("/api/subjects/alpha/consents", {"purpose": "exam", "sites": ["nowhere"]}).status_code == 422
    assert stack.post("/api/subjects/ghost/consents", {"purpose": "exam"}).status_code == 404


def test_a_revoked_device_can_neither_connect_nor_get_galleries(stack, enrolled):
    from gateway.services.devices.registry import revoke_device

    bundle = load_bundle(stack.devices["gate-09"])
    assert connect_result(bundle.broker_url(), "gate-09-check") == "Success"
    revoke_device(stack.store, stack.files, "gate-09")
    wait_for(lambda: connect_result(bundle.broker_url(), "gate-09-check") != "Success", 5, "the broker to refuse it")
    version = stack.store.galleries.latest("gate-09").version
    stack.post("/api/subjects/grey/withdraw", {})
    time.sleep(2)
    assert stack.store.galleries.latest("gate-09").version == version  # nothing more is made for it


def test_expired_consent_leaves_galleries_and_is_erased(stack, enrolled, gate_01):
    from gateway.services.people.consent import expire

    photo = base64.b64encode((CELEBS / "img16.jpg").read_bytes()).decode()
    r = stack.post("/api/subjects", {"subject": "short-stay", "purpose": "gate", "sites": ["site-a"], "photo": photo,
                                     "expires_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    wait_for(lambda: "short-stay" in stack.store.galleries.latest("gate-01").members, 10, "the new subject on gate-01")
    edge_run_over_clip(stack, "gate-01", gate_01, local_gallery=False)  # gate-01 takes it on
    assert "short-stay" in stack.store.galleries.latest_applied("gate-01").members
    # The day passes: the test brings the stored expiry forward to two seconds from now instead of waiting,
    # so how long the edge took to start cannot decide the outcome.
    soon = utc_text(datetime.now(timezone.utc) + timedelta(seconds=2))
    sql(stack, "UPDATE consents SET expires_at = ? WHERE subject = 'short-stay'", soon)
    # Past the expiry the gallery no longer includes them, even before the expiry job runs.
    wait_for(lambda: "short-stay" not in stack.store.galleries.latest("gate-01").members, 30, "the expiry")
    erasures = expire(stack.store)  # what the gateway's job does every minute
    mine = [e.api() for e in stack.store.galleries.erasures() if e.subject == "short-stay"]
    # One erasure, whoever ran the expiry: this call, or the gateway's own job if its minute came first (it did
    # once on a busy clean-clone run: the call then found nothing left to expire).
    assert len(mine) == 1 and erasures in ([], [mine[0]["id"]])
    # gate-01 is offline: the erasure waits for it, on the version that dropped them.
    assert mine[0]["completed_at"] is None and mine[0]["devices"]["gate-01"]["version"] is not None
    assert sql(stack, "SELECT count(*) FROM templates WHERE subject = 'short-stay'") == [(0,)]
    edge_run_over_clip(stack, "gate-01", gate_01, local_gallery=False)
    wait_for(lambda: [e for e in stack.store.galleries.erasures() if e.subject == "short-stay" and e.completed_at],
             10, "gate-01 to confirm")
