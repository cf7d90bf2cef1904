"""An exam day run from the pages (issue 27): the list's photos.

Revision ID: 0013
Revises: 0012

- `exam_candidate_photos`: the photo the council's list carries for a candidate, if any (an XLSX picture on the
  candidate's row), kept apart from the list so that reading a day never loads pictures. The door matches the
  live face to it as well as to the chip's portrait. Deleted with the day's card keys, once the day has ended.
"""

from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table("exam_candidate_photos",
                    sa.Column("candidate", sa.Text, sa.ForeignKey("exam_candidates.id"), primary_key=True),
                    sa.Column("photo", sa.LargeBinary, nullable=False))


def downgrade() -> None:
    op.drop_table("exam_candidate_photos")
