"""A generated month of activity written straight into the tables (orders, tickets, entries
online and offline, exits, payments, refunds, flags, listening events, feedback), and the
same figures counted here from the raw rows, independently of insights.reports."""

from __future__ import annotations

import random
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from content.models import Site
from insights import events
from insights.models import Feedback
from payments.models import Payment, PaymentFlag, Refund
from ticketing.models import (
    Order,
    OrderItem,
    Product,
    ProductPrice,
    ProductSite,
    SigningKey,
    Ticket,
    TicketEntry,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MONTH_START = date(2026, 11, 1)
MONTH_DAYS = 30
SITES = ("cantonese-assembly-hall", "japanese-covered-bridge", "tan-ky-old-house")
METHODS = ("cash", "vietqr", "stripe")
TIERS = ("foreign", "domestic", "child")
PRICES = {"foreign": 120_000, "domestic": 80_000, "child": 40_000}


@dataclass
class Expected:
    """Figures counted from the generated rows, per local day."""

    entries: Counter[tuple[date, str]] = field(default_factory=Counter)  # (day, site)
    entries_by: Counter[tuple[str, str]] = field(default_factory=Counter)  # (tier|mode, value)
    exits: int = 0
    orders_by_day: Counter[date] = field(default_factory=Counter)
    revenue_by_day: Counter[date] = field(default_factory=Counter)
    revenue_by_method: Counter[str] = field(default_factory=Counter)
    tickets_by_tier: Counter[str] = field(default_factory=Counter)
    tickets: int = 0
    refunded: int = 0
    refunds: int = 0
    flags: int = 0
    plays: Counter[tuple[str, str]] = field(default_factory=Counter)  # (site, lang)
    completions: int = 0
    fallback_opens: Counter[str] = field(default_factory=Counter)
    feedback_by_topic: Counter[str] = field(default_factory=Counter)
    rating_sum: int = 0
    rated: int = 0
    feedback_open: int = 0


def _local_day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def _moment(rng: random.Random) -> datetime:
    """A time in the month, often near local midnight (where buckets go wrong)."""
    day = MONTH_START + timedelta(days=rng.randrange(MONTH_DAYS))
    if rng.random() < 0.3:
        local = datetime(day.year, day.month, day.day, 23, 59, tzinfo=ZONE) + timedelta(
            minutes=rng.choice([0, 1, 2])
        )
        if _local_day(local.astimezone(UTC)) >= MONTH_START + timedelta(days=MONTH_DAYS):
            local -= timedelta(minutes=5)
    else:
        local = datetime(
            day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), tzinfo=ZONE
        )
    return local.astimezone(UTC)


