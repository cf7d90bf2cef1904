"""Running a fleet from one place (issue 29): each device's configuration from the centre.

Revision ID: 0018
Revises: 0017

- `device_configs`: numbered versions of a device's settings, each with its signed message, its changes against
  the version before, and what the device made of it.
- `devices.config_version`, `config_at`: the version the device says it runs, and when it said so.
"""

from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.add_column("devices", sa.Column("config_version", sa.Integer))
    op.add_column("devices", sa.Column("config_at", sa.Text))
    op.create_table("device_configs",
                    sa.Column("device", sa.Text, primary_key=True),
                    sa.Column("version", sa.Integer, primary_key=True),
                    sa.Column("document", sa.Text, nullable=False),
                    sa.Column("payload", sa.Text, nullable=False),
                    sa.Column("changes", sa.Text, nullable=False),
                    sa.Column("created_at", sa.Text, nullable=False),
                    sa.Column("created_by", sa.Text, nullable=False),
                    sa.Column("rollback_of", sa.Integer),
                    sa.Column("published_at", sa.Text),
                    sa.Column("outcome", sa.Text),
                    sa.Column("how", sa.Text),
                    sa.Column("reason", sa.Text),
                    sa.Column("reported_at", sa.Text))


def downgrade() -> None:
    op.drop_table("device_configs")
    op.drop_column("devices", "config_at")
    op.drop_column("devices", "config_version")
