"""Each user's language for the pages and reports; reviews that can be corrected without losing what they said.

Revision ID: 0006
Revises: 0005

- `users.language`: `vi` or `en`, chosen by the user from any page; NULL until they choose, which means the
  gateway's default language (`default_language`, Vietnamese unless configured).
- `exam_flags.review_history`, `exam_sessions.verdict_history`: JSON lists of the earlier reviews and verdicts
  ({decision or verdict, note, by, at}), oldest first, kept when a supervisor amends one.
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.Text))
    op.add_column("exam_flags", sa.Column("review_history", sa.Text))
    op.add_column("exam_sessions", sa.Column("verdict_history", sa.Text))
