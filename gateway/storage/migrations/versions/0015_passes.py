"""A tourist site's day (issue 28): ticket types, passes, and the ticketing system's credentials.

Revision ID: 0015
Revises: 0014

- `ticket_types`: a site's kinds of ticket (single entry, day, several days, season): how many local days, how
  many entries, which gates.
- `passes`: what lets a person in: held by a face (an enrolled subject) or by a QR ticket; alone or in a group
  (a guide and its members); its window, gates and entries copied from its type when sold; cancelled, never
  deleted, so the day's numbers keep it.
- `ticketing_requests`: the ticketing system's requests by idempotency key, with the first answer.
- `users.site`: a ticketing login's site; `device_galleries.admits`: the digest of the passes a gallery carries.
"""

from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.create_table("ticket_types",
                    sa.Column("site", sa.Text, sa.ForeignKey("sites.id"), primary_key=True),
                    sa.Column("code", sa.Text, primary_key=True),
                    sa.Column("name", sa.Text, nullable=False),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("days", sa.Integer, nullable=False),
                    sa.Column("entries", sa.Integer),
                    sa.Column("gates", sa.Text, nullable=False),
                    sa.Column("active", sa.Integer, nullable=False, server_default="1"),
                    sa.Column("created_at", sa.Text, nullable=False),
                    sa.Column("created_by", sa.Text, nullable=False))
    op.create_table("passes",
                    sa.Column("id", sa.Text, primary_key=True),
                    sa.Column("site", sa.Text, nullable=False),
                    sa.Column("ticket_type", sa.Text, nullable=False),
                    sa.Column("subject", sa.Text),
                    sa.Column("group_id", sa.Text),
                    sa.Column("group_role", sa.Text),
                    sa.Column("valid_from", sa.Text, nullable=False),
                    sa.Column("valid_until", sa.Text, nullable=False),
                    sa.Column("gates", sa.Text, nullable=False),
                    sa.Column("entries", sa.Integer),
                    sa.Column("used", sa.Integer, nullable=False, server_default="0"),
                    sa.Column("status", sa.Text, nullable=False),
                    sa.Column("reference", sa.Text),
                    sa.Column("created_at", sa.Text, nullable=False),
                    sa.Column("created_by", sa.Text, nullable=False),
                    sa.Column("updated_at", sa.Text, nullable=False))
    op.create_index("idx_passes_site_updated_at", "passes", ["site", "updated_at"])
    op.create_index("idx_passes_site_subject", "passes", ["site", "subject"])
    op.create_index("idx_passes_group_id", "passes", ["group_id"])
    op.create_table("ticketing_requests",
                    sa.Column("site", sa.Text, primary_key=True),
                    sa.Column("key", sa.Text, primary_key=True),
                    sa.Column("fingerprint", sa.Text, nullable=False),
                    sa.Column("response", sa.Text, nullable=False),
                    sa.Column("created_at", sa.Text, nullable=False))
    op.add_column("users", sa.Column("site", sa.Text))
    op.add_column("device_galleries", sa.Column("admits", sa.Text))


def downgrade() -> None:
    op.drop_column("device_galleries", "admits")
    op.drop_column("users", "site")
    op.drop_table("ticketing_requests")
    op.drop_table("passes")
    op.drop_table("ticket_types")
