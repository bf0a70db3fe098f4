"""Reports for managers and finance: visitor flow, sales, listening and feedback over a range of
local days, per hour, day or week in the town's zone, with the previous period beside them.

Rows are counted per UTC hour in SQL (the same statement on PostgreSQL and SQLite) and the
hours are put in local buckets here: exact for every zone whose offset is whole hours (the
town's, UTC+7, has no daylight saving), and cheap, since a year has 8,760 hours at most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal_column, select

from app.errors import ValidationFailed
from app.extensions import db
from content.models import Site
from insights.models import Feedback, FeedbackState, ListeningHour
from payments.models import OPEN_STATES, Payment, PaymentFlag, Refund, RefundState
from ticketing.models import Order, OrderItem, Product, ProductSite, Ticket, TicketEntry

GROUPS = ("hour", "day", "week")
KINDS = ("visitors", "sales", "listening", "feedback")
#: Hourly buckets past this many days would be thousands of rows: ask for days or weeks.
MAX_HOURLY_DAYS = 31
DEFAULT_DAYS = 30
TIERS = ("foreign", "domestic", "child")


@dataclass(frozen=True, slots=True)
class ReportRange:
    """Local days `start`..`end` (both included) in `zone`, bucketed by `group`."""

    start: date
    end: date
    group: str
    zone: ZoneInfo
    site_id: int | None = None
    site_slug: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(
            self.end + timedelta(days=1), time.min, tzinfo=self.zone
        ).astimezone(UTC)

    def previous(self) -> ReportRange:
        """The period of the same length just before."""
        length = timedelta(days=self.days)
        return replace(self, start=self.start - length, end=self.end - length)

    def bucket(self, at: datetime) -> str:
        """The local bucket a UTC time falls in: '2026-12-01 07:00', '2026-12-01', week's Monday."""
        local = at.astimezone(self.zone)
        if self.group == "hour":
            return local.strftime("%Y-%m-%d %H:00")
        day = local.date()
        if self.group == "week":
            day -= timedelta(days=day.weekday())
        return day.isoformat()

    def buckets(self) -> list[str]:
        """Every bucket of the range, empty ones too, in order."""
        if self.group == "hour":
            first = self.since
            return [self.bucket(first + timedelta(hours=h)) for h in range(self.days * 24)]
        seen: dict[str, None] = {}
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            noon = datetime.combine(day, time(12), tzinfo=self.zone)
            seen[self.bucket(noon)] = None
        return list(seen)

    def describe(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": self.days,
            "group": self.group,
            "site": self.site_slug,
            "timezone": str(self.zone),
        }


