"""Mail to buyers: one row per message (order confirmation, refund notice) and its delivery

Revision ID: 0010_mail
Revises: 0015_hearing
Create Date: 2026-12-01 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_mail"
down_revision = "0015_hearing"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('transport', sa.String(length=8), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('stored_path', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('order_confirmation', 'refund_notice')", name=op.f('ck_mail_messages_kind_known')),
    sa.CheckConstraint("state IN ('queued', 'sending', 'sent', 'failed')", name=op.f('ck_mail_messages_state_known')),
    sa.CheckConstraint("transport IS NULL OR transport IN ('smtp', 'file')", name=op.f('ck_mail_messages_transport_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_mail_messages_attempts_not_negative')),
    sa.CheckConstraint("(kind = 'refund_notice') = (refund_id IS NOT NULL)", name=op.f('ck_mail_messages_refund_for_notices')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_mail_messages_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['refund_id'], ['payment_refunds.id'], name=op.f('fk_mail_messages_refund_id_payment_refunds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages')),
    sa.UniqueConstraint('refund_id', name=op.f('uq_mail_messages_refund_id'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_mail_messages_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('uq_mail_messages_one_confirmation', ['order_id'], unique=True, sqlite_where=sa.text("kind = 'order_confirmation'"), postgresql_where=sa.text("kind = 'order_confirmation'"))


def downgrade():
    op.drop_table('mail_messages')
