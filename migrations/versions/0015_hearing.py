"""Guide tracks keep what Whisper heard when their synthesized speech was played back to it

Revision ID: 0015_hearing
Revises: 0007_console
Create Date: 2026-12-01 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_hearing"
down_revision = "0007_console"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("guide_tracks") as batch:
        batch.add_column(sa.Column("hearing", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("guide_tracks") as batch:
        batch.drop_column("hearing")
