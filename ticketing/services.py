"""Ticketing logic: signing keys, products, orders and their tickets, revocations.

Check-in (redeem, offline sync, conflicts, visitor counts) is in `checkin.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.db import on_commit, utcnow
from app.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from app.extensions import db
from app.states import StateMachine
from content.cache import catalogue_version
from content.models import Site
from ticketing import payment_methods, signals
from ticketing.keys import KeyMaterialError, KeyRing, PrivateSigningKey
from ticketing.models import (
    KeyStatus,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ProductSite,
    RevocationReason,
    SigningKey,
    Ticket,
    TicketingState,
    TicketRevocation,
    TicketStatus,
    ValidityKind,
)
from ticketing.verify import (
    ALL_GENERATIONS,
    MAX_GENERATION,
    MAX_KEY_ID,
    MAX_SERIAL,
    TIER_CODES,
    InvalidCode,
    KeySet,
    TicketClaims,
    b64url_decode,
    decode_code,
    encode_code,
    format_serial,
    parse_serial,
)

log = logging.getLogger(__name__)

ACCESS_TOKEN_PREFIX = "hot_"  # noqa: S105 - a public prefix, not a secret
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- process caches -----------------------------------------------------------------------


class _KeySetCache:
    """The public keys, re-read from the database at most every `ttl_s` (or on an unknown id)."""

    def __init__(self, *, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._value: KeySet | None = None
        self._loaded = -math.inf
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        with self._lock:
            stale = self._value is None or now - self._loaded >= self._ttl
            # An unknown key id reloads, but no more than once a second.
            if stale or (refresh and now - self._loaded >= 1.0):
                rows = db.session.scalars(select(SigningKey)).all()
                self._value = KeySet.from_raw(
                    {
                        row.id: b64url_decode(row.public_key)
                        for row in rows
                        if row.status != KeyStatus.RETIRED.value
                    },
                    retired=[row.id for row in rows if row.status == KeyStatus.RETIRED.value],
                )
                self._loaded = now
            assert self._value is not None
            return self._value

    def expire(self) -> None:
        with self._lock:
            self._value = None


@dataclass(frozen=True)
class CatalogueRules:
    """Sites and what each product covers, as of one catalogue version."""

    site_ids: dict[str, int]
    site_slugs: dict[int, str]
    product_sites: dict[int, frozenset[str]]
    product_slugs: dict[int, str]


def init_app(app: Any) -> None:
    app.extensions["hoian_ticket_keys"] = _KeySetCache(ttl_s=app.config["TICKET_KEYS_CACHE_TTL_S"])
    app.extensions["hoian_ticket_rules"] = (None, None)
    app.extensions.pop("hoian_ticket_keyring", None)
    payment_methods.register(app, payment_methods.CashDesk())


def forget_caches() -> None:
    """Drop this process's cached keys and rules (after they change, and between tests)."""
    current_app.extensions["hoian_ticket_keys"].expire()
    current_app.extensions["hoian_ticket_rules"] = (None, None)
    current_app.extensions.pop("hoian_ticket_keyring", None)


def verification_keys(*, refresh: bool = False) -> KeySet:
    """The public keys that verify codes (cached per process)."""
    cache: _KeySetCache = current_app.extensions["hoian_ticket_keys"]
    return cache.get(refresh=refresh)


def decode(code: str) -> TicketClaims:
    """Authenticate a code with the current keys; an unknown key id re-reads them once."""
    try:
        return decode_code(code, verification_keys())
    except InvalidCode as exc:
        if exc.detail != "unknown_key":
            raise
        return decode_code(code, verification_keys(refresh=True))


def catalogue_rules() -> CatalogueRules:
    """Site ids and product coverage, rebuilt when the catalogue version moves."""
    version = catalogue_version()
    cached_version, rules = current_app.extensions["hoian_ticket_rules"]
    if rules is not None and cached_version == version:
        return rules  # type: ignore[no-any-return]
    sites = db.session.execute(select(Site.id, Site.slug)).all()
    site_slugs: dict[int, str] = dict(sites)  # type: ignore[arg-type]
    coverage: dict[int, set[str]] = {}
    for product_id, site_id in db.session.execute(
        select(ProductSite.product_id, ProductSite.site_id)
    ):
        coverage.setdefault(product_id, set()).add(site_slugs[site_id])
    products = db.session.execute(select(Product.id, Product.slug)).all()
    rules = CatalogueRules(
        site_ids={slug: site_id for site_id, slug in sites},
        site_slugs=site_slugs,
        product_sites={pid: frozenset(coverage.get(pid, ())) for pid, _ in products},
        product_slugs=dict(products),  # type: ignore[arg-type]
    )
    current_app.extensions["hoian_ticket_rules"] = (version, rules)
    return rules


