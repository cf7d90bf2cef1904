"""Sessions that end when left alone: when each login token was last used.

Revision ID: 0004
Revises: 0003

- `tokens.used_at`: the last time the token was presented (kept to the minute); a session unused for longer
  than its role's idle limit is over, whatever its expiry. Existing tokens count as used when this runs.
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("tokens", sa.Column("used_at", sa.Text))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    op.execute(sa.text("UPDATE tokens SET used_at = :now").bindparams(now=now))

