"""switching costs: the imported figures and what each run pays

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:50:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "switchingcost",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("trust_id", sa.Integer(), nullable=True),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["import_id"], ["dataimport.id"]),
        sa.ForeignKeyConstraint(["product_line_id"], ["productline.id"]),
        sa.ForeignKeyConstraint(["supplier_id"], ["supplier.id"]),
        sa.ForeignKeyConstraint(["trust_id"], ["trust.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("switchingcost", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_switchingcost_import_id"), ["import_id"], unique=False)

    op.create_table(
        "runswitching",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("trust_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["line_id"], ["productline.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["scenariorun.id"]),
        sa.ForeignKeyConstraint(["supplier_id"], ["supplier.id"]),
        sa.ForeignKeyConstraint(["trust_id"], ["trust.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runswitching", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runswitching_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runswitching", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runswitching_run_id"))
    op.drop_table("runswitching")
    with op.batch_alter_table("switchingcost", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_switchingcost_import_id"))
    op.drop_table("switchingcost")
