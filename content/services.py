"""Catalogue logic: listing, search, geo queries, and staff edits guarded by versions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.db import utcnow
from app.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from app.extensions import db
from content import geo, search, signals
from content.cache import bump_catalogue_version
from content.models import Provenance, Site, SiteText, Tour, TourStop, TourText

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
    published: bool | None = True,
    missing_lang: str | None = None,
) -> Page:
    """Sites filtered by text, kind and distance; nearest first when `near` is given. Only the
    published ones unless `published` says otherwise (None: all, for staff); `missing_lang`
    keeps those with no text in that language."""
    query = select(Site)
    if published is not None:
        query = query.where(Site.published.is_(published))
    if missing_lang:
        query = query.where(
            ~select(SiteText.id)
            .where(SiteText.site_id == Site.id, SiteText.lang == missing_lang)
            .exists()
        )
    tokens = search.query_tokens(q) if q else []
    if tokens:
        query = query.where(search.match_all(Site.search_document, tokens))
    if kind:
        query = query.where(Site.kind == kind)
    if near is not None and radius_m is not None:
        min_lat, max_lat, min_lon, max_lon = geo.bounding_box(near, radius_m)
        query = query.where(Site.lat.between(min_lat, max_lat), Site.lon.between(min_lon, max_lon))
    # Sort on light rows (ids, positions, names), then load only the page's sites whole: with
    # hundreds of sites, building every Site with its texts cost most of a listing's time.
    rows = db.session.execute(
        query.with_only_columns(Site.id, Site.slug, Site.lat, Site.lon, Site.aliases)
    ).all()
    texts: dict[int, list[tuple[str, str]]] = {row.id: [] for row in rows}
    if texts:
        for site_id, lang, name in db.session.execute(
            select(SiteText.site_id, SiteText.lang, SiteText.name)
            .where(SiteText.site_id.in_(list(texts)))
            .order_by(SiteText.id)
        ):
            texts[site_id].append((lang, name))

    def distance(row: Any) -> float | None:
        return geo.distance_m(near, geo.Point(row.lat, row.lon)) if near else None

    found = [(row, distance(row)) for row in rows]
    if near is not None and radius_m is not None:
        found = [(row, d) for row, d in found if d is not None and d <= radius_m]

    def sort_key(item: tuple[Any, float | None]) -> tuple[Any, ...]:
        row, distance_m = item
        names = texts[row.id]
        rank = (
            search.name_match_rank([n for _, n in names] + [str(a) for a in row.aliases], tokens)
            if tokens
            else 0
        )
        name = dict(names).get(name_lang) or (names[0][1] if names else row.slug)
        if distance_m is not None:
            return (distance_m, rank, name)
        return (rank, search.build_document([name]), row.slug)

    found.sort(key=sort_key)
    start = (page - 1) * per_page
    chosen = found[start : start + per_page]
    loaded = {
        site.id: site
        for site in db.session.scalars(select(Site).where(Site.id.in_([r.id for r, _ in chosen])))
    }
    hits = [SiteHit(loaded[row.id], distance_m) for row, distance_m in chosen]
    return Page(hits, page, per_page, len(found))


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


def _apply_texts(
    owner: Site | Tour, texts: dict[str, dict[str, Any]], text_cls: type = SiteText
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for lang, values in texts.items():
        text = owner.text_for(lang)
        if text is None:
            text = text_cls(
                lang=lang,
                name=values.get("name", ""),
                summary="",
                description="",
                provenance=Provenance.HUMAN.value,
                reviewed=True,
            )
            owner.texts.append(text)
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
    signals.texts_changed(site, langs=_text_langs(changes))
    return site


def _text_langs(changes: dict[str, Any]) -> list[str]:
    """The languages whose texts these audited changes touch."""
    return sorted({key.split(".")[1] for key in changes if key.startswith("texts.")})


def list_tours(*, include_unpublished: bool = False) -> list[Tour]:
    """Published tours (every tour, for staff), by slug."""
    query = select(Tour).order_by(Tour.slug)
    if not include_unpublished:
        query = query.where(Tour.published.is_(True))
    return list(db.session.scalars(query))


def get_tour(*, slug: str, include_unpublished: bool = False) -> Tour:
    """One published tour; unpublished ones only for staff."""
    tour: Tour | None = db.session.scalar(select(Tour).where(Tour.slug == slug))
    if tour is None or (not tour.published and not include_unpublished):
        raise NotFound(f"no tour {slug!r}", reason="tour_not_found")
    return tour


#: Walking pace and time at each stop behind a tour's estimated duration.
WALK_M_PER_MIN = 70.0
VISIT_MIN_PER_STOP = 20


@dataclass(frozen=True, slots=True)
class Route:
    legs_m: list[float]  # from the previous stop; 0 for the first
    distance_m: float
    duration_min: int  # walking at WALK_M_PER_MIN plus VISIT_MIN_PER_STOP at each stop


def route_of(sites: Sequence[Site]) -> Route:
    """Distance along the stops (as the crow flies) and an estimated duration."""
    legs = [0.0] + [
        geo.distance_m(geo.Point(a.lat, a.lon), geo.Point(b.lat, b.lon))
        for a, b in itertools.pairwise(sites)
    ]
    total = sum(legs)
    minutes = math.ceil(total / WALK_M_PER_MIN) + VISIT_MIN_PER_STOP * len(sites)
    return Route(legs_m=legs, distance_m=total, duration_min=minutes)


def set_tour_stops(tour: Tour, site_ids: list[int]) -> bool:
    """Make these sites the tour's stops, in this order; whether anything changed."""
    if [stop.site_id for stop in tour.stops] == site_ids:
        return False
    tour.stops.clear()
    db.session.flush()  # positions are unique per tour: the old rows go first
    tour.stops.extend(
        TourStop(site_id=site_id, position=position)
        for position, site_id in enumerate(site_ids, start=1)
    )
    return True


