"""sharing without consent: the organisation's legal bases, and the one a decision used

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 14:05:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sharing_legal_bases", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("meeting_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_basis", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("meeting_item", schema=None) as batch_op:
        batch_op.drop_column("legal_basis")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("sharing_legal_bases")
