"""Sync: the change log the city app's delta sync reads, and its sequence row

Revision ID: 0006_sync
Revises: 0005_pipeline
Create Date: 2026-11-23 17:20:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = "0006_sync"
down_revision = "0005_pipeline"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("entity IN ('site', 'tour', 'guide', 'product')", name=op.f('ck_sync_changes_entity_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_changes'))
    )
    op.create_index('ix_sync_changes_seq', 'sync_changes', ['seq'], unique=False)
    op.create_table('sync_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_state'))
    )
    op.execute("INSERT INTO sync_state (id, seq) VALUES (1, 0)")


def downgrade():
    op.drop_table('sync_state')
    op.drop_index('ix_sync_changes_seq', table_name='sync_changes')
    op.drop_table('sync_changes')
