"""import revert: reverted imports, the rows an import replaced, shortlist overrides

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "importrevert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("reverted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reverted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["dataimport.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("importrevert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_importrevert_import_id"), ["import_id"], unique=True)
    op.create_table(
        "replacedrows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_import_id", sa.Integer(), nullable=True),
        sa.Column("rows", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["dataimport.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("replacedrows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replacedrows_import_id"), ["import_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_replacedrows_source_import_id"), ["source_import_id"], unique=False)
    # Imports made before this revision did not keep what they replaced: mark them, so
    # that a revert refuses them rather than undoing half (procurement.importers.revert).
    op.execute(
        "INSERT INTO replacedrows (import_id, table_name, action, rows) "
        "SELECT id, '', 'untracked', '{}' FROM dataimport"
    )
    op.create_table(
        "approvaloverride",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("overridden_approval_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approval.id"]),
        sa.ForeignKeyConstraint(["overridden_approval_id"], ["approval.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approvaloverride", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvaloverride_approval_id"), ["approval_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approvaloverride", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvaloverride_approval_id"))
    op.drop_table("approvaloverride")
    with op.batch_alter_table("replacedrows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replacedrows_source_import_id"))
        batch_op.drop_index(batch_op.f("ix_replacedrows_import_id"))
    op.drop_table("replacedrows")
    with op.batch_alter_table("importrevert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_importrevert_import_id"))
    op.drop_table("importrevert")
