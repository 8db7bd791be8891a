"""the case list's remembered filters kept on the login session's row, not in the cookie

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 15:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_filters", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("case_filters")