def _keyring() -> KeyRing:
    ring: KeyRing | None = current_app.extensions.get("hoian_ticket_keyring")
    directory = Path(current_app.config["TICKET_KEYS_DIR"])
    if ring is None or ring.directory != directory:
        try:
            ring = KeyRing(directory=directory, env_keys=current_app.config["TICKET_SIGNING_KEYS"])
        except KeyMaterialError as exc:
            raise ServiceUnavailable(str(exc), reason="signing_key_unavailable") from None
        current_app.extensions["hoian_ticket_keyring"] = ring
    return ring


# --- signing keys ---------------------------------------------------------------------------


def list_keys() -> list[SigningKey]:
    """Every signing key, newest first (public halves only)."""
    return list(db.session.scalars(select(SigningKey).order_by(SigningKey.id.desc())))


def _create_key() -> SigningKey:
    last = db.session.scalar(select(func.max(SigningKey.id))) or 0
    if last >= MAX_KEY_ID:
        raise Conflict("every key id is used", reason="key_ids_exhausted")
    ring = _keyring()
    try:
        # A file left by a set-up whose transaction rolled back is adopted, not overwritten.
        private = ring.get(last + 1) or ring.generate(last + 1)
    except KeyMaterialError as exc:
        raise ServiceUnavailable(str(exc), reason="signing_key_unavailable") from None
    row = SigningKey(id=private.key_id, public_key=private.public_key_b64)
    db.session.add(row)
    db.session.flush()
    audit.record(action="ticket_key.create", object_type="ticket_key", object_id=row.id)
    _keys_changed()
    return row


def _active_key_row() -> SigningKey | None:
    return db.session.scalar(
        select(SigningKey).where(SigningKey.status == KeyStatus.ACTIVE.value).with_for_update()
    )


def ensure_signing_key() -> tuple[SigningKey, bool]:
    """The active signing key, created (with its private file) when there is none."""
    row = _active_key_row()
    if row is not None:
        return row, False
    return _create_key(), True


def rotate_signing_key() -> SigningKey:
    """Make a new active key; the previous one keeps verifying until it is retired."""
    previous = _active_key_row()
    if previous is not None:
        previous.status = KeyStatus.VERIFY_ONLY.value
        db.session.flush()
        audit.record(
            action="ticket_key.demote",
            object_type="ticket_key",
            object_id=previous.id,
            changes={"status": [KeyStatus.ACTIVE.value, KeyStatus.VERIFY_ONLY.value]},
        )
    row = _create_key()
    _keys_changed()
    return row


