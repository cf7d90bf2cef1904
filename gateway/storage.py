"""All of the gateway's SQL, in one place (SQLite through sqlite-utils).

Tables: `devices` (identity, public key, status, sequence high-water mark,
last heartbeat), `events` (every accepted event with its signed body),
`audit` (the hash-chained log, see `gateway.audit`), `users` and `tokens`.

Each thread gets its own connection (FastAPI runs routes in a thread pool).
WAL lets the API read while ingest writes; synchronous=FULL because ingest
acknowledges a message to the broker only after its commit, so a commit must
survive a crash of the process or of the machine.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from gateway.audit import AuditEntry, chain_hash, event_digest, ids_digest

DEVICE_COLUMNS = ("id", "site", "kind", "name", "public_key", "status", "created_at", "last_seq", "online", "status_at",
                  "last_heartbeat", "last_heartbeat_at")
EVENT_COLUMNS = ("id", "site", "device", "kind", "seq", "captured_at", "received_at", "verdict", "subject",
                 "score", "body", "sig")


@dataclass(frozen=True)
class StoredEvent:
    """One accepted event as the gateway keeps it."""

    id: str
    site: str
    device: str
    kind: str
    seq: int
    captured_at: str  # wire.events.utc_text
    received_at: str
    verdict: str | None
    subject: str | None
    score: float | None
    body: str  # canonical JSON of the signed body
    sig: str

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in EVENT_COLUMNS)

    def api(self) -> dict:
        """The event as the API returns it: its body, plus where and when the gateway got it."""
        return {**json.loads(self.body), "received_at": self.received_at, "sig": self.sig}


@dataclass(frozen=True)
class EventQuery:
    site: str | None = None
    device: str | None = None
    kind: str | None = None
    verdict: str | None = None
    subject: str | None = None
    since: str | None = None  # captured_at >= since
    until: str | None = None  # captured_at < until
    before: tuple[str, str] | None = None  # cursor: (captured_at, id) of the last row already seen
    limit: int = 100


@dataclass(frozen=True)
class Device:
    id: str
    site: str
    kind: str
    name: str
    public_key: str
    status: str  # "active" | "revoked"
    created_at: str
    last_seq: int
    online: bool
    status_at: str | None
    last_heartbeat: dict | None
    last_heartbeat_at: str | None


@dataclass(frozen=True)
class Subject:
    id: str
    display_name: str
    id_card_hash: str | None  # keyed hash (HMAC-SHA256); the number itself is never stored
    created_at: str
    recorded_by: str


@dataclass(frozen=True)
class Consent:
    subject: str
    purpose: str  # "gate" | "exam"
    sites: list[str]  # site ids, or ["*"] for every site
    notice_version: str
    channel: str  # how it was given: "counter", "kiosk", "online", ...
    granted_at: str
    expires_at: str | None
    recorded_by: str


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    disabled: bool


class Storage:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._create_schema()

    # -- connections -------------------------------------------------------------------------

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so concurrent writers queue rather than fail."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _create_schema(self) -> None:
        db = self.db
        tables = set(db.table_names())
        if "devices" not in tables:
            db["devices"].create({
                "id": str, "site": str, "kind": str, "name": str, "public_key": str, "status": str,
                "created_at": str, "last_seq": int, "online": int, "status_at": str,
                "last_heartbeat": str, "last_heartbeat_at": str, "mqtt_secret": str, "model_pack": str,
                "gallery_key": str,
            }, pk="id", not_null={"site", "kind", "public_key", "status"}, defaults={"last_seq": 0, "online": 0})
        if "events" not in tables:
            db["events"].create({
                "id": str, "site": str, "device": str, "kind": str, "seq": int, "captured_at": str,
                "received_at": str, "verdict": str, "subject": str, "score": float, "body": str, "sig": str,
            }, pk="id", not_null={"site", "device", "kind", "seq", "captured_at", "body", "sig"})
            # Every listing is newest first within a filter: one index per filter, ending in (time, id).
            db["events"].create_index(["device", "seq"], unique=True)
            for cols in (["captured_at", "id"], ["device", "captured_at", "id"], ["site", "captured_at", "id"],
                         ["subject", "captured_at", "id"], ["kind", "verdict", "captured_at", "id"]):
                db["events"].create_index(cols)
        if "audit" not in tables:
            db["audit"].create({"seq": int, "at": str, "actor": str, "action": str, "target": str, "detail": str,
                                "prev": str, "hash": str}, pk="seq", not_null={"at", "actor", "action", "hash"})
            db["audit"].create_index(["target"])
        if "sites" not in tables:
            db["sites"].create({"id": str, "name": str, "created_at": str}, pk="id")
        if "subjects" not in tables:
            db["subjects"].create({"id": str, "display_name": str, "id_card_hash": str, "created_at": str,
                                   "recorded_by": str}, pk="id")
            db["subjects"].create_index(["id_card_hash"])
        if "consents" not in tables:
            db["consents"].create({
                "id": int, "subject": str, "purpose": str, "sites": str, "notice_version": str, "channel": str,
                "granted_at": str, "expires_at": str, "withdrawn_at": str, "recorded_by": str,
            }, pk="id", not_null={"subject", "purpose", "sites", "granted_at"})
            db["consents"].create_index(["subject"])
        if "templates" not in tables:
            db["templates"].create({"subject": str, "pack": str, "embedding": bytes, "quality": float,
                                    "created_at": str}, pk=("subject", "pack"))
        if "device_galleries" not in tables:
            # One row per version pushed to a device: who is in it, and when the device confirmed it.
            db["device_galleries"].create({"device": str, "version": int, "members": str, "created_at": str,
                                           "published_at": str, "applied_at": str}, pk=("device", "version"))
        if "erasures" not in tables:
            db["erasures"].create({"id": int, "subject": str, "reason": str, "requested_at": str,
                                   "requested_by": str, "completed_at": str}, pk="id")
            db["erasure_devices"].create({"erasure": int, "device": str, "version": int, "confirmed_at": str},
                                         pk=("erasure", "device"))
        if "exam_sessions" not in tables:
            db["exam_sessions"].create({
                "id": str, "site": str, "device": str, "candidate": str, "exam_type": str, "stage": str, "seat": str,
                "started_at": str, "ended_at": str, "checkin": str, "checkin_score": float, "reason": str,
                "checks": str, "checks_total": int, "flags": str, "evidence": str, "updated_at": str,
                "clock_skew_s": float, "verdict": str, "verdict_note": str, "verdict_by": str, "verdict_at": str,
                "created_by": str,
            }, pk="id")
            db["exam_sessions"].create_index(["site", "started_at"])
            db["exam_flags"].create({
                "id": str, "session": str, "device": str, "kind": str, "start": str, "end": str, "duration_s": float,
                "confidence": float, "severity": str, "detail": str, "evidence": str, "review": str,
                "review_note": str, "reviewed_by": str, "reviewed_at": str,
            }, pk="id")
            db["exam_flags"].create_index(["session"])
            db["exam_evidence"].create({"id": str, "session": str, "device": str, "what": str, "reason": str,
                                        "sha256": str, "nonce": str, "ciphertext": str, "received_at": str}, pk="id")
            db["exam_evidence"].create_index(["session"])
        if "purged_events" not in tables:
            # Events deleted by retention: the audit check expects them gone (see gateway/retention.py).
            db["purged_events"].create({"id": str, "audit_seq": int}, pk="id")
        if "users" not in tables:
            db["users"].create({"name": str, "role": str, "password_hash": str, "created_at": str, "disabled": int},
                               pk="name", not_null={"role", "password_hash"}, defaults={"disabled": 0})
        if "tokens" not in tables:
            db["tokens"].create({"hash": str, "user": str, "expires_at": str}, pk="hash",
                                foreign_keys=[("user", "users", "name")])

    # -- devices -----------------------------------------------------------------------------

    def add_device(self, device: str, site: str, kind: str, name: str, public_key: str, mqtt_secret: str,
                   now: str, model_pack: str = "buffalo_s", gallery_key: str | None = None) -> None:
        """Register a device: its public key, its MQTT password hash (mosquitto format, for the broker
        files), the model pack its templates must come from, and the key its gallery is encrypted with."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO devices (id, site, kind, name, public_key, mqtt_secret, status, created_at,"
                         " last_seq, online, model_pack, gallery_key) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, 0, 0, ?, ?)",
                         (device, site, kind, name, public_key, mqtt_secret, now, model_pack, gallery_key))

    def device_secrets(self, device: str) -> tuple[str, str | None]:
        """(model pack, gallery key) of a device."""
        row = self.db.execute("SELECT model_pack, gallery_key FROM devices WHERE id = ?", [device]).fetchone()
        return (row[0] or "buffalo_s", row[1]) if row else ("buffalo_s", None)

    def broker_accounts(self) -> list[tuple[str, str, str]]:
        """(device, site, mqtt_secret) of every active device: who may connect to the broker."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, site, mqtt_secret FROM devices WHERE status = 'active' ORDER BY id").fetchall()]

    def set_device_status(self, device: str, status: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("UPDATE devices SET status = ? WHERE id = ?", (status, device)).rowcount == 1

    def devices(self, site: str | None = None) -> list[Device]:
        sql, args = f"SELECT {','.join(DEVICE_COLUMNS)} FROM devices", []
        if site:
            sql, args = sql + " WHERE site = ?", [site]
        return [_device(r) for r in self.db.execute(sql + " ORDER BY site, id", args).fetchall()]

    def device(self, device: str) -> Device | None:
        row = self.db.execute(f"SELECT {','.join(DEVICE_COLUMNS)} FROM devices WHERE id = ?", [device]).fetchone()
        return _device(row) if row else None

    def record_status(self, device: str, online: bool, at: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE devices SET online = ?, status_at = ? WHERE id = ?", (int(online), at, device))

    # -- events ------------------------------------------------------------------------------

    def store_events(self, events: list[StoredEvent], audit_at: str) -> list[str]:
        """Store a batch in one transaction: each event 'stored', 'duplicate' or 'replay'.

        duplicate: its id is already stored (QoS 1 redelivery, a resend, or a verbatim replay).
        replay: a new id reusing a sequence number the device has already used.
        Each stored event gets its audit entry in the same transaction.
        """
        outcomes: list[str] = []
        with self.transaction() as conn:
            devices = {e.device for e in events}
            marks = ",".join("?" * len(devices))
            hwm = dict(conn.execute(f"SELECT id, last_seq FROM devices WHERE id IN ({marks})", list(devices)))
            head = self._audit_head(conn)
            heartbeats: dict[str, StoredEvent] = {}
            for e in events:
                if conn.execute("SELECT 1 FROM events WHERE id = ?", (e.id,)).fetchone():
                    outcomes.append("duplicate")
                    continue
                # Late arrivals are fine (a resend after a broker crash); a used number under a new id is not.
                if conn.execute("SELECT 1 FROM events WHERE device = ? AND seq = ?", (e.device, e.seq)).fetchone():
                    outcomes.append("replay")
                    continue
                conn.execute(f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) VALUES ({','.join('?' * len(EVENT_COLUMNS))})",
                             e.row())
                hwm[e.device] = max(hwm.get(e.device, 0), e.seq)
                head = self._append_audit(conn, head, AuditEntry(audit_at, f"device:{e.device}", "event.stored", e.id,
                                                                 {"digest": event_digest(e.row())}))
                if e.kind == "heartbeat":
                    heartbeats[e.device] = e
                outcomes.append("stored")
            conn.executemany("UPDATE devices SET last_seq = ? WHERE id = ?", [(s, d) for d, s in hwm.items()])
            conn.executemany("UPDATE devices SET last_heartbeat = ?, last_heartbeat_at = ? WHERE id = ?",
                             [(e.body, e.captured_at, d) for d, e in heartbeats.items()])
        return outcomes

    def query_events(self, q: EventQuery) -> list[StoredEvent]:
        """Newest first, at most `q.limit`, after the cursor `q.before`."""
        where, args = [], []
        for column in ("site", "device", "kind", "verdict", "subject"):
            value = getattr(q, column)
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if q.since:
            where.append("captured_at >= ?")
            args.append(q.since)
        if q.until:
            where.append("captured_at < ?")
            args.append(q.until)
        if q.before:
            where.append("(captured_at, id) < (?, ?)")
            args.extend(q.before)
        sql = f"SELECT {','.join(EVENT_COLUMNS)} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY captured_at DESC, id DESC LIMIT ?"
        return [StoredEvent(*r) for r in self.db.execute(sql, [*args, q.limit]).fetchall()]

    def purge_events(self, kind: str, before: str, now: str, actor: str, limit: int = 50_000) -> int:
        """Delete up to `limit` events of `kind` captured before `before`, recorded in the audit chain."""
        with self.transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM events WHERE kind = ? AND captured_at < ? LIMIT ?",
                                              (kind, before, limit))]
            if not ids:
                return 0
            seq, _ = self._append_audit(conn, self._audit_head(conn), AuditEntry(
                now, actor, "events.purged", kind, {"before": before, "count": len(ids), "ids_sha256": ids_digest(ids)}))
            conn.executemany("INSERT INTO purged_events (id, audit_seq) VALUES (?, ?)", [(i, seq) for i in ids])
            conn.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])
            return len(ids)

    def purged_ids(self) -> dict[int, list[str]]:
        """audit seq -> event ids it purged."""
        out: dict[int, list[str]] = {}
        for event_id, seq in self.db.execute("SELECT id, audit_seq FROM purged_events"):
            out.setdefault(seq, []).append(event_id)
        return out

    def purge_exam_evidence(self, before: str, now: str) -> int:
        """Delete evidence photos received before `before` (the retention of the evidence data class)."""
        with self.transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM exam_evidence WHERE received_at < ?", (before,))]
            if ids:
                conn.executemany("DELETE FROM exam_evidence WHERE id = ?", [(i,) for i in ids])
                self._append_audit(conn, self._audit_head(conn), AuditEntry(
                    now, "retention", "exam.evidence.purged", None, {"before": before, "count": len(ids)}))
            return len(ids)

    def delete_expired_tokens(self, now: str) -> int:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,)).rowcount

    def event(self, event_id: str) -> StoredEvent | None:
        row = self.db.execute(f"SELECT {','.join(EVENT_COLUMNS)} FROM events WHERE id = ?", [event_id]).fetchone()
        return StoredEvent(*row) if row else None

    def count_events(self) -> int:
        return self.db.execute("SELECT count(*) FROM events").fetchone()[0]

    # -- audit log ---------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        with self.transaction() as conn:
            self._append_audit(conn, self._audit_head(conn), entry)

    def audit_entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[tuple]:
        """(seq, at, actor, action, target, detail, prev, hash) in chain order."""
        sql = "SELECT seq, at, actor, action, target, detail, prev, hash FROM audit WHERE seq > ? ORDER BY seq"
        if limit:
            sql += f" LIMIT {int(limit)}"
        yield from self.db.execute(sql, [after_seq])

    def event_rows(self) -> Iterator[tuple]:
        """Every stored event as its column tuple, for the audit check."""
        yield from self.db.execute(f"SELECT {','.join(EVENT_COLUMNS)} FROM events")

    def _audit_head(self, conn: sqlite3.Connection) -> tuple[int, str]:
        row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, "")

    def _append_audit(self, conn: sqlite3.Connection, head: tuple[int, str], entry: AuditEntry) -> tuple[int, str]:
        seq, prev = head[0] + 1, head[1]
        detail = json.dumps(entry.detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = chain_hash(prev, seq, entry.at, entry.actor, entry.action, entry.target, detail)
        conn.execute("INSERT INTO audit (seq, at, actor, action, target, detail, prev, hash) VALUES (?,?,?,?,?,?,?,?)",
                     (seq, entry.at, entry.actor, entry.action, entry.target, detail, prev, digest))
        return seq, digest

    # -- sites, subjects, consents, templates ----------------------------------------------

    def add_site(self, site: str, name: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)", (site, name, now))

    def sites(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT id, name FROM sites ORDER BY id").fetchall()]

    def subject_exists(self, subject: str) -> bool:
        return self.db.execute("SELECT 1 FROM subjects WHERE id = ?", [subject]).fetchone() is not None

    def enrol_subject(self, subject: Subject, consent: Consent, templates: dict[str, tuple[bytes, float]],
                      audit: AuditEntry) -> None:
        """Subject, consent and templates (by pack) in one transaction: nothing half-enrolled."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO subjects (id, display_name, id_card_hash, created_at, recorded_by)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (subject.id, subject.display_name, subject.id_card_hash, subject.created_at,
                          subject.recorded_by))
            self._insert_consent(conn, consent)
            conn.executemany("INSERT INTO templates (subject, pack, embedding, quality, created_at) VALUES (?,?,?,?,?)",
                             [(subject.id, pack, emb, q, subject.created_at) for pack, (emb, q) in templates.items()])
            self._append_audit(conn, self._audit_head(conn), audit)

    def add_consent(self, consent: Consent, audit: AuditEntry) -> int:
        with self.transaction() as conn:
            consent_id = self._insert_consent(conn, consent)
            self._append_audit(conn, self._audit_head(conn), audit)
            return consent_id

    def _insert_consent(self, conn: sqlite3.Connection, c: Consent) -> int:
        return conn.execute(
            "INSERT INTO consents (subject, purpose, sites, notice_version, channel, granted_at, expires_at,"
            " withdrawn_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (c.subject, c.purpose, json.dumps(c.sites), c.notice_version, c.channel, c.granted_at, c.expires_at,
             c.recorded_by)).lastrowid

    def subjects(self) -> list[dict]:
        """Subjects with their consents (never the ID-card hash)."""
        consents: dict[str, list[dict]] = {}
        for row in self.db.execute("SELECT id, subject, purpose, sites, notice_version, channel, granted_at,"
                                   " expires_at, withdrawn_at, recorded_by FROM consents ORDER BY id"):
            consents.setdefault(row[1], []).append(dict(zip(
                ("id", "subject", "purpose", "sites", "notice_version", "channel", "granted_at", "expires_at",
                 "withdrawn_at", "recorded_by"), row)) | {"sites": json.loads(row[3])})
        return [{"id": r[0], "display_name": r[1], "created_at": r[2], "packs": (r[3] or "").split(",") if r[3] else [],
                 "consents": consents.get(r[0], [])}
                for r in self.db.execute("SELECT s.id, s.display_name, s.created_at, group_concat(t.pack)"
                                         " FROM subjects s LEFT JOIN templates t ON t.subject = s.id"
                                         " GROUP BY s.id ORDER BY s.id")]

    def subject_by_card(self, id_card_hash: str) -> str | None:
        row = self.db.execute("SELECT id FROM subjects WHERE id_card_hash = ?", [id_card_hash]).fetchone()
        return row[0] if row else None

    def templates(self, pack: str) -> tuple[list[str], list[bytes]]:
        rows = self.db.execute("SELECT subject, embedding FROM templates WHERE pack = ? ORDER BY subject",
                               [pack]).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def gallery_members(self, site: str, purpose: str, pack: str, now: str) -> dict[str, bytes]:
        """subject -> template of everyone whose live consent covers this site and purpose."""
        rows = self.db.execute(
            "SELECT DISTINCT t.subject, t.embedding FROM consents c JOIN templates t ON t.subject = c.subject"
            " AND t.pack = ? WHERE c.purpose = ? AND c.withdrawn_at IS NULL"
            " AND (c.expires_at IS NULL OR c.expires_at > ?) AND c.granted_at <= ?"
            " AND EXISTS (SELECT 1 FROM json_each(c.sites) WHERE value = ? OR value = '*')",
            [pack, purpose, now, now, site]).fetchall()
        return dict(rows)

    def withdraw_consents(self, subject: str, purpose: str | None, now: str, audit: AuditEntry) -> int:
        """Mark the subject's live consents (of one purpose, or all) withdrawn; how many."""
        with self.transaction() as conn:
            sql = "UPDATE consents SET withdrawn_at = ? WHERE subject = ? AND withdrawn_at IS NULL"
            args = [now, subject]
            if purpose:
                sql, args = sql + " AND purpose = ?", args + [purpose]
            changed = conn.execute(sql, args).rowcount
            if changed:
                self._append_audit(conn, self._audit_head(conn), audit)
            return changed

    def expired_consents(self, now: str) -> list[tuple[int, str]]:
        """(consent id, subject) of consents past their expiry that are not yet closed."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, subject FROM consents WHERE withdrawn_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?",
            [now]).fetchall()]

    def close_consent(self, consent_id: int, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE consents SET withdrawn_at = ? WHERE id = ?", (now, consent_id))

    def delete_templates_without_consent(self, now: str) -> list[str]:
        """Erase centrally the templates of subjects with no live consent left; the subjects erased."""
        with self.transaction() as conn:
            gone = [r[0] for r in conn.execute(
                "SELECT DISTINCT subject FROM templates WHERE subject NOT IN (SELECT subject FROM consents"
                " WHERE withdrawn_at IS NULL AND (expires_at IS NULL OR expires_at > ?))", (now,))]
            conn.executemany("DELETE FROM templates WHERE subject = ?", [(g,) for g in gone])
            conn.executemany("UPDATE subjects SET id_card_hash = NULL WHERE id = ?", [(g,) for g in gone])
            return gone

    # -- gallery versions and erasures -----------------------------------------------------

    def latest_gallery(self, device: str) -> tuple[int, list[str], str | None, str | None]:
        """(version, members, published_at, applied_at) of the device's newest gallery; version 0 if none."""
        row = self.db.execute("SELECT version, members, published_at, applied_at FROM device_galleries"
                              " WHERE device = ? ORDER BY version DESC LIMIT 1", [device]).fetchone()
        return (row[0], json.loads(row[1]), row[2], row[3]) if row else (0, [], None, None)

    def applied_gallery_version(self, device: str) -> int:
        row = self.db.execute("SELECT max(version) FROM device_galleries WHERE device = ? AND applied_at IS NOT NULL",
                              [device]).fetchone()
        return row[0] or 0

    def new_gallery_version(self, device: str, members: list[str], now: str) -> int:
        """Record the device's next gallery version; pending erasures of subjects left out wait for it."""
        with self.transaction() as conn:
            row = conn.execute("SELECT max(version) FROM device_galleries WHERE device = ?", (device,)).fetchone()
            version = (row[0] or 0) + 1
            conn.execute("INSERT INTO device_galleries (device, version, members, created_at) VALUES (?, ?, ?, ?)",
                         (device, version, json.dumps(sorted(members)), now))
            marks = ",".join("?" * len(members)) or "''"
            conn.execute(f"UPDATE erasure_devices SET version = ? WHERE device = ? AND version IS NULL AND erasure IN"
                         f" (SELECT id FROM erasures WHERE subject NOT IN ({marks}))", (version, device, *members))
            return version

    def mark_gallery_published(self, device: str, version: int, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE device_galleries SET published_at = ? WHERE device = ? AND version = ?",
                         (now, device, version))

    def gallery_applied(self, device: str, version: int, now: str) -> list[int]:
        """The device runs `version` now: confirm it (and older ones) and its erasures; erasures completed."""
        with self.transaction() as conn:
            conn.execute("UPDATE device_galleries SET applied_at = ? WHERE device = ? AND version <= ?"
                         " AND applied_at IS NULL", (now, device, version))
            conn.execute("UPDATE erasure_devices SET confirmed_at = ? WHERE device = ? AND version <= ?"
                         " AND confirmed_at IS NULL", (now, device, version))
            done = [r[0] for r in conn.execute(
                "SELECT id FROM erasures e WHERE completed_at IS NULL AND NOT EXISTS (SELECT 1 FROM erasure_devices d"
                " WHERE d.erasure = e.id AND d.confirmed_at IS NULL)")]
            head = self._audit_head(conn)
            for erasure in done:
                conn.execute("UPDATE erasures SET completed_at = ? WHERE id = ?", (now, erasure))
                devices = [r[0] for r in conn.execute("SELECT device FROM erasure_devices WHERE erasure = ?",
                                                      (erasure,))]
                subject = conn.execute("SELECT subject FROM erasures WHERE id = ?", (erasure,)).fetchone()[0]
                head = self._append_audit(conn, head, AuditEntry(now, "system", "erasure.completed", subject,
                                                                 {"erasure": erasure, "devices": devices}))
            return done

    def open_erasure(self, subject: str, reason: str, devices: list[str], now: str, actor: str) -> int:
        """Track an erasure until each device that held the subject confirms a gallery without them."""
        with self.transaction() as conn:
            erasure = conn.execute("INSERT INTO erasures (subject, reason, requested_at, requested_by)"
                                   " VALUES (?, ?, ?, ?)", (subject, reason, now, actor)).lastrowid
            for device in devices:
                # If the device's newest gallery already leaves the subject out, that is the version to confirm.
                newest = conn.execute("SELECT version, members FROM device_galleries WHERE device = ?"
                                      " ORDER BY version DESC LIMIT 1", (device,)).fetchone()
                version = newest[0] if newest and subject not in json.loads(newest[1]) else None
                conn.execute("INSERT INTO erasure_devices (erasure, device, version) VALUES (?, ?, ?)",
                             (erasure, device, version))
            if not devices:
                conn.execute("UPDATE erasures SET completed_at = ? WHERE id = ?", (now, erasure))
            self._append_audit(conn, self._audit_head(conn), AuditEntry(
                now, actor, "erasure.requested", subject, {"erasure": erasure, "reason": reason, "devices": devices}))
            return erasure

    def erasures(self, outstanding_only: bool = False) -> list[dict]:
        sql = "SELECT id, subject, reason, requested_at, requested_by, completed_at FROM erasures"
        if outstanding_only:
            sql += " WHERE completed_at IS NULL"
        out = []
        for row in self.db.execute(sql + " ORDER BY id").fetchall():
            devices = {d: {"version": v, "confirmed_at": c} for d, v, c in self.db.execute(
                "SELECT device, version, confirmed_at FROM erasure_devices WHERE erasure = ?", [row[0]])}
            out.append(dict(zip(("id", "subject", "reason", "requested_at", "requested_by", "completed_at"), row))
                       | {"devices": devices})
        return out

    def devices_holding(self, subject: str) -> list[str]:
        """Devices that hold the subject, or may: their newest gallery, or the newest they confirmed, lists them."""
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT g.device FROM device_galleries g WHERE (g.version = (SELECT max(version) FROM"
            " device_galleries WHERE device = g.device) OR g.version = (SELECT max(version) FROM device_galleries"
            " WHERE device = g.device AND applied_at IS NOT NULL))"
            " AND EXISTS (SELECT 1 FROM json_each(g.members) WHERE value = ?) ORDER BY g.device", [subject])]

    # -- exam sessions ---------------------------------------------------------------------

    def project_exam_event(self, body: dict, received_at: str, skew_limit_s: float) -> None:
        """Fold one stored exam event into the session, flag and evidence tables (the review's view)."""
        kind = body["kind"]
        with self.transaction() as conn:
            if kind == "exam.session":
                skew = _seconds_between(body["captured_at"], received_at)
                conn.execute(
                    "INSERT INTO exam_sessions (id, site, device, candidate, exam_type, stage, seat, started_at,"
                    " ended_at, checkin, checkin_score, reason, checks, checks_total, flags, evidence, updated_at,"
                    " clock_skew_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                    " started_at=excluded.started_at, ended_at=excluded.ended_at, checkin=excluded.checkin, checkin_score=excluded.checkin_score,"
                    " reason=excluded.reason, checks=excluded.checks, checks_total=excluded.checks_total,"
                    " flags=excluded.flags, evidence=excluded.evidence, updated_at=excluded.updated_at,"
                    " clock_skew_s=max(coalesce(clock_skew_s, 0), excluded.clock_skew_s)",
                    (body["session"], body["site"], body["device"], body["candidate"], body["exam_type"],
                     body["stage"], body.get("seat"), body["started_at"], body.get("ended_at"), body["checkin"],
                     body.get("checkin_score"), body.get("reason", ""), json.dumps(body.get("checks", [])),
                     body.get("checks_total", 0), json.dumps(body.get("flags", [])),
                     json.dumps(body.get("evidence", [])), received_at, abs(skew)))
                if abs(skew) > skew_limit_s:
                    conn.execute(
                        "INSERT OR IGNORE INTO exam_flags (id, session, device, kind, start, end, duration_s,"
                        " confidence, severity, detail, evidence) VALUES (?,?,?,?,?,?,0,1,'low',?,'[]')",
                        (f"clock-{body['session']}", body["session"], body["device"], "technical", received_at,
                         received_at, f"device clock differs from the gateway's by {skew:+.0f}s (both times kept)"))
            elif kind == "exam.flag":
                duration = _seconds_between(body["start"], body["end"]) if body.get("end") else None
                conn.execute(
                    "INSERT INTO exam_flags (id, session, device, kind, start, end, duration_s, confidence, severity,"
                    " detail, evidence) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET end=excluded.end,"
                    " duration_s=excluded.duration_s, evidence=excluded.evidence",
                    (body["flag"], body["session"], body["device"], body["flag_kind"], body["start"], body.get("end"),
                     duration, body["confidence"], body["severity"], body.get("detail", ""),
                     json.dumps(body.get("evidence", []))))
            elif kind == "exam.evidence":
                conn.execute("INSERT OR IGNORE INTO exam_evidence (id, session, device, what, reason, sha256, nonce,"
                             " ciphertext, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                             (body["evidence"], body["session"], body["device"], body["what"], body["reason"],
                              body["sha256"], body["nonce"], body["ciphertext"], received_at))

    def create_exam_session(self, session: str, site: str, device: str, candidate: str, exam_type: str, stage: str,
                            seat: str | None, now: str, actor: str) -> None:
        """A session created at the gateway, waiting for its device to run it."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO exam_sessions (id, site, device, candidate, exam_type, stage, seat, started_at,"
                         " checkin, checks, checks_total, flags, evidence, updated_at, created_by)"
                         " VALUES (?,?,?,?,?,?,?,?,'pending','[]',0,'[]','[]',?,?)",
                         (session, site, device, candidate, exam_type, stage, seat, now, now, actor))
            self._append_audit(conn, self._audit_head(conn), AuditEntry(
                now, actor, "exam.session.created", session, {"device": device, "candidate": candidate}))

    def exam_sessions(self, site: str | None = None, day: str | None = None) -> list[dict]:
        sql = "SELECT * FROM exam_sessions"
        where, args = [], []
        if site:
            where.append("site = ?")
            args.append(site)
        if day:
            where.append("substr(started_at, 1, 10) = ?")
            args.append(day)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._session_row(r) for r in self.db.query(sql + " ORDER BY started_at DESC", args)]

    def exam_session(self, session: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM exam_sessions WHERE id = ?", [session]))
        return self._session_row(rows[0]) if rows else None

    def exam_flags(self, session: str) -> list[dict]:
        return [dict(r) | {"evidence": json.loads(r["evidence"] or "[]")} for r in
                self.db.query("SELECT * FROM exam_flags WHERE session = ? ORDER BY start", [session])]

    def exam_flag(self, flag: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM exam_flags WHERE id = ?", [flag]))
        return rows[0] if rows else None

    def exam_evidence(self, session: str | None = None, evidence: str | None = None) -> list[dict]:
        if evidence:
            return list(self.db.query("SELECT * FROM exam_evidence WHERE id = ?", [evidence]))
        return list(self.db.query("SELECT id, what, reason, sha256, received_at FROM exam_evidence"
                                  " WHERE session = ? ORDER BY id", [session]))

    def review_flag(self, flag: str, decision: str, note: str, user: str, now: str) -> bool:
        with self.transaction() as conn:
            changed = conn.execute("UPDATE exam_flags SET review = ?, review_note = ?, reviewed_by = ?,"
                                   " reviewed_at = ? WHERE id = ?", (decision, note, user, now, flag)).rowcount
            if changed:
                self._append_audit(conn, self._audit_head(conn), AuditEntry(
                    now, f"user:{user}", f"exam.flag.{decision}", flag, {"note": note}))
            return bool(changed)

    def set_exam_verdict(self, session: str, verdict: str, note: str, user: str, now: str) -> bool:
        with self.transaction() as conn:
            changed = conn.execute("UPDATE exam_sessions SET verdict = ?, verdict_note = ?, verdict_by = ?,"
                                   " verdict_at = ? WHERE id = ?", (verdict, note, user, now, session)).rowcount
            if changed:
                self._append_audit(conn, self._audit_head(conn), AuditEntry(
                    now, f"user:{user}", "exam.verdict", session, {"verdict": verdict, "note": note}))
            return bool(changed)

    def _session_row(self, r: dict) -> dict:
        flags = list(self.db.query("SELECT kind, review FROM exam_flags WHERE session = ?", [r["id"]]))
        counts: dict[str, int] = {}
        for f in flags:
            counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        return dict(r) | {"checks": json.loads(r["checks"] or "[]"), "flags": json.loads(r["flags"] or "[]"),
                          "evidence": json.loads(r["evidence"] or "[]"), "flag_counts": counts,
                          "status": exam_status(r, flags)}

    # -- users and tokens --------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO users (name, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, 0)",
                         (name, role, password_hash, now))

    def set_password(self, name: str, password_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))

    def user(self, name: str) -> User | None:
        row = self.db.execute("SELECT name, role, password_hash, disabled FROM users WHERE name = ?", [name]).fetchone()
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def add_token(self, token_hash: str, user: str, expires_at: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,))
            conn.execute("INSERT INTO tokens (hash, user, expires_at) VALUES (?, ?, ?)", (token_hash, user, expires_at))

    def token_user(self, token_hash: str, now: str) -> User | None:
        row = self.db.execute("SELECT u.name, u.role, u.password_hash, u.disabled FROM tokens t JOIN users u"
                              " ON u.name = t.user WHERE t.hash = ? AND t.expires_at > ?", [token_hash, now]).fetchone()
        return User(row[0], row[1], row[2], bool(row[3])) if row else None


def _seconds_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b.replace("Z", "+00:00"))
            - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()


TECHNICAL_FLAGS = {"technical", "camera_blocked"}


def exam_status(session: dict, flags: list[dict]) -> str:
    """The traffic light: confirmed incident > needs review > technical problem > clean."""
    if any(f["review"] == "confirmed" for f in flags):
        return "confirmed incident"
    if session["checkin"] in ("failed", "presentation_attack") and not session.get("verdict"):
        return "needs review"
    if any(f["review"] is None and f["kind"] not in TECHNICAL_FLAGS for f in flags):
        return "needs review"
    if any(f["review"] is None for f in flags) or session["checkin"] == "refused":
        return "technical problem"
    return "clean"


def _device(row: tuple) -> Device:
    (id_, site, kind, name, public_key, status, created_at, last_seq, online, status_at,
     last_heartbeat, last_heartbeat_at) = row
    return Device(id_, site, kind, name or id_, public_key, status, created_at, last_seq or 0, bool(online), status_at,
                  json.loads(last_heartbeat) if last_heartbeat else None, last_heartbeat_at)
