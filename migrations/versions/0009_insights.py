"""Insights: listening events and their hourly rollup, tourists' feedback, the manager role

Revision ID: 0009_insights
Revises: 0013_seed_tracking
Create Date: 2026-12-01 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_insights"
down_revision = "0013_seed_tracking"
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('admin', 'editor', 'inspector', 'finance')"
NEW_ROLES = "role IN ('admin', 'editor', 'inspector', 'finance', 'manager')"
EVENT_KINDS = (
    "kind IN ('guide_opened', 'play_started', 'progress_25', 'progress_50', 'progress_75', "
    "'progress_100', 'language_switched', 'pack_downloaded')"
)
TOPICS = "topic IN ('audio_guide', 'translation_error', 'site_information', 'site', 'facilities')"


def upgrade():
    op.create_table(
        "listening_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("requested_lang", sa.String(length=8), nullable=True),
        sa.Column("track", sa.String(length=120), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(EVENT_KINDS, name=op.f("ck_listening_events_kind_known")),
        sa.CheckConstraint(
            "source IN ('page', 'app', 'offline')", name=op.f("ck_listening_events_source_known")
        ),
        sa.CheckConstraint(
            "duration_s IS NULL OR duration_s BETWEEN 0 AND 36000",
            name=op.f("ck_listening_events_duration"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_listening_events_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_listening_events_event_id")),
    )
    op.create_index(
        "ix_listening_events_received_at", "listening_events", ["received_at"], unique=False
    )
    op.create_table(
        "listening_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("requested_lang", sa.String(length=8), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("quarters", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("switches", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("offline", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_listening_hours_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_hours")),
    )
    op.create_index(
        "uq_listening_hours_key",
        "listening_hours",
        ["hour", "site_id", "lang", "requested_lang"],
        unique=True,
    )
    op.create_index(
        "ix_listening_hours_site_id_hour", "listening_hours", ["site_id", "hour"], unique=False
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("page_lang", sa.String(length=8), nullable=False),
        sa.Column("detected_lang", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("held_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("handled_note", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(TOPICS, name=op.f("ck_feedback_topic_known")),
        sa.CheckConstraint(
            "state IN ('open', 'held', 'handled')", name=op.f("ck_feedback_state_known")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_rating_range")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_feedback_site_id_sites"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_id"],
            ["users.id"],
            name=op.f("fk_feedback_handled_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_state_id", "feedback", ["state", "id"], unique=False)
    op.create_index(
        "ix_feedback_site_id_created_at", "feedback", ["site_id", "created_at"], unique=False
    )
    with op.batch_alter_table("user_roles") as batch:
        batch.drop_constraint(op.f("ck_user_roles_role_known"), type_="check")
        batch.create_check_constraint(op.f("ck_user_roles_role_known"), NEW_ROLES)


def downgrade():
    op.execute("DELETE FROM user_roles WHERE role = 'manager'")
    with op.batch_alter_table("user_roles") as batch:
        batch.drop_constraint(op.f("ck_user_roles_role_known"), type_="check")
        batch.create_check_constraint(op.f("ck_user_roles_role_known"), OLD_ROLES)
    op.drop_index("ix_feedback_site_id_created_at", table_name="feedback")
    op.drop_index("ix_feedback_state_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_listening_hours_site_id_hour", table_name="listening_hours")
    op.drop_index("uq_listening_hours_key", table_name="listening_hours")
    op.drop_table("listening_hours")
    op.drop_index("ix_listening_events_received_at", table_name="listening_events")
    op.drop_table("listening_events")