def retire_signing_key(*, key_id: int, reissue: bool) -> tuple[SigningKey, list[Ticket]]:
    """Stop accepting a key's codes; its valid tickets are reissued first, or it is refused."""
    row = db.session.get(SigningKey, key_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no signing key {key_id}")
    if row.status == KeyStatus.ACTIVE.value:
        raise Conflict("rotate first: the active key cannot be retired", reason="key_active")
    now = utcnow()
    live = [
        ticket
        for ticket in db.session.scalars(
            select(Ticket)
            .where(Ticket.key_id == key_id, Ticket.status == TicketStatus.VALID.value)
            .order_by(Ticket.id)
        )
        if ticket.valid_until + timedelta(minutes=ticket.use_window_minutes) > now
    ]
    if live and not reissue:
        raise Conflict(
            f"{len(live)} valid tickets carry codes from key {key_id}; reissue them first",
            reason="key_in_use",
            errors={"tickets": [format_serial(ticket.serial) for ticket in live[:20]]},
        )
    reissued = [
        reissue_ticket(serial=ticket.serial, note=f"key {key_id} retired") for ticket in live
    ]
    if row.status != KeyStatus.RETIRED.value:
        audit.record(
            action="ticket_key.retire",
            object_type="ticket_key",
            object_id=row.id,
            changes={"status": [row.status, KeyStatus.RETIRED.value], "reissued": len(reissued)},
        )
        row.status = KeyStatus.RETIRED.value
        row.retired_at = utcnow()
        db.session.flush()
    _keys_changed()
    return row, reissued


def holds_private_key(key_id: int) -> bool:
    """Whether this process can sign with the key (its file or environment entry is here)."""
    return _keyring().has(key_id)


def _keys_changed() -> None:
    on_commit(_expire_keys, key="ticket_keys")


def _expire_keys() -> None:
    if has_app_context():
        current_app.extensions["hoian_ticket_keys"].expire()


# A revocation (or any change) of a device or token in this process empties the cache once it
# commits; the flag outlives a rolled-back transaction at worst, costing one needless clear.
def _signing_key() -> PrivateSigningKey:
    row = _active_key_row()
    if row is None:
        raise ServiceUnavailable(
            "no ticket signing key; run `flask tickets setup`", reason="signing_key_unavailable"
        )
    try:
        private = _keyring().get(row.id)
    except KeyMaterialError as exc:
        raise ServiceUnavailable(str(exc), reason="signing_key_unavailable") from None
    if private is None:
        raise ServiceUnavailable(
            f"this server does not hold the private half of signing key {row.id}",
            reason="signing_key_unavailable",
        )
    if private.public_key_b64 != row.public_key:
        raise ServiceUnavailable(
            f"the private key file for key {row.id} does not match its registered public key",
            reason="signing_key_unavailable",
        )
    return private


# --- products -------------------------------------------------------------------------------


def list_products(*, include_inactive: bool = False) -> list[Product]:
    """Products in display order."""
    query = select(Product).order_by(Product.position, Product.id)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def products_for_site(*, site_id: int) -> list[Product]:
    """Active products that admit to this site."""
    return list(
        db.session.scalars(
            select(Product)
            .join(ProductSite, ProductSite.product_id == Product.id)
            .where(ProductSite.site_id == site_id, Product.active.is_(True))
            .order_by(Product.position, Product.id)
        )
    )


def sites_by_slug(slugs: Iterable[str]) -> list[Site]:
    """Catalogue sites by slug (for names on ticket pages)."""
    return list(db.session.scalars(select(Site).where(Site.slug.in_(set(slugs)))))


def tier_max_sites(product: Product, tier: str) -> int:
    price = product.price_for(tier)
    return price.max_sites if price and price.max_sites else product.max_sites


# --- state machines ---------------------------------------------------------------------------

ORDERS = StateMachine(
    kind="order",
    column="status",
    states=OrderStatus,
    label=lambda order: order.code,
    moves={
        (OrderStatus.PENDING, "pay"): OrderStatus.PAID,
        (OrderStatus.PENDING, "cancel"): OrderStatus.CANCELLED,
        (OrderStatus.PENDING, "expire"): OrderStatus.EXPIRED,
        (OrderStatus.PAID, "refund_part"): OrderStatus.PARTIALLY_REFUNDED,
        (OrderStatus.PAID, "refund_all"): OrderStatus.REFUNDED,
        (OrderStatus.PARTIALLY_REFUNDED, "refund_part"): OrderStatus.PARTIALLY_REFUNDED,
        (OrderStatus.PARTIALLY_REFUNDED, "refund_all"): OrderStatus.REFUNDED,
        (OrderStatus.PAID, "dispute"): OrderStatus.DISPUTED,
        (OrderStatus.DISPUTED, "dispute_won"): OrderStatus.PAID,
        (OrderStatus.DISPUTED, "dispute_lost"): OrderStatus.REFUNDED,
    },
)

TICKETS = StateMachine(
    kind="ticket",
    column="status",
    states=TicketStatus,
    label=lambda ticket: format_serial(ticket.serial),
    moves={
        (TicketStatus.VALID, "refund"): TicketStatus.REFUNDED,
        (TicketStatus.VALID, "cancel"): TicketStatus.CANCELLED,
        (TicketStatus.VALID, "reissue"): TicketStatus.VALID,
    },
)


def transition_order(order: Order, event: str, *, changes: dict[str, Any] | None = None) -> None:
    """Move an order along its state machine, or refuse; every move is audited."""
    ORDERS.move(order, event, changes=changes)


def transition_ticket(ticket: Ticket, event: str, *, changes: dict[str, Any] | None = None) -> None:
    """Move a ticket along its state machine, or refuse; every move is audited."""
    TICKETS.move(ticket, event, changes=changes)


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedOrder:
    order: Order
    access_token: str | None  # None only when SECRET_KEY changed since the order was made
    replayed: bool


def _random_code(length: int) -> str:
    return "".join(secrets.choice(_CROCKFORD) for _ in range(length))


def _derive_token(salt: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, b"order-access-token\x00" + salt.encode(), hashlib.sha256).digest()
    return ACCESS_TOKEN_PREFIX + digest.hex()[:40]


def hash_access_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _request_hash(
    *, items: Sequence[dict[str, Any]], email: str, payment_method: str, language: str
) -> str:
    canonical = json.dumps(
        {
            "items": [
                {
                    "product": item["product"],
                    "tier": item["tier"],
                    "quantity": item["quantity"],
                    "date": item["date"].isoformat() if item.get("date") else None,
                }
                for item in items
            ],
            "email": email,
            "payment_method": payment_method,
            "language": language,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(order: Order, request_hash: str) -> CreatedOrder:
    if not hmac.compare_digest(order.request_hash, request_hash):
        raise Conflict(
            "this Idempotency-Key was used for a different order; use a new key",
            reason="idempotency_key_reused",
        )
    return CreatedOrder(order=order, access_token=order_access_token(order), replayed=True)


def order_access_token(order: Order) -> str | None:
    """The order's access token, derived again (for its retries and the buyer's mail); None
    when SECRET_KEY changed since the order was made."""
    token = _derive_token(order.access_token_salt)
    same = hmac.compare_digest(hash_access_token(token), order.access_token_hash)
    return token if same else None


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_today() -> date:
    return utcnow().astimezone(local_zone()).date()


def _check_item(product: Product, item: dict[str, Any], now: datetime) -> None:
    errors: list[str] = []
    if product.sale_starts_at and now < product.sale_starts_at:
        errors.append("not on sale yet")
    if product.sale_ends_at and now >= product.sale_ends_at:
        errors.append("no longer on sale")
    if product.price_for(item["tier"]) is None:
        tiers = ", ".join(price.tier for price in product.prices)
        errors.append(f"tier {item['tier']!r} is not sold for this product; one of: {tiers}")
    visit = item.get("date")
    if product.validity_kind == ValidityKind.DATE.value:
        today = local_today()
        if visit is None:
            errors.append("choose a visit date (date)")
        elif not today <= visit <= today + timedelta(days=product.validity_days):
            errors.append(
                f"the date must be between {today} and "
                f"{today + timedelta(days=product.validity_days)}"
            )
    elif visit is not None:
        errors.append("this product is not sold for a date; leave date out")
    if errors:
        raise ValidationFailed(
            f"cannot sell {product.slug}: {'; '.join(errors)}",
            reason="not_sellable",
            errors={product.slug: errors},
        )


def _check_capacity(product: Product, visit: date, wanted: int, now: datetime) -> None:
    """Places for a dated product: paid tickets and unexpired pending orders hold them."""
    assert product.daily_capacity is not None
    held = db.session.scalar(
        select(func.coalesce(func.sum(OrderItem.quantity), 0))
        .join(Order, Order.id == OrderItem.order_id)
        .where(
            OrderItem.product_id == product.id,
            OrderItem.visit_date == visit,
            (Order.admits | (Order.status == OrderStatus.DISPUTED.value))
            | ((Order.status == OrderStatus.PENDING.value) & (Order.expires_at > now)),
        )
    )
    left = product.daily_capacity - int(held or 0)
    if wanted > left:
        raise Conflict(
            f"{product.slug} on {visit}: only {max(left, 0)} places left",
            reason="sold_out",
            errors={product.slug: [f"{max(left, 0)} left on {visit}"]},
        )


def create_order(
    *,
    items: Sequence[dict[str, Any]],
    email: str,
    payment_method: str,
    language: str,
    idempotency_key: str | None,
) -> CreatedOrder:
    """Price and create an order from the products; a repeated Idempotency-Key replays it."""
    email = email.strip().lower()
    request_hash = _request_hash(
        items=items, email=email, payment_method=payment_method, language=language
    )
    if idempotency_key:
        existing = db.session.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
        if existing is not None:
            return _replay(existing, request_hash)
    method = payment_methods.available(payment_method)
    if method is None:
        raise ValidationFailed(
            f"payment method {payment_method!r} is not available",
            reason="payment_method_unavailable",
            errors={"payment_method": [f"one of: {', '.join(payment_methods.enabled())}"]},
        )
    now = utcnow()
    products = _products_for(items)
    _check_quantities(items, products, now)
    order_items, currency = _priced_items(items, products)
    salt = secrets.token_hex(16)
    token = _derive_token(salt)
    order = Order(
        email=email,
        language=language,
        payment_method=payment_method,
        currency=currency,
        total_amount=sum(item.unit_amount * item.quantity for item in order_items),
        access_token_hash=hash_access_token(token),
        access_token_salt=salt,
        idempotency_key=idempotency_key or None,
        request_hash=request_hash,
        expires_at=now + timedelta(minutes=current_app.config["TICKET_ORDER_TTL_MINUTES"]),
        items=order_items,
    )
    winner = _insert_with_code(order, idempotency_key=idempotency_key)
    if winner is not None:
        return _replay(winner, request_hash)
    audit.record(
        action="order.create",
        object_type="order",
        object_id=order.code,
        changes={
            "total": order.total_amount,
            "currency": order.currency,
            "payment_method": payment_method,
            "items": [
                {"product": products[i["product"]].id, "tier": i["tier"], "quantity": i["quantity"]}
                for i in items
            ],
        },
    )
    if order.total_amount == 0:
        _pay(order, amount=0, reference="no payment needed")
    else:
        method.start(order)
    log.info("order %s created: %s %s", order.code, order.total_amount, order.currency)
    return CreatedOrder(order=order, access_token=token, replayed=False)


def _products_for(items: Sequence[dict[str, Any]]) -> dict[str, Product]:
    """The active products the items name, by slug; every one of them must exist."""
    slugs = sorted({item["product"] for item in items})
    products = {
        product.slug: product
        for product in db.session.scalars(
            select(Product).where(Product.slug.in_(slugs), Product.active.is_(True))
        )
    }
    unknown = [slug for slug in slugs if slug not in products]
    if unknown:
        raise ValidationFailed(
            f"unknown products: {', '.join(unknown)}",
            reason="unknown_product",
            errors={"items": [f"unknown product {slug!r}" for slug in unknown]},
        )
    return products


def _check_quantities(
    items: Sequence[dict[str, Any]], products: dict[str, Product], now: datetime
) -> None:
    """Each item can be sold now, no product over its per-order limit, and every dated product
    has the places left (its row locked, so two orders never both take the last places)."""
    per_product: dict[str, int] = {}
    per_date: dict[tuple[str, date], int] = {}
    for item in items:
        product = products[item["product"]]
        _check_item(product, item, now)
        per_product[product.slug] = per_product.get(product.slug, 0) + item["quantity"]
        if item.get("date") is not None:
            key = (product.slug, item["date"])
            per_date[key] = per_date.get(key, 0) + item["quantity"]
    for slug, quantity in per_product.items():
        if quantity > products[slug].max_per_order:
            raise ValidationFailed(
                f"at most {products[slug].max_per_order} tickets of {slug} per order",
                reason="too_many_tickets",
                errors={slug: [f"at most {products[slug].max_per_order}"]},
            )
    limited = sorted({products[slug].id for slug, _ in per_date if products[slug].daily_capacity})
    if limited:
        # Locked in id order, so that two orders cannot deadlock on each other's products.
        db.session.execute(
            select(Product.id).where(Product.id.in_(limited)).order_by(Product.id).with_for_update()
        )
    for (slug, visit), quantity in sorted(per_date.items()):
        if products[slug].daily_capacity is not None:
            _check_capacity(products[slug], visit, quantity, now)


def _priced_items(
    items: Sequence[dict[str, Any]], products: dict[str, Product]
) -> tuple[list[OrderItem], str]:
    """The order's lines, priced from the products, and the one currency they are paid in."""
    currencies = {products[item["product"]].currency for item in items}
    if len(currencies) != 1:
        raise ValidationFailed("an order is paid in one currency", reason="mixed_currencies")
    lines = []
    for position, item in enumerate(items, start=1):
        product = products[item["product"]]
        price = product.price_for(item["tier"])
        assert price is not None
        lines.append(
            OrderItem(
                position=position,
                product_id=product.id,
                tier=item["tier"],
                quantity=item["quantity"],
                unit_amount=price.amount,
                visit_date=item.get("date"),
            )
        )
    return lines, currencies.pop()


def _insert_with_code(order: Order, *, idempotency_key: str | None) -> Order | None:
    """Give the order a fresh random code and insert it; the order that won the race instead,
    when another request with the same Idempotency-Key was inserted first."""
    for _attempt in range(5):
        order.code = _random_code(8)
        try:
            with db.session.begin_nested():
                db.session.add(order)
                db.session.flush()
            return None
        except IntegrityError:
            if idempotency_key:
                winner: Order | None = db.session.scalar(
                    select(Order).where(Order.idempotency_key == idempotency_key)
                )
                if winner is not None:
                    return winner
    raise ServiceUnavailable("could not allocate an order code; try again")


def get_order(*, code: str, for_update: bool = False) -> Order:
    """One order by its code."""
    query = select(Order).where(Order.code == code.strip().upper())
    if for_update:
        query = query.with_for_update()
    order: Order | None = db.session.scalar(query)
    if order is None:
        raise NotFound(f"no order {code[:20]!r}")
    return order


def order_for_token(*, code: str, token: str) -> Order | None:
    """The order, if `token` is its access token."""
    order: Order | None = db.session.scalar(select(Order).where(Order.code == code.strip().upper()))
    if order is None or not hmac.compare_digest(order.access_token_hash, hash_access_token(token)):
        return None
    return order


def mark_order_paid(*, order_id: int, amount: int, reference: str | None = None) -> Order:
    """Record full payment of a pending order and issue its tickets, exactly once.

    The seam for payment providers: a retried notification for an order already paid with
    the same reference returns the order unchanged.
    """
    order = db.session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if (
        order.status == OrderStatus.PAID.value
        and reference
        and order.payment_reference == reference
    ):
        return order
    if order.status == OrderStatus.PENDING.value and order.expires_at <= utcnow():
        raise Conflict(
            f"order {order.code} expired at {order.expires_at.isoformat()}",
            reason="order_expired",
        )
    if amount != order.total_amount:
        raise ValidationFailed(
            f"order {order.code} costs {order.total_amount} {order.currency}, not {amount}",
            reason="wrong_amount",
        )
    _pay(order, amount=amount, reference=reference)
    return order


def _pay(order: Order, *, amount: int, reference: str | None) -> None:
    transition_order(order, "pay", changes={"amount": amount, "reference": reference})
    order.paid_amount = amount
    order.paid_at = utcnow()
    order.payment_reference = reference
    db.session.flush()
    _issue_tickets(order)
    signals.paid(order)


def pay_cash(*, code: str, amount_received: int) -> tuple[Order, int]:
    """Take cash for a pending order at the desk; returns the order and the change to give."""
    order = get_order(code=code, for_update=True)
    if order.payment_method != "cash":
        raise Conflict(
            f"order {order.code} is paid by {order.payment_method}", reason="not_a_cash_order"
        )
    if order.status != OrderStatus.PENDING.value:
        raise Conflict(
            f"order {order.code} is {order.status}; it cannot be paid",
            reason="illegal_transition",
        )
    if amount_received < order.total_amount:
        raise ValidationFailed(
            f"order {order.code} costs {order.total_amount} {order.currency}",
            reason="insufficient_amount",
            errors={"amount_received": [f"at least {order.total_amount}"]},
        )
    method = payment_methods.available("cash")
    if method is None:
        raise ServiceUnavailable(
            "the cash desk is not enabled", reason="payment_method_unavailable"
        )
    method.collect(order=order, amount_received=amount_received)
    mark_order_paid(order_id=order.id, amount=order.total_amount, reference=None)
    return order, amount_received - order.total_amount


def cancel_order(*, code: str, note: str = "") -> Order:
    """Cancel an order that is not paid yet."""
    order = get_order(code=code, for_update=True)
    transition_order(order, "cancel", changes={"note": note} if note else None)
    db.session.flush()
    return order


def expire_orders(*, now: datetime | None = None) -> list[Order]:
    """Expire pending orders whose payment time ran out."""
    moment = now or utcnow()
    orders = list(
        db.session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING.value, Order.expires_at <= moment)
            .order_by(Order.id)
            .with_for_update()
        )
    )
    for order in orders:
        transition_order(order, "expire")
    db.session.flush()
    return orders


def refund_order(
    *,
    code: str,
    serials: Sequence[str] | None,
    note: str = "",
    money_already_returned: bool = False,
) -> tuple[Order, int]:
    """Refund tickets not yet used (all valid ones when `serials` is None) and revoke them.

    The payment method sends the money back, unless `money_already_returned` says it went back
    at the provider already (a refund made in Stripe's dashboard, say).
    """
    order = get_order(code=code, for_update=True)
    if not order.admits:
        raise Conflict(
            f"order {order.code} is {order.status}; only paid orders are refunded",
            reason="illegal_transition",
        )
    valid = {t.serial: t for t in order.tickets if t.status == TicketStatus.VALID.value}
    if serials is None:
        chosen = list(valid.values())
    else:
        wanted = [_serial_or_422(text) for text in serials]
        missing = [format_serial(s) for s in wanted if s not in valid]
        if missing:
            raise ValidationFailed(
                "not valid tickets of this order: " + ", ".join(missing),
                reason="not_refundable",
                errors={"tickets": missing},
            )
        chosen = [valid[s] for s in dict.fromkeys(wanted)]
    used = [format_serial(t.serial) for t in chosen if t.entries_count > 0]
    if used:
        raise Conflict(
            "used tickets are not refunded: " + ", ".join(used),
            reason="ticket_used",
            errors={"tickets": used},
        )
    if not chosen:
        raise Conflict("nothing left to refund", reason="not_refundable")
    amount = sum(t.unit_amount for t in chosen)
    for ticket in _locked_tickets([t.id for t in chosen]):
        _revoke(ticket, event="refund", reason=RevocationReason.REFUNDED, note=note)
    order.refunded_amount += amount
    everything = all(t.status != TicketStatus.VALID.value for t in order.tickets)
    record: dict[str, Any] = {}
    if amount and money_already_returned:
        record = {"money_returned": "at the payment provider"}
    elif amount:
        method = payment_methods.available(order.payment_method)
        if method is None:
            raise ServiceUnavailable(
                f"refunds by {order.payment_method} are not available here",
                reason="payment_method_unavailable",
            )
        record = method.refund(order=order, amount=amount)
    transition_order(
        order,
        "refund_all" if everything else "refund_part",
        changes={"amount": amount, "tickets": [format_serial(t.serial) for t in chosen], **record},
    )
    db.session.flush()
    return order, amount


def record_dispute(*, code: str, outcome: str, note: str = "") -> Order:
    """A contested payment: `opened` holds the tickets, `won` frees them, `lost` revokes them."""
    order = get_order(code=code, for_update=True)
    if outcome == "opened":
        transition_order(order, "dispute", changes={"note": note})
    elif outcome == "won":
        transition_order(order, "dispute_won", changes={"note": note})
    else:
        transition_order(order, "dispute_lost", changes={"note": note})
        valid = [t.id for t in order.tickets if t.status == TicketStatus.VALID.value]
        for ticket in _locked_tickets(valid):
            _revoke(ticket, event="refund", reason=RevocationReason.REFUNDED, note=note)
        order.refunded_amount = order.paid_amount
    db.session.flush()
    return order


# --- tickets ----------------------------------------------------------------------------------


def _serial_or_422(text: str) -> int:
    try:
        return parse_serial(text)
    except ValueError as exc:
        raise ValidationFailed(str(exc), reason="invalid_serial") from None


def _locked_tickets(ids: Iterable[int]) -> list[Ticket]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.id.in_(wanted))
            .order_by(Ticket.id)
            .with_for_update(of=Ticket)
            .execution_options(populate_existing=True)
        )
    )


