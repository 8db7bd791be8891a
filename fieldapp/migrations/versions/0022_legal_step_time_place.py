"""a legal step's time of day and place: the hour a hearing or an eviction starts (the
organisation's wall clock) and the court or bailiff office with its address

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 01:25:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("legal_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at_time", sa.Time(), nullable=True))
        # Steps entered before this say nothing of a place: "" (their note may).
        batch_op.add_column(
            sa.Column("place", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("legal_step", schema=None) as batch_op:
        batch_op.drop_column("place")
        batch_op.drop_column("at_time")
