"""global bound: every run stores a bound for the whole problem and how it was obtained

Existing runs get none (their bound, if any, is the solver's, in ``best_bound``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:50:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scenariorun") as batch:
        batch.add_column(sa.Column("global_bound", sa.Float(), nullable=True))
        batch.add_column(sa.Column("global_gap", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("global_bound_method", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("scenariorun") as batch:
        batch.drop_column("global_bound_method")
        batch.drop_column("global_gap")
        batch.drop_column("global_bound")
