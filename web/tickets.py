"""The ticket form the tourist page links to: choose, order, then pay on the order page.

A plain HTML form (no JavaScript): one number per tier, so a family buys its foreign,
domestic and child tickets in one order; it creates the order with ticketing's own service
and sends the tourist on to `/pay/<code>?token=...`, where payment and the tickets are. A
hidden idempotency key makes a double-tapped submit the same order.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from marshmallow import ValidationError, validate
from werkzeug.wrappers import Response as WerkzeugResponse

from app.auth.access import public_write
from app.errors import DomainError, NotFound, html_errors
from app.ratelimit import rate_limited
from ticketing import payment_methods
from ticketing import presenters as ticket_presenters
from ticketing import services as tickets
from ticketing.messages import vnd
from ticketing.models import TIERS
from web.messages import messages
from web.pages import asset_url, page_language

bp = html_errors(Blueprint("web_tickets", __name__, template_folder="templates"))
PRODUCT = "<string(maxlength=80):product>"


def _product_view(slug: str, lang: str) -> dict[str, Any]:
    product = next((p for p in tickets.list_products() if p.slug == slug), None)
    if product is None:
        raise NotFound(f"no ticket {slug!r}")
    view = ticket_presenters.product_view(product, lang)
    view["dated"] = product.validity_kind == "date"
    view["tiers"] = [
        {"tier": tier, "amount": view["prices"][tier], "entries": view["entries_by_tier"][tier]}
        for tier in TIERS
        if tier in view["prices"]
    ]
    return view


def _render(product_slug: str, *, errors: list[str], status: int, form: Any) -> Response:
    lang = page_language()
    words = messages(lang)
    try:
        product = _product_view(product_slug, lang)
    except NotFound:
        return Response(
            render_template("web/not_found.html", lang=lang, words=words, slug=product_slug),
            status=404,
        )
    methods = payment_methods.enabled()
    body = render_template(
        "web/buy.html",
        lang=lang,
        words=words,
        product=product,
        methods=methods,
        vnd=vnd,
        errors=errors,
        form=form,
        key=form.get("key") or f"web-{secrets.token_urlsafe(16)}",
        site=request.args.get("site", ""),
        asset_url=asset_url,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(f"/buy/{PRODUCT}")
def buy_form(product: str) -> Response:
    """The ticket form for one product."""
    return _render(product, errors=[], status=200, form={})


@bp.route(f"/buy/{PRODUCT}", methods=["POST"])
@rate_limited("ORDER_RATE_LIMIT")
@public_write
def buy(product: str) -> WerkzeugResponse:
    """Create the order from the form and go on to its payment page."""
    form = request.form
    errors: list[str] = []
    items: list[dict[str, Any]] = []
    try:
        visit = date.fromisoformat(form["date"]) if form.get("date") else None
        for tier in TIERS:
            quantity = int(form.get(f"quantity_{tier}") or "0")
            if quantity < 0:
                raise ValueError(f"{quantity} tickets")
            if quantity:
                item: dict[str, Any] = {"product": product, "tier": tier, "quantity": quantity}
                if visit is not None:
                    item["date"] = visit
                items.append(item)
        validate.Email()(form.get("email", ""))
    except (ValueError, ValidationError) as exc:
        errors.append(str(exc.messages[0] if isinstance(exc, ValidationError) else exc))
    if not errors and not items:
        errors.append(messages(page_language())["none_chosen"])
    if not errors:
        try:
            created = tickets.create_order(
                items=items,
                email=form["email"],
                payment_method=form.get("payment_method", "cash"),
                language=page_language(),
                idempotency_key=form.get("key") or None,
            )
        except DomainError as exc:
            errors.append(exc.message)
        else:
            target = url_for(
                "payment_pages.order_page",
                code=created.order.code,
                token=created.access_token,
                lang=page_language(),
            )
            return redirect(target, code=303)
    return _render(product, errors=errors, status=422, form=form)
