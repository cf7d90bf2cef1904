"""A tourist site's day (issue 28): how many are inside, and how many may be.

Revision ID: 0016
Revises: 0015

- `sites.capacity`: the most people inside a site at once (None: no limit).
- `occupancy`: the people inside each site per local day, counted from the gates' verdicts as they are stored
  and set by an operator's count, with the day's peak.
"""

from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.add_column("sites", sa.Column("capacity", sa.Integer))
    op.create_table("occupancy",
                    sa.Column("site", sa.Text, primary_key=True),
                    sa.Column("day", sa.Text, primary_key=True),
                    sa.Column("inside", sa.Integer, nullable=False),
                    sa.Column("peak", sa.Integer, nullable=False),
                    sa.Column("updated_at", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("occupancy")
    op.drop_column("sites", "capacity")