def _validity(item: OrderItem, paid_at: datetime) -> tuple[datetime, datetime, int]:
    product = item.product
    if product.validity_kind == ValidityKind.DATE.value:
        assert item.visit_date is not None
        zone = local_zone()
        start = datetime.combine(item.visit_date, datetime.min.time(), zone)
        end = datetime.combine(item.visit_date + timedelta(days=1), datetime.min.time(), zone)
        return start, end, 0
    until = paid_at + timedelta(days=product.validity_days)
    window = (
        (product.use_hours or 0) * 60
        if product.validity_kind == ValidityKind.FIRST_USE.value
        else 0
    )
    return paid_at, until, window


def _claims(ticket: Ticket, key_id: int) -> TicketClaims:
    return TicketClaims(
        key_id=key_id,
        serial=ticket.serial,
        generation=ticket.generation,
        product_id=ticket.product_id,
        tier=TIER_CODES[ticket.tier],
        max_sites=ticket.max_sites,
        valid_from=math.floor(ticket.valid_from.timestamp()),
        valid_until=math.ceil(ticket.valid_until.timestamp()),
        use_window_minutes=ticket.use_window_minutes,
    )


def _sign(ticket: Ticket, key: PrivateSigningKey) -> None:
    ticket.key_id = key.key_id
    ticket.code = encode_code(_claims(ticket, key.key_id), key.private_key)


