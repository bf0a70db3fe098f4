"""Load the Hội An catalogue from content/seed/ (YAML): validated, idempotent, audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from app import audit
from app.db import utcnow
from app.extensions import db
from content import signals
from content.cache import bump_catalogue_version
from content.models import SITE_KINDS, Provenance, Site, SiteText, Tour, TourStop, TourText
from content.schemas import SLUG_RE, ExternalIdsSchema, LocationSchema, OpeningHoursSchema
from content.services import refresh_search_document

SEED_DIR = Path(__file__).resolve().parent / "seed"


class SeedError(Exception):
    """A seed file is invalid; the message names the file and the fields."""


class _TextSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(load_default="")
    description = fields.String(load_default="")


class _SiteFileSchema(Schema):
    slug = fields.String(required=True, validate=validate.Regexp(SLUG_RE))
    kind = fields.String(required=True, validate=validate.OneOf(SITE_KINDS))
    ticketed = fields.Boolean(load_default=False)
    location = fields.Nested(LocationSchema, required=True)
    address = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    opening_hours = fields.List(fields.Nested(OpeningHoursSchema), load_default=list)
    ids = fields.Nested(ExternalIdsSchema, load_default=dict)
    aliases = fields.List(fields.String(), load_default=list)
    images = fields.List(fields.Dict(), load_default=list)
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(_TextSchema),
        required=True,
        validate=validate.Length(min=1),
    )
    narration = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class _TourFileSchema(Schema):
    slug = fields.String(required=True, validate=validate.Regexp(SLUG_RE))
    duration_min = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))
    stops = fields.List(fields.String(), required=True, validate=validate.Length(min=2))
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(_TextSchema),
        required=True,
        validate=validate.Length(min=1),
    )


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _read(path: Path, schema: Schema, languages: list[str]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SeedError(f"{path}: not valid UTF-8 YAML: {exc}") from exc
    try:
        data: dict[str, Any] = schema.load(raw)
    except ValidationError as exc:
        raise SeedError(f"{path}: {exc.messages}") from exc
    unknown = sorted(set(data["texts"]) - set(languages))
    if unknown:
        raise SeedError(f"{path}: texts in unsupported languages {unknown}")
    return data


def set_fields(obj: Any, values: dict[str, Any]) -> bool:
    """Set these attributes; whether any of them changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _sync_texts(owner: Any, text_cls: type, texts: dict[str, dict[str, Any]]) -> bool:
    changed = False
    for lang, values in texts.items():
        row = owner.text_for(lang)
        if row is None:
            owner.texts.append(
                text_cls(lang=lang, provenance=Provenance.HUMAN.value, reviewed=True, **values)
            )
            changed = True
        else:
            changed |= set_fields(
                row, {**values, "provenance": Provenance.HUMAN.value, "reviewed": True}
            )
    return changed


def _load_site(data: dict[str, Any], source_lang: str) -> tuple[Site, str]:
    site = db.session.scalar(select(Site).where(Site.slug == data["slug"]))
    created = site is None
    if site is None:
        site = Site(slug=data["slug"], kind=data["kind"], lat=0.0, lon=0.0)
        db.session.add(site)
    ids = data["ids"]
    changed = set_fields(
        site,
        {
            "kind": data["kind"],
            "lat": data["location"]["lat"],
            "lon": data["location"]["lon"],
            "address": data["address"],
            "opening_hours": data["opening_hours"],
            "images": data["images"],
            "aliases": data["aliases"],
            "ticketed": data["ticketed"],
            "osm_id": ids.get("osm"),
            "wikidata_id": ids.get("wikidata"),
            "unesco_id": ids.get("unesco"),
        },
    )
    changed |= _sync_texts(site, SiteText, data["texts"])
    if changed and not created:
        site.updated_at = utcnow()
    refresh_search_document(site)
    db.session.flush()
    changed |= signals.seeded(site, record=data, source_lang=source_lang)
    return site, "created" if created else ("updated" if changed else "unchanged")


def _load_tour(data: dict[str, Any]) -> tuple[Tour, str]:
    sites = {
        site.slug: site
        for site in db.session.scalars(select(Site).where(Site.slug.in_(data["stops"])))
    }
    missing = [slug for slug in data["stops"] if slug not in sites]
    if missing:
        raise SeedError(f"tour {data['slug']}: unknown stops {missing}")
    if len(set(data["stops"])) != len(data["stops"]):
        raise SeedError(f"tour {data['slug']}: a site appears twice")
    tour = db.session.scalar(select(Tour).where(Tour.slug == data["slug"]))
    created = tour is None
    if tour is None:
        tour = Tour(slug=data["slug"], duration_min=data["duration_min"])
        db.session.add(tour)
    changed = set_fields(tour, {"duration_min": data["duration_min"]})
    changed |= _sync_texts(tour, TourText, data["texts"])
    wanted = [sites[slug].id for slug in data["stops"]]
    if [stop.site_id for stop in tour.stops] != wanted:
        tour.stops.clear()
        db.session.flush()
        tour.stops.extend(
            TourStop(site_id=site_id, position=position)
            for position, site_id in enumerate(wanted, start=1)
        )
        changed = True
    db.session.flush()
    return tour, "created" if created else ("updated" if changed else "unchanged")


def load_seed(*, directory: Path = SEED_DIR, languages: list[str], source_lang: str) -> LoadReport:
    """Create or update every site and tour from the YAML files; the caller commits."""
    site_files = sorted((directory / "sites").glob("*.yaml"))
    tour_files = sorted((directory / "tours").glob("*.yaml"))
    if not site_files:
        raise SeedError(f"no site files in {directory / 'sites'}")
    # Validate everything before writing anything, so a bad file leaves the database untouched.
    sites = [_read(path, _SiteFileSchema(), languages) for path in site_files]
    tours = [_read(path, _TourFileSchema(), languages) for path in tour_files]
    slugs = [data["slug"] for data in sites]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise SeedError(f"duplicate site slugs: {duplicates}")

    report = LoadReport()
    for data in sites:
        site, outcome = _load_site(data, source_lang)
        _note(report, "site", site.slug, outcome)
    for data in tours:
        tour, outcome = _load_tour(data)
        _note(report, "tour", tour.slug, outcome)
    if report.changed:
        bump_catalogue_version()
    return report


def _note(report: LoadReport, kind: str, slug: str, outcome: str) -> None:
    getattr(report, outcome).append(f"{kind}:{slug}")
    if outcome != "unchanged":
        audit.record(
            action=f"{kind}.seed_{outcome}",
            object_type=kind,
            object_id=slug,
            changes={"source": "content/seed"},
        )
