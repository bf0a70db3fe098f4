"""Tours (editor): the list with each tour's distance and estimated duration, a new tour, and
the editor of its texts in every served language beside the Vietnamese source, its duration,
publication and ordered stops (move up, move down, remove, add). The same version check and
conflict page as sites; every write goes through content.services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Conflict, DomainError, PreconditionFailed
from app.extensions import db
from app.i18n import N_, _, native_name
from content import services
from content.models import Provenance, Site, SiteText, Tour
from content.schemas import SLUG_RE
from content.search import build_document as fold
from web.console.access import bp, menu_item, staff_page
from web.console.sites import (
    SLUG,
    TEXT_FIELDS,
    base_json,
    conflict_page,
    display_name,
    expected_version,
    field_label,
    languages,
)

menu_item("tours", N_("Tours"), "editor")


def tour_name(tour: Tour) -> str:
    text = tour.text_for("vi") or (tour.texts[0] if tour.texts else None)
    return text.name if text else tour.slug


def _route(tour: Tour) -> services.Route:
    return services.route_of([stop.site for stop in tour.stops])


@dataclass(frozen=True, slots=True)
class SiteChoice:
    slug: str
    name: str


def _all_sites() -> list[SiteChoice]:
    """Every site as (slug, Vietnamese name) for the stop pickers, by name (one light query)."""
    source = current_app.config["SOURCE_LANGUAGE"]
    rows = db.session.execute(
        select(Site.slug, SiteText.name).outerjoin(
            SiteText, (SiteText.site_id == Site.id) & (SiteText.lang == source)
        )
    ).all()
    choices = [SiteChoice(slug, name or slug) for slug, name in rows]
    return sorted(choices, key=lambda choice: (fold(choice.name), choice.slug))


@bp.route("/tours")
@staff_page("editor")
def tours() -> Any:
    rows = services.list_tours(include_unpublished=True)
    return render_template(
        "console/tours.html",
        tours=[(tour, _route(tour)) for tour in rows],
        tour_name=tour_name,
        sites=_all_sites(),
        display_name=display_name,
        form={},
        errors={},
    )


def form_values(tour: Tour) -> dict[str, str]:
    values = {"duration_min": str(tour.duration_min)}
    for lang in languages():
        text = tour.text_for(lang)
        for field in TEXT_FIELDS:
            values[f"{field}-{lang}"] = getattr(text, field) if text else ""
    return values


def _keys() -> list[str]:
    return ["duration_min"] + [f"{f}-{lang}" for lang in languages() for f in TEXT_FIELDS]


def _edit_page(
    tour: Tour, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:  # fmt: skip
    on_tour = {stop.site.slug for stop in tour.stops}
    return (
        render_template(
            "console/tour_edit.html",
            tour=tour,
            route=_route(tour),
            form=form or form_values(tour),
            base=base_json(form_values(tour)),
            errors=errors or {},
            languages=languages(),
            native_name=native_name,
            field_label=field_label,
            display_name=display_name,
            tour_name=tour_name,
            addable=[site for site in _all_sites() if site.slug not in on_tour],
            walk=services.WALK_M_PER_MIN,
            visit=services.VISIT_MIN_PER_STOP,
        ),
        status,
    )


@bp.route(f"/tours/{SLUG}")
@staff_page("editor")
def tour_edit(slug: str) -> Any:
    return _edit_page(services.get_tour(slug=slug, include_unpublished=True))


def _texts(form: dict[str, str], tour: Tour, errors: dict[str, str]) -> dict[str, Any]:
    texts: dict[str, Any] = {}
    for lang in languages():
        values = {field: form.get(f"{field}-{lang}", "") for field in TEXT_FIELDS}
        existing = tour.text_for(lang)
        if existing is None and not any(values.values()):
            continue
        if existing is not None and all(values[f] == getattr(existing, f) for f in TEXT_FIELDS):
            continue
        if not values["name"]:
            errors[f"name-{lang}"] = _("A name is needed in %(lang)s.", lang=native_name(lang))
        elif len(values["name"]) > 200:
            errors[f"name-{lang}"] = _("At most %(count)d characters.", count=200)
        else:
            texts[lang] = {**values, "provenance": Provenance.HUMAN.value, "reviewed": True}
    return texts


@bp.route(f"/tours/{SLUG}", methods=["POST"])
@staff_page("editor")
def tour_save(slug: str) -> Any:
    tour = services.get_tour(slug=slug, include_unpublished=True)
    form = {key: request.form.get(key, "").replace("\r\n", "\n").strip() for key in _keys()}
    if tour.version != expected_version():  # stale: both versions first, then any errors
        return _tour_conflict(slug, form)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"texts": _texts(form, tour, errors)}
    duration = form["duration_min"]
    if not duration:
        data["duration_min"] = _route(tour).duration_min
    elif duration.isdigit() and 1 <= int(duration) <= 24 * 60:
        data["duration_min"] = int(duration)
    else:
        errors["duration_min"] = _("Minutes, a whole number from 1 to 1440.")
    if errors:
        return _edit_page(tour, form=form, errors=errors, status=422)
    try:
        services.update_tour(slug=slug, expected_version=expected_version(), data=data)
    except PreconditionFailed:
        return _tour_conflict(slug, form)
    flash(_("%(name)s was saved.", name=tour_name(tour)), "ok")
    return redirect(url_for("console.tour_edit", slug=slug))


def _tour_conflict(slug: str, form: dict[str, str]) -> Any:
    db.session.rollback()
    current = services.get_tour(slug=slug, include_unpublished=True)
    return conflict_page(
        name=tour_name(current),
        form=form,
        saved=form_values(current),
        keys=_keys(),
        current_version=current.version,
        save_url=url_for("console.tour_save", slug=slug),
        edit_url=url_for("console.tour_edit", slug=slug),
    )


def _stale(slug: str) -> WerkzeugResponse:
    flash(
        _("Someone else changed this tour in the meantime; nothing was changed. Here it is now."),
        "error",
    )
    return redirect(url_for("console.tour_edit", slug=slug))


@bp.route(f"/tours/{SLUG}/stops", methods=["POST"])
@staff_page("editor")
def tour_stops(slug: str) -> Any:
    """Move a stop up or down, remove it, or add a site at the end."""
    tour = services.get_tour(slug=slug, include_unpublished=True)
    stops = [stop.site.slug for stop in tour.stops]
    action, site = request.form.get("action", ""), request.form.get("site", "")
    if action == "add" and site and site not in stops:
        stops.append(site)
    elif site in stops and action in ("up", "down", "remove"):
        at = stops.index(site)
        if action == "remove":
            stops.pop(at)
        else:
            to = at - 1 if action == "up" else at + 1
            if 0 <= to < len(stops):
                stops[at], stops[to] = stops[to], stops[at]
    else:
        return _edit_page(tour, errors={"stops": _("Choose a site to add or move.")}, status=422)
    try:
        services.update_tour(slug=slug, expected_version=expected_version(), data={"stops": stops})
    except PreconditionFailed:
        db.session.rollback()
        return _stale(slug)
    except DomainError as exc:
        db.session.rollback()
        tour = services.get_tour(slug=slug, include_unpublished=True)
        return _edit_page(tour, errors={"stops": _stop_error(exc)}, status=422)
    return redirect(url_for("console.tour_edit", slug=slug) + "#stops")


def _stop_error(exc: DomainError) -> str:
    return {
        "too_few_stops": _("A tour needs at least two stops."),
        "stop_twice": _("A site can be a stop of a tour only once."),
        "site_not_found": _("There is no such site."),
    }.get(exc.reason, exc.message)


@bp.route(f"/tours/{SLUG}/published", methods=["POST"])
@staff_page("editor")
def tour_publish(slug: str) -> WerkzeugResponse:
    tour = services.get_tour(slug=slug, include_unpublished=True)
    published = request.form.get("published") == "1"
    try:
        services.update_tour(
            slug=slug, expected_version=expected_version(), data={"published": published}
        )
    except PreconditionFailed:
        db.session.rollback()
        return _stale(slug)
    if published:
        flash(_("%(name)s is published: tourists see it.", name=tour_name(tour)), "ok")
    else:
        flash(_("%(name)s is unpublished: tourists no longer see it.", name=tour_name(tour)))
    return redirect(url_for("console.tour_edit", slug=slug))


@bp.route("/tours", methods=["POST"])
@staff_page("editor")
def tour_create() -> Any:
    source = current_app.config["SOURCE_LANGUAGE"]
    form = {key: request.form.get(key, "").strip() for key in ("slug", "name", "first", "second")}
    errors: dict[str, str] = {}
    if not SLUG_RE.match(form["slug"]) or not 2 <= len(form["slug"]) <= 80:
        errors["slug"] = _("Lowercase letters a-z, digits and hyphens, 2 to 80 characters.")
    if not form["name"] or len(form["name"]) > 200:
        errors[f"name-{source}"] = _("A name is needed in %(lang)s.", lang=native_name(source))
    if not errors:
        try:
            tour = services.create_tour(
                slug=form["slug"],
                stops=[form["first"], form["second"]],
                texts={source: {"name": form["name"]}},
            )
        except Conflict:
            errors["slug"] = _("A tour with this address exists.")
        except DomainError as exc:
            errors["stops"] = _stop_error(exc)
    if errors:
        db.session.rollback()
        rows = services.list_tours(include_unpublished=True)
        body = render_template(
            "console/tours.html",
            tours=[(row, _route(row)) for row in rows],
            tour_name=tour_name,
            sites=_all_sites(),
            display_name=display_name,
            form=form,
            errors=errors,
        )
        return body, 422
    flash(_("%(name)s was created as a draft: publish it when it is ready.", name=form["name"]))
    return redirect(url_for("console.tour_edit", slug=tour.slug))
