"""catalogueitem: an index on supplier_code (usage files that name items by code, identity checks)

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalogueitem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalogueitem_supplier_code"), ["supplier_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalogueitem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogueitem_supplier_code"))
