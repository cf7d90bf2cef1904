"""What the pages need for a working day: each user's language, corrected reviews that keep what they said,
and operators' acknowledgements of verdicts.

Revision ID: 0006
Revises: 0005

- `users.language`: `vi` or `en`, chosen by the user from any page; NULL until they choose, which means the
  gateway's default language (`default_language`, Vietnamese unless configured).
- `exam_flags.review_history`, `exam_sessions.verdict_history`: JSON lists of the earlier reviews and verdicts
  ({decision or verdict, note, by, at}), oldest first, kept when a supervisor amends one.
- an index on events (kind, captured_at, id): the live gate's "today's verdicts, newest first" read 370 ms
  with a million verdicts stored (SQLite sorted them all), 0.5 ms with it.
- `acknowledgements`: an operator saw an `unknown` or `spoof_suspected` verdict and dealt with it (who, when,
  an optional note); one per event, removed with the event by retention.
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.Text))
    op.add_column("exam_flags", sa.Column("review_history", sa.Text))
    op.add_column("exam_sessions", sa.Column("verdict_history", sa.Text))
    op.create_index("idx_events_kind_captured_at_id", "events", ["kind", "captured_at", "id"])
    op.create_table("acknowledgements",
                    sa.Column("event", sa.Text, primary_key=True),
                    sa.Column("site", sa.Text, nullable=False),
                    sa.Column("device", sa.Text, nullable=False),
                    sa.Column("by", sa.Text, nullable=False),
                    sa.Column("at", sa.Text, nullable=False),
                    sa.Column("note", sa.Text, nullable=False, server_default=""))
