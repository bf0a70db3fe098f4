"""What the tourist page shows, gathered from the catalogue, the guides and ticketing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from content import geo, presenters, search
from content import services as catalogue
from content.models import Provenance, Site, Tour, TourStop
from content.panoramas import panorama_view, site_panoramas
from guides.models import GuideStatus
from guides.narrations import current_narration
from guides.published import guide_document
from ticketing.presenters import site_products

#: Audio MIME types by file extension, for the <source type> the browser picks by.
AUDIO_TYPES = {
    "opus": "audio/ogg; codecs=opus",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "mp3": "audio/mpeg",
}
#: What a phone screen needs from an image: the browser picks from srcset by these sizes.
IMAGE_SIZES = "(max-width: 40rem) 100vw, 40rem"


def audio_type(url: str) -> str:
    return AUDIO_TYPES.get(url.rsplit(".", 1)[-1].lower(), "audio/mpeg")


def tours_with(*, site_id: int) -> list[Tour]:
    """Published tours that stop at this site."""
    return list(
        db.session.scalars(
            select(Tour)
            .join(TourStop, TourStop.tour_id == Tour.id)
            .where(TourStop.site_id == site_id, Tour.published.is_(True))
            .order_by(Tour.slug)
        )
    )


def image_view(image: dict[str, Any], lang: str) -> dict[str, Any]:
    """An image for <img>: alt text in the language, size, and a srcset when it has variants."""
    alt = image.get("alt") or {}
    variants = [v for v in image.get("variants") or [] if v.get("url") and v.get("width")]
    variants.sort(key=lambda v: int(v["width"]))
    return {
        "url": variants[0]["url"] if variants else image.get("url"),
        "srcset": ", ".join(f"{v['url']} {int(v['width'])}w" for v in variants) or None,
        "sizes": IMAGE_SIZES if variants else None,
        "alt": alt.get(lang) or alt.get("en") or alt.get("vi") or "",
        "width": image.get("width"),
        "height": image.get("height"),
        "credit": image.get("credit"),
    }


def _narration_text(site: Site, lang: str) -> tuple[str, bool]:
    """The narration script in `lang` (a translation may exist before its audio), and whether
    it is an unreviewed machine translation."""
    narration = current_narration(site)
    if narration is None:
        return "", False
    if narration.source_lang == lang:
        return narration.text, False
    row = narration.text_for(lang)
    if row is None:
        return "", False
    return row.text, row.provenance == Provenance.MACHINE.value and not row.reviewed


def guide_view(site: Site, requested: str) -> dict[str, Any]:
    """The guide section: the requested language's state, the audio to play (its own, or the
    fallback's while it is pending) and the transcript, in the requested language if it has
    one."""
    doc = guide_document(site, requested=requested)
    own_ready = doc["status"] == GuideStatus.READY.value and doc["fallback"] is None
    status = doc["status"] if doc["fallback"] is None else doc["fallback"]["status"]
    play = doc if doc["status"] == GuideStatus.READY.value and doc["tracks"] else None
    view: dict[str, Any] = {
        "status": GuideStatus.READY.value if own_ready else status,
        "requested": requested,
        "play": play,
        "transcript": doc["transcript"] if play else "",
        "transcript_lang": doc["lang"],
        "transcript_machine": bool(play and play["machine_translated"]),
    }
    if not own_ready:
        text, machine = _narration_text(site, requested)
        if text:
            view.update(transcript=text, transcript_lang=requested, transcript_machine=machine)
    return view


def site_page_view(*, slug: str, requested: str) -> dict[str, Any]:
    """Everything the page shows for one published site, in the requested language."""
    site = catalogue.get_site(slug=slug)
    lang = presenters.served_language(site.texts, requested)
    text = site.text_for(lang)
    images = [image_view(image, lang) for image in site.images if image.get("url")]
    return {
        "slug": site.slug,
        "lang": lang,
        "name": text.name if text else site.slug,
        "summary": text.summary if text else "",
        "description": text.description if text else "",
        "text_machine": presenters.machine_translated(text),
        "address": site.address.get(lang) or site.address.get("en") or site.address.get("vi"),
        "opening_hours": site.opening_hours,
        "lat": site.lat,
        "lon": site.lon,
        "images": images,
        "panoramas": [panorama_view(row, requested) for row in site_panoramas(site)],
        "jsonld": presenters.site_jsonld(site, lang),
        "url": presenters.public_url(f"/s/{site.slug}"),
        "guide": guide_view(site, requested),
        "products": site_products(site=site, lang=requested) if site.ticketed else [],
        "tours": [
            {
                "slug": tour.slug,
                "name": presenters.tour_view(tour, requested, with_stops=False)["name"],
            }
            for tour in tours_with(site_id=site.id)
        ],
    }


# --- the map (/) and the walking tours (/tours/<slug>) -----------------------------------

#: Where distances are measured from when the tourist's position is not known: the Japanese
#: Covered Bridge, the heart of the old town (its seed coordinates).
CENTRE = geo.Point(15.87712, 108.32605)
CENTRE_SLUG = "japanese-covered-bridge"
#: Beyond this from the old town a position is not the tourist's walk (a visitor planning at
#: home): distances stay from the centre.
NEAR_LIMIT_M = 50_000
#: Streets are not straight lines: a walk in the old town is about this much longer than the
#: line between its ends, at 4.5 km/h.
WALK_FACTOR = 1.3
WALK_M_PER_MIN = 75.0


def walking(distance_m: float) -> dict[str, int]:
    """A straight-line distance as an estimated walk: metres on foot and minutes."""
    metres = distance_m * WALK_FACTOR
    return {"metres": round(metres), "minutes": max(1, round(metres / WALK_M_PER_MIN))}


def _centre() -> geo.Point:
    site = db.session.scalar(select(Site).where(Site.slug == CENTRE_SLUG))
    return geo.Point(site.lat, site.lon) if site is not None else CENTRE


def map_view(*, requested: str, q: str, kind: str, near: str) -> dict[str, Any]:
    """The map page's list: every published site matching the folded search and the kind,
    nearest first from the tourist (`near` = "lat,lon") or else from the Covered Bridge, each
    with its estimated walk from there; and every published tour."""
    centre = _centre()
    origin, position = centre, "centre"
    if near:
        try:
            point = geo.parse_point(near)
        except ValueError:
            position = "failed"
        else:
            if geo.distance_m(point, centre) <= NEAR_LIMIT_M:
                origin, position = point, "you"
            else:
                position = "far"
    hits = catalogue.search_sites(
        q=q or None,
        kind=kind or None,
        near=origin,
        per_page=10_000,
        name_lang=requested,
    ).items
    if q:
        # What the name says first (the catalogue's own rank), nearest first within a rank.
        tokens = search.query_tokens(q)
        hits.sort(key=lambda hit: search.name_match_rank(_names(hit.site), tokens))
    places = []
    for hit in hits:
        summary = presenters.site_summary(hit.site, requested)
        distance = geo.distance_m(origin, geo.Point(hit.site.lat, hit.site.lon))
        places.append({**summary, "walk": walking(distance)})
    tours = [tour_card(tour, requested) for tour in catalogue.list_tours()]
    return {
        "places": places,
        "tours": tours,
        "origin": {"lat": origin.lat, "lon": origin.lon},
        "position": position,
    }


def _names(site: Site) -> list[str]:
    return [text.name for text in site.texts] + [str(alias) for alias in site.aliases]


def tour_card(tour: Tour, requested: str) -> dict[str, Any]:
    """A tour as the map lists it: name, summary, stops, walk, and its route's points."""
    view = presenters.tour_view(tour, requested, with_stops=True)
    points = [
        (stop["site"]["location"]["lat"], stop["site"]["location"]["lon"]) for stop in view["stops"]
    ]
    return {**view, "walk": walking(view["distance_m"]), "route": points}


def tour_page_view(*, slug: str, requested: str) -> dict[str, Any]:
    """A tour's page: its texts, and each stop in order with its guide and the way on."""
    tour = catalogue.get_tour(slug=slug)
    card = tour_card(tour, requested)
    stops = []
    published = [stop for stop in tour.stops if stop.site.published]
    for index, stop in enumerate(published):
        following = published[index + 1] if index + 1 < len(published) else None
        summary = presenters.site_summary(stop.site, requested)
        stops.append(
            {
                "n": index + 1,
                "site": summary,
                "leg": next(
                    s["distance_from_previous_m"]
                    for s in card["stops"]
                    if s["position"] == stop.position
                ),
                "guide": guide_view(stop.site, requested),
                "next": (
                    {
                        "name": presenters.site_summary(following.site, requested)["name"],
                        "lat": following.site.lat,
                        "lon": following.site.lon,
                        "from_lat": stop.site.lat,
                        "from_lon": stop.site.lon,
                    }
                    if following
                    else None
                ),
            }
        )
    return {
        **card,
        "stops": stops,
        "machine": card["machine_translated"],
        "url": presenters.public_url(f"/tours/{tour.slug}"),
    }