def _issue_tickets(order: Order) -> list[Ticket]:
    key = _signing_key()
    assert order.paid_at is not None
    tickets: list[Ticket] = []
    for item in order.items:
        valid_from, valid_until, window = _validity(item, order.paid_at)
        for number in range(1, item.quantity + 1):
            ticket = Ticket(
                order_id=order.id,
                order_item_id=item.id,
                number=number,
                product_id=item.product_id,
                tier=item.tier,
                unit_amount=item.unit_amount,
                max_sites=tier_max_sites(item.product, item.tier),
                valid_from=valid_from.replace(microsecond=0),
                valid_until=valid_until.replace(microsecond=0),
                use_window_minutes=window,
                generation=0,
            )
            tickets.append(ticket)
    for _attempt in range(5):
        for ticket in tickets:
            ticket.serial = secrets.randbelow(MAX_SERIAL) + 1
            _sign(ticket, key)
        try:
            with db.session.begin_nested():
                db.session.add_all(tickets)
                db.session.flush()
            break
        except IntegrityError:
            # A serial collided (one in 2^48 per existing ticket): the savepoint is gone with
            # the rows it added, so draw again.
            continue
    else:
        raise ServiceUnavailable("could not allocate ticket serials; try again")
    audit.record(
        action="ticket.issue",
        object_type="order",
        object_id=order.code,
        changes={"tickets": [format_serial(t.serial) for t in tickets], "key": key.key_id},
    )
    db.session.expire(order, ["tickets"])
    return tickets


