"""Running a fleet from one place (issue 29): model packs and FaceGate releases over the air, in staged rollouts.

Revision ID: 0019
Revises: 0018

- `packs`: each published version of a model pack: its files (kept in the gateway's data folder), manifest and
  self-test references.
- `releases`: each published release of FaceGate: its wheel, its hash-locked requirements, the wheels they need.
- `rollouts`: an update going out stage by stage, and where it stands.
- `device_updates`: every update command sent to a device, and what the device made of it.
"""

from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.create_table("packs",
                    sa.Column("name", sa.Text, primary_key=True),
                    sa.Column("version", sa.Integer, primary_key=True),
                    sa.Column("files", sa.Text, nullable=False),
                    sa.Column("manifest", sa.Text, nullable=False),
                    sa.Column("reference", sa.Text, nullable=False),
                    sa.Column("published_at", sa.Text, nullable=False),
                    sa.Column("published_by", sa.Text, nullable=False))
    op.create_table("releases",
                    sa.Column("version", sa.Integer, primary_key=True),
                    sa.Column("release", sa.Text, nullable=False, unique=True),
                    sa.Column("files", sa.Text, nullable=False),
                    sa.Column("lock", sa.Text, nullable=False),
                    sa.Column("published_at", sa.Text, nullable=False),
                    sa.Column("published_by", sa.Text, nullable=False))
    op.create_table("rollouts",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("name", sa.Text, nullable=False),
                    sa.Column("version", sa.Integer, nullable=False),
                    sa.Column("stages", sa.Text, nullable=False),
                    sa.Column("stage", sa.Integer, nullable=False),
                    sa.Column("state", sa.Text, nullable=False),
                    sa.Column("reason", sa.Text),
                    sa.Column("created_at", sa.Text, nullable=False),
                    sa.Column("created_by", sa.Text, nullable=False),
                    sa.Column("updated_at", sa.Text, nullable=False))
    op.create_table("device_updates",
                    sa.Column("device", sa.Text, primary_key=True),
                    sa.Column("sequence", sa.Integer, primary_key=True),
                    sa.Column("kind", sa.Text, nullable=False),
                    sa.Column("name", sa.Text, nullable=False),
                    sa.Column("version", sa.Integer, nullable=False),
                    sa.Column("rollback", sa.Integer, nullable=False),
                    sa.Column("rollout", sa.Integer),
                    sa.Column("previous", sa.Integer),
                    sa.Column("baseline_fps", sa.Float),
                    sa.Column("payload", sa.Text, nullable=False),
                    sa.Column("created_at", sa.Text, nullable=False),
                    sa.Column("published_at", sa.Text),
                    sa.Column("outcome", sa.Text),
                    sa.Column("reason", sa.Text),
                    sa.Column("self_test", sa.Float),
                    sa.Column("reported_at", sa.Text))
    op.create_index("device_updates_rollout", "device_updates", ["rollout"])


def downgrade() -> None:
    op.drop_index("device_updates_rollout", "device_updates")
    op.drop_table("device_updates")
    op.drop_table("rollouts")
    op.drop_table("releases")
    op.drop_table("packs")
