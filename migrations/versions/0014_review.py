"""Narrations say who wrote their source text and whether an editor approved it (review)

Revision ID: 0014_review
Revises: 0008_scanner
Create Date: 2026-12-01 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_review"
down_revision = "0008_scanner"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("narrations") as batch:
        batch.add_column(
            sa.Column(
                "source_provenance", sa.String(length=10), server_default="human", nullable=False
            )
        )
        batch.add_column(
            sa.Column("source_reviewed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("narrations") as batch:
        batch.drop_column("source_reviewed")
        batch.drop_column("source_provenance")
