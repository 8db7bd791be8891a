"""two-factor secrets stored sealed (encrypted): a longer column

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 17:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Secrets stored plain before this are sealed at the person's next login.
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )


def downgrade():
    # Sealed secrets neither fit the old column nor can be read by the old code, and the key is
    # not at hand here: two-factor login is turned off for those people (they set it up again;
    # where the organisation requires it, before anything else at their next login).
    op.execute(
        "UPDATE user_account SET totp_secret = NULL, totp_enabled_at = NULL"
        " WHERE length(totp_secret) > 64"
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
