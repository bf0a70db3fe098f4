"""The printable ticket page a tourist opens from the order (HTML, no JavaScript)."""

from __future__ import annotations

from flask import Blueprint, render_template
from markupsafe import Markup

from app.i18n import requested_language
from app.security import carries_secret
from ticketing import presenters, qr, routes, services
from ticketing.verify import format_serial

bp = Blueprint(
    "ticket_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/t/static",
)


@bp.route("/t/<serial>")
@carries_secret  # the code itself, and the order's token in the URL
def ticket_page(serial: str) -> str:
    """One ticket to show at the gate or print: the code, the sites still open, the validity."""
    ticket = routes.readable_ticket(serial)
    lang = requested_language()
    view = presenters.ticket_view(ticket, token=None)
    zone = services.local_zone()
    names = {
        site.slug: presenters.localized({t.lang: t.name for t in site.texts}, lang)[0]
        for site in services.sites_by_slug(view["sites_open"] + view["sites_used"])
    }
    product_name, _ = presenters.localized(ticket.product.names, lang)
    return render_template(
        "ticketing/ticket.html",
        lang=lang,
        serial=format_serial(ticket.serial),
        order_code=ticket.order.code,
        product_name=product_name,
        ticket=view,
        site_names=names,
        zone=zone,
        valid_from=ticket.valid_from.astimezone(zone),
        valid_until=ticket.valid_until.astimezone(zone),
        first_used_at=ticket.first_used_at.astimezone(zone) if ticket.first_used_at else None,
        # qrcode's own SVG of our base32 text: no input from the request reaches it.
        qr_svg=Markup(qr.svg(ticket.code).decode()) if ticket.status == "valid" else None,  # noqa: S704
    )
