"""Finance in the console: orders found by code, email, serial or day; one order's payments,
tickets and audit trail on one page; cash taken at the desk; chosen tickets refunded; payment
flags resolved with a note; a bank statement previewed (matched, flagged, skipped) before it
is recorded. Every action goes through the same services as the JSON API."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.errors import ValidationFailed
from app.extensions import db
from app.i18n import N_, _
from insights import finance
from payments import bank
from payments import services as payments
from ticketing import services as tickets
from ticketing.messages import vnd
from web.console.access import bp, error_page, menu_item, staff, staff_page

menu_item("orders", N_("Orders"), "finance")

#: The largest statement accepted for a preview (a month of a busy account is far smaller).
MAX_STATEMENT_BYTES = 2 * 1024 * 1024


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


@bp.route("/orders")
@staff_page("finance")
def orders() -> Any:
    args = request.args
    text = args.get("q", "")[:254]
    errors: list[str] = []
    day = None
    if args.get("day"):
        try:
            day = date.fromisoformat(args["day"])
        except ValueError:
            errors.append(_("Dates are written as YYYY-MM-DD."))
    found = finance.search_orders(text=text, day=day, zone=_zone()) if (text or day) else []
    return render_template(
        "console/orders.html",
        orders=found,
        args=args,
        errors=errors,
        vnd=vnd,
        searched=bool(text or day),
    ), (422 if errors else 200)


@bp.route("/orders/<code>")
@staff_page("finance")
def order_page(code: str) -> Any:
    story = finance.order_story(code=code[:12])
    return render_template("console/order.html", story=story, order=story.order, vnd=vnd)


@bp.route("/orders/<code>/cash", methods=["POST"])
@staff_page("finance")
def order_cash(code: str) -> Response:
    raw = request.form.get("amount_received", "").replace(".", "").replace(",", "").strip()
    if not raw.isdigit() or len(raw) > 15:
        raise ValidationFailed(_("Write the amount received in đồng, digits only."))
    order, change = tickets.pay_cash(code=code[:12], amount_received=int(raw))
    flash(_("Paid in cash. Give back %(change)s.", change=vnd(change)), "ok")
    return redirect(url_for("console.order_page", code=order.code))


@bp.route("/orders/<code>/refund", methods=["POST"])
@staff_page("finance")
def order_refund(code: str) -> Response:
    chosen = request.form.getlist("ticket")[:100]
    note = request.form.get("note", "").strip()[:500]
    if not chosen:
        raise ValidationFailed(_("Choose the tickets to refund."))
    if not note:
        raise ValidationFailed(_("Say why the tickets are refunded."))
    order, amount = tickets.refund_order(code=code[:12], serials=chosen, note=note)
    flash(_("Refunded %(amount)s; the tickets no longer admit.", amount=vnd(amount)), "ok")
    return redirect(url_for("console.order_page", code=order.code))


@bp.route("/flags")
@staff_page("finance")
def flags() -> Any:
    open_only = request.args.get("all") != "1"
    rows = payments.list_flags(unresolved=open_only, after=0, limit=200)
    return render_template("console/flags.html", flags=rows, open_only=open_only, vnd=vnd)


@bp.route("/flags/<int:flag_id>/resolve", methods=["POST"])
@staff_page("finance")
def flag_resolve(flag_id: int) -> Response:
    note = request.form.get("note", "").strip()[:500]
    if not note:
        raise ValidationFailed(_("Say how the flag was dealt with."))
    principal = staff()
    payments.resolve_flag(
        flag_id=flag_id, user_id=principal.user_id if principal else None, note=note
    )
    flash(_("Flag %(id)s resolved.", id=flag_id), "ok")
    return redirect(url_for("console.flags"))


def _statements_dir() -> Path:
    folder = Path(current_app.instance_path) / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1258")  # Vietnamese Windows exports, as `flask payments reconcile`


def _report_view(report: bank.ReconcileReport) -> dict[str, list[dict[str, Any]]]:
    """The report as plain values, kept after the preview's work is rolled back."""

    def line(item: Any, label: str) -> dict[str, Any]:
        transfer = item.transfer
        return {
            "line": item.line,
            "transaction": transfer.transaction_id if transfer else "",
            "amount": transfer.amount if transfer else None,
            "description": transfer.description if transfer else "",
            "label": label,
        }

    return {
        "matched": [line(item, label) for item, label in report.matched],
        "flagged": [line(item, label) for item, label in report.flagged],
        "recorded": [line(item, label) for item, label in report.already_recorded],
        "skipped": [line(item, item.problem) for item in report.skipped],
        "open_orders": [
            {"code": o.code, "amount": o.total_amount, "reference": bank.reference_for(o)}
            for o in report.open_orders
        ],
    }


@bp.route("/statements")
@staff_page("finance")
def statements() -> Any:
    return render_template("console/statement.html", view=None, token=None, vnd=vnd)


@bp.route("/statements", methods=["POST"])
@staff_page("finance")
def statement_preview() -> Any:
    """What the statement would match, flag and skip; nothing is recorded yet."""
    upload = request.files.get("statement")
    if upload is None or not upload.filename:
        return error_page(422, _("Choose the statement file (CSV) to upload."))
    raw = upload.stream.read(MAX_STATEMENT_BYTES + 1)
    if len(raw) > MAX_STATEMENT_BYTES:
        return error_page(413, _("The file is too large."))
    try:
        view = _report_view(bank.reconcile(_decode(raw)))
    finally:
        db.session.rollback()  # a preview: nothing it matched or flagged is kept
    token = secrets.token_urlsafe(16)
    (_statements_dir() / f"{token}.csv").write_bytes(raw)
    return render_template("console/statement.html", view=view, token=token, vnd=vnd)


@bp.route("/statements/confirm", methods=["POST"])
@staff_page("finance")
def statement_confirm() -> Response:
    token = request.form.get("token", "")
    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 40:
        raise ValidationFailed(_("This preview has expired; upload the statement again."))
    path = _statements_dir() / f"{token}.csv"
    if not path.is_file():
        raise ValidationFailed(_("This preview has expired; upload the statement again."))
    report = bank.reconcile(_decode(path.read_bytes()))
    path.unlink(missing_ok=True)
    flash(
        _(
            "Statement recorded: %(matched)s matched, %(flagged)s flagged, %(skipped)s skipped.",
            matched=len(report.matched),
            flagged=len(report.flagged),
            skipped=len(report.skipped),
        ),
        "ok",
    )
    return redirect(url_for("console.flags"))
