"""accounts from the identity provider: its issuer and the person's subject there

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idp_issuer", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("idp_subject", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("disabled_by", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint("uq_user_account_idp", ["idp_issuer", "idp_subject"])


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint("uq_user_account_idp", type_="unique")
        batch_op.drop_column("disabled_by")
        batch_op.drop_column("idp_subject")
        batch_op.drop_column("idp_issuer")
