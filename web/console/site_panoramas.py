"""A site's 360° views (editor): upload an equirectangular JPEG with its description, see its
still, describe it in every served language, replace or remove it. The checks are
content.panoramas' (decodes whole, 2:1, size and pixel limits, decompression bombs), told on
the page in the console's language; a refused file changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import DomainError
from app.extensions import db
from app.i18n import _, native_name
from content import panoramas, services
from content.models import Site
from web.console.access import bp, staff_page
from web.console.sites import (
    SLUG,
    display_name,
    expected_version,
    languages,
    site_changed_meanwhile,
)


def limits() -> dict[str, int]:
    config = current_app.config
    return {
        "bytes": int(float(config["PANORAMA_MAX_MB"]) * 1024 * 1024),
        "pixels": int(config["PANORAMA_MAX_PIXELS"]),
        "min_width": int(config["PANORAMA_MIN_WIDTH"]),
    }


def too_large() -> str:
    return _("The file is too large: at most %(mb).0f MB.", mb=limits()["bytes"] / 2**20)


def refusal(reason: str) -> str:
    """Why a 360° view was refused, in the console's language."""
    limit = limits()
    return {
        "image_empty": _("Choose the 360° view's JPEG file."),
        "file_too_large": too_large(),
        "not_an_image": _("This file is not an image."),
        "not_jpeg": _("A 360° view must be a JPEG file (.jpg)."),
        "not_equirectangular": _(
            "A 360° view is an equirectangular image, twice as wide as it is high "
            "(for example 4096 by 2048 pixels); this one is not."
        ),
        "too_small": _("A 360° view must be at least %(px)d pixels wide.", px=limit["min_width"]),
        "decompression_bomb": _(
            "The image claims more pixels than a 360° view may have (at most %(mp).0f million): "
            "it was refused without being opened.",
            mp=limit["pixels"] / 1e6,
        ),
        "not_decodable": _("The JPEG is damaged or cut short: it cannot be read whole."),
        "alt_required": _("Describe the view in Vietnamese for people who cannot see it."),
    }.get(reason, _("This file cannot be used as a 360° view."))


def _page(site: Site, *, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "console/site_panoramas.html",
            site=site,
            panoramas=[
                (row, panoramas.panorama_view(row, "vi")) for row in panoramas.site_panoramas(site)
            ],
            errors=errors or {},
            languages=languages(),
            native_name=native_name,
            display_name=display_name,
            limits=limits(),
        ),
        status,
    )


def _current(slug: str) -> tuple[Site, WerkzeugResponse | None]:
    """The site, and the page to go back to when the form was made from an older version."""
    site = services.get_site(slug=slug, include_unpublished=True)
    if site.version != expected_version():
        return site, site_changed_meanwhile("console.site_panoramas", slug)
    return site, None


def _alt(prefix: str) -> dict[str, str]:
    return {lang: request.form.get(f"{prefix}{lang}", "") for lang in languages()}


def _upload() -> FileStorage | None:
    upload = request.files.get("image")
    return upload if upload is not None and upload.filename else None


def _keep(site: Site, upload: FileStorage, store: Callable[[IO[bytes]], object], done: str) -> Any:
    """Hand the upload to `store` (content.panoramas); the site's page with `done`, or this
    page again with the refusal in words (nothing kept)."""
    try:
        store(upload.stream)
    except DomainError as exc:
        db.session.rollback()
        return _page(site, errors={"image": refusal(exc.reason)}, status=exc.status)
    finally:
        upload.close()  # a large upload is a temporary file: gone now, refused or kept
    flash(done, "ok")
    return redirect(url_for("console.site_panoramas", slug=site.slug))


@bp.route(f"/sites/{SLUG}/panoramas")
@staff_page("editor")
def site_panoramas(slug: str) -> Any:
    return _page(services.get_site(slug=slug, include_unpublished=True))


@bp.route(f"/sites/{SLUG}/panoramas", methods=["POST"])
@staff_page("editor")
def site_panorama_upload(slug: str) -> Any:
    site, stale = _current(slug)
    if stale is not None:
        return stale
    upload = _upload()
    alt = _alt("alt-")
    errors: dict[str, str] = {}
    if not alt.get(languages()[0], "").strip():
        errors["alt"] = refusal("alt_required")
    if upload is None:
        errors["image"] = refusal("image_empty")
    if errors:
        return _page(site, errors=errors, status=422)
    assert upload is not None
    return _keep(
        site,
        upload,
        lambda stream: panoramas.add_panorama(site=site, stream=stream, alt=alt),
        _("The 360° view was added. Describe it in the other languages."),
    )


@bp.route(f"/sites/{SLUG}/panoramas/<int:panorama_id>/replace", methods=["POST"])
@staff_page("editor")
def site_panorama_replace(slug: str, panorama_id: int) -> Any:
    site, stale = _current(slug)
    if stale is not None:
        return stale
    upload = _upload()
    if upload is None:
        return _page(site, errors={"image": refusal("image_empty")}, status=422)
    return _keep(
        site,
        upload,
        lambda stream: panoramas.replace_panorama(
            site=site, panorama_id=panorama_id, stream=stream, alt={}
        ),
        _("The 360° view was replaced; its descriptions were kept."),
    )


@bp.route(f"/sites/{SLUG}/panoramas/<int:panorama_id>/texts", methods=["POST"])
@staff_page("editor")
def site_panorama_texts(slug: str, panorama_id: int) -> Any:
    site, stale = _current(slug)
    if stale is not None:
        return stale
    try:
        panoramas.set_alt(site=site, panorama_id=panorama_id, alt=_alt(f"alt-{panorama_id}-"))
    except DomainError as exc:
        db.session.rollback()
        return _page(site, errors={"alt": refusal(exc.reason)}, status=exc.status)
    flash(_("The descriptions of the 360° view were saved."), "ok")
    return redirect(url_for("console.site_panoramas", slug=slug))


@bp.route(f"/sites/{SLUG}/panoramas/<int:panorama_id>/delete", methods=["POST"])
@staff_page("editor")
def site_panorama_delete(slug: str, panorama_id: int) -> Any:
    site, stale = _current(slug)
    if stale is not None:
        return stale
    panoramas.remove_panorama(site=site, panorama_id=panorama_id)
    flash(_("The 360° view was removed from the site."), "ok")
    return redirect(url_for("console.site_panoramas", slug=slug))


# A body over the server's limit is refused before the form is read (CSRF included): the
# console's 413 page then says the panorama's limit.
site_panorama_upload.too_large = too_large  # type: ignore[attr-defined]
site_panorama_replace.too_large = too_large  # type: ignore[attr-defined]
