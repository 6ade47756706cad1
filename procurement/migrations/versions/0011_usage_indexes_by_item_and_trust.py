"""usage: the order-line index led by the SKU, a trust's months in one index (fewer indexes to insert into)

The order-line index (date, SKU, quantity, price, trust) and the single-column indexes
on trust_id and item_id become two: (SKU, date, quantity, price, trust), which also
serves look-ups by SKU, and (trust, date, SKU, quantity), which also serves look-ups by
trust. A usage file's rows went into three indexes at scattered places; now into one
(the other takes them in one stretch: they are one trust's).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_order_line")
        batch_op.drop_index(batch_op.f("ix_usage_item_id"))
        batch_op.drop_index(batch_op.f("ix_usage_trust_id"))
        batch_op.create_index(
            "ix_usage_item_line", ["item_id", "period", "quantity", "unit_price_paid", "trust_id"], unique=False
        )
        batch_op.create_index("ix_usage_trust_period", ["trust_id", "period", "item_id", "quantity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_trust_period")
        batch_op.drop_index("ix_usage_item_line")
        batch_op.create_index(batch_op.f("ix_usage_trust_id"), ["trust_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            "ix_usage_order_line", ["period", "item_id", "quantity", "unit_price_paid", "trust_id"], unique=False
        )
