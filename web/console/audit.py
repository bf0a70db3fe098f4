"""The audit log (admin): people's actions, filtered by person, object, action and date,
paged by cursor. The pipeline's machine moves are in each job's own history, not here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from sqlalchemy import select

from app import audit
from app.auth.models import User
from app.extensions import db
from app.i18n import N_, _
from web.console.access import bp, menu_item, staff_page

menu_item("audit_page", N_("Audit log"), "admin")

PAGE = 50


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _local_midnight(day: date) -> datetime:
    """The start of a day in the town's zone (the days staff mean), as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 12 else None


@bp.route("/audit")
@staff_page("admin")
def audit_page() -> Any:
    args = request.args
    errors: list[str] = []
    start, end = _day(args.get("from", "")), _day(args.get("to", ""))
    if (args.get("from") and start is None) or (args.get("to") and end is None):
        errors.append(_("Dates are written as YYYY-MM-DD."))
    if start and end and end < start:
        errors.append(_("The end date is before the start date."))
        start, end = end, start
    filters: dict[str, Any] = {
        "actor_user_id": _int(args.get("person", "")),
        "object_type": args.get("object_type", "").strip()[:40] or None,
        "object_id": args.get("object_id", "").strip()[:80] or None,
        "action": args.get("action", "").strip()[:80] or None,
        "since": _local_midnight(start) if start else None,
        "until": _local_midnight(end + timedelta(days=1)) if end else None,
    }
    rows = audit.people_entries(limit=PAGE + 1, before_id=_int(args.get("before", "")), **filters)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    people = db.session.execute(select(User.id, User.email).order_by(User.email)).all()
    next_args = {k: v for k, v in args.items() if k != "before" and v}
    if more:
        next_args["before"] = str(rows[-1].id)
    return render_template(
        "console/audit.html",
        rows=rows,
        people=people,
        errors=errors,
        args=args,
        next_args=next_args if more else None,
    )
