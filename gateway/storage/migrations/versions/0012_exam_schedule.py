"""An exam day run from the pages (issue 27): the schedule and check-in at the door.

Revision ID: 0012
Revises: 0011

- `devices.room`, `devices.seat`: where an exam device stands at its test centre; the schedule seats candidates
  on the devices of their room, in seat order.
- `exam_sessions.room`, `exam_sessions.pushed_at`: a session is scheduled for a slot (its `started_at` is the
  slot's start until the device runs it) and pushed to its device once its candidate is checked in at the door.
- `exam_candidates`: the candidate's session, and the check-in at the door -- when, how (`chip` or `manual`),
  the legal basis (`consent` or `exam_rules`) and what the check found (JSON: the card's outcome, the scores,
  who checked a candidate in by hand and why).
- `kiosk_settings.mode`, `.room`, `.basis`: a kiosk set up as an exam room's door checks listed candidates in
  (`checkin`) rather than enrolling visitors, for one room or all, on the candidate's consent or the exam rules.
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.add_column("devices", sa.Column("room", sa.Text))
    op.add_column("devices", sa.Column("seat", sa.Text))
    op.add_column("exam_sessions", sa.Column("room", sa.Text))
    op.add_column("exam_sessions", sa.Column("pushed_at", sa.Text))
    for name in ("session", "checked_in_at", "checkin_method", "basis", "checkin_detail"):
        op.add_column("exam_candidates", sa.Column(name, sa.Text))
    for name in ("mode", "room", "basis"):
        op.add_column("kiosk_settings", sa.Column(name, sa.Text))


def downgrade() -> None:
    for name in ("mode", "room", "basis"):
        op.drop_column("kiosk_settings", name)
    for name in ("session", "checked_in_at", "checkin_method", "basis", "checkin_detail"):
        op.drop_column("exam_candidates", name)
    op.drop_column("exam_sessions", "pushed_at")
    op.drop_column("exam_sessions", "room")
    op.drop_column("devices", "seat")
    op.drop_column("devices", "room")
