"""What the tourist page shows, gathered from the catalogue, the guides and ticketing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from content import presenters
from content import services as catalogue
from content.models import Provenance, Site, Tour, TourStop
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
        "text_machine": bool(
            text and text.provenance == Provenance.MACHINE.value and not text.reviewed
        ),
        "address": site.address.get(lang) or site.address.get("en") or site.address.get("vi"),
        "opening_hours": site.opening_hours,
        "lat": site.lat,
        "lon": site.lon,
        "images": images,
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
