"""each team keeps its own register: team_id on household, tenancy and import_batch

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 13:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("household", "tenancy", "import_batch")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_team_id"), ["team_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_team_id_team"), "team", ["team_id"], ["id"]
            )
    # A tenancy belongs to the team of its newest case, a household to that of its newest
    # tenancy, a batch to its importer's team (else the only team, when there is one).
    op.execute(
        "UPDATE tenancy SET team_id = (SELECT c.team_id FROM case_file c"
        " WHERE c.tenancy_id = tenancy.id ORDER BY c.id DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE household SET team_id = (SELECT t.team_id FROM tenancy t"
        " WHERE t.household_id = household.id ORDER BY t.id DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE import_batch SET team_id = (SELECT u.team_id FROM user_account u"
        " WHERE u.id = import_batch.created_by_id)"
    )
    op.execute(
        "UPDATE import_batch SET team_id = (SELECT min(id) FROM team)"
        " WHERE team_id IS NULL AND (SELECT count(*) FROM team) = 1"
    )
    with op.batch_alter_table("staged_upload", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("older_list", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("tenancy", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tenancy_landlord_id_reference", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_tenancy_team_id_landlord_id_reference"),
            ["team_id", "landlord_id", "reference"],
        )


def downgrade():
    # Fails, as it should, when two teams keep the same lease (a duplicate reference).
    with op.batch_alter_table("staged_upload", schema=None) as batch_op:
        batch_op.drop_column("older_list")
    with op.batch_alter_table("tenancy", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tenancy_team_id_landlord_id_reference", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_tenancy_landlord_id_reference"), ["landlord_id", "reference"]
        )
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_team_id_team"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_team_id"))
            batch_op.drop_column("team_id")
