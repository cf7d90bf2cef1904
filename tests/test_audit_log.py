"""The audit log searched as an auditor does: filters, paging newest first, people apart from devices, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from gateway.i18n import catalogue
from gateway.storage.schema import AUDIT_READ_ACTIONS
from stack import Stack
from wire.events import utc_text

DEVICE_ENTRIES = 1200


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("audit"), new_db("audit"))
    s.add_device("gate-01", "site-a")
    now = datetime.now(timezone.utc)
    with s.store.db.transaction() as tx:  # a week ago, a supervisor confirmed a flag (the note is a formula)
        tx.audit("user:supervisor-1", "exam.flag.confirmed", "flag-7", {"note": "=HYPERLINK(\"http://x\")"},
                 at=utc_text(now - timedelta(days=7)))
        tx.audit("user:supervisor-1", "exam.flag.dismissed", "flag-8", {"note": "glare"},
                 at=utc_text(now - timedelta(days=7, minutes=-5)))
        tx.audit("user:admin-1", "subject.enrolled", "=SUM(1,1)", {}, at=utc_text(now - timedelta(days=6, hours=1)))
        # an operator's live page loading, twice: the pages' own reads
        for minutes in (30, 29):
            tx.audit("user:operator-1", "events.read", None, {"filters": {"kind": "verdict"}},
                     at=utc_text(now - timedelta(days=6, minutes=minutes)))
        tx.audit("user:supervisor-1", "exam.checked_in_by_hand", "cand-1",
                 {"reason": "face_refused", "note": "Thẻ CCCD đã đối chiếu", "room": "Phòng 2"},
                 at=utc_text(now - timedelta(days=6, minutes=20)))
    with s.store.db.transaction() as tx:  # since then, a device's stream of events
        for i in range(DEVICE_ENTRIES):
            tx.audit("device:gate-01", "event.stored", f"event-{i}", {"n": i},
                     at=utc_text(now - timedelta(days=6) + timedelta(seconds=i)))
    yield s
    s.close()


def search(stack: Stack, **params) -> list[dict]:
    r = stack.get("/api/audit", role="auditor", **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_auditor_finds_who_confirmed_a_flag_a_week_ago(stack):
    found = search(stack, action="exam.flag.confirmed")
    assert [(e["actor"], e["target"]) for e in found] == [("user:supervisor-1", "flag-7")]
    both = search(stack, action="exam.flag.*", actor="user:supervisor-1")
    assert [e["target"] for e in both] == ["flag-8", "flag-7"]  # newest first
    about = search(stack, target="flag-7")
    assert [e["action"] for e in about] == ["exam.flag.confirmed"]


def test_peoples_actions_are_kept_apart_from_devices_events(stack):
    people = search(stack, who="people", limit=1000)
    devices = search(stack, who="devices", limit=1000)
    assert people and not any(e["actor"].startswith("device:") for e in people)
    assert "exam.flag.confirmed" in [e["action"] for e in people]
    assert len(devices) == 1000 and all(e["actor"].startswith("device:") for e in devices)


def test_pages_go_back_in_time_without_gaps_or_repeats(stack):
    seen, before = [], None
    while True:
        page = search(stack, who="devices", limit=250, **({"before": before} if before else {}))
        if not page:
            break
        seen += [e["seq"] for e in page]
        before = page[-1]["seq"]
    assert len(seen) == DEVICE_ENTRIES and seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)


def test_a_time_range_narrows_the_search(stack):
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    window = search(stack, since=(week_ago - timedelta(hours=1)).isoformat(),
                    until=(week_ago + timedelta(hours=1)).isoformat())
    assert {e["target"] for e in window} == {"flag-7", "flag-8"}
    assert search(stack, since=datetime.now(timezone.utc).isoformat(), action="exam.flag.*") == []


def test_bad_filters_are_refused_in_plain_words(stack):
    assert stack.get("/api/audit", role="auditor", who="robots").status_code == 422
    assert stack.get("/api/audit", role="auditor", since="last tuesday").status_code == 422
    assert stack.get("/api/audit", role="auditor", limit=0).status_code == 422
    assert stack.get("/api/audit", role="operator").status_code == 403
    assert stack.get("/api/audit/export.csv", role="supervisor").status_code == 403


def test_the_pages_reads_are_kept_apart_from_peoples_actions(stack):
    actions = [e["action"] for e in search(stack, who="people", limit=1000)]
    assert "exam.flag.confirmed" in actions and "exam.checked_in_by_hand" in actions
    assert "events.read" not in actions  # the default view: what people did
    reads = search(stack, who="reads", limit=1000)
    assert {e["action"] for e in reads} <= set(AUDIT_READ_ACTIONS) and len(reads) >= 2
    assert {e["actor"] for e in reads if e["action"] == "events.read"} >= {"user:operator-1"}


def test_a_devices_entries_are_what_it_did_and_what_was_done_to_it(stack):
    did = search(stack, device="gate-01", who="devices", limit=1000)
    assert len(did) == 1000 and {e["actor"] for e in did} == {"device:gate-01"}
    done_to = search(stack, device="gate-01", who="people")
    assert "device.provisioned" in [e["action"] for e in done_to] and {e["target"] for e in done_to} == {"gate-01"}
    assert search(stack, device="gate-02") == []
    assert stack.get("/api/audit", role="auditor", device="../gate-01").status_code == 422


def test_the_actions_are_offered_by_name_in_the_readers_language(stack):
    r = reading(stack, "/api/audit/actions", "vi")
    named = {a["code"]: a["name"] for a in r.json()}
    assert named["exam.flag.confirmed"] == catalogue("vi").gettext("exam flag confirmed") != "exam flag confirmed"
    assert {"user.login", "consent.withdrawn", "events.read", "exam.verdict"} <= set(named)
    assert stack.get("/api/audit/actions", role="operator").status_code == 403


def reading(stack: Stack, path: str, language: str, **params) -> httpx.Response:
    """The auditor's GET of `path`, their client reading `language`."""
    return httpx.get(stack.gateway.base_url + path, params=params, timeout=30,
                     headers={"Authorization": f"Bearer {stack.token('auditor')}", "Accept-Language": language})


