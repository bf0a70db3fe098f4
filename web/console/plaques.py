"""Plaques (editor): every site's A5 QR plaque previewed in the browser, each downloaded as SVG
for the sign maker or PDF for the printer, and one PDF of the whole set, with the console's
session (the API serves the same files to a Bearer token); drawn by web/plaques.py."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.extensions import db
from app.i18n import N_
from content import services
from content.models import Site
from web import plaques as drawing
from web.console.access import bp, menu_item, staff_page
from web.console.sites import SLUG, display_name

menu_item("plaques", N_("Plaques"), "editor")
PER_PAGE = 24  # previews a page: each is an SVG the browser draws


@bp.route("/plaques")
@staff_page("editor")
def plaques() -> Any:
    q = request.args.get("q", "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    result = services.search_sites(
        q=q or None, published=None, page=page, per_page=PER_PAGE, name_lang="vi"
    )
    return render_template(
        "console/plaques.html",
        sites=[hit.site for hit in result.items],
        result=result,
        q=q,
        display_name=display_name,
        published_count=db.session.scalar(
            select(func.count(Site.id)).where(Site.published.is_(True))
        ),
    )


def _download() -> bool:
    return request.args.get("download") == "1"


@bp.route(f"/plaques/{SLUG}.svg")
@staff_page("editor")
def plaque_svg(slug: str) -> WerkzeugResponse:
    site = services.get_site(slug=slug, include_unpublished=True)
    body = drawing.svg(drawing.plaque_for(site))
    return drawing.document_response(
        body, "image/svg+xml", f"plaque-{slug}.svg", download=_download()
    )


@bp.route(f"/plaques/{SLUG}.pdf")
@staff_page("editor")
def plaque_pdf(slug: str) -> WerkzeugResponse:
    site = services.get_site(slug=slug, include_unpublished=True)
    return drawing.pdf_response(
        [drawing.plaque_for(site)], f"plaque-{slug}.pdf", download=_download()
    )


@bp.route("/plaques/all.pdf")
@staff_page("editor")
def plaques_pdf() -> WerkzeugResponse:
    """Every published site's plaque, one A5 page each, by slug."""
    every = [drawing.plaque_for(site) for site in services.all_published_sites()]
    return drawing.pdf_response(every, "plaques.pdf", download=True)
