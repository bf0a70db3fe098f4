"""Load ticket products from YAML (content/seed/products/): validated first, idempotent, audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from app import audit
from app.extensions import db
from content.cache import bump_catalogue_version
from content.models import Site
from content.schemas import SLUG_RE
from content.seeding import SEED_DIR as CONTENT_SEED_DIR
from content.seeding import LoadReport
from ticketing.models import TIERS, Product, ProductPrice, ProductSite, ValidityKind
from ticketing.verify import MAX_PRODUCT

SEED_DIR = CONTENT_SEED_DIR / "products"


class ProductSeedError(Exception):
    """A product file is invalid; the message names the file and the fields."""


class _ValiditySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(tuple(ValidityKind)))
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=3660))
    hours = fields.Integer(validate=validate.Range(min=1, max=1000), load_default=None)

    @validates_schema
    def _hours_for_first_use(self, data: dict[str, Any], **_: Any) -> None:
        if (data["kind"] == ValidityKind.FIRST_USE.value) != (data.get("hours") is not None):
            raise ValidationError("hours is given for, and only for, kind first_use", "hours")


class _SaleSchema(Schema):
    max_per_order = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    starts_at = fields.AwareDateTime(load_default=None)
    ends_at = fields.AwareDateTime(load_default=None)
    daily_capacity = fields.Integer(load_default=None, validate=validate.Range(min=1))


class _PriceSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=0))
    entries = fields.Integer(load_default=None, validate=validate.Range(min=1, max=255))


class _ProductFileSchema(Schema):
    id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_PRODUCT))
    slug = fields.String(required=True, validate=validate.Regexp(SLUG_RE))
    position = fields.Integer(load_default=0)
    active = fields.Boolean(load_default=True)
    names = fields.Dict(
        keys=fields.String(), values=fields.String(), required=True, validate=validate.Length(1)
    )
    descriptions = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    currency = fields.String(load_default="VND", validate=validate.Regexp(r"^[A-Z]{3}$"))
    entries = fields.Integer(required=True, validate=validate.Range(min=1, max=255))
    validity = fields.Nested(_ValiditySchema, required=True)
    sale = fields.Nested(_SaleSchema, load_default=lambda: _SaleSchema().load({}))
    prices = fields.Dict(
        keys=fields.String(validate=validate.OneOf(TIERS)),
        values=fields.Nested(_PriceSchema),
        required=True,
        validate=validate.Length(min=1),
    )
    sites = fields.List(fields.String(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        sale = data["sale"]
        if sale["daily_capacity"] and data["validity"]["kind"] != ValidityKind.DATE.value:
            raise ValidationError("daily_capacity is for products sold by date", "sale")
        if sale["starts_at"] and sale["ends_at"] and sale["ends_at"] <= sale["starts_at"]:
            raise ValidationError("ends_at must be after starts_at", "sale")


def _read(path: Path, languages: list[str]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProductSeedError(f"{path}: not valid UTF-8 YAML: {exc}") from exc
    try:
        data: dict[str, Any] = _ProductFileSchema().load(raw)
    except ValidationError as exc:
        raise ProductSeedError(f"{path}: {exc.messages}") from exc
    unknown = sorted(set(data["names"]) - set(languages))
    if unknown:
        raise ProductSeedError(f"{path}: names in unsupported languages {unknown}")
    return data


def _state(product: Product) -> dict[str, Any]:
    """Everything a file sets, in one comparable shape."""
    return {
        "slug": product.slug,
        "position": product.position,
        "active": product.active,
        "names": dict(product.names),
        "descriptions": dict(product.descriptions),
        "currency": product.currency,
        "max_sites": product.max_sites,
        "validity_kind": product.validity_kind,
        "validity_days": product.validity_days,
        "use_hours": product.use_hours,
        "max_per_order": product.max_per_order,
        "sale_starts_at": product.sale_starts_at,
        "sale_ends_at": product.sale_ends_at,
        "daily_capacity": product.daily_capacity,
        "prices": sorted((p.tier, p.amount, p.max_sites) for p in product.prices),
        "sites": sorted(link.site_id for link in product.site_links),
    }


def _wanted(data: dict[str, Any], site_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "slug": data["slug"],
        "position": data["position"],
        "active": data["active"],
        "names": data["names"],
        "descriptions": data["descriptions"],
        "currency": data["currency"],
        "max_sites": data["entries"],
        "validity_kind": data["validity"]["kind"],
        "validity_days": data["validity"]["days"],
        "use_hours": data["validity"]["hours"],
        "max_per_order": data["sale"]["max_per_order"],
        "sale_starts_at": data["sale"]["starts_at"],
        "sale_ends_at": data["sale"]["ends_at"],
        "daily_capacity": data["sale"]["daily_capacity"],
        "prices": sorted(
            (tier, price["amount"], price["entries"]) for tier, price in data["prices"].items()
        ),
        "sites": sorted(site_ids[slug] for slug in set(data["sites"])),
    }


def _apply(product: Product, wanted: dict[str, Any]) -> None:
    for key, value in wanted.items():
        if key not in ("prices", "sites"):
            setattr(product, key, value)
    current = {price.tier: price for price in product.prices}
    for tier, amount, max_sites in wanted["prices"]:
        price = current.pop(tier, None)
        if price is None:
            product.prices.append(ProductPrice(tier=tier, amount=amount, max_sites=max_sites))
        else:
            price.amount, price.max_sites = amount, max_sites
    for price in current.values():
        product.prices.remove(price)
    links = {link.site_id: link for link in product.site_links}
    for site_id in wanted["sites"]:
        if links.pop(site_id, None) is None:
            product.site_links.append(ProductSite(site_id=site_id))
    for link in links.values():
        product.site_links.remove(link)


def load_products(*, directory: Path = SEED_DIR, languages: list[str]) -> LoadReport:
    """Create or update every product from the YAML files; the caller commits."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ProductSeedError(f"no product files in {directory}")
    documents = [(path, _read(path, languages)) for path in files]
    for key in ("id", "slug"):
        seen: dict[Any, Path] = {}
        for path, data in documents:
            if data[key] in seen:
                raise ProductSeedError(f"{path}: {key} {data[key]!r} is also in {seen[data[key]]}")
            seen[data[key]] = path
    wanted_slugs = {slug for _, data in documents for slug in data["sites"]}
    site_ids = dict(
        db.session.execute(select(Site.slug, Site.id).where(Site.slug.in_(wanted_slugs))).all()
    )
    for path, data in documents:
        missing = sorted(set(data["sites"]) - set(site_ids))
        if missing:
            raise ProductSeedError(f"{path}: unknown sites {missing}; load the catalogue first")
    report = LoadReport()
    for _path, data in documents:
        wanted = _wanted(data, site_ids)
        product = db.session.get(Product, data["id"])
        if product is None:
            product = Product(id=data["id"])
            _apply(product, wanted)
            db.session.add(product)
            report.created.append(data["slug"])
            action = "product.create"
        elif _state(product) != wanted:
            _apply(product, wanted)
            report.updated.append(data["slug"])
            action = "product.update"
        else:
            report.unchanged.append(data["slug"])
            continue
        db.session.flush()
        audit.record(
            action=action,
            object_type="product",
            object_id=product.id,
            changes={"slug": product.slug, "prices": {t: a for t, a, _ in wanted["prices"]}},
        )
    if report.changed:
        bump_catalogue_version()
    return report
