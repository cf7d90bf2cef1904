"""An exam day run from the pages (issue 27): the council's candidate list.

Revision ID: 0011
Revises: 0010

- `exam_candidates`: one row per candidate on a day at a test centre, from the council's file: the candidate
  number (unique for the centre and the day: a re-import updates), the name as the list writes it, the licence
  class, the exam parts, the slot and the room; the 12-digit personal number only as its keyed hash. What the
  chip's access key needs on the day (the number's last nine digits, the birth date) is cleared once the day
  has ended.
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table("exam_candidates",
                    sa.Column("id", sa.Text, primary_key=True),
                    sa.Column("site", sa.Text, nullable=False),
                    sa.Column("exam_date", sa.Text, nullable=False),
                    sa.Column("number", sa.Text, nullable=False),
                    sa.Column("name", sa.Text, nullable=False),
                    sa.Column("personal_hash", sa.Text, nullable=False),
                    sa.Column("document", sa.Text),
                    sa.Column("birth", sa.Text),
                    sa.Column("licence_class", sa.Text, nullable=False),
                    sa.Column("parts", sa.Text, nullable=False),
                    sa.Column("slot", sa.Text, nullable=False),
                    sa.Column("room", sa.Text, nullable=False),
                    sa.Column("imported_by", sa.Text, nullable=False),
                    sa.Column("imported_at", sa.Text, nullable=False),
                    sa.UniqueConstraint("site", "exam_date", "number", name="uq_exam_candidates_day_number"))


def downgrade() -> None:
    op.drop_table("exam_candidates")
