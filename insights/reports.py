"""Reports for managers and finance: visitor flow, sales, listening and feedback over a range of
local days, per hour, day or week in the town's zone, with the previous period beside them.

In the town's zone (the rollups' own) reports read the rollups of insights.models, kept exact
by triggers in the transaction of every write: a range's figures from the daily ones (a range
is whole local days), a series by day or week from them too, a series by hour from the hourly
ones. One site's sales, one site's entries per hour and every report in another zone count
the raw rows per UTC hour in SQL (the same statement on PostgreSQL and SQLite) and put the
hours in local buckets here: exact for every zone whose offset is whole hours. The previous
period is asked for its totals only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal_column, select

from app.errors import ValidationFailed
from app.extensions import db
from content.models import Site
from insights.models import (
    ROLLUP_ZONE,
    EntryDay,
    EntryHour,
    Feedback,
    FeedbackState,
    ListeningDay,
    ListeningHour,
    RefundDay,
    SaleDay,
    SaleHour,
    SaleItemDay,
)
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
        return self.day_bucket(local.date())

    def day_bucket(self, day: date) -> str:
        """The bucket a local day falls in (grouped by day or week)."""
        if self.group == "week":
            day -= timedelta(days=day.weekday())
        return day.isoformat()

    @property
    def rolled_up(self) -> bool:
        """Whether the rollups answer: their days are local days in their zone."""
        return str(self.zone) == ROLLUP_ZONE

    @property
    def daily(self) -> bool:
        """Whether the series is read per day (grouped by day or week) rather than per hour."""
        return self.group != "hour"

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


VISITOR_FIGURES = ("entries", "online", "offline", *TIERS, "exits")


def _as_day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def _entry_rows(scope: ReportRange, key: Any = None, *, hourly: bool = False) -> Iterator[Any]:
    """Entries and exits from the daily (or hourly) rollup per `key`, or one row of sums."""
    table: Any = EntryHour if hourly else EntryDay
    sums = (
        func.sum(table.entries),
        func.sum(table.entries).filter(table.mode == "online"),
        func.sum(table.entries).filter(table.mode == "offline"),
        *(func.sum(table.entries).filter(table.tier == tier) for tier in TIERS),
        func.sum(table.exits),
    )
    query = select(*((key,) if key is not None else ()), *sums)
    if hourly:
        query = query.where(EntryHour.hour >= scope.since, EntryHour.hour < scope.until)
    else:
        query = query.where(EntryDay.day >= scope.start, EntryDay.day <= scope.end)
        if scope.site_id is not None:
            query = query.where(EntryDay.site_id == scope.site_id)
    for row in db.session.execute(query.group_by(key) if key is not None else query):
        keys, values = tuple(row[: -len(sums)]), row[-len(sums) :]
        yield (*keys, dict(zip(VISITOR_FIGURES, (int(v or 0) for v in values), strict=True)))


def _visitor_tables() -> tuple[_Table, _Table, _Table]:
    """Series and per-site tables of every figure, and entries per hour of the day."""
    return _Table(VISITOR_FIGURES), _Table(VISITOR_FIGURES), _Table(("entries",))


def _local_hour_of(column: Any) -> ColumnElement[Any]:
    """The hour of the day in ROLLUP_ZONE a timestamp falls in (SQLite: its fixed UTC+7)."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("hour", func.timezone(ROLLUP_ZONE, column))
    return func.strftime("%H", column, "+7 hours")


