"""Composing the mail to buyers: the order confirmation with its tickets (each QR code inline
as an image, its printable link with the order's access token, what it admits, how long it is
valid) and the refund notice, in the order's language, as text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from flask import current_app, render_template, url_for

from app.db import utcnow
from app.extensions import db
from content.presenters import public_url
from mail import messages
from mail.models import MailMessage, MessageKind
from payments.models import Refund
from ticketing import presenters as ticket_presenters
from ticketing import qr
from ticketing import services as tickets
from ticketing.messages import money
from ticketing.models import Order, Ticket


@dataclass(frozen=True, slots=True)
class Composed:
    email: EmailMessage
    subject: str
    message_id: str


def compose(message: MailMessage) -> Composed:
    """The message as it goes out now (tickets as they stand now: a resend shows refunds)."""
    order = db.session.get(Order, message.order_id)
    assert order is not None
    lang = message.language
    words = messages.words(lang)
    # The links in the mail are absolute, on the public base URL, like those on plaques.
    with current_app.test_request_context("/", base_url=current_app.config["PUBLIC_BASE_URL"]):
        token = tickets.order_access_token(order)
        order_url = public_url(
            url_for("payment_pages.order_page", code=order.code, token=token, lang=lang)
        )
        if message.kind == MessageKind.ORDER_CONFIRMATION.value:
            subject = words["confirmation_subject"].format(code=order.code)
            context = _confirmation(order, token=token, lang=lang)
            template = "mail/confirmation"
        else:
            subject = words["refund_subject"].format(code=order.code)
            refund = db.session.get(Refund, message.refund_id)
            assert refund is not None
            context = _refund(order, refund, lang=lang)
            template = "mail/refund"
        context.update(words=words, order=order, order_url=order_url, lang=lang)
        text = render_template(f"{template}.txt", **context)
        html = render_template(f"{template}.html", **context)
    email = EmailMessage()
    sender = current_app.config["MAIL_FROM"]
    message_id = make_msgid(domain=_domain(sender))
    email["Subject"] = subject
    email["From"] = sender
    email["To"] = Address(addr_spec=message.recipient)
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = message_id
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(text)
    email.add_alternative(html, subtype="html")
    # After the body: setting the content drops the Content-* headers set before it.
    email["Content-Language"] = lang
    html_part = email.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for image in context.get("images", ()):
        html_part.add_related(
            image["png"], "image", "png", cid=f"<{image['cid']}>", filename=image["filename"]
        )
    return Composed(email=email, subject=subject, message_id=message_id)


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] or "localhost"


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(tickets.local_zone()).strftime("%Y-%m-%d %H:%M")


def _site_names(slugs: set[str], lang: str) -> dict[str, str]:
    return {
        site.slug: ticket_presenters.localized({t.lang: t.name for t in site.texts}, lang)[0]
        for site in tickets.sites_by_slug(slugs)
    }


def _confirmation(order: Order, *, token: str | None, lang: str) -> dict[str, Any]:
    rules = tickets.catalogue_rules()
    covered = {slug for t in order.tickets for slug in rules.product_sites.get(t.product_id, ())}
    names = _site_names(covered, lang)
    items = []
    images = []
    for number, ticket in enumerate(order.tickets, start=1):
        view = ticket_presenters.ticket_view(ticket, token=token)
        item = _ticket_item(ticket, view, names=names, lang=lang, number=number, token=token)
        if ticket.status == "valid":
            image = {
                "cid": make_msgid(idstring=f"ticket-{view['serial']}")[1:-1],
                "png": qr.png(ticket.code),
                "filename": f"ticket-{view['serial']}.png",
            }
            item["cid"] = image["cid"]
            images.append(image)
        items.append(item)
    return {"tickets": items, "count": len(items), "images": images, "zone": tickets.local_zone()}


def _ticket_item(
    ticket: Ticket,
    view: dict[str, Any],
    *,
    names: dict[str, str],
    lang: str,
    number: int,
    token: str | None,
) -> dict[str, Any]:
    product_name, _ = ticket_presenters.localized(ticket.product.names, lang)
    rules = tickets.catalogue_rules()
    sites = sorted(rules.product_sites.get(ticket.product_id, frozenset()))
    return {
        "number": number,
        "serial": view["serial"],
        "status": ticket.status,
        "product": product_name or view["product"],
        "tier": ticket.tier,
        "max_sites": ticket.max_sites,
        "sites": [names.get(slug, slug) for slug in sites],
        "valid_from": _local(ticket.valid_from),
        "valid_until": _local(ticket.valid_until),
        "hours_after_first_use": view["hours_after_first_use"],
        "page_url": view["page_url"],
        "phone_url": public_url(
            url_for("ticket_pages.ticket_phone_png", serial=view["serial"], token=token)
        ),
        "cid": None,
    }


def _refund(order: Order, refund: Refund, *, lang: str) -> dict[str, Any]:
    return {
        "amount": money(refund.amount, refund.currency),
        "serials": list(refund.tickets),
        "method_note": f"refund_{refund.payment.method}",
        "remaining": any(t.status == "valid" for t in order.tickets),
    }
