"""Catalogue jobs translate tours' texts too: a pipeline job names a site or a tour

Revision ID: 0017_tour_text_jobs
Revises: 0012_tourist_web
Create Date: 2026-12-01 16:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017_tour_text_jobs"
down_revision = "0012_tourist_web"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pipeline_jobs") as batch:
        batch.add_column(sa.Column("tour_id", sa.Integer(), nullable=True))
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=True)
        batch.create_index(batch.f("ix_pipeline_jobs_tour_id"), ["tour_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_pipeline_jobs_tour_id_tours"), "tours", ["tour_id"], ["id"],
            ondelete="CASCADE",
        )
        batch.create_check_constraint(
            batch.f("ck_pipeline_jobs_one_subject"),
            "(site_id IS NULL) != (tour_id IS NULL)"
            " AND (tour_id IS NULL OR kind = 'catalogue')",
        )


def downgrade():
    op.execute("DELETE FROM pipeline_jobs WHERE tour_id IS NOT NULL")
    with op.batch_alter_table("pipeline_jobs") as batch:
        batch.drop_constraint(batch.f("ck_pipeline_jobs_one_subject"), type_="check")
        batch.drop_constraint(batch.f("fk_pipeline_jobs_tour_id_tours"), type_="foreignkey")
        batch.drop_index(batch.f("ix_pipeline_jobs_tour_id"))
        batch.drop_column("tour_id")
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
