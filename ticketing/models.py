"""Ticketing tables: products, signing keys, orders, tickets, revocations, entries and scans."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, in_values, utcnow
from app.extensions import db
from ticketing.verify import MAX_GENERATION, MAX_KEY_ID, MAX_PRODUCT, TIER_CODES

TIERS = tuple(TIER_CODES)


class ValidityKind(enum.StrEnum):
    PURCHASE = "purchase"  # valid for `validity_days` from payment
    FIRST_USE = "first_use"  # first entry within `validity_days`, then valid for `use_hours`
    DATE = "date"  # valid on the visit date chosen at purchase (local calendar day)


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"  # signs new codes (exactly one) and verifies
    VERIFY_ONLY = "verify_only"  # replaced by a newer key; its codes still verify
    RETIRED = "retired"  # its codes no longer verify anywhere


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # created, waiting for payment; holds its places until expires_at
    PAID = "paid"  # paid in full; its tickets are issued
    PARTIALLY_REFUNDED = "partially_refunded"  # some tickets refunded and revoked, others valid
    REFUNDED = "refunded"  # every ticket refunded and revoked (final)
    DISPUTED = "disputed"  # the payment is contested (chargeback, bank recall): no entry
    CANCELLED = "cancelled"  # cancelled before payment (final)
    EXPIRED = "expired"  # not paid in time (final)


#: Order states whose valid tickets admit.
ADMITTING = (OrderStatus.PAID.value, OrderStatus.PARTIALLY_REFUNDED.value)


class TicketStatus(enum.StrEnum):
    VALID = "valid"  # admits within its rules; a reissue keeps it valid under a new code
    REFUNDED = "refunded"  # money returned; revoked (final)
    CANCELLED = "cancelled"  # voided by staff without a refund; revoked (final)


class RevocationReason(enum.StrEnum):
    REFUNDED = "refunded"  # the ticket was refunded: every generation
    CANCELLED = "cancelled"  # the ticket was cancelled: every generation
    REISSUED = "reissued"  # a new code replaced the older generations


class ScanMode(enum.StrEnum):
    ONLINE = "online"  # answered by the server at the gate
    OFFLINE = "offline"  # decided by the device alone, uploaded later by sync


class ScanDirection(enum.StrEnum):
    ENTRY = "entry"  # a visitor going in: the rules of entry, an entry row
    EXIT = "exit"  # a visitor leaving: the entry's exit time, for the site's occupancy


class ConflictKind(enum.StrEnum):
    """What an offline admission broke, found when the scan reached the server."""

    DOUBLE_ENTRY = "double_entry"  # the ticket had already entered this site
    OVER_QUOTA = "over_quota"  # the ticket had already used all its sites
    REVOKED_TICKET = "revoked_ticket"  # the ticket had been refunded, cancelled or reissued
    OUTSIDE_VALIDITY = "outside_validity"  # scanned before or after its validity
    WRONG_SITE = "wrong_site"  # its product does not cover the site
    UNPAID = "unpaid"  # its order was not paid
    INVALID_CODE = "invalid_code"  # the code was not genuine


class Product(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A kind of ticket; its number is printed in QR codes, so it is never reused."""

    __tablename__ = "ticket_products"
    __table_args__ = (
        CheckConstraint(f"id BETWEEN 1 AND {MAX_PRODUCT}", name="id_fits_code"),
        CheckConstraint("max_sites BETWEEN 1 AND 255", name="max_sites_range"),
        CheckConstraint(
            in_values("validity_kind", tuple(ValidityKind)), name="validity_kind_known"
        ),
        CheckConstraint("validity_days BETWEEN 1 AND 3660", name="validity_days_range"),
        CheckConstraint(
            "(validity_kind = 'first_use') = (use_hours IS NOT NULL)",
            name="use_hours_for_first_use",
        ),
        CheckConstraint("use_hours IS NULL OR use_hours BETWEEN 1 AND 1000", name="use_hours"),
        CheckConstraint("max_per_order BETWEEN 1 AND 100", name="max_per_order_range"),
        CheckConstraint(
            "daily_capacity IS NULL OR (daily_capacity > 0 AND validity_kind = 'date')",
            name="daily_capacity_for_dates",
        ),
        CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)  # lang -> name
    descriptions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # lang -> text
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    max_sites: Mapped[int] = mapped_column(SmallInteger)
    validity_kind: Mapped[str] = mapped_column(String(12))
    validity_days: Mapped[int]
    use_hours: Mapped[int | None] = mapped_column(default=None)
    sale_starts_at: Mapped[datetime | None] = mapped_column(default=None)
    sale_ends_at: Mapped[datetime | None] = mapped_column(default=None)
    max_per_order: Mapped[int] = mapped_column(default=20)
    daily_capacity: Mapped[int | None] = mapped_column(default=None)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    prices: Mapped[list[ProductPrice]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ProductPrice.id",
    )
    site_links: Mapped[list[ProductSite]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    def price_for(self, tier: str) -> ProductPrice | None:
        return next((price for price in self.prices if price.tier == tier), None)

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.slug}>"


