"""Insights tables: raw listening events, their hourly rollup, tourists' feedback, and the
daily rollups that reports read.

Listening events are anonymous: no cookie, no address, no account; the client's own event id
makes a retried batch count once (a unique constraint, inserted with ON CONFLICT DO NOTHING).

The daily and hourly rollups (entries, sales, refunds, listening) are kept by database
triggers, made by migration 0018_rollups, in the same transaction as every insert, update or
delete of the rows they count: a scan, an exit, a payment, a refund, an offline sync, the
hourly listening upsert, whichever code (or SQL) writes it. Their day is the local day in
`ROLLUP_ZONE`, their hour the UTC hour; reports in another zone count the raw rows.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import in_values, utcnow
from app.extensions import db


class EventKind(enum.StrEnum):
    GUIDE_OPENED = "guide_opened"  # the guide's page (or the app's guide screen) was shown
    PLAY_STARTED = "play_started"  # the tourist pressed play
    PROGRESS_25 = "progress_25"  # a quarter of the track was heard
    PROGRESS_50 = "progress_50"
    PROGRESS_75 = "progress_75"
    PROGRESS_100 = "progress_100"  # the end was reached
    LANGUAGE_SWITCHED = "language_switched"  # the tourist chose another language
    PACK_DOWNLOADED = "pack_downloaded"  # a page or tour was saved for offline use


class EventSource(enum.StrEnum):
    PAGE = "page"  # the tourist page behind the plaque
    APP = "app"  # the Smart Hội An app
    OFFLINE = "offline"  # played from a saved pack, sent when the signal came back


#: Each progress milestone is a quarter of the track heard.
PROGRESS_KINDS = (
    EventKind.PROGRESS_25,
    EventKind.PROGRESS_50,
    EventKind.PROGRESS_75,
    EventKind.PROGRESS_100,
)


class ListeningEvent(db.Model):  # type: ignore[name-defined,misc]
    """One thing a tourist's device reported; pruned after a number of days (the rollup stays)."""

    __tablename__ = "listening_events"
    __table_args__ = (
        CheckConstraint(in_values("kind", tuple(EventKind)), name="kind_known"),
        CheckConstraint(in_values("source", tuple(EventSource)), name="source_known"),
        CheckConstraint("duration_s IS NULL OR duration_s BETWEEN 0 AND 36000", name="duration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Made by the client (a UUID): the same event sent twice is stored once.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: The language served (what was heard).
    lang: Mapped[str] = mapped_column(String(8))
    #: The language the tourist asked for, when another one was served (a fallback).
    requested_lang: Mapped[str | None] = mapped_column(String(8), default=None)
    track: Mapped[str | None] = mapped_column(String(120), default=None)
    source: Mapped[str] = mapped_column(String(8))
    duration_s: Mapped[int | None] = mapped_column(default=None)
    #: The device's time of the event (clamped to the last days); the rollup's hour.
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<ListeningEvent {self.event_id} {self.kind} site={self.site_id} {self.lang}>"


class ListeningHour(db.Model):  # type: ignore[name-defined,misc]
    """Listening per site, language served, language asked for and UTC hour: what reports read.

    `requested_lang` is '' when the language asked for was served, so the key has no NULL.
    """

    __tablename__ = "listening_hours"
    __table_args__ = (
        Index("uq_listening_hours_key", "hour", "site_id", "lang", "requested_lang", unique=True),
        Index("ix_listening_hours_site_id_hour", "site_id", "hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    requested_lang: Mapped[str] = mapped_column(String(8), default="")
    opens: Mapped[int] = mapped_column(default=0)
    plays: Mapped[int] = mapped_column(default=0)
    quarters: Mapped[int] = mapped_column(default=0)  # progress milestones reached
    completions: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)  # heard, from the milestones
    switches: Mapped[int] = mapped_column(default=0)
    downloads: Mapped[int] = mapped_column(default=0)
    offline: Mapped[int] = mapped_column(default=0)  # events sent from a saved pack

    def __repr__(self) -> str:
        return f"<ListeningHour {self.hour:%Y-%m-%d %H}h site={self.site_id} {self.lang}>"


#: The zone of the daily rollups' days (the town's; UTC+7 all year, no daylight saving).
ROLLUP_ZONE = "Asia/Ho_Chi_Minh"


class EntryDay(db.Model):  # type: ignore[name-defined,misc]
    """Entries (by the day entered) and exits (by the day exited) per site, tier and mode."""

    __tablename__ = "entry_days"
    __table_args__ = (
        Index("uq_entry_days_key", "day", "site_id", "tier", "mode", "shard", unique=True),
        Index("ix_entry_days_site_id_day", "site_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(8))
    #: One of several rows per key, so that concurrent scanners add to different rows
    #: (migration 0018's SHARDS); reports sum them.
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    entries: Mapped[int] = mapped_column(default=0)
    exits: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<EntryDay {self.day} site={self.site_id} {self.tier} {self.mode}>"


class EntryHour(db.Model):  # type: ignore[name-defined,misc]
    """Entries (by the hour entered) and exits (by the hour exited) per UTC hour, tier and
    mode, every site together: hourly reports and the busiest hours of a long range."""

    __tablename__ = "entry_hours"
    __table_args__ = (Index("uq_entry_hours_key", "hour", "tier", "mode", "shard", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime]
    tier: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(8))
    #: One of several rows per key, so that concurrent scanners add to different rows
    #: (migration 0018's SHARDS); reports sum them.
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    entries: Mapped[int] = mapped_column(default=0)
    exits: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<EntryHour {self.hour:%Y-%m-%d %H}h {self.tier} {self.mode}>"


class SaleDay(db.Model):  # type: ignore[name-defined,misc]
    """Paid orders, their revenue and their tickets per day paid and payment method."""

    __tablename__ = "sale_days"
    __table_args__ = (Index("uq_sale_days_key", "day", "method", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))
    orders: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    tickets: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<SaleDay {self.day} {self.method} {self.orders}>"


class SaleHour(db.Model):  # type: ignore[name-defined,misc]
    """Paid orders, their revenue and their tickets per UTC hour paid and payment method."""

    __tablename__ = "sale_hours"
    __table_args__ = (Index("uq_sale_hours_key", "hour", "method", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(20))
    orders: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    tickets: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<SaleHour {self.hour:%Y-%m-%d %H}h {self.method} {self.orders}>"


class SaleItemDay(db.Model):  # type: ignore[name-defined,misc]
    """Tickets sold and their revenue per day paid, product and tier (from the order items)."""

    __tablename__ = "sale_item_days"
    __table_args__ = (Index("uq_sale_item_days_key", "day", "product_id", "tier", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(ForeignKey("ticket_products.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(20))
    tickets: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<SaleItemDay {self.day} product={self.product_id} {self.tier}>"


class RefundDay(db.Model):  # type: ignore[name-defined,misc]
    """Refunds that succeeded, per day they were made."""

    __tablename__ = "refund_days"
    __table_args__ = (Index("uq_refund_days_key", "day", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    refunds: Mapped[int] = mapped_column(default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<RefundDay {self.day} {self.refunds}>"


class ListeningDay(db.Model):  # type: ignore[name-defined,misc]
    """The hourly listening rollup summed per local day: what long listening reports read."""

    __tablename__ = "listening_days"
    __table_args__ = (
        Index("uq_listening_days_key", "day", "site_id", "lang", "requested_lang", unique=True),
        Index("ix_listening_days_site_id_day", "site_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    requested_lang: Mapped[str] = mapped_column(String(8), default="")
    opens: Mapped[int] = mapped_column(default=0)
    plays: Mapped[int] = mapped_column(default=0)
    quarters: Mapped[int] = mapped_column(default=0)
    completions: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    switches: Mapped[int] = mapped_column(default=0)
    downloads: Mapped[int] = mapped_column(default=0)
    offline: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ListeningDay {self.day} site={self.site_id} {self.lang}>"


class FeedbackTopic(enum.StrEnum):
    AUDIO_GUIDE = "audio_guide"  # the narration, its sound, its player
    TRANSLATION_ERROR = "translation_error"  # a wrong or clumsy translation
    SITE_INFORMATION = "site_information"  # the site's texts, hours, address
    SITE = "site"  # the place itself
    FACILITIES = "facilities"  # toilets, shade, signs, ticket desks


class FeedbackState(enum.StrEnum):
    OPEN = "open"  # waiting for staff
    HELD = "held"  # held for moderation (a link in an anonymous comment): not shown as open
    HANDLED = "handled"  # staff acted on it and wrote a note (final)


class Feedback(db.Model):  # type: ignore[name-defined,misc]
    """What a tourist told us: a rating, a topic, maybe a comment, in the page's language."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(in_values("topic", tuple(FeedbackTopic)), name="topic_known"),
        CheckConstraint(in_values("state", tuple(FeedbackState)), name="state_known"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_feedback_state_id", "state", "id"),
        Index("ix_feedback_site_id_created_at", "site_id", "created_at"),
        # The review queue's open translation errors per site and language.
        Index("ix_feedback_topic_state_site_id", "topic", "state", "site_id", "guide_lang"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), default=None
    )
    #: 1 to 5; None on a translation error reported from the transcript (nothing was rated).
    rating: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    topic: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    #: A translation error: the sentence of the guide's text the tourist quoted.
    quote: Mapped[str | None] = mapped_column(String(1000), default=None)
    #: A translation error: the language of the guide's text it is about (its review queue).
    guide_lang: Mapped[str | None] = mapped_column(String(8), default=None)
    #: The language of the page the tourist wrote from.
    page_lang: Mapped[str] = mapped_column(String(8))
    #: The comment's language as detected (None: no comment, or too short to tell).
    detected_lang: Mapped[str | None] = mapped_column(String(8), default=None)
    #: The comment machine-translated for staff (into Vietnamese) by the pipeline's translation
    #: stage, once a model for its language is installed; None until then (shown as written).
    comment_translation: Mapped[str | None] = mapped_column(Text, default=None)
    translation_lang: Mapped[str | None] = mapped_column(String(8), default=None)
    #: The pipeline job that translates the comment (insights/translation.py).
    translation_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_jobs.id", ondelete="SET NULL"), default=None, index=True
    )
    channel: Mapped[str] = mapped_column(String(8), default="page")  # page (form) or app (API)
    state: Mapped[str] = mapped_column(String(8), default=FeedbackState.OPEN.value)
    held_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(default=None)
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    handled_note: Mapped[str | None] = mapped_column(String(1000), default=None)

    def __repr__(self) -> str:
        return f"<Feedback {self.id} {self.topic} {self.rating} {self.state}>"
