"""360° views of sites: equirectangular JPEGs and their stills

Revision ID: 0012_tourist_web
Revises: 0014_review
Create Date: 2026-12-01 13:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_tourist_web"
down_revision = "0014_review"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('site_panoramas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('still_sha256', sa.String(length=64), nullable=False),
    sa.Column('still_width', sa.Integer(), nullable=False),
    sa.Column('still_height', sa.Integer(), nullable=False),
    sa.Column('still_bytes', sa.Integer(), nullable=False),
    sa.Column('alt', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('width > 0 AND height > 0 AND bytes > 0', name=op.f('ck_site_panoramas_sizes_positive')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_panoramas_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_panoramas')),
    sa.UniqueConstraint('site_id', 'sha256', name=op.f('uq_site_panoramas_site_id_sha256'))
    )
    with op.batch_alter_table('site_panoramas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_panoramas_site_id'), ['site_id'], unique=False)


def downgrade():
    op.drop_table('site_panoramas')
