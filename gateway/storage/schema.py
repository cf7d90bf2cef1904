"""The current schema, as SQLAlchemy Core tables: what the queries are written against.

Migrations (gateway/storage/migrations/versions) are what creates and changes
it; `tests/test_migrations.py` checks that a migrated database matches this.
Timestamps are text in one fixed-width UTC form (`wire.events.utc_text`), so
text order is time order on every database.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, Table, Text,
                        UniqueConstraint, text)

metadata = MetaData()

# Counters that grow with every event: 64-bit (SQLite's INTEGER already is; PostgreSQL's is not).
Counter = Integer().with_variant(BigInteger(), "postgresql")

devices = Table(
    "devices", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Text),
    Column("public_key", Text, nullable=False),
    Column("status", Text, nullable=False),  # "active" | "revoked"
    Column("created_at", Text),
    Column("last_seq", Counter, server_default="0"),
    Column("online", Integer, server_default="0"),
    Column("status_at", Text),
    Column("last_heartbeat", Text),
    Column("last_heartbeat_at", Text),
    Column("mqtt_secret", Text),
    Column("model_pack", Text),
    Column("gallery_key", Text),
    Column("clock_skew_s", Float),  # gateway time minus device time at its last heartbeat
    Column("room", Text),  # an exam device's place at its test centre (0012)
    Column("seat", Text),
    Column("config_version", Integer),  # the configuration version the device says it runs (0: its local file; 0018)
    Column("config_at", Text),  # ... when it said so
)

# On PostgreSQL events are partitioned by kind and month of retain_from (storage/postgres/partitions.py, migration 0003).
events = Table(
    "events", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("seq", Counter, nullable=False),
    Column("captured_at", Text, nullable=False),
    Column("received_at", Text),
    Column("verdict", Text),
    Column("subject", Text),
    Column("score", Float),
    Column("body", Text, nullable=False),
    Column("sig", Text, nullable=False),
    Column("clock_suspect", Integer, nullable=False, server_default="0"),
    Column("retain_from", Text),  # captured_at, or received_at when the device's clock is not to be trusted
    Index("idx_events_device_seq", "device", "seq", unique=True),
    Index("idx_events_captured_at_id", "captured_at", "id"),
    Index("idx_events_device_captured_at_id", "device", "captured_at", "id"),
    Index("idx_events_site_captured_at_id", "site", "captured_at", "id"),
    Index("idx_events_subject_captured_at_id", "subject", "captured_at", "id"),
    Index("idx_events_kind_verdict_captured_at_id", "kind", "verdict", "captured_at", "id"),
    # The live gate's "today's verdicts, newest first" (migration 0006): without it SQLite sorted every verdict.
    Index("idx_events_kind_captured_at_id", "kind", "captured_at", "id"),
    Index("idx_events_kind_retain_from", "kind", "retain_from"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("device", Text),
    Column("reason", Text, nullable=False),
    Column("error", Text),
    Column("payload", LargeBinary, nullable=False),
    Column("sha256", Text, nullable=False),  # of the payload: a device resending it is not kept twice
    Index("idx_quarantine_sha256", "sha256", unique=True),
)

purged_events = Table(
    "purged_events", metadata,
    Column("id", Text, primary_key=True),
    Column("audit_seq", Counter),
)

# People's entries, as opposed to devices' (`device:<id>`): the partial index's predicate and the query's, one text.
AUDIT_PEOPLE = "substr(actor, 1, 7) <> 'device:'"
# The pages' own reads -- a list loaded, a session or its evidence opened, the event stream followed -- are people's
# entries too, but kept apart from their actions (migration 0014): each load of the live page writes several, and
# the audit page's default view is what people did. An auditor asks for the reads by name (who saw what).
AUDIT_READ_ACTIONS = ("event.read", "events.read", "events.stream", "exam.day_report.read", "exam.evidence.read",
                      "exam.report.read", "exam.session.read", "exam.sessions.read", "subjects.read")
_READS = ", ".join(f"'{action}'" for action in AUDIT_READ_ACTIONS)
AUDIT_ACTIONS = f"{AUDIT_PEOPLE} AND action NOT IN ({_READS})"
AUDIT_READS = f"{AUDIT_PEOPLE} AND action IN ({_READS})"
audit = Table(
    "audit", metadata,
    Column("seq", Counter, primary_key=True, autoincrement=False),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("detail", Text),
    Column("prev", Text),
    Column("hash", Text, nullable=False),
    # The audit page's filters, newest first (migration 0005); people's actions alone in a partial index.
    Index("idx_audit_target_seq", "target", "seq"),
    Index("idx_audit_actor_seq", "actor", "seq"),
    Index("idx_audit_action_seq", "action", "seq"),
    Index("idx_audit_at", "at"),
    Index("idx_audit_people_seq", "seq", sqlite_where=text(AUDIT_PEOPLE), postgresql_where=text(AUDIT_PEOPLE)),
    Index("idx_audit_actions_seq", "seq", sqlite_where=text(AUDIT_ACTIONS), postgresql_where=text(AUDIT_ACTIONS)),
)

sites = Table(
    "sites", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text),
    Column("created_at", Text),
    Column("capacity", Integer),  # the most people inside at once (migration 0016); None: no limit
)

subjects = Table(
    "subjects", metadata,
    Column("id", Text, primary_key=True),
    Column("display_name", Text),
    Column("id_card_hash", Text),  # keyed hash (HMAC-SHA256); the number itself is never stored
    Column("created_at", Text),
    Column("recorded_by", Text),
    Index("idx_subjects_id_card_hash", "id_card_hash"),
)

consents = Table(
    "consents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("sites", Text, nullable=False),  # JSON list as recorded; consent_sites is its index
    Column("notice_version", Text),
    Column("channel", Text),
    Column("granted_at", Text, nullable=False),
    Column("expires_at", Text),
    Column("withdrawn_at", Text),
    Column("recorded_by", Text),
    Index("idx_consents_subject", "subject"),
)

consent_sites = Table(
    "consent_sites", metadata,
    Column("consent", Integer, ForeignKey("consents.id"), primary_key=True),
    Column("site", Text, primary_key=True),  # a site id, or "*" for every site
    Index("idx_consent_sites_site", "site"),
)

templates = Table(
    "templates", metadata,
    Column("subject", Text, primary_key=True),
    Column("pack", Text, primary_key=True),
    Column("embedding", LargeBinary),
    Column("quality", Float),
    Column("created_at", Text),
)

device_galleries = Table(
    "device_galleries", metadata,
    Column("device", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("members", Text),  # JSON list of subject ids
    Column("created_at", Text),
    Column("published_at", Text),
    Column("applied_at", Text),
    Column("admits", Text),  # SHA-256 of the members' passes it carries (migration 0015): a pass change is a version
)

# Each device's configurations from the centre (0018): numbered versions, never changed once made, except for what
# became of them (published, then applied or refused by the device).
device_configs = Table(
    "device_configs", metadata,
    Column("device", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", Text, nullable=False),  # JSON, door passwords masked: what the pages show and diff
    Column("payload", Text, nullable=False),  # the signed `cmd/config` message, the document sealed to the device
    Column("changes", Text, nullable=False),  # JSON {"section.key": [old, new]} against the version before, masked
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("rollback_of", Integer),  # the earlier version whose document this one is
    Column("published_at", Text),  # the broker took it (retained)
    Column("outcome", Text),  # "applied" | "refused": the device's word
    Column("how", Text),  # applied: "live" | "restart" | "start"
    Column("reason", Text),  # refused: why
    Column("reported_at", Text),
)

packs = Table(
    "packs", metadata,
    Column("name", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("files", Text, nullable=False),  # JSON [{name, sha256, size}], kept in <data>/updates/packs/<name>/<version>
    Column("manifest", Text, nullable=False),  # the pack's manifest (models/manifest.toml's format)
    Column("reference", Text, nullable=False),  # JSON [{file, embedding}]: the self-test, made with the fleet's pack
    Column("published_at", Text, nullable=False),
    Column("published_by", Text, nullable=False),
)

releases = Table(
    "releases", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),  # the gateway's number: 1, 2, ...
    Column("release", Text, nullable=False, unique=True),  # FaceGate's own version (its wheel's)
    Column("files", Text, nullable=False),  # JSON [{name, sha256, size}], kept in <data>/updates/releases/<version>
    Column("lock", Text, nullable=False),  # its hash-locked requirements (pip's format)
    Column("published_at", Text, nullable=False),
    Column("published_by", Text, nullable=False),
)

rollouts = Table(
    "rollouts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),  # "pack" | "software"
    Column("name", Text, nullable=False),  # the pack's; "facegate" for a release
    Column("version", Integer, nullable=False),
    Column("stages", Text, nullable=False),  # JSON [[device, ...], ...]: who gets it, stage by stage
    Column("stage", Integer, nullable=False),  # the stage going out now (0-based)
    Column("state", Text, nullable=False),  # "running" | "done" | "stopped"
    Column("reason", Text),  # stopped: why
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

device_updates = Table(
    "device_updates", metadata,
    Column("device", Text, primary_key=True),
    Column("sequence", Integer, primary_key=True),  # numbers every update command to the device
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("rollback", Integer, nullable=False),  # 1: back to an earlier version, on purpose
    Column("rollout", Integer),
    Column("previous", Integer),  # the version the device ran when this was made (what a rollback goes back to)
    Column("baseline_fps", Float),  # the fps its last heartbeat before this said: what health is measured against
    Column("payload", Text, nullable=False),  # the signed `cmd/update` message
    Column("created_at", Text, nullable=False),
    Column("published_at", Text),
    Column("outcome", Text),  # "applied" | "refused": the device's word
    Column("reason", Text),
    Column("self_test", Float),
    Column("reported_at", Text),
    Index("device_updates_rollout", "rollout"),
)

erasures = Table(
    "erasures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", Text),
    Column("reason", Text),
    Column("requested_at", Text),
    Column("requested_by", Text),
    Column("completed_at", Text),
)

erasure_devices = Table(
    "erasure_devices", metadata,
    Column("erasure", Integer, primary_key=True),
    Column("device", Text, primary_key=True),
    Column("version", Integer),
    Column("confirmed_at", Text),
)

exam_sessions = Table(
    "exam_sessions", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text),
    Column("device", Text),
    Column("candidate", Text),
    Column("exam_type", Text),
    Column("stage", Text),
    Column("seat", Text),
    Column("started_at", Text),
    Column("ended_at", Text),
    Column("checkin", Text),
    Column("checkin_score", Float),
    Column("checkin_chip_score", Float),  # checked in with a chip ID card: the live face against its portrait (0007)
    Column("reason", Text),
    Column("checks", Text),
    Column("checks_total", Integer),
    Column("flags", Text),
    Column("evidence", Text),
    Column("updated_at", Text),
    Column("clock_skew_s", Float),
    Column("verdict", Text),
    Column("verdict_note", Text),
    Column("verdict_by", Text),
    Column("verdict_at", Text),
    Column("verdict_history", Text),  # JSON: the earlier verdicts, oldest first
    Column("created_by", Text),
    Column("room", Text),  # scheduled from the candidate list (0012)
    Column("pushed_at", Text),  # when its command went to the device; None: scheduled, not yet sent
    Index("idx_exam_sessions_site_started_at", "site", "started_at"),
)

exam_candidates = Table(  # the exam council's list for a day at a centre (migration 0011)
    "exam_candidates", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text, nullable=False),  # the test centre
    Column("exam_date", Text, nullable=False),  # YYYY-MM-DD
    Column("number", Text, nullable=False),  # the candidate number (số báo danh)
    Column("name", Text, nullable=False),  # in any script, as the list writes it
    Column("personal_hash", Text, nullable=False),  # the 12-digit personal number's keyed hash, never the number
    Column("document", Text),  # the day's chip access key: the number's last 9 digits ...
    Column("birth", Text),  # ... and the birth date (YYYY-MM-DD); both cleared when the day ends
    Column("licence_class", Text, nullable=False),
    Column("parts", Text, nullable=False),  # JSON list: theory, simulation, track, road
    Column("slot", Text, nullable=False),  # HH:MM, the slot's start on the centre's clock
    Column("room", Text, nullable=False),
    Column("imported_by", Text, nullable=False),
    Column("imported_at", Text, nullable=False),
    Column("session", Text),  # the session scheduled for the candidate (0012)
    Column("checked_in_at", Text),  # at the door: when ...
    Column("checkin_method", Text),  # ... "chip" | "manual" ...
    Column("basis", Text),  # ... "consent" | "exam_rules" ...
    Column("checkin_detail", Text),  # ... and what was found (JSON)
    UniqueConstraint("site", "exam_date", "number", name="uq_exam_candidates_day_number"),
)

exam_candidate_photos = Table(  # the photo a list carries for a candidate, until the day ends (migration 0013)
    "exam_candidate_photos", metadata,
    Column("candidate", Text, ForeignKey("exam_candidates.id"), primary_key=True),
    Column("photo", LargeBinary, nullable=False),  # the picture's file as the list held it (JPEG or PNG)
)

exam_flags = Table(
    "exam_flags", metadata,
    Column("id", Text, primary_key=True),
    Column("session", Text),
    Column("device", Text),
    Column("kind", Text),
    Column("start", Text),
    Column("end", Text),
    Column("duration_s", Float),
    Column("confidence", Float),
    Column("severity", Text),
    Column("detail", Text),
    Column("evidence", Text),
    Column("review", Text),
    Column("review_note", Text),
    Column("reviewed_by", Text),
    Column("reviewed_at", Text),
    Column("review_history", Text),  # JSON: the earlier reviews, oldest first
    Index("idx_exam_flags_session", "session"),
)

exam_evidence = Table(
    "exam_evidence", metadata,
    Column("id", Text, primary_key=True),
    Column("session", Text),
    Column("device", Text),
    Column("what", Text),
    Column("reason", Text),
    Column("sha256", Text),
    Column("nonce", Text),
    Column("ciphertext", Text),
    Column("received_at", Text),
    Index("idx_exam_evidence_session", "session"),
)

users = Table(
    "users", metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Text),
    Column("disabled", Integer, server_default="0"),
    Column("language", Text),  # None: the gateway's default language
    Column("device", Text),  # a kiosk login's kiosk device: the one it may use (migration 0010)
    Column("site", Text),  # a ticketing login's site: the only one whose passes it may sell (migration 0015)
)

kiosk_settings = Table(  # what a kiosk enrols visitors for, set by staff, never by the visitor (migration 0010)
    "kiosk_settings", metadata,
    Column("device", Text, primary_key=True),
    Column("purpose", Text, nullable=False),  # gate or exam
    Column("ticket_days", Integer, nullable=False),  # the consent ends at 23:59 on the site's clock, N days on
    Column("updated_by", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("mode", Text),  # "enrol" (None: before 0012) or "checkin": an exam room's door
    Column("room", Text),  # checkin: the room whose candidates it checks in (None: every room)
    Column("basis", Text),  # checkin: "consent" (the candidate answers the notice) or "exam_rules"
)

acknowledgements = Table(  # an operator dealt with a verdict (migration 0006)
    "acknowledgements", metadata,
    Column("event", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("by", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
)

card_reads = Table(  # a kiosk's card read until the person decides (migration 0007)
    "card_reads", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("valid_until", Text),  # the consent's end if the person agrees (a ticket's validity)
    Column("stage", Text, nullable=False),  # asked, read, face, failed
    Column("outcome", Text),  # the stage's outcome as the kiosk reported it
    Column("problems", Text, nullable=False, server_default="[]"),  # JSON list, plain words
    Column("passive", Text),  # the gateway's passive authentication: genuine, untrusted_issuer, ...
    Column("name", Text),  # the name as the card writes it (DG13, else DG1): the display name if enrolled
    Column("mrz_name", Text),  # DG1's ASCII name, beside it (migration 0009)
    Column("card_hash", Text),  # the card number's keyed hash (never the number)
    Column("card_expiry", Text),  # DG1's expiry as the gateway read it, YYYY-MM-DD (migration 0008)
    Column("pack", Text),
    Column("chip_template", LargeBinary),
    Column("chip_quality", Float),
    Column("live_template", LargeBinary),
    Column("score", Float),  # live face to chip portrait, 1:1
    Column("threshold", Float),  # the score the kiosk needed for a match
    Column("liveness", Float),
    Column("events", Text, nullable=False, server_default="[]"),  # JSON list of the read's card event ids
    Column("updated_at", Text, nullable=False),
    Index("idx_card_reads_requested_at", "requested_at"),
)

tokens = Table(
    "tokens", metadata,
    Column("hash", Text, primary_key=True),
    Column("user", Text, ForeignKey("users.name")),
    Column("expires_at", Text),
    Column("used_at", Text),  # last presented, to the minute: idle sessions end (migration 0004)
)

# A site's kinds of ticket (migration 0015): what a pass of each kind allows, copied onto the pass when it is sold.
ticket_types = Table(
    "ticket_types", metadata,
    Column("site", Text, ForeignKey("sites.id"), primary_key=True),
    Column("code", Text, primary_key=True),  # the site's own short name for it, e.g. "day" or "combo-12"
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),  # wire.names.TICKET_KINDS
    Column("days", Integer, nullable=False),  # local days it is valid for, counted from its first
    Column("entries", Integer),  # entries it allows (None: any number, anti-passback aside)
    Column("gates", Text, nullable=False),  # JSON list of gate devices it opens; [] every gate of the site
    Column("active", Integer, nullable=False, server_default="1"),  # 0: no longer sold
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
)

# What lets a person in at a site (migration 0015): a face (an enrolled, consenting subject) or a QR ticket.
passes = Table(
    "passes", metadata,
    Column("id", Text, primary_key=True),
    Column("site", Text, nullable=False),
    Column("ticket_type", Text, nullable=False),  # its code at the site
    Column("subject", Text),  # the face that holds it; None: a QR ticket holds it
    Column("group_id", Text),  # a group's passes (a guide and its members) share it
    Column("group_role", Text),  # "guide" | "member"
    Column("valid_from", Text, nullable=False),
    Column("valid_until", Text, nullable=False),  # excluded
    Column("gates", Text, nullable=False),  # as its ticket type's when sold
    Column("entries", Integer),
    Column("used", Integer, nullable=False, server_default="0"),  # entries the gateway has stored
    Column("status", Text, nullable=False),  # "active" | "cancelled"
    Column("reference", Text),  # the ticketing system's own reference (an order number)
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("updated_at", Text, nullable=False),  # a change a gate must know of (not every entry)
    Index("idx_passes_site_updated_at", "site", "updated_at"),
    Index("idx_passes_site_subject", "site", "subject"),
    Index("idx_passes_group_id", "group_id"),
)

# A ticketing system's requests by their idempotency key (migration 0015): a retry gets the first answer again.
ticketing_requests = Table(
    "ticketing_requests", metadata,
    Column("site", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),  # SHA-256 of what was asked: the same key for another ask is refused
    Column("response", Text, nullable=False),  # JSON, as first answered
    Column("created_at", Text, nullable=False),
)

# People inside each site, per local day (migration 0016): counted from the gates' in and out verdicts as they are
# stored, set by an operator's count; the day's peak beside it.
occupancy = Table(
    "occupancy", metadata,
    Column("site", Text, primary_key=True),
    Column("day", Text, primary_key=True),  # YYYY-MM-DD on the site's clock
    Column("inside", Integer, nullable=False),
    Column("peak", Integer, nullable=False),
    Column("updated_at", Text, nullable=False),
)

# The gates' verdicts counted by hour (migration 0017), in the stored event's transaction: what the day in numbers
# reads, so that its charts and the Department's report cost a few thousand rows whatever the number of events,
# and outlive the events' retention (counts name nobody).
visits = Table(
    "visits", metadata,
    Column("site", Text, primary_key=True),  # a site's range of hours is a range of its primary key
    Column("hour", Text, primary_key=True),  # the UTC hour captured, "YYYY-MM-DDTHH"
    Column("device", Text, primary_key=True),
    Column("verdict", Text, primary_key=True),
    Column("direction", Text, primary_key=True),  # "in", "out", or "" (a lane without one)
    Column("method", Text, primary_key=True),  # "face" or "qr"
    Column("ticket_type", Text, primary_key=True),  # the pass's ticket type; "" for none (admitted by consent)
    Column("count", Counter, nullable=False),
    Index("idx_visits_hour", "hour"),
)