def _visitors_rolled_up(
    scope: ReportRange, *, totals_only: bool
) -> tuple[dict[str, float], _Table, _Table, _Table]:
    """Totals and sites from the daily rollup; the series per day from it too, per hour from
    the hourly one (every site) or the raw rows (one site, at most 31 days); the hours of the
    day from the hourly rollup, or from one site's raw rows."""
    series, by_site, by_hour = _visitor_tables()
    if totals_only:
        ((sums,),) = _entry_rows(scope)
        return sums, series, by_site, by_hour
    totals: dict[str, float] = dict.fromkeys(VISITOR_FIGURES, 0)
    slugs = _site_slugs()
    for site_id, row in _entry_rows(scope, EntryDay.site_id):
        by_site.add(slugs[site_id], **row)
        for name, value in row.items():
            totals[name] += value
    if scope.daily:
        for day, row in _entry_rows(scope, EntryDay.day):
            series.add(scope.day_bucket(_as_day(day)), **row)
        if scope.site_id is None:
            local_hour = _local_hour_of(EntryHour.hour)
            for hour, row in _entry_rows(scope, local_hour, hourly=True):
                by_hour.add(int(hour), entries=row["entries"])
        else:
            _raw_entries_per_hour(scope, by_hour)
    elif scope.site_id is None:
        for at, row in _entry_rows(scope, EntryHour.hour, hourly=True):
            series.add(scope.bucket(_as_utc(at)), **row)
            by_hour.add(_as_utc(at).astimezone(scope.zone).hour, entries=row["entries"])
    else:
        _count_raw_visitors(scope, series, by_hour, by_site=None)
    return totals, series, by_site, by_hour


def _count_raw_visitors(
    scope: ReportRange, series: _Table, by_hour: _Table, *, by_site: _Table | None
) -> dict[str, float]:
    """Count entries and exits from the raw rows per UTC hour (and per site): the totals."""
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
    totals: dict[str, float] = dict.fromkeys(VISITOR_FIGURES, 0)
    for at, *values in db.session.execute(per_hour):
        when = _as_utc(at)
        row = dict(zip(names, values, strict=True))
        series.add(scope.bucket(when), **row)
        by_hour.add(when.astimezone(scope.zone).hour, entries=row["entries"])
        for name, value in row.items():
            totals[name] += value
    for at, count in db.session.execute(exits_per_hour):
        series.add(scope.bucket(_as_utc(at)), exits=count)
        totals["exits"] += count
    if by_site is not None:
        slugs = _site_slugs()
        for site_id, *values in db.session.execute(per_site):
            by_site.add(slugs[site_id], **dict(zip(names, values, strict=True)))
        for site_id, count in db.session.execute(exits_per_site):
            by_site.add(slugs[site_id], exits=count)
    return totals


def _raw_entries_per_hour(scope: ReportRange, by_hour: _Table) -> None:
    """One site's entries per hour of the day, from its raw rows (its index leads with it)."""
    hour = _hour_of(TicketEntry.entered_at)
    query = (
        select(hour, func.count())
        .where(
            TicketEntry.site_id == scope.site_id,
            TicketEntry.entered_at >= scope.since,
            TicketEntry.entered_at < scope.until,
        )
        .group_by(hour)
    )
    for at, count in db.session.execute(query):
        by_hour.add(_as_utc(at).astimezone(scope.zone).hour, entries=count)


