"""catalogueitem: drop the index on supplier_id (the unique (supplier_id, supplier_code) index leads with it)

Every look-up by supplier (the foreign key included) is served by the unique index;
the single-column one only cost an insert per SKU written.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalogueitem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogueitem_supplier_id"))


def downgrade() -> None:
    with op.batch_alter_table("catalogueitem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalogueitem_supplier_id"), ["supplier_id"], unique=False)
