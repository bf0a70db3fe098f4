"""Turn catalogue rows into the public representations: language-picked, JSON-LD, GeoJSON."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from app.i18n import pick_language
from content import geo, panoramas, signals
from content.models import Provenance, Site, SiteText, Tour, TourText

_DAY_NAMES = {
    "mo": "Monday",
    "tu": "Tuesday",
    "we": "Wednesday",
    "th": "Thursday",
    "fr": "Friday",
    "sa": "Saturday",
    "su": "Sunday",
}
_LANDMARK_KINDS = {
    "bridge",
    "temple",
    "pagoda",
    "assembly_hall",
    "chapel",
    "old_house",
    "landmark",
    "market",
}


def served_language(texts: list[SiteText] | list[Any], requested: str) -> str:
    """The language we serve for these texts: the requested one or the next in the chain."""
    available = {text.lang for text in texts}
    return pick_language(requested, available) or (texts[0].lang if texts else requested)


def _text(site: Site, lang: str) -> SiteText | None:
    return site.text_for(lang)


def machine_translated(text: SiteText | TourText | None) -> bool:
    """Whether this text is a machine translation no person reviewed yet."""
    return bool(text and text.provenance == Provenance.MACHINE.value and not text.reviewed)


def public_url(path: str) -> str:
    """An absolute URL on the public base URL (an absolute one is returned as it is)."""
    if path.startswith(("https://", "http://")):
        return path
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path


def site_summary(site: Site, requested: str, distance_m: float | None = None) -> dict[str, Any]:
    lang = served_language(site.texts, requested)
    text = _text(site, lang)
    item: dict[str, Any] = {
        "slug": site.slug,
        "kind": site.kind,
        "name": text.name if text else site.slug,
        "summary": text.summary if text else "",
        "lang": lang,
        "machine_translated": machine_translated(text),
        "location": {"lat": site.lat, "lon": site.lon},
        "ticketed": site.ticketed,
        "url": url_for("content.site_detail", slug=site.slug),
        "page_url": public_url(f"/s/{site.slug}"),
    }
    if distance_m is not None:
        item["distance_m"] = round(distance_m)
    return item


def site_detail(site: Site, requested: str) -> dict[str, Any]:
    """A site's public document; the guide and ticketing domains add their fields to it."""
    lang = served_language(site.texts, requested)
    text = _text(site, lang)
    detail = site_summary(site, requested)
    detail.update(
        {
            "requested_lang": requested,
            "description": text.description if text else "",
            "text_provenance": text.provenance if text else None,
            "text_reviewed": text.reviewed if text else None,
            "address": site.address.get(lang) or site.address.get("en") or site.address.get("vi"),
            "opening_hours": site.opening_hours,
            "images": [_image(image, lang) for image in site.images],
            "panoramas": [
                panoramas.panorama_view(row, lang) for row in panoramas.site_panoramas(site)
            ],
            "ids": {"osm": site.osm_id, "wikidata": site.wikidata_id, "unesco": site.unesco_id},
            "languages": sorted(text.lang for text in site.texts),
            **signals.site_sections(site, lang=lang, requested=requested),
            "version": site.version,
            "updated_at": site.updated_at,
        }
    )
    detail["jsonld"] = site_jsonld(site, lang)
    return detail


def _image(image: dict[str, Any], lang: str) -> dict[str, Any]:
    alt = image.get("alt") or {}
    return {
        "url": image.get("url"),
        "alt": alt.get(lang) or alt.get("en") or alt.get("vi") or "",
        "width": image.get("width"),
        "height": image.get("height"),
        "credit": image.get("credit"),
        "license": image.get("license"),
    }


def site_jsonld(site: Site, lang: str) -> dict[str, Any]:
    """schema.org description of a site, for search engines and the tourist page."""
    text = _text(site, lang)
    types = ["TouristAttraction"]
    if site.kind == "museum":
        types.append("Museum")
    elif site.kind in _LANDMARK_KINDS:
        types.append("LandmarksOrHistoricalBuildings")
    elif site.kind == "beach":
        types.append("Beach")
    same_as = []
    if site.wikidata_id:
        same_as.append(f"https://www.wikidata.org/wiki/{site.wikidata_id}")
    if site.osm_id:
        same_as.append(f"https://www.openstreetmap.org/{site.osm_id}")
    if site.unesco_id:
        same_as.append(f"https://whc.unesco.org/en/list/{site.unesco_id}")
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": types,
        "@id": public_url(f"/s/{site.slug}"),
        "url": public_url(f"/s/{site.slug}"),
        "name": text.name if text else site.slug,
        "description": text.summary if text else "",
        "geo": {"@type": "GeoCoordinates", "latitude": site.lat, "longitude": site.lon},
        "address": {
            "@type": "PostalAddress",
            "streetAddress": site.address.get(lang) or site.address.get("vi", ""),
            "addressLocality": "Hội An",
            "addressRegion": "Quảng Nam",
            "addressCountry": "VN",
        },
        "isAccessibleForFree": not site.ticketed,
        "publicAccess": True,
        "touristType": "Cultural tourism",
    }
    if same_as:
        doc["sameAs"] = same_as
    if site.opening_hours:
        doc["openingHoursSpecification"] = [
            {
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": [f"https://schema.org/{_DAY_NAMES[day]}" for day in spec["days"]],
                "opens": spec["opens"],
                "closes": spec["closes"],
            }
            for spec in site.opening_hours
        ]
    if site.images:
        doc["image"] = [image["url"] for image in site.images if image.get("url")]
    return doc


def site_feature(site: Site, requested: str) -> dict[str, Any]:
    summary = site_summary(site, requested)
    return {
        "type": "Feature",
        "id": site.slug,
        "geometry": {"type": "Point", "coordinates": [site.lon, site.lat]},
        "properties": {
            key: summary[key]
            for key in ("slug", "kind", "name", "summary", "lang", "ticketed", "url", "page_url")
        },
    }


def tour_view(tour: Tour, requested: str, *, with_stops: bool) -> dict[str, Any]:
    lang = served_language(tour.texts, requested)
    text = tour.text_for(lang)
    stops: list[dict[str, Any]] = []
    total = 0.0
    previous: geo.Point | None = None
    for stop in tour.stops:
        point = geo.Point(stop.site.lat, stop.site.lon)
        leg = geo.distance_m(previous, point) if previous else 0.0
        total += leg
        previous = point
        stops.append(
            {
                "position": stop.position,
                "distance_from_previous_m": round(leg),
                "site": site_summary(stop.site, requested),
            }
        )
    view: dict[str, Any] = {
        "slug": tour.slug,
        "name": text.name if text else tour.slug,
        "summary": text.summary if text else "",
        "lang": lang,
        "machine_translated": machine_translated(text),
        "duration_min": tour.duration_min,
        "distance_m": round(total),
        "stop_count": len(tour.stops),
        "url": url_for("content.tour_detail", slug=tour.slug),
    }
    if with_stops:
        view["description"] = text.description if text else ""
        view["stops"] = stops
    return view