def parse_range(
    *,
    start: date | None,
    end: date | None,
    group: str | None,
    site: str | None,
    zone: str,
    max_days: int,
    today: date,
) -> ReportRange:
    """Check a report's range: refused when reversed, too long, or hourly over a long range."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise ValidationFailed(
            f"the range ends ({end}) before it starts ({start}): swap the dates",
            reason="reversed_range",
            errors={"to": ["before from"]},
        )
    days = (end - start).days + 1
    if days > max_days:
        raise ValidationFailed(
            f"a report covers at most {max_days} days; {start} to {end} is {days} days",
            reason="range_too_long",
            errors={"from": [f"at most {max_days} days before to"]},
        )
    group = group or ("hour" if days <= 2 else "day" if days <= 92 else "week")
    if group == "hour" and days > MAX_HOURLY_DAYS:
        raise ValidationFailed(
            f"hourly figures cover at most {MAX_HOURLY_DAYS} days; group by day or week",
            reason="too_many_buckets",
            errors={"group": [f"hour needs a range of at most {MAX_HOURLY_DAYS} days"]},
        )
    site_id = None
    if site:
        site_id = db.session.scalar(select(Site.id).where(Site.slug == site))
        if site_id is None:
            raise ValidationFailed(
                f"there is no site {site!r}", reason="unknown_site", errors={"site": ["unknown"]}
            )
    return ReportRange(
        start=start, end=end, group=group, zone=ZoneInfo(zone), site_id=site_id, site_slug=site
    )


# --- counting per UTC hour ----------------------------------------------------------------


def _hour_of(column: Any) -> ColumnElement[Any]:
    """The UTC hour a timestamp falls in, as SQL both backends run."""
    if db.engine.dialect.name == "postgresql":
        return func.date_trunc(
            literal_column("'hour'"), column.op("AT TIME ZONE")(literal_column("'UTC'"))
        )
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def _site_slugs() -> dict[int, str]:
    return dict(db.session.execute(select(Site.id, Site.slug)).all())  # type: ignore[arg-type]


class _Table:
    """Sums of named figures per key, kept in first-seen order."""

    def __init__(self, figures: Iterable[str]) -> None:
        self.figures = tuple(figures)
        self.rows: dict[Any, dict[str, float]] = {}

    def add(self, key: Any, **values: float) -> None:
        row = self.rows.setdefault(key, dict.fromkeys(self.figures, 0))
        for name, value in values.items():
            row[name] += value

    def listed(
        self, key_names: tuple[str, ...], keys: Iterable[Any] | None = None
    ) -> list[dict[str, Any]]:
        order = list(keys) if keys is not None else list(self.rows)
        out = []
        for key in order:
            values = self.rows.get(key, dict.fromkeys(self.figures, 0))
            key_values = key if isinstance(key, tuple) else (key,)
            out.append({**dict(zip(key_names, key_values, strict=True)), **values})
        return out


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


# --- visitor flow -------------------------------------------------------------------------


def visitors(scope: ReportRange) -> dict[str, Any]:
    """Entries per bucket, site, tier and mode (online/offline); exits; the busiest hours."""
    in_range = and_(TicketEntry.entered_at >= scope.since, TicketEntry.entered_at < scope.until)
    counts = (
        func.count(),
        func.count().filter(TicketEntry.mode == "online"),
        func.count().filter(TicketEntry.mode == "offline"),
        *(func.count().filter(Ticket.tier == tier) for tier in TIERS),
    )
    names = ("entries", "online", "offline", *TIERS)
    hour = _hour_of(TicketEntry.entered_at)
    per_hour = (
        select(hour, *counts)
        .join(Ticket, Ticket.id == TicketEntry.ticket_id)
        .where(in_range)
        .group_by(hour)
    )
    per_site = (
        select(TicketEntry.site_id, *counts)
        .join(Ticket, Ticket.id == TicketEntry.ticket_id)
        .where(in_range)
        .group_by(TicketEntry.site_id)
    )
    exit_hour = _hour_of(TicketEntry.exited_at)
    exited = and_(TicketEntry.exited_at >= scope.since, TicketEntry.exited_at < scope.until)
    exits_per_hour = select(exit_hour, func.count()).where(exited).group_by(exit_hour)
    exits_per_site = (
        select(TicketEntry.site_id, func.count()).where(exited).group_by(TicketEntry.site_id)
    )
    if scope.site_id is not None:
        mine = TicketEntry.site_id == scope.site_id
        per_hour, per_site = per_hour.where(mine), per_site.where(mine)
        exits_per_hour, exits_per_site = exits_per_hour.where(mine), exits_per_site.where(mine)
    figures = (*names, "exits")
    series, by_site, by_hour = _Table(figures), _Table(figures), _Table(("entries",))
    totals = dict.fromkeys(figures, 0)
    for at, *values in db.session.execute(per_hour):
        when = _as_utc(at)
        row = dict(zip(names, values, strict=True))
        series.add(scope.bucket(when), **row)
        by_hour.add(when.astimezone(scope.zone).hour, entries=row["entries"])
        for name, value in row.items():
            totals[name] += value
    slugs = _site_slugs()
    for site_id, *values in db.session.execute(per_site):
        by_site.add(slugs[site_id], **dict(zip(names, values, strict=True)))
    for at, count in db.session.execute(exits_per_hour):
        series.add(scope.bucket(_as_utc(at)), exits=count)
        totals["exits"] += count
    for site_id, count in db.session.execute(exits_per_site):
        by_site.add(slugs[site_id], exits=count)
    hours = by_hour.listed(("hour",), range(24))
    return {
        "totals": {**totals, "occupancy": totals["entries"] - totals["exits"]},
        "tables": {
            "series": series.listed(("bucket",), scope.buckets()),
            "by_site": sorted(by_site.listed(("site",)), key=lambda r: -r["entries"]),
            "hours_of_day": hours,
            "busiest_hours": sorted(
                (h for h in hours if h["entries"]), key=lambda h: (-h["entries"], h["hour"])
            )[:5],
        },
        "chart": {"table": "series", "figure": "entries"},
    }


# --- sales --------------------------------------------------------------------------------


def _site_products(site_id: int) -> Any:
    return select(ProductSite.product_id).where(ProductSite.site_id == site_id)


def sales(scope: ReportRange) -> dict[str, Any]:
    """Paid orders, tickets and revenue per bucket, product, tier and method; refunds;
    payments still waiting; flags raised."""
    paid = and_(Order.paid_at >= scope.since, Order.paid_at < scope.until)
    orders = select(
        _hour_of(Order.paid_at), Order.payment_method, func.count(), func.sum(Order.paid_amount)
    )
    tickets_query = (
        select(_hour_of(Order.paid_at), func.count(Ticket.id))
        .join(Order, Order.id == Ticket.order_id)
        .where(paid)
    )
    items = (
        select(
            Product.slug,
            OrderItem.tier,
            func.sum(OrderItem.quantity),
            func.sum(OrderItem.quantity * OrderItem.unit_amount),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(paid)
        .group_by(Product.slug, OrderItem.tier)
    )
    refunds = (
        select(_hour_of(Refund.created_at), func.count(), func.sum(Refund.amount))
        .where(
            Refund.state == RefundState.SUCCEEDED.value,
            Refund.created_at >= scope.since,
            Refund.created_at < scope.until,
        )
        .group_by(_hour_of(Refund.created_at))
    )
    if scope.site_id is not None:
        covered = select(OrderItem.order_id).where(
            OrderItem.product_id.in_(_site_products(scope.site_id))
        )
        orders = orders.where(Order.id.in_(covered))
        tickets_query = tickets_query.where(Ticket.product_id.in_(_site_products(scope.site_id)))
        items = items.where(OrderItem.product_id.in_(_site_products(scope.site_id)))
        refunds = refunds.join(Payment, Payment.id == Refund.payment_id).where(
            Payment.order_id.in_(covered)
        )
    orders = orders.where(paid).group_by(_hour_of(Order.paid_at), Order.payment_method)
    tickets_query = tickets_query.group_by(_hour_of(Order.paid_at))
    figures = ("orders", "tickets", "revenue", "refunds", "refunded")
    series = _Table(figures)
    methods = _Table(("orders", "revenue"))
    totals = dict.fromkeys(figures, 0)
    for at, method, count, amount in db.session.execute(orders):
        series.add(scope.bucket(_as_utc(at)), orders=count, revenue=amount or 0)
        methods.add(method, orders=count, revenue=amount or 0)
        totals["orders"] += count
        totals["revenue"] += amount or 0
    for at, count in db.session.execute(tickets_query):
        series.add(scope.bucket(_as_utc(at)), tickets=count)
        totals["tickets"] += count
    for at, count, amount in db.session.execute(refunds):
        series.add(scope.bucket(_as_utc(at)), refunds=count, refunded=amount or 0)
        totals["refunds"] += count
        totals["refunded"] += amount or 0
    products, tiers = _Table(("tickets", "revenue")), _Table(("tickets", "revenue"))
    for slug, tier, quantity, amount in db.session.execute(items):
        products.add((slug, tier), tickets=quantity or 0, revenue=amount or 0)
        tiers.add(tier, tickets=quantity or 0, revenue=amount or 0)
    waiting_count, waiting_amount = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.state.in_(OPEN_STATES)
        )
    ).one()
    flags = _Table(("raised", "open"))
    flag_rows = db.session.execute(
        select(
            PaymentFlag.kind,
            func.count(),
            func.count(PaymentFlag.id).filter(PaymentFlag.resolved_at.is_(None)),
        )
        .where(PaymentFlag.created_at >= scope.since, PaymentFlag.created_at < scope.until)
        .group_by(PaymentFlag.kind)
    )
    for kind, raised, still_open in flag_rows:
        flags.add(kind, raised=raised, open=still_open)
    totals["net_revenue"] = totals["revenue"] - totals["refunded"]
    return {
        "totals": {
            **totals,
            "payments_waiting": waiting_count,
            "payments_waiting_amount": waiting_amount,
            "flags": sum(row["raised"] for row in flags.rows.values()),
        },
        "tables": {
            "series": series.listed(("bucket",), scope.buckets()),
            "by_method": methods.listed(("method",)),
            "by_product": products.listed(("product", "tier")),
            "by_tier": tiers.listed(("tier",)),
            "flags": flags.listed(("kind",)),
        },
        "chart": {"table": "series", "figure": "revenue"},
    }


# --- listening ----------------------------------------------------------------------------


def listening(scope: ReportRange) -> dict[str, Any]:
    """Plays, completion and minutes per bucket, site and language; the languages asked for
    but not available (the fallbacks served): the translation to commission next."""
    sums = (
        func.sum(ListeningHour.opens),
        func.sum(ListeningHour.plays),
        func.sum(ListeningHour.completions),
        func.sum(ListeningHour.seconds),
        func.sum(ListeningHour.downloads),
        func.sum(ListeningHour.offline),
    )
    in_range = and_(ListeningHour.hour >= scope.since, ListeningHour.hour < scope.until)
    if scope.site_id is not None:
        in_range = and_(in_range, ListeningHour.site_id == scope.site_id)
    per_hour = select(ListeningHour.hour, *sums).where(in_range).group_by(ListeningHour.hour)
    per_site_lang = (
        select(ListeningHour.site_id, ListeningHour.lang, *sums)
        .where(in_range)
        .group_by(ListeningHour.site_id, ListeningHour.lang)
    )
    asked = (
        select(ListeningHour.requested_lang, ListeningHour.lang, func.sum(ListeningHour.opens))
        .where(in_range, ListeningHour.requested_lang != "")
        .group_by(ListeningHour.requested_lang, ListeningHour.lang)
    )
    figures = ("opens", "plays", "completions", "minutes", "downloads", "offline")

    def named(values: Any) -> dict[str, float]:
        opens, plays, done, seconds, downloads, offline = (int(v or 0) for v in values)
        return {
            "opens": opens,
            "plays": plays,
            "completions": done,
            "minutes": seconds / 60,
            "downloads": downloads,
            "offline": offline,
        }

    series, by_site_lang = _Table(figures), _Table(figures)
    totals: dict[str, Any] = dict.fromkeys(figures, 0.0)
    for hour, *values in db.session.execute(per_hour):
        row = named(values)
        series.add(scope.bucket(_as_utc(hour)), **row)
        for name, value in row.items():
            totals[name] += value
    slugs = _site_slugs()
    for site_id, lang, *values in db.session.execute(per_site_lang):
        by_site_lang.add((slugs[site_id], lang), **named(values))
    fallbacks = _Table(("opens",))
    for requested, lang, opens in db.session.execute(asked):
        fallbacks.add((requested, lang), opens=int(opens or 0))
    rows = by_site_lang.listed(("site", "lang"))
    for line in [*rows, totals]:
        line["minutes"] = round(line["minutes"], 1)
        line["completion_rate"] = _ratio(line["completions"], line["plays"])
    series_rows = series.listed(("bucket",), scope.buckets())
    for line in series_rows:
        line["minutes"] = round(line["minutes"], 1)
    return {
        "totals": {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in totals.items()
        },
        "tables": {
            "series": series_rows,
            "by_site_language": sorted(rows, key=lambda r: -r["plays"]),
            "asked_not_available": sorted(
                fallbacks.listed(("asked", "served")), key=lambda r: -r["opens"]
            ),
        },
        "chart": {"table": "series", "figure": "plays"},
    }


# --- feedback -----------------------------------------------------------------------------


def feedback(scope: ReportRange) -> dict[str, Any]:
    """Feedback per bucket, its mean rating per site and topic, and what is still open."""
    hour = _hour_of(Feedback.created_at)
    query = (
        select(
            hour,
            Feedback.site_id,
            Feedback.topic,
            Feedback.state,
            func.count(),
            func.count(Feedback.rating),
            func.sum(Feedback.rating),
        )
        .where(Feedback.created_at >= scope.since, Feedback.created_at < scope.until)
        .group_by(hour, Feedback.site_id, Feedback.topic, Feedback.state)
    )
    if scope.site_id is not None:
        query = query.where(Feedback.site_id == scope.site_id)
    # A translation error quoted from the transcript has no rating: the mean is of those rated.
    figures = ("count", "rated", "rating_sum", "open")
    series, by_site, by_topic = _Table(figures), _Table(figures), _Table(figures)
    totals = dict.fromkeys(figures, 0)
    slugs = _site_slugs()
    waiting = (FeedbackState.OPEN.value, FeedbackState.HELD.value)
    for at, site_id, topic, state, count, rated, rating_sum in db.session.execute(query):
        values = {
            "count": count,
            "rated": rated,
            "rating_sum": rating_sum or 0,
            "open": count if state in waiting else 0,
        }
        series.add(scope.bucket(_as_utc(at)), **values)
        by_site.add(slugs.get(site_id, "") if site_id is not None else "", **values)
        by_topic.add(topic, **values)
        for name, value in values.items():
            totals[name] += value

    def finish(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            total, rated = row.pop("rating_sum"), row.pop("rated")
            row["mean_rating"] = round(total / rated, 2) if rated else None
        return rows

    rated = totals["rated"]
    mean = round(totals["rating_sum"] / rated, 2) if rated else None
    return {
        "totals": {"count": totals["count"], "open": totals["open"], "mean_rating": mean},
        "tables": {
            "series": finish(series.listed(("bucket",), scope.buckets())),
            "by_site": finish(by_site.listed(("site",))),
            "by_topic": finish(by_topic.listed(("topic",))),
        },
        "chart": {"table": "series", "figure": "count"},
    }


REPORTS: dict[str, Callable[[ReportRange], dict[str, Any]]] = {
    "visitors": visitors,
    "sales": sales,
    "listening": listening,
    "feedback": feedback,
}


def build_report(*, kind: str, scope: ReportRange) -> dict[str, Any]:
    """The report over the range, with the previous period's totals and the change."""
    make = REPORTS[kind]
    current = make(scope)
    before = make(scope.previous())["totals"]
    change = {
        name: (value - before[name])
        for name, value in current["totals"].items()
        if isinstance(value, int | float) and isinstance(before.get(name), int | float)
    }
    return {
        "report": kind,
        "range": scope.describe(),
        "totals": current["totals"],
        "previous": {"range": scope.previous().describe(), "totals": before},
        "change": change,
        "tables": current["tables"],
        "chart": current["chart"],
    }
