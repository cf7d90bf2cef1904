"""The name as the chip ID card writes it (issue 26).

Revision ID: 0009
Revises: 0008

- `card_reads.mrz_name`: DG1's ASCII name ("TRAN THI BINH"), kept beside `card_reads.name`, which is now the
  name as the card writes it ("Trần Thị Bình", from DG13 where EF.SOD covers it) and becomes the display name.
"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("card_reads", sa.Column("mrz_name", sa.Text))