def visitors(scope: ReportRange, *, totals_only: bool = False) -> dict[str, Any]:
    """Entries per bucket, site, tier and mode (online/offline); exits; the busiest hours."""
    if scope.rolled_up:
        totals, series, by_site, by_hour = _visitors_rolled_up(scope, totals_only=totals_only)
    else:
        series, by_site, by_hour = _visitor_tables()
        totals = _count_raw_visitors(scope, series, by_hour, by_site=by_site)
    hours = by_hour.listed(("hour",), range(24))
    return {
        "totals": {**totals, "occupancy": totals["entries"] - totals["exits"]},
        "tables": {
            "series": series.listed(("bucket",), scope.buckets()),
            "by_site": sorted(by_site.listed(("site",)), key=lambda r: (-r["entries"], r["site"])),
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


SALES_FIGURES = ("orders", "tickets", "revenue", "refunds", "refunded")


def _sales_rolled_up(scope: ReportRange, *, totals_only: bool) -> tuple[_Table, ...]:
    """Sales over every site from the rollups: (series, by method, by product, by tier). The
    figures of the whole range come from the daily ones; an hourly series from the hourly one
    and the refunds' raw rows (a few a day)."""
    series, methods = _Table(SALES_FIGURES), _Table(("orders", "revenue"))
    products, tiers = _Table(("tickets", "revenue")), _Table(("tickets", "revenue"))
    by_day = scope.daily and not totals_only
    days = (SaleDay.day,) if by_day else ()
    orders = (
        select(
            *days,
            SaleDay.method,
            func.sum(SaleDay.orders),
            func.sum(SaleDay.revenue),
            func.sum(SaleDay.tickets),
        )
        .where(SaleDay.day >= scope.start, SaleDay.day <= scope.end)
        .group_by(*days, SaleDay.method)
    )
    for *day, method, count, amount, tickets in db.session.execute(orders):
        values = {"orders": int(count or 0), "revenue": int(amount or 0)}
        methods.add(method, **values)
        if by_day:
            series.add(scope.day_bucket(_as_day(day[0])), **values, tickets=int(tickets or 0))
        else:
            series.add("", **values, tickets=int(tickets or 0))
    refund_days = (RefundDay.day,) if by_day else ()
    refunds = select(*refund_days, func.sum(RefundDay.refunds), func.sum(RefundDay.amount)).where(
        RefundDay.day >= scope.start, RefundDay.day <= scope.end
    )
    for *day, count, amount in db.session.execute(refunds.group_by(*refund_days)):
        bucket = scope.day_bucket(_as_day(day[0])) if by_day else ""
        series.add(bucket, refunds=int(count or 0), refunded=int(amount or 0))
    if totals_only:
        return series, methods, products, tiers
    if not scope.daily:
        # The whole range's figures were counted under "": the hours replace them.
        series = _Table(SALES_FIGURES)
        hourly = (
            select(
                SaleHour.hour,
                func.sum(SaleHour.orders),
                func.sum(SaleHour.revenue),
                func.sum(SaleHour.tickets),
            )
            .where(SaleHour.hour >= scope.since, SaleHour.hour < scope.until)
            .group_by(SaleHour.hour)
        )
        for at, count, amount, tickets in db.session.execute(hourly):
            series.add(
                scope.bucket(_as_utc(at)),
                orders=int(count or 0),
                revenue=int(amount or 0),
                tickets=int(tickets or 0),
            )
        for at, count, amount in db.session.execute(_raw_refunds(scope)):
            series.add(scope.bucket(_as_utc(at)), refunds=count, refunded=int(amount or 0))
    items = (
        select(
            Product.slug,
            SaleItemDay.tier,
            func.sum(SaleItemDay.tickets),
            func.sum(SaleItemDay.revenue),
        )
        .join(Product, Product.id == SaleItemDay.product_id)
        .where(SaleItemDay.day >= scope.start, SaleItemDay.day <= scope.end)
        .group_by(Product.slug, SaleItemDay.tier)
    )
    for slug, tier, quantity, amount in db.session.execute(items):
        products.add((slug, tier), tickets=int(quantity or 0), revenue=int(amount or 0))
        tiers.add(tier, tickets=int(quantity or 0), revenue=int(amount or 0))
    return series, methods, products, tiers


def _raw_refunds(scope: ReportRange) -> Any:
    """Refunds that succeeded per UTC hour (count, amount)."""
    return (
        select(_hour_of(Refund.created_at), func.count(), func.sum(Refund.amount))
        .where(
            Refund.state == RefundState.SUCCEEDED.value,
            Refund.created_at >= scope.since,
            Refund.created_at < scope.until,
        )
        .group_by(_hour_of(Refund.created_at))
    )


def _sales_raw(scope: ReportRange) -> tuple[_Table, ...]:
    """Sales counted from orders, tickets, items and refunds per UTC hour."""
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
    refunds = _raw_refunds(scope)
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
    series = _Table(SALES_FIGURES)
    methods = _Table(("orders", "revenue"))
    # PostgreSQL sums bigints as numeric: figures are whole numbers of đồng and tickets.
    for at, method, count, amount in db.session.execute(orders):
        series.add(scope.bucket(_as_utc(at)), orders=count, revenue=int(amount or 0))
        methods.add(method, orders=count, revenue=int(amount or 0))
    for at, count in db.session.execute(tickets_query):
        series.add(scope.bucket(_as_utc(at)), tickets=count)
    for at, count, amount in db.session.execute(refunds):
        series.add(scope.bucket(_as_utc(at)), refunds=count, refunded=int(amount or 0))
    products, tiers = _Table(("tickets", "revenue")), _Table(("tickets", "revenue"))
    for slug, tier, quantity, amount in db.session.execute(items):
        products.add((slug, tier), tickets=int(quantity or 0), revenue=int(amount or 0))
        tiers.add(tier, tickets=int(quantity or 0), revenue=int(amount or 0))
    return series, methods, products, tiers


def sales(scope: ReportRange, *, totals_only: bool = False) -> dict[str, Any]:
    """Paid orders, tickets and revenue per bucket, product, tier and method; refunds;
    payments still waiting; flags raised. One site's sales count the raw rows: an order
    covering two of the site's products is one order, which per-product sums cannot tell."""
    if scope.rolled_up and scope.site_id is None:
        series, methods, products, tiers = _sales_rolled_up(scope, totals_only=totals_only)
    else:
        series, methods, products, tiers = _sales_raw(scope)
    totals: dict[str, float] = dict.fromkeys(SALES_FIGURES, 0)
    for row in series.rows.values():
        for name in SALES_FIGURES:
            totals[name] += row[name]
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
            "payments_waiting_amount": int(waiting_amount),
            "flags": sum(row["raised"] for row in flags.rows.values()),
        },
        "tables": {
            "series": series.listed(("bucket",), scope.buckets()),
            "by_method": sorted(
                methods.listed(("method",)), key=lambda r: (-r["revenue"], r["method"])
            ),
            "by_product": sorted(
                products.listed(("product", "tier")), key=lambda r: (r["product"], r["tier"])
            ),
            "by_tier": sorted(tiers.listed(("tier",)), key=lambda r: r["tier"]),
            "flags": flags.listed(("kind",)),
        },
        "chart": {"table": "series", "figure": "revenue"},
    }


