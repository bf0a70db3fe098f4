"""Turn ticketing rows into their public representations."""

from __future__ import annotations

from typing import Any

from flask import url_for

from app.i18n import pick_language
from content.presenters import public_url
from ticketing import payment_methods, services, signals
from ticketing.models import Order, Product, SigningKey, Ticket, TicketRevocation
from ticketing.verify import format_serial


def localized(texts: dict[str, Any], requested: str) -> tuple[str, str]:
    """The text in the requested language or the next one along the chain, and that language."""
    lang = pick_language(requested, set(texts)) or next(iter(sorted(texts)), requested)
    return str(texts.get(lang, "")), lang


def product_view(product: Product, requested: str) -> dict[str, Any]:
    name, lang = localized(product.names, requested)
    description, _ = localized(product.descriptions, lang) if product.descriptions else ("", lang)
    rules = services.catalogue_rules()
    return {
        "id": product.id,
        "slug": product.slug,
        "name": name,
        "description": description,
        "lang": lang,
        "currency": product.currency,
        "prices": {price.tier: price.amount for price in product.prices},
        "entries": product.max_sites,
        "entries_by_tier": {
            price.tier: services.tier_max_sites(product, price.tier) for price in product.prices
        },
        "sites": sorted(rules.product_sites.get(product.id, frozenset())),
        "validity": {
            "kind": product.validity_kind,
            "days": product.validity_days,
            "hours_after_first_use": product.use_hours,
        },
        "sale": {
            "max_per_order": product.max_per_order,
            "starts_at": product.sale_starts_at,
            "ends_at": product.sale_ends_at,
            "daily_capacity": product.daily_capacity,
        },
    }


def site_products_section(site: Any, *, lang: str, requested: str) -> dict[str, Any]:
    """The `ticket_products` of a site's document (a receiver of
    `content.signals.site_document`)."""
    return {"ticket_products": site_products(site=site, lang=lang)}


def site_products(*, site: Any, lang: str) -> list[dict[str, Any]]:
    """Products that admit to this site, as the site's document and page list them."""
    return [
        {
            "slug": view["slug"],
            "name": view["name"],
            "currency": view["currency"],
            "prices": view["prices"],
            "entries": view["entries"],
            "entries_by_tier": view["entries_by_tier"],
            "validity": view["validity"],
            "url": url_for("ticketing.product_list", lang=lang),
        }
        for view in (
            product_view(product, lang) for product in services.products_for_site(site_id=site.id)
        )
    ]


def ticket_view(ticket: Ticket, *, token: str | None) -> dict[str, Any]:
    rules = services.catalogue_rules()
    serial = format_serial(ticket.serial)
    covered = rules.product_sites.get(ticket.product_id, frozenset())
    used = [rules.site_slugs[entry.site_id] for entry in ticket.entries]
    return {
        "serial": serial,
        "product": rules.product_slugs.get(ticket.product_id),
        "tier": ticket.tier,
        "status": ticket.status,
        "amount": ticket.unit_amount,
        "max_sites": ticket.max_sites,
        "entries_left": max(0, ticket.max_sites - ticket.entries_count),
        "sites_used": used,
        "sites_open": sorted(covered - set(used))
        if ticket.entries_count < ticket.max_sites
        else [],
        "valid_from": ticket.valid_from,
        "valid_until": ticket.valid_until,
        "hours_after_first_use": ticket.use_window_minutes // 60 or None,
        "first_used_at": ticket.first_used_at,
        "code": ticket.code if ticket.status == "valid" else None,
        # url_for leaves out a token of None.
        "qr_svg_url": url_for("ticketing.ticket_qr_svg", serial=serial, token=token),
        "qr_png_url": url_for("ticketing.ticket_qr_png", serial=serial, token=token),
        "page_url": public_url(url_for("ticket_pages.ticket_page", serial=serial, token=token)),
    }


def order_view(
    order: Order, *, token: str | None, access_token: str | None = None, lang: str | None = None
) -> dict[str, Any]:
    """The order as its buyer (or finance) reads it; its ticket links carry the order's access
    token, so that they open from a mail or another device. Names are in `lang` (default: the
    order's language)."""
    method = payment_methods.available(order.payment_method)
    links_token = token or services.order_access_token(order)
    lang = lang or order.language
    body: dict[str, Any] = {
        "code": order.code,
        "status": order.status,
        "email": order.email,
        "language": order.language,
        "currency": order.currency,
        "total": order.total_amount,
        "paid": order.paid_amount,
        "refunded": order.refunded_amount,
        "created_at": order.created_at,
        "expires_at": order.expires_at if order.status == "pending" else None,
        "paid_at": order.paid_at,
        "items": [
            {
                "product": item.product.slug,
                "name": localized(item.product.names, lang)[0] or item.product.slug,
                "tier": item.tier,
                "quantity": item.quantity,
                "unit_amount": item.unit_amount,
                "amount": item.amount,
                "date": item.visit_date,
            }
            for item in order.items
        ],
        "payment": {
            "method": order.payment_method,
            "status": order.status,
            **(method.instructions(order) if method else {}),
        },
        "tickets": [ticket_view(ticket, token=links_token) for ticket in order.tickets],
        **signals.order_sections(order),
    }
    if access_token is not None:
        body["access_token"] = access_token
    return body


def key_view(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.id,
        "algorithm": "Ed25519",
        "public_key": key.public_key,
        "status": key.status,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
    }


def revocation_view(row: TicketRevocation) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "serial": format_serial(row.serial),
        "below_generation": row.below_generation,
        "reason": row.reason,
        "revoked_at": row.revoked_at,
    }
