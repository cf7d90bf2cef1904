"""Self-enrolment from the chip ID card: the reads a kiosk is working on.

Revision ID: 0007
Revises: 0006

- `card_reads`: one row per card read a kiosk page asked for, from the request to the person's answer on the
  consent screen: who asked, the passive-authentication outcome, the 1:1 score, and -- until the person agrees
  or leaves -- the DG1 name, the card number's keyed hash and the two templates. The row (and the read's card
  events) is deleted once the person decides, or after `kiosk.read_ttl_s` at the latest: nothing of a card is
  kept beyond what enrolment itself keeps.
- `exam_sessions.checkin_chip_score`: a candidate who checked in with their chip ID card is matched to its
  portrait as well as to their enrolled template; both scores are kept.
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table("card_reads",
                    sa.Column("id", sa.Text, primary_key=True),
                    sa.Column("site", sa.Text, nullable=False),
                    sa.Column("device", sa.Text, nullable=False),
                    sa.Column("requested_by", sa.Text, nullable=False),
                    sa.Column("requested_at", sa.Text, nullable=False),
                    sa.Column("purpose", sa.Text, nullable=False),
                    sa.Column("valid_until", sa.Text),
                    sa.Column("stage", sa.Text, nullable=False),
                    sa.Column("outcome", sa.Text),
                    sa.Column("problems", sa.Text, nullable=False, server_default="[]"),
                    sa.Column("passive", sa.Text),
                    sa.Column("name", sa.Text),
                    sa.Column("card_hash", sa.Text),
                    sa.Column("pack", sa.Text),
                    sa.Column("chip_template", sa.LargeBinary),
                    sa.Column("chip_quality", sa.Float),
                    sa.Column("live_template", sa.LargeBinary),
                    sa.Column("score", sa.Float),
                    sa.Column("threshold", sa.Float),
                    sa.Column("liveness", sa.Float),
                    sa.Column("events", sa.Text, nullable=False, server_default="[]"),
                    sa.Column("updated_at", sa.Text, nullable=False))
    op.create_index("idx_card_reads_requested_at", "card_reads", ["requested_at"])
    op.add_column("exam_sessions", sa.Column("checkin_chip_score", sa.Float))


def downgrade() -> None:
    op.drop_column("exam_sessions", "checkin_chip_score")
    op.drop_index("idx_card_reads_requested_at", "card_reads")
    op.drop_table("card_reads")
