"""Catalogue logic: listing, search, geo queries, and staff edits guarded by versions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.db import utcnow
from app.errors import Conflict, NotFound, PreconditionFailed
from app.extensions import db
from content import geo, search, signals
from content.cache import bump_catalogue_version
from content.models import Provenance, Site, SiteText, Tour

SITE_FIELDS = (
    "kind",
    "lat",
    "lon",
    "address",
    "opening_hours",
    "images",
    "aliases",
    "ticketed",
    "osm_id",
    "wikidata_id",
    "unesco_id",
    "published",
)


@dataclass(frozen=True, slots=True)
class SiteHit:
    site: Site
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[SiteHit]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def search_sites(
    *,
    q: str | None = None,
    kind: str | None = None,
    near: geo.Point | None = None,
    radius_m: float | None = None,
    page: int = 1,
    per_page: int = 20,
    name_lang: str = "en",
) -> Page:
    """Published sites filtered by text, kind and distance; nearest first when `near` is given."""
    query = select(Site).where(Site.published.is_(True))
    tokens = search.query_tokens(q) if q else []
    if tokens:
        query = query.where(search.match_all(Site.search_document, tokens))
    if kind:
        query = query.where(Site.kind == kind)
    if near is not None and radius_m is not None:
        min_lat, max_lat, min_lon, max_lon = geo.bounding_box(near, radius_m)
        query = query.where(Site.lat.between(min_lat, max_lat), Site.lon.between(min_lon, max_lon))
    sites: Sequence[Site] = db.session.scalars(query).all()

    hits = [
        SiteHit(site, geo.distance_m(near, geo.Point(site.lat, site.lon)) if near else None)
        for site in sites
    ]
    if near is not None and radius_m is not None:
        hits = [hit for hit in hits if hit.distance_m is not None and hit.distance_m <= radius_m]

    def sort_key(hit: SiteHit) -> tuple[Any, ...]:
        rank = search.name_match_rank(_names(hit.site), tokens) if tokens else 0
        name = _display_name(hit.site, name_lang)
        if hit.distance_m is not None:
            return (hit.distance_m, rank, name)
        return (rank, search.build_document([name]), hit.site.slug)

    hits.sort(key=sort_key)
    start = (page - 1) * per_page
    return Page(hits[start : start + per_page], page, per_page, len(hits))


def _names(site: Site) -> list[str]:
    return [text.name for text in site.texts] + [str(alias) for alias in site.aliases]


def _display_name(site: Site, lang: str) -> str:
    text = site.text_for(lang) or (site.texts[0] if site.texts else None)
    return text.name if text else site.slug


def get_site(*, slug: str, include_unpublished: bool = False) -> Site:
    """One site by slug; unpublished sites only for staff."""
    site: Site | None = db.session.scalar(select(Site).where(Site.slug == slug))
    if site is None or (not site.published and not include_unpublished):
        raise NotFound(f"no site {slug!r}", reason="site_not_found")
    return site


def all_published_sites() -> list[Site]:
    """Every published site, by slug (for GeoJSON and exports)."""
    return list(
        db.session.scalars(select(Site).where(Site.published.is_(True)).order_by(Site.slug))
    )


def refresh_search_document(site: Site) -> None:
    """Recompute the folded search document from every language's texts and aliases."""
    parts: list[str] = [site.slug.replace("-", " ")]
    parts += _names(site)
    for text in site.texts:
        parts += [text.summary, text.description]
    site.search_document = search.build_document(parts)


