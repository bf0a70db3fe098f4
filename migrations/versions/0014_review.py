"""Narrations say who wrote their source text and whether an editor approved it (review);
staff's glossary terms (the town's and each site's proper names)

Revision ID: 0014_review
Revises: 0009_insights
Create Date: 2026-12-01 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_review"
down_revision = "0009_insights"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "glossary_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_glossary_terms_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossary_terms")),
    )
    op.create_index(
        op.f("ix_glossary_terms_site_id"), "glossary_terms", ["site_id"], unique=False
    )
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
    op.drop_table("glossary_terms")
    with op.batch_alter_table("narrations") as batch:
        batch.drop_column("source_reviewed")
        batch.drop_column("source_provenance")
