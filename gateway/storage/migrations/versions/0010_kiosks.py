"""A kiosk that is a kiosk (issue 26).

Revision ID: 0010
Revises: 0009

- `users.device`: a kiosk login (role `kiosk`) is bound to its kiosk device, the only one it may use.
- `kiosk_settings`: what a kiosk enrols visitors for -- the purpose (gate or exam) and the ticket's days (the
  consent ends at 23:59 on the site's clock, that many days on) -- set by the admin or the counter's staff, never
  by the visitor.
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.add_column("users", sa.Column("device", sa.Text))
    op.create_table("kiosk_settings",
                    sa.Column("device", sa.Text, primary_key=True),
                    sa.Column("purpose", sa.Text, nullable=False),
                    sa.Column("ticket_days", sa.Integer, nullable=False),
                    sa.Column("updated_by", sa.Text, nullable=False),
                    sa.Column("updated_at", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("kiosk_settings")
    op.drop_column("users", "device")