def get_ticket(*, serial: str | int) -> Ticket:
    """One ticket by its serial (as printed, or as a number)."""
    if isinstance(serial, int):
        number = serial
    else:
        try:
            number = parse_serial(serial)
        except ValueError as exc:  # a path that cannot name a ticket names none
            raise NotFound(str(exc), reason="invalid_serial") from None
    ticket: Ticket | None = db.session.scalar(select(Ticket).where(Ticket.serial == number))
    if ticket is None:
        raise NotFound(f"no ticket {format_serial(number)}")
    return ticket


def _next_revocation_seq() -> int:
    # The UPDATE holds this row's lock until commit, so sequence numbers are handed out in
    # commit order and a reader's cursor never passes one that is still to commit.
    seq = db.session.execute(
        update(TicketingState)
        .where(TicketingState.id == 1)
        .values(revocation_seq=TicketingState.revocation_seq + 1)
        .returning(TicketingState.revocation_seq)
    ).scalar_one()
    return int(seq)


def _revoke(ticket: Ticket, *, event: str, reason: RevocationReason, note: str) -> None:
    changes: dict[str, Any] = {"note": note} if note else {}
    transition_ticket(ticket, event, changes=changes)
    below = ticket.generation if reason is RevocationReason.REISSUED else ALL_GENERATIONS
    if reason is not RevocationReason.REISSUED:
        ticket.revoked_at = utcnow()
    db.session.add(
        TicketRevocation(
            seq=_next_revocation_seq(),
            ticket_id=ticket.id,
            serial=ticket.serial,
            below_generation=below,
            reason=reason.value,
        )
    )
    db.session.flush()


