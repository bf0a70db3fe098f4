"""Gate conflicts in the console (managers; admins): what the offline scanners' uploads
broke (double entries, a ticket over its quota, revoked or outside its validity, ...), over a
range of local days and a site, like the reports, counted per kind and listed page by page."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import select

from app.auth.models import InspectorDevice
from app.extensions import db
from app.i18n import N_, ui_language
from content.models import Site
from ticketing import checkin
from ticketing.models import ConflictKind
from web.console.access import bp, menu_item, staff_page
from web.console.home import site_names
from web.console.reports import range_args, range_scope

menu_item("conflicts", N_("Gate conflicts"), "manager")

PER_PAGE = 50
KINDS = {
    ConflictKind.DOUBLE_ENTRY: N_("Entered this site twice"),
    ConflictKind.OVER_QUOTA: N_("More sites than the ticket admits to"),
    ConflictKind.REVOKED_TICKET: N_("Ticket revoked"),
    ConflictKind.OUTSIDE_VALIDITY: N_("Outside the ticket's validity"),
    ConflictKind.WRONG_SITE: N_("Site not covered by the ticket"),
    ConflictKind.UNPAID: N_("Order not paid"),
    ConflictKind.INVALID_CODE: N_("Not a genuine code"),
}


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < len(value) < 6 and int(value) > 0 else 1


@bp.route("/conflicts")
@staff_page("manager")
def conflicts() -> Any:
    """Conflicts found when offline scans were synced, newest first, with their counts."""
    scope, message = range_scope(range_args())
    page = _page_number()
    unresolved = request.args.get("unresolved") == "1"
    rows: list[Any] = []
    total, kinds = 0, dict[str, int]()
    if scope is not None:
        rows, total, kinds = checkin.conflicts_between(
            since=scope.since,
            until=scope.until,
            site_id=scope.site_id,
            unresolved=unresolved,
            page=page,
            per_page=PER_PAGE,
        )
    device_ids = {row.device_id for row in rows if row.device_id is not None}
    devices = dict(
        db.session.execute(
            select(InspectorDevice.id, InspectorDevice.name).where(
                InspectorDevice.id.in_(device_ids)
            )
        ).all()
    )
    names = site_names({row.site_id for row in rows}, ui_language())
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "console/conflicts.html",
        scope=scope,
        message=message,
        rows=rows,
        total=total,
        kinds=kinds,
        kind_names=KINDS,
        devices=devices,
        names=names,
        sites=db.session.scalars(select(Site.slug).order_by(Site.slug)).all(),
        args=request.args,
        unresolved=unresolved,
        page=page,
        pages=pages,
        query=query,
    ), (200 if message is None else 422)
