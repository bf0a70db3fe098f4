"""Translation errors tourists report go to the review queue: the sentence they quote and the
language of the guide text it is about; such a report carries no rating. Comments keep their
machine translation into Vietnamese and the pipeline job that made it

Revision ID: 0016_feedback_review
Revises: 0017_tour_text_jobs
Create Date: 2026-12-01 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016_feedback_review"
down_revision = "0017_tour_text_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("rating", existing_type=sa.SmallInteger(), nullable=True)
        batch.add_column(sa.Column("quote", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("guide_lang", sa.String(length=8), nullable=True))
        batch.create_index(
            "ix_feedback_topic_state_site_id", ["topic", "state", "site_id", "guide_lang"]
        )
        batch.add_column(sa.Column("comment_translation", sa.Text(), nullable=True))
        batch.add_column(sa.Column("translation_lang", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("translation_job_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_feedback_translation_job_id_pipeline_jobs"),
            "pipeline_jobs",
            ["translation_job_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_feedback_translation_job_id"), ["translation_job_id"])


def downgrade():
    # The old schema has no place for an unrated report (nor for its quote): they go.
    op.execute("DELETE FROM feedback WHERE rating IS NULL")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index(op.f("ix_feedback_translation_job_id"))
        batch.drop_constraint(
            op.f("fk_feedback_translation_job_id_pipeline_jobs"), type_="foreignkey"
        )
        batch.drop_column("translation_job_id")
        batch.drop_column("translation_lang")
        batch.drop_column("comment_translation")
        batch.drop_index("ix_feedback_topic_state_site_id")
        batch.drop_column("guide_lang")
        batch.drop_column("quote")
        batch.alter_column("rating", existing_type=sa.SmallInteger(), nullable=False)
