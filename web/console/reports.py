"""Reports in the console (managers, finance): visitor flow, sales, listening and feedback
over a range of local days with a site filter and the previous period beside, a chart with
its table, and CSV or Excel downloads of the same figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, render_template, request
from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.errors import ValidationFailed
from app.extensions import db
from app.i18n import N_, _
from content.models import Site
from insights import reports
from insights.routes import report_file, report_scope
from insights.schemas import ReportArgsSchema
from web.console.access import bp, error_page, menu_item, staff_page
from web.console.charts import bar_chart

menu_item("reports", N_("Reports"), "manager", "finance")

TITLES = {
    "visitors": N_("Visitor flow"),
    "sales": N_("Sales"),
    "listening": N_("Listening"),
    "feedback": N_("Feedback from tourists"),
}
#: The words of each figure and table column (report keys are English identifiers).
WORDS = {
    "bucket": N_("Period"),
    "site": N_("Site"),
    "hour": N_("Hour"),
    "entries": N_("Entries"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "foreign": N_("Foreign"),
    "domestic": N_("Domestic"),
    "child": N_("Child"),
    "exits": N_("Exits"),
    "occupancy": N_("Still inside"),
    "orders": N_("Orders"),
    "tickets": N_("Tickets"),
    "revenue": N_("Revenue (VND)"),
    "refunds": N_("Refunds"),
    "refunded": N_("Refunded (VND)"),
    "net_revenue": N_("Net revenue (VND)"),
    "payments_waiting": N_("Payments waiting"),
    "payments_waiting_amount": N_("Waiting (VND)"),
    "flags": N_("Flags"),
    "method": N_("Payment method"),
    "product": N_("Product"),
    "tier": N_("Tier"),
    "kind": N_("Kind"),
    "raised": N_("Raised"),
    "open": N_("Open"),
    "opens": N_("Guides opened"),
    "plays": N_("Plays"),
    "completions": N_("Heard to the end"),
    "completion_rate": N_("Completion rate"),
    "minutes": N_("Minutes listened"),
    "downloads": N_("Saved for offline"),
    "lang": N_("Language"),
    "asked": N_("Asked for"),
    "served": N_("Served instead"),
    "count": N_("Feedback"),
    "mean_rating": N_("Mean rating"),
    "topic": N_("Topic"),
    "series": N_("Over time"),
    "by_site": N_("By site"),
    "hours_of_day": N_("By hour of the day"),
    "busiest_hours": N_("Busiest hours"),
    "by_method": N_("By payment method"),
    "by_product": N_("By product and tier"),
    "by_tier": N_("By tier"),
    "by_site_language": N_("By site and language"),
    "asked_not_available": N_("Languages asked for but not available"),
    "by_topic": N_("By topic"),
}
REASONS = {
    "reversed_range": N_("The end date is before the start date."),
    "range_too_long": N_("A report covers at most %(days)s days: choose a shorter range."),
    "too_many_buckets": N_("Hourly figures cover at most 31 days: group by day or week."),
    "unknown_site": N_("There is no such site."),
}


def range_args() -> dict[str, Any]:
    """The range form's fields (from, to, site, group), checked; its empty fields unset."""
    try:
        # The form sends its empty fields ("every site", "automatic"): they mean the default.
        given = {key: value for key, value in request.args.items() if value}
        args: dict[str, Any] = ReportArgsSchema().load(given, unknown=EXCLUDE)
    except ValidationError as exc:
        raise ValidationFailed(_("Dates are written as YYYY-MM-DD.")) from exc
    return args


def range_scope(args: dict[str, Any]) -> tuple[reports.ReportRange | None, str | None]:
    """The checked range, or why it is refused in the console's words."""
    try:
        return report_scope(args), None
    except ValidationFailed as exc:
        words = REASONS.get(exc.reason)
        if words is None:
            raise
        return None, _(words, days=current_app.config["REPORT_MAX_DAYS"])


@bp.route("/reports", endpoint="reports")
@staff_page("manager", "finance")
def reports_page() -> Any:
    kind = request.args.get("kind", "visitors")
    if kind not in reports.KINDS:
        return error_page(404, _("There is no such page."))
    message: str | None
    scope: reports.ReportRange | None
    try:
        args = range_args()
    except ValidationFailed as exc:
        message, scope = exc.message, None
    else:
        scope, message = range_scope(args)
    report = reports.build_report(kind=kind, scope=scope) if scope is not None else None
    chart = None
    if report is not None:
        spec = report["chart"]
        chart = bar_chart(
            report["tables"][spec["table"]],
            label="bucket",
            figure=spec["figure"],
            title=f"{_(TITLES[kind])}: {_(WORDS[spec['figure']])}",
            chart_id="report-chart",
        )
    sites = db.session.scalars(select(Site.slug).order_by(Site.slug)).all()
    query = {k: v for k, v in request.args.items() if k != "format" and v}
    return render_template(
        "console/reports.html",
        kind=kind,
        kinds=reports.KINDS,
        titles=TITLES,
        words=WORDS,
        report=report,
        chart=chart,
        message=message,
        sites=sites,
        args=request.args,
        query=query,
        filters={k: v for k, v in query.items() if k != "kind"},
        today=date.today().isoformat(),
    ), (200 if message is None else 422)


@bp.route("/reports/download")
@staff_page("manager", "finance")
def reports_download() -> Response | tuple[str, int]:
    kind = request.args.get("kind", "visitors")
    if kind not in reports.KINDS:
        return error_page(404, _("There is no such page."))
    args = range_args()
    scope, message = range_scope(args)
    if scope is None:
        return error_page(422, message or "")
    fmt = args["format"] if args["format"] in ("csv", "xlsx") else "csv"
    return report_file(reports.build_report(kind=kind, scope=scope), fmt)
