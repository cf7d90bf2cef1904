"""Retention on a real gateway database: old events go, the audit chain says so and still verifies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from gateway.config import RetentionSettings
from gateway.services import audit
from gateway.services.retention import run_retention
from gateway.storage import Store, StoredEvent
from stack import REPO, register_device, store_events
from wire import uuid7
from wire.events import utc_text

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def event(kind: str, seq: int, days_ago: float) -> StoredEvent:
    at = utc_text(NOW - timedelta(days=days_ago))
    event_id = str(uuid7())
    body = json.dumps({"id": event_id, "kind": kind, "seq": seq, "captured_at": at})
    return StoredEvent(event_id, "site-a", "gate-01", kind, seq, at, at, "granted" if kind == "verdict" else None,
                       "ann" if kind == "verdict" else None, 0.5 if kind == "verdict" else None, body, "sig")


def test_events_past_retention_are_deleted_by_class_and_the_chain_still_verifies(tmp_path):
    storage = Store.open(tmp_path / "g.db")
    register_device(storage, "gate-01")
    events = [event("verdict", 1, 400), event("heartbeat", 2, 40), event("verdict", 3, 10), event("heartbeat", 4, 1)]
    store_events(storage, events)
    done = run_retention(storage, RetentionSettings(verdict_days=365, heartbeat_days=30), now=NOW)
    assert done["verdict_events_deleted"] == 1 and done["heartbeat_events_deleted"] == 1
    left = {row[0] for row in storage.events.all_rows()}
    assert left == {events[2].id, events[3].id}
    report = audit.verify(storage)
    assert report.ok, report.line()
    purges = [e for e in storage.audit.walk() if e.action == "events.purged"]
    assert [(p.target, json.loads(p.detail)["count"]) for p in purges] == [("verdict", 1), ("heartbeat", 1)]
    # A second pass finds nothing more.
    assert run_retention(storage, RetentionSettings(), now=NOW)["verdict_events_deleted"] == 0

    # Deleting by hand is still caught; so is rewriting the list of what retention purged.
    with sqlite3.connect(storage.path) as db:
        db.execute("DELETE FROM events WHERE id = ?", (events[2].id,))
    assert "deleted" in audit.verify(storage).reason
    cli = subprocess.run([sys.executable, "-m", "facegate", "audit", "verify", "--db", str(storage.path)], cwd=REPO,
                         capture_output=True, text=True)
    assert cli.returncode == 1 and events[2].id in cli.stdout


def test_the_purged_list_cannot_be_used_to_hide_a_deletion(tmp_path):
    storage = Store.open(tmp_path / "g.db")
    register_device(storage, "gate-01")
    events = [event("verdict", 1, 400), event("verdict", 2, 5)]
    store_events(storage, events)
    run_retention(storage, RetentionSettings(), now=NOW)
    [seq] = storage.events.purged_ids()
    with sqlite3.connect(storage.path) as db:  # hide the deletion of event 2 as if retention had done it
        db.execute("DELETE FROM events WHERE id = ?", (events[1].id,))
        db.execute("INSERT INTO purged_events (id, audit_seq) VALUES (?, ?)", (events[1].id, seq))
    report = audit.verify(storage)
    assert not report.ok and report.first_broken == seq and "purged" in report.reason