class ProductPrice(db.Model):  # type: ignore[name-defined,misc]
    """The price of a product for one tier, and the sites that tier admits to if it differs."""

    __tablename__ = "ticket_product_prices"
    __table_args__ = (
        UniqueConstraint("product_id", "tier"),
        CheckConstraint(in_values("tier", TIERS), name="tier_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("max_sites IS NULL OR max_sites BETWEEN 1 AND 255", name="max_sites"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("ticket_products.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    max_sites: Mapped[int | None] = mapped_column(SmallInteger, default=None)

    product: Mapped[Product] = relationship(back_populates="prices")

    def __repr__(self) -> str:
        return f"<ProductPrice {self.product_id} {self.tier} {self.amount}>"


class ProductSite(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "ticket_product_sites"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_products.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="RESTRICT"), primary_key=True
    )

    def __repr__(self) -> str:
        return f"<ProductSite {self.product_id} site={self.site_id}>"


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """The public half of a ticket signing key; the private half lives in files or env only."""

    __tablename__ = "ticket_signing_keys"
    __table_args__ = (
        CheckConstraint(f"id BETWEEN 1 AND {MAX_KEY_ID}", name="id_fits_code"),
        CheckConstraint(in_values("status", tuple(KeyStatus)), name="status_known"),
        Index(
            "uq_ticket_signing_keys_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)  # raw, base64url
    status: Mapped[str] = mapped_column(String(12), default=KeyStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"<SigningKey {self.id} {self.status}>"


class Order(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(in_values("status", tuple(OrderStatus)), name="status_known"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= total_amount", name="paid_within_total"
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= paid_amount",
            name="refund_within_paid",
        ),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        Index("ix_orders_paid_at", "paid_at"),  # reports over every site, by hour
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING.value, index=True)
    payment_method: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_reference: Mapped[str | None] = mapped_column(String(120), default=None)
    # SHA-256 of the access token; the token itself is derived (HMAC of SECRET_KEY and the salt)
    # only to repeat the answer to an idempotent retry.
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    access_token_salt: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True, default=None)
    request_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None] = mapped_column(default=None)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderItem.position",
    )
    tickets: Mapped[list[Ticket]] = relationship(
        back_populates="order", lazy="selectin", order_by="Ticket.id"
    )

    @hybrid_property
    def admits(self) -> bool:
        """Whether the order's valid tickets admit: it is paid (some tickets may be refunded)."""
        return self.status in ADMITTING

    @admits.inplace.expression
    @classmethod
    def _admits_expression(cls) -> Any:
        return cls.status.in_(ADMITTING)

    def __repr__(self) -> str:
        return f"<Order {self.code} {self.status} {self.total_amount} {self.currency}>"


class OrderItem(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint(in_values("tier", TIERS), name="tier_known"),
        CheckConstraint("quantity BETWEEN 1 AND 100", name="quantity_range"),
        CheckConstraint("unit_amount >= 0", name="unit_amount_not_negative"),
        Index("ix_order_items_product_id_visit_date", "product_id", "visit_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("ticket_products.id", ondelete="RESTRICT"))
    tier: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int]
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    visit_date: Mapped[date | None] = mapped_column(Date, default=None)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity

    def __repr__(self) -> str:
        return f"<OrderItem {self.order_id}#{self.position} {self.tier} x{self.quantity}>"


class Ticket(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """One admission right; `entries_count` is checked against `max_sites` by the database."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("order_item_id", "number"),
        CheckConstraint(in_values("status", tuple(TicketStatus)), name="status_known"),
        CheckConstraint(in_values("tier", TIERS), name="tier_known"),
        CheckConstraint("max_sites BETWEEN 1 AND 255", name="max_sites_range"),
        CheckConstraint(
            "entries_count >= 0 AND entries_count <= max_sites", name="entries_within_quota"
        ),
        CheckConstraint(f"generation BETWEEN 0 AND {MAX_GENERATION}", name="generation_range"),
        CheckConstraint("valid_until > valid_from", name="validity_window"),
        CheckConstraint("use_window_minutes BETWEEN 0 AND 65535", name="use_window_range"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="RESTRICT"))
    number: Mapped[int]  # 1..quantity within its order item
    product_id: Mapped[int] = mapped_column(ForeignKey("ticket_products.id", ondelete="RESTRICT"))
    tier: Mapped[str] = mapped_column(String(20))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    max_sites: Mapped[int] = mapped_column(SmallInteger)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    use_window_minutes: Mapped[int] = mapped_column(default=0)
    first_used_at: Mapped[datetime | None] = mapped_column(default=None)
    entries_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[str] = mapped_column(String(12), default=TicketStatus.VALID.value)
    generation: Mapped[int] = mapped_column(SmallInteger, default=0)
    key_id: Mapped[int] = mapped_column(ForeignKey("ticket_signing_keys.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(160))  # the QR text of the current generation
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    order: Mapped[Order] = relationship(back_populates="tickets")
    product: Mapped[Product] = relationship()
    entries: Mapped[list[TicketEntry]] = relationship(
        back_populates="ticket", lazy="selectin", order_by="TicketEntry.entered_at"
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.serial:012x} g{self.generation} {self.status}>"


class TicketRevocation(db.Model):  # type: ignore[name-defined,misc]
    """An entry in the revocation list scanners download; `seq` is the cursor."""

    __tablename__ = "ticket_revocations"
    __table_args__ = (
        CheckConstraint(in_values("reason", tuple(RevocationReason)), name="reason_known"),
        CheckConstraint(
            f"below_generation BETWEEN 1 AND {MAX_GENERATION + 1}", name="below_generation"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Allocated under a lock held to commit, so cursors never skip a revocation that commits
    # late (ids from a sequence can commit out of order).
    seq: Mapped[int] = mapped_column(unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    serial: Mapped[int] = mapped_column(BigInteger, index=True)
    below_generation: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str] = mapped_column(String(12))
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<TicketRevocation #{self.seq} {self.serial:012x} <g{self.below_generation}>"


class TicketingState(db.Model):  # type: ignore[name-defined,misc]
    """One row of counters that must advance in commit order."""

    __tablename__ = "ticketing_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    revocation_seq: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<TicketingState revocations={self.revocation_seq}>"


class TicketEntry(db.Model):  # type: ignore[name-defined,misc]
    """A ticket admitted at a site: at most one per ticket and site, by constraint."""

    __tablename__ = "ticket_entries"
    __table_args__ = (
        UniqueConstraint("ticket_id", "site_id"),
        CheckConstraint(in_values("mode", tuple(ScanMode)), name="mode_known"),
        Index("ix_ticket_entries_site_id_entered_at", "site_id", "entered_at"),
        Index("ix_ticket_entries_site_id_exited_at", "site_id", "exited_at"),
        # Reports over every site, by hour (the ones above lead with the site).
        Index("ix_ticket_entries_entered_at", "entered_at"),
        Index("ix_ticket_entries_exited_at", "exited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    entered_at: Mapped[datetime]  # the gate's time for offline scans, the server's online
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    mode: Mapped[str] = mapped_column(String(8))
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspector_devices.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: When the visitor was scanned leaving (exit mode): occupancy is entries minus exits.
    exited_at: Mapped[datetime | None] = mapped_column(default=None)

    ticket: Mapped[Ticket] = relationship(back_populates="entries")

    def __repr__(self) -> str:
        return f"<TicketEntry ticket={self.ticket_id} site={self.site_id} {self.entered_at}>"


class CheckinScan(db.Model):  # type: ignore[name-defined,misc]
    """Every scan a gate sent, with the answer it got (repeated for a repeated nonce)."""

    __tablename__ = "checkin_scans"
    __table_args__ = (
        UniqueConstraint("actor", "nonce"),
        CheckConstraint(in_values("mode", tuple(ScanMode)), name="mode_known"),
        CheckConstraint("status IN ('ok', 'error')", name="status_known"),
        CheckConstraint(in_values("direction", tuple(ScanDirection)), name="direction_known"),
        CheckConstraint(
            "conflict IS NULL OR " + in_values("conflict", tuple(ConflictKind)),
            name="conflict_known",
        ),
        Index("ix_checkin_scans_conflict_id", "conflict", "id"),
        Index("ix_checkin_scans_site_id_scanned_at", "site_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(24))  # "device:<id>" or "user:<id>"
    nonce: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspector_devices.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(8))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    scanned_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    admitted: Mapped[bool]  # whether the person went in (offline: the device's own verdict)
    status: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(20))
    conflict: Mapped[str | None] = mapped_column(String(20), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    resolution_note: Mapped[str | None] = mapped_column(String(500), default=None)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    direction: Mapped[str] = mapped_column(
        String(5), default=ScanDirection.ENTRY.value, server_default=ScanDirection.ENTRY.value
    )
    #: SHA-256 of what the scan was about (site, direction, code or serial): a nonce sent again
    #: with other content is refused (nonce_reused) instead of getting another scan's answer.
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Seconds added to the device's times (its clock's offset from ours, measured at sync).
    clock_offset_s: Mapped[int | None] = mapped_column(default=None)
    #: The device undid this check-in (a turnstile that did not turn, a wrong ticket).
    annulled_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"<CheckinScan {self.id} {self.actor} {self.status} {self.reason}>"
