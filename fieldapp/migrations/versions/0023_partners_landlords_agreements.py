"""partner and landlord accounts, payment plans, rent deductions from benefits, requests to
hold a petition, and a partner's note and new due date on an action's update

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 05:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("landlord_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_user_account_partner_id_partner", "partner", ["partner_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_user_account_landlord_id_landlord", "landlord", ["landlord_id"], ["id"]
        )
    with op.batch_alter_table("action_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))
    op.create_table(
        "payment_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_uuid", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("arrears_at_start", sa.BigInteger(), nullable=False),
        sa.Column("instalments", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("check_detail", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_payment_plan_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_payment_plan_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan")),
        sa.UniqueConstraint("client_uuid", name=op.f("uq_payment_plan_client_uuid")),
    )
    op.create_index("ix_payment_plan_case_id", "payment_plan", ["case_id"])
    op.create_table(
        "benefit_deduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_uuid", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("benefit", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("pending_until", sa.Date(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=20), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_benefit_deduction_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_benefit_deduction_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_deduction")),
        sa.UniqueConstraint("client_uuid", name=op.f("uq_benefit_deduction_client_uuid")),
    )
    op.create_index("ix_benefit_deduction_case_id", "benefit_deduction", ["case_id"])
    op.create_table(
        "hold_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("landlord_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=False),
        sa.Column("ended_with", sa.String(length=20), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_hold_request_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["landlord_id"], ["landlord.id"], name=op.f("fk_hold_request_landlord_id_landlord")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_hold_request_requested_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["user_account.id"],
            name=op.f("fk_hold_request_answered_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_request")),
    )
    op.create_index("ix_hold_request_case_id", "hold_request", ["case_id"])
    op.create_index("ix_hold_request_landlord_id", "hold_request", ["landlord_id"])
    op.create_index("ix_hold_request_state", "hold_request", ["state"])


def downgrade():
    op.drop_table("hold_request")
    op.drop_table("benefit_deduction")
    op.drop_table("payment_plan")
    with op.batch_alter_table("action_update", schema=None) as batch_op:
        batch_op.drop_column("due_on")
        batch_op.drop_column("note")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint("fk_user_account_landlord_id_landlord", type_="foreignkey")
        batch_op.drop_constraint("fk_user_account_partner_id_partner", type_="foreignkey")
        batch_op.drop_column("landlord_id")
        batch_op.drop_column("partner_id")