# --- listening ----------------------------------------------------------------------------


def _listening_where(scope: ReportRange, table: Any) -> ColumnElement[bool]:
    if table is ListeningDay:
        in_range = and_(ListeningDay.day >= scope.start, ListeningDay.day <= scope.end)
    else:
        in_range = and_(ListeningHour.hour >= scope.since, ListeningHour.hour < scope.until)
    if scope.site_id is not None:
        in_range = and_(in_range, table.site_id == scope.site_id)
    return in_range


def listening(scope: ReportRange, *, totals_only: bool = False) -> dict[str, Any]:
    """Plays, completion and minutes per bucket, site and language; the languages asked for
    but not available (the fallbacks served): the translation to commission next. The whole
    range's figures come from the daily rollup (in its zone), an hourly series from the hourly
    one."""
    whole: Any = ListeningDay if scope.rolled_up else ListeningHour

    def sums(table: Any) -> tuple[Any, ...]:
        return (
            func.sum(table.opens),
            func.sum(table.plays),
            func.sum(table.completions),
            func.sum(table.seconds),
            func.sum(table.downloads),
            func.sum(table.offline),
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

    in_range = _listening_where(scope, whole)
    totals: dict[str, Any] = named(db.session.execute(select(*sums(whole)).where(in_range)).one())
    series, by_site_lang = _Table(figures), _Table(figures)
    fallbacks = _Table(("opens",))
    if not totals_only:
        if scope.rolled_up and scope.daily:
            per_day = select(ListeningDay.day, *sums(ListeningDay)).where(in_range)
            for day, *values in db.session.execute(per_day.group_by(ListeningDay.day)):
                series.add(scope.day_bucket(_as_day(day)), **named(values))
        else:
            per_hour = select(ListeningHour.hour, *sums(ListeningHour)).where(
                _listening_where(scope, ListeningHour)
            )
            for hour, *values in db.session.execute(per_hour.group_by(ListeningHour.hour)):
                series.add(scope.bucket(_as_utc(hour)), **named(values))
        slugs = _site_slugs()
        per_site_lang = (
            select(whole.site_id, whole.lang, *sums(whole))
            .where(in_range)
            .group_by(whole.site_id, whole.lang)
        )
        for site_id, lang, *values in db.session.execute(per_site_lang):
            by_site_lang.add((slugs[site_id], lang), **named(values))
        asked = (
            select(whole.requested_lang, whole.lang, func.sum(whole.opens))
            .where(in_range, whole.requested_lang != "")
            .group_by(whole.requested_lang, whole.lang)
        )
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
            "by_site_language": sorted(rows, key=lambda r: (-r["plays"], r["site"], r["lang"])),
            "asked_not_available": sorted(
                fallbacks.listed(("asked", "served")),
                key=lambda r: (-r["opens"], r["asked"], r["served"]),
            ),
        },
        "chart": {"table": "series", "figure": "plays"},
    }


