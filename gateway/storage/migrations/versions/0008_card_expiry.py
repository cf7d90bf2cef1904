"""The gateway decides a kiosk enrolment itself (issue 25).

Revision ID: 0008
Revises: 0007

- `card_reads.card_expiry`: the card's expiry (YYYY-MM-DD) as the gateway read it from the sealed DG1. The
  decision checks it against the gateway's own date, whatever passive authentication ranked first and whatever
  the kiosk reported.
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("card_reads", sa.Column("card_expiry", sa.Text))
