"""Seed tracking: the digest of what the seed loader last wrote to each site, tour and
narration, so `flask content load` never overwrites what a person changed since

Revision ID: 0013_seed_tracking
Revises: 0008_scanner
Create Date: 2026-12-01 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_seed_tracking"
down_revision = "0008_scanner"
branch_labels = None
depends_on = None

TABLES = ("sites", "tours", "narrations")


def upgrade():
    # Rows seeded before this revision start with no digest: the loader adopts the digest of a
    # row that still equals its seed file, and treats any other as edited by a person.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seed_digest", sa.String(length=64), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seed_digest")
