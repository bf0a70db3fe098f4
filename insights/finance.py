"""What finance looks up: orders found by code, email, ticket serial or local day, and one
order's whole story (items, tickets, payments with their moves and refunds, audit trail)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select

from app import audit
from app.errors import NotFound
from app.extensions import db
from payments import services as payments
from payments.models import Payment, PaymentFlag
from ticketing.models import Order, Ticket
from ticketing.verify import format_serial, parse_serial

_CODE = re.compile(r"^[A-Za-z0-9]{4,12}$")
MAX_RESULTS = 100


def search_orders(*, text: str, day: date | None, zone: ZoneInfo, limit: int = 50) -> list[Order]:
    """Orders whose code or buyer's email matches `text`, or holding the ticket with that
    serial, created on the local `day`; newest first."""
    query = select(Order).order_by(Order.id.desc()).limit(min(limit, MAX_RESULTS))
    text = text.strip()
    if text:
        matches: list[ColumnElement[bool]] = [
            Order.email.ilike(f"%{_escape_like(text)}%", escape="\\")
        ]
        if _CODE.match(text):
            matches.append(Order.code == text.upper())
        try:
            serial = parse_serial(text)
        except ValueError:
            pass
        else:
            matches.append(Order.id.in_(select(Ticket.order_id).where(Ticket.serial == serial)))
        query = query.where(or_(*matches))
    if day is not None:
        start = datetime.combine(day, time.min, tzinfo=zone)
        query = query.where(Order.created_at >= start, Order.created_at < start + timedelta(days=1))
    return list(db.session.scalars(query))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class OrderStory:
    order: Order
    payments: list[Payment]
    flags: list[PaymentFlag]
    trail: list[audit.AuditLog]
    serials: dict[int, str]  # ticket id -> serial as printed


def order_story(*, code: str) -> OrderStory:
    """One order with everything finance needs to act on it."""
    try:
        order, order_payments = payments.order_payments(code=code.upper())
    except NotFound:
        raise NotFound(f"there is no order {code!r}") from None
    flags = list(
        db.session.scalars(
            select(PaymentFlag).where(PaymentFlag.order_id == order.id).order_by(PaymentFlag.id)
        )
    )
    serials = {ticket.id: format_serial(ticket.serial) for ticket in order.tickets}
    trail = audit.people_entries(limit=200, object_type="order", object_id=order.code)
    for serial in serials.values():
        trail += audit.people_entries(limit=50, object_type="ticket", object_id=serial)
    trail.sort(key=lambda row: row.id)
    return OrderStory(
        order=order, payments=order_payments, flags=flags, trail=trail, serials=serials
    )
