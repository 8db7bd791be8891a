"""retention: case anonymised_at, organisation retention_months

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_months", sa.Integer(), server_default="24", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("retention_months")

    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
