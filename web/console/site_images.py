"""A site's images (editor): upload (checked by decoding in content.images, size-limited, kept
content-addressed with resized copies for phones), alt text in every served language beside
the Vietnamese, credit and licence, order and removal. Each change is a site edit through
content.services with the version the editor read, so two editors never overwrite each other."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import PreconditionFailed
from app.i18n import _, native_name
from content import images, services
from content.models import Site
from content.schemas import SiteWriteSchema
from web.console.access import bp, staff_page
from web.console.sites import (
    SLUG,
    display_name,
    expected_version,
    languages,
    schema_errors,
    site_changed_meanwhile,
)


def limits() -> dict[str, int]:
    return {
        "bytes": int(current_app.config["IMAGE_MAX_MB"] * 1024 * 1024),
        "pixels": int(current_app.config["IMAGE_MAX_PIXELS"]),
    }


def refusal(reason: str) -> str:
    """Why an upload was refused, in the console's language."""
    limit = limits()
    return {
        "image_empty": _("Choose an image file to upload."),
        "image_too_large": _(
            "The file is too large: at most %(mb).0f MB.", mb=limit["bytes"] / 2**20
        ),
        "image_format": _("Only JPEG, PNG and WebP images can be used."),
        "image_too_many_pixels": _(
            "The image is too large: at most %(mp).0f million pixels.", mp=limit["pixels"] / 1e6
        ),
        "image_unreadable": _("This file is not a readable image (JPEG, PNG or WebP)."),
    }.get(reason, _("This file cannot be used as an image."))


def _page(site: Site, *, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "console/site_images.html",
            site=site,
            images=site.images,
            errors=errors or {},
            languages=languages(),
            native_name=native_name,
            display_name=display_name,
            limits=limits(),
        ),
        status,
    )


@bp.route(f"/sites/{SLUG}/images")
@staff_page("editor")
def site_images(slug: str) -> Any:
    return _page(services.get_site(slug=slug, include_unpublished=True))


def _save(site: Site, entries: list[dict[str, Any]]) -> Any | None:
    """Save the site's images through the API's schema and service; a page when refused."""
    try:
        data = SiteWriteSchema().load({"images": entries})
    except ValidationError as exc:
        return _page(site, errors=schema_errors(exc), status=422)
    try:
        services.update_site(slug=site.slug, expected_version=expected_version(), data=data)
    except PreconditionFailed:
        return _stale(site.slug)
    return None


def _stale(slug: str) -> WerkzeugResponse:
    return site_changed_meanwhile("console.site_images", slug)


@bp.route(f"/sites/{SLUG}/images", methods=["POST"])
@staff_page("editor")
def site_image_upload(slug: str) -> Any:
    site = services.get_site(slug=slug, include_unpublished=True)
    if site.version != expected_version():
        return _stale(slug)
    source = languages()[0]
    alt = request.form.get(f"alt-{source}", "").strip()
    upload = request.files.get("image")
    errors: dict[str, str] = {}
    if not alt:
        errors["alt"] = _("Describe the image in Vietnamese for people who cannot see it.")
    if upload is None or not upload.filename:
        errors["image"] = refusal("image_empty")
    if errors:
        return _page(site, errors=errors, status=422)
    assert upload is not None
    limit = limits()
    data = upload.stream.read(limit["bytes"] + 1)  # one byte more tells "too large"
    try:
        entry = images.store_image(data=data, max_bytes=limit["bytes"], max_pixels=limit["pixels"])
    except images.ImageRefused as exc:
        return _page(site, errors={"image": refusal(exc.reason)}, status=422)
    entry["alt"] = {source: alt}
    credit = request.form.get("credit", "").strip()
    if credit:
        entry["credit"] = credit
    refused = _save(site, [*site.images, entry])
    if refused is not None:
        return refused
    flash(_("The image was added. Write its description in the other languages."), "ok")
    return redirect(url_for("console.site_images", slug=slug))


@bp.route(f"/sites/{SLUG}/images/texts", methods=["POST"])
@staff_page("editor")
def site_image_texts(slug: str) -> Any:
    """Alt text in every language, credit and licence of every image."""
    site = services.get_site(slug=slug, include_unpublished=True)
    entries = []
    for index, image in enumerate(site.images):
        entry = dict(image)
        alt = {
            lang: text
            for lang in languages()
            if (text := request.form.get(f"alt-{index}-{lang}", "").strip())
        }
        entry["alt"] = alt
        for field in ("credit", "license"):
            value = request.form.get(f"{field}-{index}", "").strip()
            if value:
                entry[field] = value
            else:
                entry.pop(field, None)
        entries.append(entry)
    refused = _save(site, entries)
    if refused is not None:
        return refused
    flash(_("The image descriptions were saved."), "ok")
    return redirect(url_for("console.site_images", slug=slug))


@bp.route(f"/sites/{SLUG}/images/order", methods=["POST"])
@staff_page("editor")
def site_image_order(slug: str) -> Any:
    """Move an image first (the one tourists see first), or remove it from the site."""
    site = services.get_site(slug=slug, include_unpublished=True)
    entries = list(site.images)
    url = request.form.get("url", "")
    at = next((i for i, image in enumerate(entries) if image.get("url") == url), None)
    if at is None:
        return _page(site, errors={"image": _("There is no such image.")}, status=422)
    moved = entries.pop(at)
    if request.form.get("action") == "first":
        entries.insert(0, moved)
    refused = _save(site, entries)
    if refused is not None:
        return refused
    return redirect(url_for("console.site_images", slug=slug))
