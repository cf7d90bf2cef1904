"""A tourist site's day (issue 28): the day in numbers.

Revision ID: 0017
Revises: 0016

- `visits`: the gates' verdicts counted by site, device, UTC hour, verdict, direction, method and ticket type,
  kept in each stored event's transaction from now on; the verdicts stored so far are counted here once (their
  direction read from the signed body; no ticket type: passes are newer than they are).
"""

from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    counter = sa.Integer().with_variant(sa.BigInteger(), "postgresql")
    op.create_table("visits",
                    sa.Column("site", sa.Text, primary_key=True),
                    sa.Column("hour", sa.Text, primary_key=True),
                    sa.Column("device", sa.Text, primary_key=True),
                    sa.Column("verdict", sa.Text, primary_key=True),
                    sa.Column("direction", sa.Text, primary_key=True),
                    sa.Column("method", sa.Text, primary_key=True),
                    sa.Column("ticket_type", sa.Text, primary_key=True),
                    sa.Column("count", counter, nullable=False))
    op.create_index("idx_visits_hour", "visits", ["hour"])
    postgres = op.get_bind().dialect.name == "postgresql"
    direction = "coalesce(body::json->>'direction', '')" if postgres else "coalesce(json_extract(body, '$.direction'), '')"
    op.execute("INSERT INTO visits (site, hour, device, verdict, direction, method, ticket_type, count) "
               f"SELECT site, substr(captured_at, 1, 13), device, verdict, {direction}, 'face', '', count(*) "
               f"FROM events WHERE kind = 'verdict' AND verdict IS NOT NULL "
               f"GROUP BY site, substr(captured_at, 1, 13), device, verdict, {direction}")


def downgrade() -> None:
    op.drop_table("visits")