# --- feedback -----------------------------------------------------------------------------


def _local_day_of(column: Any) -> ColumnElement[Any]:
    """The local day in ROLLUP_ZONE a timestamp falls in (SQLite: its fixed UTC+7)."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(ROLLUP_ZONE, column))
    return func.date(column, "+7 hours")


def feedback(scope: ReportRange, *, totals_only: bool = False) -> dict[str, Any]:
    """Feedback per bucket, its mean rating per site and topic, and what is still open.
    Counted in SQL per local day (in the rollups' zone) or UTC hour, per site and per topic."""
    waiting = (FeedbackState.OPEN.value, FeedbackState.HELD.value)
    sums = (
        func.count(),
        # A translation error quoted from the transcript has no rating: the mean is of those
        # rated.
        func.count(Feedback.rating),
        func.sum(Feedback.rating),
        func.count().filter(Feedback.state.in_(waiting)),
    )
    in_range = and_(Feedback.created_at >= scope.since, Feedback.created_at < scope.until)
    if scope.site_id is not None:
        in_range = and_(in_range, Feedback.site_id == scope.site_id)
    figures = ("count", "rated", "rating_sum", "open")
    series, by_site, by_topic = _Table(figures), _Table(figures), _Table(figures)

    def counted(key: Any) -> Iterator[tuple[Any, dict[str, float]]]:
        query = select(key, *sums).where(in_range).group_by(key)
        for value, count, rated, rating_sum, still_open in db.session.execute(query):
            yield (
                value,
                {
                    "count": count,
                    "rated": rated,
                    "rating_sum": rating_sum or 0,
                    "open": still_open,
                },
            )

    for topic, values in counted(Feedback.topic):
        by_topic.add(topic, **values)
    totals = dict.fromkeys(figures, 0.0)
    for row in by_topic.rows.values():
        for name in figures:
            totals[name] += row[name]
    if not totals_only:
        slugs = _site_slugs()
        for site_id, values in counted(Feedback.site_id):
            by_site.add(slugs.get(site_id, "") if site_id is not None else "", **values)
        if scope.rolled_up and scope.daily:
            for day, values in counted(_local_day_of(Feedback.created_at)):
                series.add(scope.day_bucket(_as_day(day)), **values)
        else:
            for at, values in counted(_hour_of(Feedback.created_at)):
                series.add(scope.bucket(_as_utc(at)), **values)

    def finish(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            total, rated = row.pop("rating_sum"), row.pop("rated")
            row["mean_rating"] = round(total / rated, 2) if rated else None
        return rows

    rated = totals["rated"]
    mean = round(totals["rating_sum"] / rated, 2) if rated else None
    return {
        "totals": {"count": int(totals["count"]), "open": int(totals["open"]), "mean_rating": mean},
        "tables": {
            "series": finish(series.listed(("bucket",), scope.buckets())),
            "by_site": finish(sorted(by_site.listed(("site",)), key=lambda r: r["site"])),
            "by_topic": finish(sorted(by_topic.listed(("topic",)), key=lambda r: r["topic"])),
        },
        "chart": {"table": "series", "figure": "count"},
    }


REPORTS: dict[str, Callable[..., dict[str, Any]]] = {
    "visitors": visitors,
    "sales": sales,
    "listening": listening,
    "feedback": feedback,
}


def build_report(*, kind: str, scope: ReportRange) -> dict[str, Any]:
    """The report over the range, with the previous period's totals and the change."""
    make = REPORTS[kind]
    current = make(scope)
    before = make(scope.previous(), totals_only=True)["totals"]
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
