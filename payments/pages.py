"""The tourist's order page: how to pay (VietQR code, card form, cash desk), then the tickets."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup

from app.errors import NotFound
from app.security import allow_sources, carries_secret
from payments import bank, presenters
from ticketing import presenters as ticket_presenters
from ticketing import services as tickets

bp = Blueprint(
    "payment_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pay/static",
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


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


@bp.route("/pay/<code>")
@carries_secret  # the order's access token is in the URL
def order_page(code: str) -> str:
    """One order for its buyer (with the order's access token): pay it, then open the tickets."""
    token = request.args.get("token", "")
    order = tickets.order_for_token(code=code, token=token) if token else None
    if order is None:
        raise NotFound("no such order for this link")
    view: dict[str, Any] = ticket_presenters.order_view(order, token=token)
    payment = view["payment"]
    qr_svg = None
    if order.status == "pending" and payment.get("payload"):
        # qrcode's own SVG of our VietQR text (built from configuration and the order).
        qr_svg = Markup(presenters.qr_svg(bank.payload_for(order)).decode())  # noqa: S704
    if order.status == "pending" and payment.get("client_secret"):
        for directive, sources in STRIPE_SOURCES.items():
            allow_sources(directive, sources)
    return render_template(
        "payments/order.html",
        order=view,
        payment=payment,
        qr_svg=qr_svg,
        vnd=_vnd,
        show_tickets=order.status in _WITH_TICKETS,
        waiting=order.status == "pending",
    )