def _stop_sites(slugs: list[str]) -> list[Site]:
    if len(set(slugs)) != len(slugs):
        raise ValidationFailed("a site can be a stop of a tour only once", reason="stop_twice")
    if len(slugs) < 2:
        raise ValidationFailed("a tour needs at least two stops", reason="too_few_stops")
    found = {s.slug: s for s in db.session.scalars(select(Site).where(Site.slug.in_(slugs)))}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise NotFound(f"no site {missing[0]!r}", reason="site_not_found")
    return [found[slug] for slug in slugs]


def create_tour(*, slug: str, stops: list[str], texts: dict[str, dict[str, Any]]) -> Tour:
    """Create an unpublished tour along these stops, its duration estimated (editor)."""
    if db.session.scalar(select(Tour.id).where(Tour.slug == slug)) is not None:
        raise Conflict(f"tour {slug!r} exists", reason="slug_taken")
    sites = _stop_sites(stops)
    tour = Tour(slug=slug, duration_min=route_of(sites).duration_min, published=False)
    db.session.add(tour)
    _apply_texts(tour, texts, TourText)
    db.session.flush()
    set_tour_stops(tour, [site.id for site in sites])
    db.session.flush()
    bump_catalogue_version()
    audit.record(action="tour.create", object_type="tour", object_id=slug, changes={"stops": stops})
    signals.texts_changed(tour, langs=sorted(texts))
    return tour


def update_tour(*, slug: str, expected_version: int, data: dict[str, Any]) -> Tour:
    """Edit a tour's texts, duration, publication or stops (slugs, in order) if nobody changed
    it since `expected_version` was read; a change of stops re-estimates the duration unless
    one is given."""
    tour = get_tour(slug=slug, include_unpublished=True)
    if tour.version != expected_version:
        raise PreconditionFailed(
            f"tour {slug!r} is at version {tour.version}, you edited version {expected_version}",
            reason="edit_conflict",
        )
    changes = _apply_texts(tour, data.get("texts", {}), TourText)
    if "stops" in data:
        before = [stop.site.slug for stop in tour.stops]
        sites = _stop_sites(data["stops"])
        if set_tour_stops(tour, [site.id for site in sites]):
            changes["stops"] = [before, data["stops"]]
            data.setdefault("duration_min", route_of(sites).duration_min)
    for field in ("duration_min", "published"):
        if field in data and getattr(tour, field) != data[field]:
            changes[field] = [getattr(tour, field), data[field]]
            setattr(tour, field, data[field])
    if not changes:
        return tour
    tour.updated_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed(
            f"tour {slug!r} was changed by someone else", reason="edit_conflict"
        ) from exc
    bump_catalogue_version()
    audit.record(action="tour.update", object_type="tour", object_id=slug, changes=changes)
    signals.texts_changed(tour, langs=_text_langs(changes))
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
