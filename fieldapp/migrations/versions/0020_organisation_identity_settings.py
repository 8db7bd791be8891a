"""identity providers per organisation: the organisation's own OIDC/SAML settings, and the
SAML session a login session came with (for single logout), and the SAML IDs used once

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

    op.create_table(
        "saml_message_used",
        sa.Column("message_id", sa.String(length=200), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_saml_message_used_expires_at", "saml_message_used", ["expires_at"])


def downgrade():
    op.drop_index("ix_saml_message_used_expires_at", table_name="saml_message_used")
    op.drop_table("saml_message_used")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("provider_session")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("identity_settings")