def cancel_ticket(*, serial: str, note: str = "") -> Ticket:
    """Void a ticket without refund (staff decision); its codes are revoked everywhere."""
    ticket = get_ticket(serial=serial)
    (locked,) = _locked_tickets([ticket.id])
    _revoke(locked, event="cancel", reason=RevocationReason.CANCELLED, note=note)
    return locked


def reissue_ticket(*, serial: str | int, note: str = "") -> Ticket:
    """Give a ticket a new code (new generation, current key); older codes are revoked."""
    ticket = get_ticket(serial=serial)
    (locked,) = _locked_tickets([ticket.id])
    if locked.generation >= MAX_GENERATION:
        raise Conflict("this ticket was reissued too often", reason="too_many_reissues")
    if locked.status != TicketStatus.VALID.value:
        transition_ticket(locked, "reissue")  # refuses, with the reason
    key = _signing_key()
    locked.generation += 1
    _sign(locked, key)
    _revoke(locked, event="reissue", reason=RevocationReason.REISSUED, note=note)
    return locked


def list_revocations(*, since: int, limit: int) -> tuple[list[TicketRevocation], int]:
    """Revocations after the cursor, oldest first, and the cursor to ask from next."""
    rows = list(
        db.session.scalars(
            select(TicketRevocation)
            .where(TicketRevocation.seq > since)
            .order_by(TicketRevocation.seq)
            .limit(limit)
        )
    )
    return rows, (rows[-1].seq if rows else since)


def search_tickets(*, query: str) -> list[Ticket]:
    """Tickets by order code, ticket serial or the buyer's email (for a code too damaged to
    scan, or a buyer who lost the mail)."""
    if "@" in query:
        return list(
            db.session.scalars(
                select(Ticket)
                .join(Order, Order.id == Ticket.order_id)
                .where(Order.email == query.strip().lower())
                .order_by(Ticket.id.desc())
                .limit(200)
            )
        )
    cleaned = query.strip().upper()
    found: list[Ticket] = []
    try:
        serial = parse_serial(cleaned)
    except ValueError:
        serial = None
    if serial is not None:
        found.extend(db.session.scalars(select(Ticket).where(Ticket.serial == serial)))
    if not found:
        order = db.session.scalar(select(Order).where(Order.code == cleaned.replace("-", "")))
        if order is not None:
            found.extend(order.tickets)
    return found
