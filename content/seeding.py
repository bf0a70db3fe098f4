"""Load the Hội An catalogue from content/seed/ (YAML): validated, idempotent, audited."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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
from content.models import SITE_KINDS, Provenance, Site, SiteText, Tour, TourText
from content.schemas import SLUG_RE, ExternalIdsSchema, LocationSchema, OpeningHoursSchema
from content.services import refresh_search_document, set_tour_stops
from content.signals import SeedOutcome

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
    #: Differ from the seed; left alone because no `--update` was asked.
    kept: list[str] = field(default_factory=list)
    #: Edited by a person since they were seeded: `--update` refuses to overwrite them.
    edited: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


class SeedRefused(SeedError):
    """`--update` would overwrite records that people edited since they were seeded."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        super().__init__(
            "refusing to overwrite what people edited since it was seeded: "
            + ", ".join(report.edited)
        )


def state_digest(state: Mapping[str, Any]) -> str:
    """The digest of a record's seeded fields (canonical JSON), kept in its `seed_digest`."""
    canonical = json.dumps(state, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seed_outcome(
    *, current: Mapping[str, Any], wanted: Mapping[str, Any], digest: str | None, update: bool
) -> SeedOutcome:
    """Whether an existing record may take its seed's values: never without `update`, and only
    while its seeded fields still hash to the digest stored when it was last seeded."""
    if dict(current) == dict(wanted):
        return SeedOutcome.UNCHANGED
    if not update:
        return SeedOutcome.KEPT
    if digest is not None and digest == state_digest(current):
        return SeedOutcome.UPDATED
    return SeedOutcome.EDITED


def _texts_state(owner: Any, langs: Iterable[str]) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    for lang in sorted(langs):
        row = owner.text_for(lang)
        if row is not None:
            state[lang] = {
                "name": row.name,
                "summary": row.summary,
                "description": row.description,
                "provenance": row.provenance,
                "reviewed": row.reviewed,
            }
    return state


def _wanted_texts(texts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        lang: {**values, "provenance": Provenance.HUMAN.value, "reviewed": True}
        for lang, values in texts.items()
    }


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


def _sync_texts(owner: Any, text_cls: type, texts: dict[str, dict[str, Any]]) -> None:
    for lang, values in _wanted_texts(texts).items():
        row = owner.text_for(lang)
        if row is None:
            owner.texts.append(text_cls(lang=lang, **values))
        else:
            set_fields(row, values)


def _site_values(data: dict[str, Any]) -> dict[str, Any]:
    ids = data["ids"]
    return {
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
    }


def _site_state(site: Site, langs: Iterable[str]) -> dict[str, Any]:
    """A site's seeded fields as they are now (the texts of the seed's languages)."""
    values = {key: getattr(site, key) for key in _SITE_SEEDED}
    return {**values, "texts": _texts_state(site, langs)}


_SITE_SEEDED = (
    "kind", "lat", "lon", "address", "opening_hours", "images", "aliases", "ticketed",
    "osm_id", "wikidata_id", "unesco_id",
)  # fmt: skip


def _load_site(data: dict[str, Any], source_lang: str, update: bool) -> tuple[Site, SeedOutcome]:
    values = _site_values(data)
    wanted = {**values, "texts": _wanted_texts(data["texts"])}
    site = db.session.scalar(select(Site).where(Site.slug == data["slug"]))
    if site is None:
        site = Site(slug=data["slug"], kind=data["kind"], lat=0.0, lon=0.0)
        db.session.add(site)
        outcome = SeedOutcome.CREATED
    else:
        current = _site_state(site, data["texts"])
        outcome = seed_outcome(
            current=current, wanted=wanted, digest=site.seed_digest, update=update
        )
    if outcome.writes:
        set_fields(site, values)
        _sync_texts(site, SiteText, data["texts"])
        if outcome == SeedOutcome.UPDATED:
            site.updated_at = utcnow()
        refresh_search_document(site)
    if outcome.seeded_state:
        # Also adopts rows seeded before digests were kept, while they still equal the seed.
        digest = state_digest(wanted)
        if site.seed_digest != digest:
            site.seed_digest = digest
    db.session.flush()
    return site, outcome


def _tour_state(tour: Tour, langs: Iterable[str]) -> dict[str, Any]:
    return {
        "duration_min": tour.duration_min,
        "stops": [stop.site.slug for stop in tour.stops],
        "texts": _texts_state(tour, langs),
    }


def _load_tour(data: dict[str, Any], update: bool) -> tuple[Tour, SeedOutcome]:
    sites = {
        site.slug: site
        for site in db.session.scalars(select(Site).where(Site.slug.in_(data["stops"])))
    }
    missing = [slug for slug in data["stops"] if slug not in sites]
    if missing:
        raise SeedError(f"tour {data['slug']}: unknown stops {missing}")
    if len(set(data["stops"])) != len(data["stops"]):
        raise SeedError(f"tour {data['slug']}: a site appears twice")
    wanted = {
        "duration_min": data["duration_min"],
        "stops": list(data["stops"]),
        "texts": _wanted_texts(data["texts"]),
    }
    tour = db.session.scalar(select(Tour).where(Tour.slug == data["slug"]))
    if tour is None:
        tour = Tour(slug=data["slug"], duration_min=data["duration_min"])
        db.session.add(tour)
        outcome = SeedOutcome.CREATED
    else:
        current = _tour_state(tour, data["texts"])
        outcome = seed_outcome(
            current=current, wanted=wanted, digest=tour.seed_digest, update=update
        )
    if outcome.writes:
        set_fields(tour, {"duration_min": data["duration_min"]})
        _sync_texts(tour, TourText, data["texts"])
        db.session.flush()
        set_tour_stops(tour, [sites[slug].id for slug in data["stops"]])
    if outcome.seeded_state:
        digest = state_digest(wanted)
        if tour.seed_digest != digest:
            tour.seed_digest = digest
    db.session.flush()
    return tour, outcome


def load_seed(
    *,
    directory: Path = SEED_DIR,
    languages: list[str],
    source_lang: str,
    update: bool = False,
    skip_edited: bool = False,
) -> LoadReport:
    """Create every site and tour of the YAML files that is missing; with `update`, also rewrite
    those that differ from their file, unless a person edited them since they were seeded
    (SeedRefused names them; with `skip_edited` they are kept and the rest is loaded). The
    caller commits, or rolls back on SeedError."""
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
        site, outcome = _load_site(data, source_lang, update)
        _note(report, "site", site.slug, outcome)
        for name, answer in signals.seeded(
            site, record=data, source_lang=source_lang, update=update
        ):
            kind, _, slug = name.partition(":")
            _note(report, kind, slug, answer)
    for data in tours:
        tour, outcome = _load_tour(data, update)
        _note(report, "tour", tour.slug, outcome)
    if report.edited and not skip_edited:
        raise SeedRefused(report)
    if report.changed:
        bump_catalogue_version()
    return report


def _note(report: LoadReport, kind: str, slug: str, outcome: SeedOutcome) -> None:
    getattr(report, outcome.value).append(f"{kind}:{slug}")
    if outcome.writes:
        audit.record(
            action=f"{kind}.seed_{outcome.value}",
            object_type=kind,
            object_id=slug,
            changes={"source": "content/seed"},
        )