def _apply_texts(site: Site, texts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for lang, values in texts.items():
        text = site.text_for(lang)
        if text is None:
            text = SiteText(
                lang=lang,
                name=values.get("name", ""),
                summary="",
                description="",
                provenance=Provenance.HUMAN.value,
                reviewed=True,
            )
            site.texts.append(text)
            changes[f"texts.{lang}"] = "added"
        for field in ("name", "summary", "description", "provenance", "reviewed"):
            if field in values and getattr(text, field) != values[field]:
                changes[f"texts.{lang}.{field}"] = [getattr(text, field), values[field]]
                setattr(text, field, values[field])
        if text.provenance == Provenance.MACHINE.value and "reviewed" not in values:
            text.reviewed = False
        if not text.name:
            raise Conflict(f"a name is needed for language {lang}", reason="name_required")
    return changes


def _apply_fields(site: Site, data: dict[str, Any]) -> dict[str, Any]:
    """Set the site's fields; what changed, as [before, after] for the audit log."""
    changes: dict[str, Any] = {}
    for field in SITE_FIELDS:
        if field in data and getattr(site, field) != data[field]:
            changes[field] = [getattr(site, field), data[field]]
            setattr(site, field, data[field])
    return changes


def create_site(*, data: dict[str, Any]) -> Site:
    """Create a site with its texts (editor)."""
    if db.session.scalar(select(Site.id).where(Site.slug == data["slug"])) is not None:
        raise Conflict(f"site {data['slug']!r} exists", reason="slug_taken")
    site = Site(
        slug=data["slug"],
        kind=data["kind"],
        lat=data["lat"],
        lon=data["lon"],
        address={},
        opening_hours=[],
        images=[],
        aliases=[],
        ticketed=False,
        published=True,
    )
    db.session.add(site)
    _apply_fields(site, data)
    _apply_texts(site, data.get("texts", {}))
    refresh_search_document(site)
    db.session.flush()
    bump_catalogue_version()
    audit.record(
        action="site.create",
        object_type="site",
        object_id=site.slug,
        changes={key: value for key, value in data.items() if key != "texts"},
    )
    return site


def update_site(*, slug: str, expected_version: int, data: dict[str, Any]) -> Site:
    """Apply a partial edit if nobody changed the site since `expected_version` was read."""
    site = get_site(slug=slug, include_unpublished=True)
    if site.version != expected_version:
        raise PreconditionFailed(
            f"site {slug!r} is at version {site.version}, you edited version {expected_version}",
            reason="edit_conflict",
        )
    changes = _apply_fields(site, data)
    changes.update(_apply_texts(site, data.get("texts", {})))
    if not changes:
        return site
    site.updated_at = utcnow()  # touch the row so its version moves even for text-only edits
    refresh_search_document(site)
    try:
        db.session.flush()
    except StaleDataError as exc:  # another editor committed between our read and write
        raise PreconditionFailed(
            f"site {slug!r} was changed by someone else", reason="edit_conflict"
        ) from exc
    bump_catalogue_version()
    audit.record(action="site.update", object_type="site", object_id=site.slug, changes=changes)
    signals.texts_changed(
        site, langs=sorted({key.split(".")[1] for key in changes if key.startswith("texts.")})
    )
    return site


def list_tours() -> list[Tour]:
    """Published tours, by slug."""
    return list(
        db.session.scalars(select(Tour).where(Tour.published.is_(True)).order_by(Tour.slug))
    )


def get_tour(*, slug: str) -> Tour:
    """One published tour."""
    tour: Tour | None = db.session.scalar(
        select(Tour).where(Tour.slug == slug, Tour.published.is_(True))
    )
    if tour is None:
        raise NotFound(f"no tour {slug!r}", reason="tour_not_found")
    return tour


def language_stats() -> dict[str, dict[str, int]]:
    """Per language: how many published sites have text, and what other domains count."""
    texts = db.session.execute(
        select(SiteText.lang, func.count())
        .join(Site, Site.id == SiteText.site_id)
        .where(Site.published.is_(True))
        .group_by(SiteText.lang)
    ).all()
    stats: dict[str, dict[str, int]] = {}
    for lang, count in texts:
        stats.setdefault(lang, {})["sites_with_text"] = count
    for lang, counts in signals.language_extras().items():
        stats.setdefault(lang, {}).update(counts)
    return stats
