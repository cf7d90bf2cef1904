"""Release 1: the schema the gateway had before it had migrations.

Revision ID: 0001
Revises: (none)

That release created its tables when they were missing and, twice, added
columns inside those create blocks, so a database made by an early build of it
lacks columns a later build expects. This migration therefore adopts whatever
it finds: a missing table is created, a missing column added, a missing index
made. On an empty database it simply creates release 1's schema.
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None

T, I, F, B = sa.Text, sa.Integer, sa.Float, sa.LargeBinary

# table -> (columns as (name, type, extra), primary key, indexes as (columns, unique))
RELEASE_1 = {
    "devices": ([("id", T), ("site", T), ("kind", T), ("name", T), ("public_key", T), ("status", T),
                 ("created_at", T), ("last_seq", I, "0"), ("online", I, "0"), ("status_at", T),
                 ("last_heartbeat", T), ("last_heartbeat_at", T), ("mqtt_secret", T), ("model_pack", T),
                 ("gallery_key", T)], ["id"], []),
    "events": ([("id", T), ("site", T), ("device", T), ("kind", T), ("seq", I), ("captured_at", T),
                ("received_at", T), ("verdict", T), ("subject", T), ("score", F), ("body", T), ("sig", T)], ["id"],
               [(["device", "seq"], True), (["captured_at", "id"], False), (["device", "captured_at", "id"], False),
                (["site", "captured_at", "id"], False), (["subject", "captured_at", "id"], False),
                (["kind", "verdict", "captured_at", "id"], False)]),
    "audit": ([("seq", I), ("at", T), ("actor", T), ("action", T), ("target", T), ("detail", T), ("prev", T),
               ("hash", T)], ["seq"], [(["target"], False)]),
    "sites": ([("id", T), ("name", T), ("created_at", T)], ["id"], []),
    "subjects": ([("id", T), ("display_name", T), ("id_card_hash", T), ("created_at", T), ("recorded_by", T)],
                 ["id"], [(["id_card_hash"], False)]),
    "consents": ([("id", I), ("subject", T), ("purpose", T), ("sites", T), ("notice_version", T), ("channel", T),
                  ("granted_at", T), ("expires_at", T), ("withdrawn_at", T), ("recorded_by", T)], ["id"],
                 [(["subject"], False)]),
    "templates": ([("subject", T), ("pack", T), ("embedding", B), ("quality", F), ("created_at", T)],
                  ["subject", "pack"], []),
    "device_galleries": ([("device", T), ("version", I), ("members", T), ("created_at", T), ("published_at", T),
                          ("applied_at", T)], ["device", "version"], []),
    "erasures": ([("id", I), ("subject", T), ("reason", T), ("requested_at", T), ("requested_by", T),
                  ("completed_at", T)], ["id"], []),
    "erasure_devices": ([("erasure", I), ("device", T), ("version", I), ("confirmed_at", T)],
                        ["erasure", "device"], []),
    "exam_sessions": ([("id", T), ("site", T), ("device", T), ("candidate", T), ("exam_type", T), ("stage", T),
                       ("seat", T), ("started_at", T), ("ended_at", T), ("checkin", T), ("checkin_score", F),
                       ("reason", T), ("checks", T), ("checks_total", I), ("flags", T), ("evidence", T),
                       ("updated_at", T), ("clock_skew_s", F), ("verdict", T), ("verdict_note", T),
                       ("verdict_by", T), ("verdict_at", T), ("created_by", T)], ["id"],
                      [(["site", "started_at"], False)]),
    "exam_flags": ([("id", T), ("session", T), ("device", T), ("kind", T), ("start", T), ("end", T),
                    ("duration_s", F), ("confidence", F), ("severity", T), ("detail", T), ("evidence", T),
                    ("review", T), ("review_note", T), ("reviewed_by", T), ("reviewed_at", T)], ["id"],
                   [(["session"], False)]),
    "exam_evidence": ([("id", T), ("session", T), ("device", T), ("what", T), ("reason", T), ("sha256", T),
                       ("nonce", T), ("ciphertext", T), ("received_at", T)], ["id"], [(["session"], False)]),
    "purged_events": ([("id", T), ("audit_seq", I)], ["id"], []),
    "users": ([("name", T), ("role", T), ("password_hash", T), ("created_at", T), ("disabled", I, "0")],
              ["name"], []),
    "tokens": ([("hash", T), ("user", T), ("expires_at", T)], ["hash"], []),
}
NOT_NULL = {
    "devices": {"site", "kind", "public_key", "status"},
    "events": {"site", "device", "kind", "seq", "captured_at", "body", "sig"},
    "audit": {"at", "actor", "action", "hash"},
    "consents": {"subject", "purpose", "sites", "granted_at"},
    "users": {"role", "password_hash"},
}
AUTOINCREMENT = {("consents", "id"), ("erasures", "id")}
FOREIGN_KEYS = {"tokens": [(["user"], ["users.name"])]}


def _column(table: str, spec: tuple, primary_key: list[str]) -> sa.Column:
    name, kind, *default = spec
    return sa.Column(name, kind, primary_key=name in primary_key, nullable=name not in NOT_NULL.get(table, ()),
                     server_default=default[0] if default else None,
                     autoincrement=(table, name) in AUTOINCREMENT if name in primary_key else "auto")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table, (columns, primary_key, indexes) in RELEASE_1.items():
        if table not in existing:
            op.create_table(table, *(_column(table, c, primary_key) for c in columns),
                            *(sa.ForeignKeyConstraint(cols, refs) for cols, refs in FOREIGN_KEYS.get(table, [])))
        else:
            have = {c["name"] for c in inspector.get_columns(table)}
            for spec in columns:
                if spec[0] not in have:  # made by an early build of release 1
                    op.add_column(table, _column(table, spec, []))
        have_indexes = {i["name"] for i in inspector.get_indexes(table)} if table in existing else set()
        for index_columns, unique in indexes:
            name = f"idx_{table}_{'_'.join(index_columns)}"
            if name not in have_indexes:
                op.create_index(name, table, index_columns, unique=unique)
