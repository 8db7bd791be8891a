"""identity providers per organisation: the organisation's own OIDC/SAML settings, and the
SAML session a login session came with (for single logout)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 18:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("identity_settings", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider_session", sa.Text(), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("provider_session")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("identity_settings")