def exported(stack: Stack, language: str, **params) -> list[list[str]]:
    r = reading(stack, "/api/audit/export.csv", language, **params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())  # the byte-order mark Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_the_csv_export_holds_every_match_and_no_formula(stack):
    rows = exported(stack, "en", who="all")
    assert rows[0] == ["entry", "time (Asia/Ho_Chi_Minh)", "time (UTC)", "who", "action", "action code", "target",
                       "reason", "note", "other details", "hash"]
    confirmed = [row for row in rows[1:] if row[5] == "exam.flag.confirmed"]
    assert confirmed and confirmed[0][3] == "user:supervisor-1" and confirmed[0][4] == "exam flag confirmed"
    # The site's clock, day first, 24-hour: seven hours ahead of the UTC beside it.
    at = datetime.fromisoformat(confirmed[0][2].replace("Z", "+00:00"))
    assert confirmed[0][1] == (at + timedelta(hours=7)).strftime("%d/%m/%Y %H:%M:%S")
    # Someone's text as a formula would run when the auditor opens the file: it is written as text.
    assert [row[6] for row in rows[1:] if row[5] == "subject.enrolled"] == ["'=SUM(1,1)"]
    assert confirmed[0][8] == "'=HYPERLINK(\"http://x\")"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
    devices = [row for row in rows[1:] if row[3] == "device:gate-01"]
    assert len(devices) == DEVICE_ENTRIES  # every match, past any page size
    exported_ = search(stack, action="audit.exported")
    assert exported_ and exported_[0]["actor"] == "user:auditor-1" and exported_[0]["detail"]["filters"] == {}


def test_the_csv_export_speaks_the_readers_language_with_notes_in_columns(stack):
    rows = exported(stack, "vi", who="people")
    words = catalogue("vi")
    assert rows[0][3:9] == [words.gettext(c) for c in ("who", "action", "action code", "target", "reason", "note")]
    assert rows[0][1] == words.gettext("time ({zone})", zone="Asia/Ho_Chi_Minh")
    [by_hand] = [row for row in rows[1:] if row[5] == "exam.checked_in_by_hand"]
    assert by_hand[4] == words.gettext("candidate checked in by hand")
    assert (by_hand[7], by_hand[8]) == ("face_refused", "Thẻ CCCD đã đối chiếu")  # Vietnamese intact
    assert json.loads(by_hand[9]) == {"room": "Phòng 2"}
    assert not [row for row in rows[1:] if row[5] == "events.read"]  # people's actions: the reads apart


def test_a_filter_the_database_refuses_is_a_422_and_no_export_is_recorded(stack):
    """PostgreSQL holds no NUL in text: the CSV says so before it starts, rather than stopping half-way."""
    before = len(search(stack, action="audit.exported"))
    r = stack.get("/api/audit/export.csv", role="auditor", action="\x00")
    if stack.store.db.postgres:
        assert r.status_code == 422 and "cannot store" in r.json()["detail"]
        assert len(search(stack, action="audit.exported")) == before
    else:  # SQLite stores anything: simply nothing matches
        assert r.status_code == 200 and r.text.count("\n") == 1
