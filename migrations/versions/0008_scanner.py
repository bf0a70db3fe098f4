"""Scanner: devices bound to a site, one-time pairing codes, exits, annulled check-ins, nonces
tied to their content, clock corrections of offline scans

Revision ID: 0008_scanner
Revises: 0010_mail
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008_scanner"
down_revision = "0010_mail"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("inspector_devices") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("site_assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_inspector_devices_site_id_sites"), "sites", ["site_id"], ["id"],
            ondelete="RESTRICT",
        )
    op.create_table(
        "device_pairings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["inspector_devices.id"],
            name=op.f("fk_device_pairings_device_id_inspector_devices"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_device_pairings_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_pairings")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_device_pairings_code_hash")),
    )
    op.create_index("ix_device_pairings_device_id", "device_pairings", ["device_id"], unique=False)
    with op.batch_alter_table("ticket_entries") as batch:
        batch.add_column(sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_ticket_entries_site_id_exited_at", "ticket_entries", ["site_id", "exited_at"],
        unique=False,
    )
    with op.batch_alter_table("checkin_scans") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(length=5), nullable=False, server_default="entry")
        )
        batch.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("clock_offset_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("annulled_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(
            batch.f("ck_checkin_scans_direction_known"), "direction IN ('entry', 'exit')"
        )


def downgrade():
    with op.batch_alter_table("checkin_scans") as batch:
        batch.drop_constraint(batch.f("ck_checkin_scans_direction_known"), type_="check")
        batch.drop_column("annulled_at")
        batch.drop_column("clock_offset_s")
        batch.drop_column("content_hash")
        batch.drop_column("direction")
    op.drop_index("ix_ticket_entries_site_id_exited_at", table_name="ticket_entries")
    with op.batch_alter_table("ticket_entries") as batch:
        batch.drop_column("exited_at")
    op.drop_index("ix_device_pairings_device_id", table_name="device_pairings")
    op.drop_table("device_pairings")
    with op.batch_alter_table("inspector_devices") as batch:
        batch.drop_constraint(batch.f("fk_inspector_devices_site_id_sites"), type_="foreignkey")
        batch.drop_column("site_assigned_at")
        batch.drop_column("site_id")
