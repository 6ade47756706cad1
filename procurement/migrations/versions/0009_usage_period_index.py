"""usage: an index of order lines (date, SKU, quantity, price, trust) for the checks every usage import runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:20:00.000000
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_order_line", ["period", "item_id", "quantity", "unit_price_paid", "trust_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_order_line")
