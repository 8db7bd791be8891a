"""audit log: the login session (device) each event came through

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 17:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (not a batch copy of the table): the append-only triggers on
    # audit_event stay in place, and no existing line is rewritten.
    op.add_column("audit_event", sa.Column("session_id", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("audit_event", "session_id")
