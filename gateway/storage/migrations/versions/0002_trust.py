"""The gateway as a service you can trust: quarantine, device clocks, consent sites as rows.

Revision ID: 0002
Revises: 0001

- `quarantine`: messages ingest could neither store nor reject, kept with their raw bytes;
- `events.clock_suspect` and `events.retain_from`: an event whose device clock is implausible is kept,
  marked, and retained from when the gateway received it (existing events: from their capture time);
- `devices.clock_skew_s`: the device clock's offset at its last heartbeat;
- `consent_sites`: the sites a consent covers as rows, so every database can index them (was JSON only).
"""

import json

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("devices", sa.Column("clock_skew_s", sa.Float))
    op.add_column("events", sa.Column("clock_suspect", sa.Integer, nullable=False, server_default="0"))
    op.add_column("events", sa.Column("retain_from", sa.Text))
    op.execute("UPDATE events SET retain_from = captured_at")
    op.create_index("idx_events_kind_retain_from", "events", ["kind", "retain_from"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("device", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
    )
    op.create_index("idx_quarantine_sha256", "quarantine", ["sha256"], unique=True)
    consent_sites = op.create_table(
        "consent_sites",
        sa.Column("consent", sa.Integer, sa.ForeignKey("consents.id"), primary_key=True),
        sa.Column("site", sa.Text, primary_key=True),
    )
    op.create_index("idx_consent_sites_site", "consent_sites", ["site"])
    rows = op.get_bind().execute(sa.text("SELECT id, sites FROM consents")).fetchall()
    op.bulk_insert(consent_sites, [{"consent": consent, "site": site}
                                   for consent, sites in rows for site in set(json.loads(sites or "[]"))])