def generate_month(seed: int = 7, orders: int = 120) -> Expected:
    rng = random.Random(seed)
    expected = Expected()
    site_ids: dict[str, int] = dict(
        db.session.execute(select(Site.slug, Site.id).where(Site.slug.in_(SITES))).all()  # type: ignore[arg-type]
    )
    key = SigningKey(id=200, public_key=secrets.token_urlsafe(32)[:43], status="verify_only")
    product = Product(
        id=900,
        slug="report-pass",
        names={"en": "Report pass"},
        max_sites=3,
        validity_kind="purchase",
        validity_days=30,
    )
    db.session.add_all([key, product])
    db.session.flush()
    for tier, amount in PRICES.items():
        db.session.add(ProductPrice(product_id=product.id, tier=tier, amount=amount))
    for site_id in site_ids.values():
        db.session.add(ProductSite(product_id=product.id, site_id=site_id))
    serial = 10_000_000
    for number in range(orders):
        paid_at = _moment(rng)
        method = rng.choice(METHODS)
        tiers = [rng.choice(TIERS) for _ in range(rng.randint(1, 3))]
        total = sum(PRICES[t] for t in tiers)
        order = Order(
            code=f"R{number:05d}{rng.randrange(1000):03d}",
            email=f"b{number}@example.com",
            language="en",
            status="paid",
            payment_method=method,
            currency="VND",
            total_amount=total,
            paid_amount=total,
            access_token_hash=secrets.token_hex(32),
            access_token_salt=secrets.token_hex(16),
            request_hash=secrets.token_hex(32),
            expires_at=paid_at + timedelta(minutes=30),
            paid_at=paid_at,
            created_at=paid_at,
        )
        db.session.add(order)
        db.session.flush()
        day = _local_day(paid_at)
        expected.orders_by_day[day] += 1
        expected.revenue_by_day[day] += total
        expected.revenue_by_method[method] += total
        payment = Payment(
            order_id=order.id,
            method=method,
            state="succeeded",
            amount=total,
            received_amount=total,
            currency="VND",
            created_at=paid_at,
        )
        db.session.add(payment)
        tickets = []
        for position, tier in enumerate(tiers):
            item = OrderItem(
                order_id=order.id,
                position=position,
                product_id=product.id,
                tier=tier,
                quantity=1,
                unit_amount=PRICES[tier],
            )
            db.session.add(item)
            db.session.flush()
            serial += 1
            ticket = Ticket(
                serial=serial,
                order_id=order.id,
                order_item_id=item.id,
                number=1,
                product_id=product.id,
                tier=tier,
                unit_amount=PRICES[tier],
                max_sites=3,
                valid_from=paid_at,
                valid_until=paid_at + timedelta(days=30),
                key_id=key.id,
                code=f"code-{serial}",
            )
            db.session.add(ticket)
            tickets.append(ticket)
            expected.tickets += 1
            expected.tickets_by_tier[tier] += 1
        db.session.flush()
        for ticket in tickets:
            for slug in rng.sample(SITES, rng.randint(0, 3)):
                entered = _moment(rng)
                mode = "offline" if rng.random() < 0.25 else "online"
                exited = entered + timedelta(minutes=40) if rng.random() < 0.5 else None
                db.session.add(
                    TicketEntry(
                        ticket_id=ticket.id,
                        site_id=site_ids[slug],
                        entered_at=entered,
                        mode=mode,
                        exited_at=exited,
                    )
                )
                entry_day = _local_day(entered)
                if MONTH_START <= entry_day < MONTH_START + timedelta(days=MONTH_DAYS):
                    expected.entries[(entry_day, slug)] += 1
                    expected.entries_by[("tier", ticket.tier)] += 1
                    expected.entries_by[("mode", mode)] += 1
                if exited is not None and _local_day(exited) < MONTH_START + timedelta(
                    days=MONTH_DAYS
                ):
                    expected.exits += 1
        if rng.random() < 0.15:
            refunded_at = paid_at + timedelta(hours=rng.randint(1, 48))
            amount = tickets[0].unit_amount
            db.session.add(
                Refund(
                    payment=payment,
                    state="succeeded",
                    origin="api",
                    amount=amount,
                    currency="VND",
                    created_at=refunded_at,
                )
            )
            order.refunded_amount = amount
            order.status = "partially_refunded" if len(tickets) > 1 else "refunded"
            payment.refunded_amount = amount
            if _local_day(refunded_at) < MONTH_START + timedelta(days=MONTH_DAYS):
                expected.refunds += 1
                expected.refunded += amount
        if rng.random() < 0.05:
            db.session.add(
                PaymentFlag(kind="overpaid", message="x", order_id=order.id, created_at=paid_at)
            )
            expected.flags += 1
    db.session.flush()
    _listening(rng, expected)
    _feedback(rng, expected, site_ids)
    db.session.flush()
    return expected


def _listening(rng: random.Random, expected: Expected) -> None:
    for _ in range(300):
        at = _moment(rng)
        slug, lang = rng.choice(SITES), rng.choice(("en", "ko", "vi"))
        batch: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4().hex,
                "kind": "guide_opened",
                "site": slug,
                "lang": lang,
                "source": "page",
                "at": at,
            }
        ]
        if rng.random() < 0.2:
            batch[0]["requested_lang"] = "it"
            expected.fallback_opens["it"] += 1
        if rng.random() < 0.7:
            batch.append(
                {
                    "id": uuid.uuid4().hex,
                    "kind": "play_started",
                    "site": slug,
                    "lang": lang,
                    "source": "app",
                    "at": at,
                }
            )
            expected.plays[(slug, lang)] += 1
            if rng.random() < 0.5:
                batch.append(
                    {
                        "id": uuid.uuid4().hex,
                        "kind": "progress_100",
                        "site": slug,
                        "lang": lang,
                        "source": "offline",
                        "at": at,
                        "duration_s": 240,
                    }
                )
                expected.completions += 1
        loaded = [
            {"requested_lang": None, "track": None, "duration_s": None, **event} for event in batch
        ]
        events.record_batch(
            events=loaded, languages=["vi", "en", "ko"], now=at + timedelta(minutes=1)
        )


def _feedback(rng: random.Random, expected: Expected, site_ids: dict[str, int]) -> None:
    for _ in range(60):
        at = _moment(rng)
        topic = rng.choice(("audio_guide", "translation_error", "site", "facilities"))
        # Some translation errors are reported from the transcript: a quote and no rating.
        quoted = topic == "translation_error" and rng.random() < 0.4
        rating = None if quoted else rng.randint(1, 5)
        state = rng.choice(("open", "held", "handled"))
        db.session.add(
            Feedback(
                site_id=site_ids[rng.choice(SITES)],
                rating=rating,
                topic=topic,
                comment="",
                quote="A sentence that reads wrong." if quoted else None,
                guide_lang="en" if topic == "translation_error" else None,
                page_lang="en",
                state=state,
                created_at=at,
            )
        )
        expected.feedback_by_topic[topic] += 1
        if rating is not None:
            expected.rating_sum += rating
            expected.rated += 1
        expected.feedback_open += state != "handled"
