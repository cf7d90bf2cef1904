"""PostgreSQL for a province: events partitioned by kind and month, 64-bit sequence numbers.

Revision ID: 0003
Revises: 0002

On PostgreSQL only (SQLite's integers are already 64-bit, and it has no
partitioning; the revision is recorded there and changes nothing):
- `events` becomes a table range-partitioned on (kind, retain_from), one
  partition per kind and month (gateway/storage/postgres/partitions.py); existing rows
  are copied into the partitions they belong in. Its primary key is
  (id, kind, retain_from) and the per-device sequence is unique per partition:
  PostgreSQL requires the partitioning columns in both.
- Sequence numbers that grow with every event (audit entries, device event
  sequences) are BIGINT: 2^31 audit entries is a few years of a province.
- Text that is sorted or paged on (event ids, kinds, timestamps) uses the C
  collation whatever the database's default is, so a cursor pages the same way
  on every database.
"""

from alembic import op
import sqlalchemy as sa

from gateway.storage.postgres.partitions import create_partition_sql

revision = "0003"
down_revision = "0002"

INDEXES = [("idx_events_captured_at_id", "captured_at, id"),
           ("idx_events_device_captured_at_id", "device, captured_at, id"),
           ("idx_events_site_captured_at_id", "site, captured_at, id"),
           ("idx_events_subject_captured_at_id", "subject, captured_at, id"),
           ("idx_events_kind_verdict_captured_at_id", "kind, verdict, captured_at, id"),
           ("idx_events_kind_retain_from", "kind, retain_from")]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in (("audit", "seq"), ("purged_events", "audit_seq"), ("devices", "last_seq")):
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE BIGINT')
    op.execute("""
        CREATE TABLE events_partitioned (
            id TEXT COLLATE "C" NOT NULL,
            site TEXT COLLATE "C" NOT NULL,
            device TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL,
            seq BIGINT NOT NULL,
            captured_at TEXT COLLATE "C" NOT NULL,
            received_at TEXT COLLATE "C",
            verdict TEXT COLLATE "C",
            subject TEXT COLLATE "C",
            score DOUBLE PRECISION,
            body TEXT NOT NULL,
            sig TEXT NOT NULL,
            clock_suspect INTEGER NOT NULL DEFAULT 0,
            retain_from TEXT COLLATE "C" NOT NULL,
            CONSTRAINT events_partitioned_pkey PRIMARY KEY (id, kind, retain_from),
            CONSTRAINT events_partitioned_device_seq UNIQUE (device, seq, kind, retain_from)
        ) PARTITION BY RANGE (kind, retain_from)""")
    # Make the partitions the existing rows need, under the new table's name for the moment.
    months = bind.execute(sa.text("SELECT DISTINCT kind, substr(COALESCE(retain_from, captured_at), 1, 7) "
                                  "FROM events")).fetchall()
    for kind, month in months:
        op.execute(create_partition_sql(kind, month).replace("PARTITION OF events ", "PARTITION OF events_partitioned "))
    op.execute("INSERT INTO events_partitioned SELECT id, site, device, kind, seq, captured_at, received_at, verdict, "
               "subject, score, body, sig, clock_suspect, COALESCE(retain_from, captured_at) FROM events")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_partitioned RENAME TO events")
    op.execute("ALTER TABLE events RENAME CONSTRAINT events_partitioned_pkey TO events_pkey")
    op.execute("ALTER TABLE events RENAME CONSTRAINT events_partitioned_device_seq TO idx_events_device_seq")
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON events ({columns})")
