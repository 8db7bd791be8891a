"""route planning a dispatcher uses: the worker's hours on each route, locked visits and
times agreed with the tenant on each stop, and the cases a plan left out, kept with the day

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 21:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("route", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_starts_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("work_ends_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("route_stop", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("window_start", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("appointment_note", sa.String(length=200), nullable=False, server_default="")
        )
    op.create_table(
        "route_left_out",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("locked_worker_id", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("window_end", sa.DateTime(), nullable=True),
        sa.Column("appointment_note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["locked_worker_id"],
            ["user_account.id"],
            name=op.f("fk_route_left_out_locked_worker_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_route_left_out_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_route_left_out_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_left_out")),
        sa.UniqueConstraint(
            "day", "team_id", "case_id", name=op.f("uq_route_left_out_day_team_id_case_id")
        ),
    )
    op.create_index("ix_route_left_out_day", "route_left_out", ["day"])
    op.create_index("ix_route_left_out_team_id", "route_left_out", ["team_id"])
    op.create_index("ix_route_left_out_case_id", "route_left_out", ["case_id"])


def downgrade():
    op.drop_index("ix_route_left_out_case_id", table_name="route_left_out")
    op.drop_index("ix_route_left_out_team_id", table_name="route_left_out")
    op.drop_index("ix_route_left_out_day", table_name="route_left_out")
    op.drop_table("route_left_out")
    with op.batch_alter_table("route_stop", schema=None) as batch_op:
        batch_op.drop_column("appointment_note")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
        batch_op.drop_column("locked")
    with op.batch_alter_table("route", schema=None) as batch_op:
        batch_op.drop_column("work_ends_at")
        batch_op.drop_column("work_starts_at")
