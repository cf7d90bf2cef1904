"""The schema is versioned: release 1's databases migrate with their data, newer ones are refused."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.services.security.audit import verify
from gateway.storage import EventQuery, SchemaTooNew, Store, UnauditedChange
from gateway.storage.database import schema_revision
from gateway.storage.schema import metadata
from stack import REPO, sql

HEAD = "0019"
RELEASE_1 = Path(__file__).parent / "fixtures" / "release1.sql"  # made by tests/fixtures/make_release1_db.py


def release_1_database(folder: Path) -> Path:
    path = folder / "gateway.db"
    with sqlite3.connect(path) as db:
        db.executescript(RELEASE_1.read_text())
    return path


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
            "audit", "events", "purged_events", "devices", "sites", "subjects", "consents", "templates",
            "device_galleries", "erasures", "erasure_devices", "exam_sessions", "exam_flags", "users", "tokens")}


def test_a_database_made_by_release_1_migrates_with_its_data_intact(tmp_path):
    path = release_1_database(tmp_path)
    before = counts(path)
    assert before["audit"] == 19 and before["events"] == 4 and before["purged_events"] == 1
    store = Store.open(path)
    assert schema_revision(store.db.engine) == HEAD
    assert counts(path) == before  # nothing lost, nothing added by the migration itself
    report = verify(store)
    assert report.ok, report.line()  # the chain written by release 1 still verifies, digests included
    # Release 1's data reads through today's code.
    assert [s.id for s in store.people.sites()] == ["site-a"]
    alex = next(s for s in store.people.subjects() if s.id == "alex")
    assert alex.packs == ["buffalo_s"] and alex.consents[0].sites == ["site-a"]
    assert set(store.people.members("site-a", "gate", "buffalo_s", "2100-01-01T00:00:00.000Z")) == {"alex"}
    verdicts = store.events.query(EventQuery(kind="verdict"))
    assert len(verdicts) == 2 and all(e.retain_from == e.captured_at and not e.clock_suspect for e in verdicts)
    [flag] = store.exams.flags()
    assert flag.review == "confirmed" and flag.reviewed_by == "supervisor-1"
    assert store.users.get("admin-1").role == "admin"
    # And it keeps working: a change is appended to the same chain.
    with store.db.transaction() as tx:
        store.people.add_site(tx, "site-b", "Site B")
        tx.audit("cli", "site.added", "site-b")
    assert verify(store).ok and store.audit.count() == 20
    # Opening it again is a no-op.
    assert counts(path)["audit"] == 20 and schema_revision(Store.open(path).db.engine) == HEAD


def test_an_early_release_1_database_missing_columns_is_completed(tmp_path):
    """Release 1 added columns inside its create-if-missing blocks: a database from before that lacked them."""
    path = tmp_path / "early.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE devices (id TEXT PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT NULL, name TEXT, "
                   "public_key TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT, last_seq INTEGER DEFAULT 0, "
                   "online INTEGER DEFAULT 0, status_at TEXT, last_heartbeat TEXT, last_heartbeat_at TEXT)")
        db.execute("INSERT INTO devices (id, site, kind, public_key, status) VALUES ('gate-01', 'a', 'gate', 'k', "
                   "'active')")
    store = Store.open(path)
    device = store.devices.get("gate-01")
    assert device.model_pack == "buffalo_s" and device.gallery_key is None and device.clock_skew_s is None


def test_a_database_from_a_newer_release_is_refused(database):
    Store.open(database).db.close()
    sql(Store.open(database), "UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaTooNew, match="0099"):
        Store.open(database)
    run = subprocess.run([sys.executable, "-m", "facegate", "gateway", "run", "--db", database, "--no-ingest",
                          "--port", "1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "newer FaceGate" in run.stderr and "Traceback" not in run.stderr


def test_the_migrations_build_exactly_the_schema_the_queries_use(database):
    store = Store.open(database)
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # SQLite reports primary-key columns as nullable where the metadata says not: that is not a difference.
    real = [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_nullable")]
    if store.db.postgres:
        # PostgreSQL requires the partitioning columns in every unique index of the partitioned events table:
        # its per-device sequence is unique per (kind, month); ingest's check under the write lock does the rest.
        real = [d for d in real if not (d[0] in ("add_index", "remove_index", "remove_constraint")
                                        and d[1].name == "idx_events_device_seq")]
        # Partitions are tables of their own, made as events arrive (gateway/storage/postgres/partitions.py).
        real = [d for d in real if not (d[0] == "remove_table" and d[1].name.startswith("events_"))]
    assert real == []


def test_a_change_without_its_audit_entry_is_refused_and_rolled_back(database):
    store = Store.open(database)
    with pytest.raises(UnauditedChange):
        with store.db.transaction() as tx:
            store.people.add_site(tx, "quiet", "Unrecorded")
    assert store.people.sites() == [] and store.audit.count() == 0
