"""Retention on a real gateway database: old events go, the audit chain says so and still verifies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from conftest import TEMPLATE
from gateway.config import RetentionSettings
from gateway.services.security import audit
from gateway.services.operations.retention import run_retention
from gateway.storage import Store, StoredEvent
from gateway.storage.postgres.partitions import partitions
from stack import REPO, register_device, sql, store_events
from wire import uuid7
from wire.events import utc_text

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def event(kind: str, seq: int, days_ago: float) -> StoredEvent:
    at = utc_text(NOW - timedelta(days=days_ago))
    event_id = str(uuid7())
    body = json.dumps({"id": event_id, "kind": kind, "seq": seq, "captured_at": at})
    return StoredEvent(event_id, "site-a", "gate-01", kind, seq, at, at, "granted" if kind == "verdict" else None,
                       "ann" if kind == "verdict" else None, 0.5 if kind == "verdict" else None, body, "sig")


def test_events_past_retention_are_deleted_by_class_and_the_chain_still_verifies(database, tmp_path):
    storage = Store.open(database)
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
    sql(storage, "DELETE FROM events WHERE id = ?", events[2].id)
    assert "deleted" in audit.verify(storage).reason
    cli = subprocess.run([sys.executable, "-m", "facegate", "audit", "verify", "--db", database, "--secrets-dir",
                          str(tmp_path / "secrets")], cwd=REPO, capture_output=True, text=True)
    assert cli.returncode == 1 and events[2].id in cli.stdout


def test_the_purged_list_cannot_be_used_to_hide_a_deletion(database):
    storage = Store.open(database)
    register_device(storage, "gate-01")
    events = [event("verdict", 1, 400), event("verdict", 2, 5)]
    store_events(storage, events)
    run_retention(storage, RetentionSettings(), now=NOW)
    [seq] = storage.events.purged_ids()
    # Hide the deletion of event 2 as if retention had done it.
    sql(storage, "DELETE FROM events WHERE id = ?", events[1].id)
    sql(storage, "INSERT INTO purged_events (id, audit_seq) VALUES (?, ?)", events[1].id, seq)
    report = audit.verify(storage)
    assert not report.ok and report.first_broken == seq and "purged" in report.reason


def test_on_postgresql_a_month_past_retention_goes_as_one_partition(postgres):
    storage = Store.open(postgres.create_database("retention_partitions", template=TEMPLATE))
    register_device(storage, "gate-01")
    old = [event("verdict", seq, 400 + seq) for seq in range(1, 4)]  # October 2025: past a year
    recent = event("verdict", 9, 3)
    store_events(storage, [*old, recent])
    months = {p.name for p in partitions_of(storage)}
    assert len(months) >= 2
    run_retention(storage, RetentionSettings(verdict_days=365), now=NOW)
    left = {p.name for p in partitions_of(storage)}
    dropped = months - left
    assert dropped and all(name.startswith("events_verdict_2025") for name in dropped)
    assert {row[0] for row in storage.events.all_rows()} == {recent.id}
    purges = [json.loads(e.detail) for e in storage.audit.walk() if e.action == "events.purged"]
    assert {p["partition"] for p in purges} == dropped and sum(p["count"] for p in purges) == len(old)
    report = audit.verify(storage)
    assert report.ok, report.line()


def partitions_of(storage: Store):
    with storage.db.read() as conn:
        return partitions(conn)
