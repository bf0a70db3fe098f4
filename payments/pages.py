"""The tourist's order page: how to pay (VietQR code, card form, cash desk), then the tickets,
and whether they were mailed; in the buyer's language (?lang=, else the order's)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from app.errors import NotFound, html_errors
from app.security import allow_sources, carries_secret
from payments import bank, presenters
from ticketing import messages
from ticketing import presenters as ticket_presenters
from ticketing import services as tickets
from ticketing.pages import buyer_language

bp = html_errors(
    Blueprint(
        "payment_pages",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/pay/static",
    )
)
#: What Stripe's card form needs of a page's Content-Security-Policy (Stripe's own list): its
#: script, its frames (the card fields, 3-D Secure) and its API.
STRIPE_SOURCES = {
    "script-src": ["https://js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}

#: Order states in which the tickets are shown.
_WITH_TICKETS = frozenset({"paid", "partially_refunded", "disputed", "refunded"})


@bp.route("/pay/<code>")
@carries_secret  # the order's access token is in the URL
def order_page(code: str) -> Response:
    """One order for its buyer (with the order's access token): pay it, then open the tickets."""
    token = request.args.get("token", "")
    order = tickets.order_for_token(code=code, token=token) if token else None
    if order is None:
        raise NotFound("no such order for this link")
    lang = buyer_language(order)
    view: dict[str, Any] = ticket_presenters.order_view(order, token=token, lang=lang)
    payment = view["payment"]
    qr_svg = None
    if order.status == "pending" and payment.get("payload"):
        # qrcode's own SVG of our VietQR text (built from configuration and the order).
        qr_svg = Markup(presenters.qr_svg(bank.payload_for(order)).decode())  # noqa: S704
    if order.status == "pending" and payment.get("client_secret"):
        for directive, sources in STRIPE_SOURCES.items():
            allow_sources(directive, sources)
    zone = tickets.local_zone()
    body = render_template(
        "payments/order.html",
        lang=lang,
        words=messages.words(lang),
        order=view,
        payment=payment,
        qr_svg=qr_svg,
        money=messages.money,
        zone=zone,
        expires_at=order.expires_at.astimezone(zone),
        show_tickets=order.status in _WITH_TICKETS,
        waiting=order.status == "pending",
        mail=_mail_notice(view),
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Language"] = lang  # no-store: app.security, @carries_secret
    return response


def _mail_notice(view: dict[str, Any]) -> str | None:
    """Which mail sentence the page shows: offline (no mail server), or the confirmation's
    state; None before there is anything to send."""
    mail = view.get("mail")
    if not mail:
        return None
    if mail["delivery"] == "file":
        return "mail_offline"
    confirmation = next((m for m in mail["messages"] if m["kind"] == "order_confirmation"), None)
    if confirmation is None:
        return None
    return {"sent": "mail_sent", "failed": "mail_failed"}.get(confirmation["state"], "mail_queued")
