"""The buyer's ticket pages: the printable ticket a tourist opens from the order or the mail
(HTML, no JavaScript), and the same ticket as a picture to save to the phone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from app.errors import NotFound, html_errors
from app.i18n import supported_languages
from app.security import carries_secret
from ticketing import messages, phone, presenters, qr, routes, services
from ticketing.models import Order, Ticket
from ticketing.verify import format_serial

bp = html_errors(
    Blueprint(
        "ticket_pages",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/t/static",
    )
)


def buyer_language(order: Order) -> str:
    """The language of a buyer's page: a served ?lang=, else the one the order was made in."""
    asked = request.args.get("lang", "").strip().lower()
    return asked if asked in supported_languages() else order.language


def _page(body: str, lang: str) -> Response:
    response = Response(body, mimetype="text/html")
    response.headers["Content-Language"] = lang  # no-store: app.security, @carries_secret
    return response


def _ticket_context(ticket: Ticket, lang: str) -> dict[str, Any]:
    view = presenters.ticket_view(ticket, token=request.args.get("token"))
    zone = services.local_zone()
    product_name, _ = presenters.localized(ticket.product.names, lang)
    return {
        "view": view,
        "zone": zone,
        "product_name": product_name or view["product"],
        "valid_from": ticket.valid_from.astimezone(zone),
        "valid_until": ticket.valid_until.astimezone(zone),
        "first_used_at": ticket.first_used_at.astimezone(zone) if ticket.first_used_at else None,
    }


@bp.route("/t/<serial>")
@carries_secret  # the code itself, and the order's token in the URL
def ticket_page(serial: str) -> Response:
    """One ticket to show at the gate or print: the code, the sites still open, the validity;
    a refunded or cancelled ticket says so."""
    ticket = routes.readable_ticket(serial)
    lang = buyer_language(ticket.order)
    context = _ticket_context(ticket, lang)
    view = context["view"]
    names = {
        site.slug: presenters.localized({t.lang: t.name for t in site.texts}, lang)[0]
        for site in services.sites_by_slug(view["sites_open"] + view["sites_used"])
    }
    body = render_template(
        "ticketing/ticket.html",
        lang=lang,
        words=messages.words(lang),
        serial=format_serial(ticket.serial),
        order_code=ticket.order.code,
        ticket=view,
        site_names=names,
        # qrcode's own SVG of our base32 text: no input from the request reaches it.
        qr_svg=Markup(qr.svg(ticket.code).decode()) if ticket.status == "valid" else None,  # noqa: S704
        **{key: value for key, value in context.items() if key != "view"},
    )
    return _page(body, lang)


@bp.route("/t/<serial>/phone.png")
@carries_secret  # the ticket's code, as a picture
def ticket_phone_png(serial: str) -> Response:
    """The ticket as a picture for the phone's gallery: QR code, product, validity."""
    ticket = routes.readable_ticket(serial)
    if ticket.status != "valid":
        raise NotFound(f"ticket {format_serial(ticket.serial)} is {ticket.status}")
    lang = buyer_language(ticket.order)
    words = messages.words(lang)
    context = _ticket_context(ticket, lang)
    view = context["view"]
    moment = "%Y-%m-%d %H:%M"
    lines = [
        words.get(f"tier_{ticket.tier}", ticket.tier),
        f"{words['valid_from']}: {context['valid_from'].strftime(moment)}",
        f"{words['first_entry_by'] if view['hours_after_first_use'] else words['valid_until']}: "
        f"{context['valid_until'].strftime(moment)}",
    ]
    if view["hours_after_first_use"]:
        lines.append(
            f"{words['after_first_entry']}: "
            + words["valid_hours"].format(hours=view["hours_after_first_use"])
        )
    lines += [
        f"{words['sites_left']}: "
        + words["sites_left_value"].format(left=view["entries_left"], total=view["max_sites"]),
        words["order_ref"].format(code=ticket.order.code),
        words["times_local"].format(zone=context["zone"]),
    ]
    png = phone.phone_png(
        code=ticket.code,
        lang=lang,
        title=context["product_name"],
        lines=lines,
        serial=view["serial"],
    )
    response = Response(png, mimetype="image/png")
    response.headers["Content-Disposition"] = (
        f'inline; filename="hoian-ticket-{view["serial"]}.png"'
    )
    return response
