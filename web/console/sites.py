"""Sites (editor): the list with the catalogue's own folded search and filters, a new site, and
the editor of every field in every served language beside the Vietnamese source; publish and
unpublish. Saving sends the version the editor read, as the API's If-Match does: when someone
saved in between, the editor sees both versions side by side and chooses, never a silent
overwrite. Every write goes through content.services and its schemas, as the JSON API does."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Conflict, PreconditionFailed
from app.extensions import db
from app.i18n import N_, _, native_name
from content import panoramas, services
from content.models import SITE_KINDS, Provenance, Site
from content.schemas import SiteCreateSchema, SiteWriteSchema, flatten_site_input
from web.console.access import bp, menu_item, staff_page

menu_item("sites", N_("Sites"), "editor")

SLUG = "<string(maxlength=80):slug>"
PER_PAGE = 50
TEXT_FIELDS = ("name", "summary", "description")
_HOURS = re.compile(r"^\s*([a-z, ]+?)\s+(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*$")


def kind_names() -> dict[str, str]:
    """Each kind of site in the console's language."""
    return {
        "bridge": _("bridge"),
        "temple": _("temple"),
        "pagoda": _("pagoda"),
        "assembly_hall": _("assembly hall"),
        "chapel": _("family chapel"),
        "old_house": _("old house"),
        "museum": _("museum"),
        "market": _("market"),
        "village": _("village"),
        "beach": _("beach"),
        "island": _("island"),
        "nature": _("nature"),
        "landmark": _("landmark"),
    }


def languages() -> list[str]:
    """The served languages, the source first."""
    source = current_app.config["SOURCE_LANGUAGE"]
    return [source] + [lang for lang in current_app.config["LANGUAGES"] if lang != source]


def display_name(site: Site, lang: str = "vi") -> str:
    text = site.text_for(lang) or site.text_for(current_app.config["SOURCE_LANGUAGE"])
    return text.name if text else site.slug


@bp.route("/sites")
@staff_page("editor")
def sites() -> Any:
    args = request.args
    page = max(1, args.get("page", 1, type=int) or 1)
    status = args.get("status", "")
    kind = args.get("kind", "") if args.get("kind", "") in SITE_KINDS else ""
    missing = args.get("missing", "") if args.get("missing", "") in languages() else ""
    q = args.get("q", "").strip()[:200]
    result = services.search_sites(
        q=q or None,
        kind=kind or None,
        published={"published": True, "draft": False}.get(status),
        missing_lang=missing or None,
        page=page,
        per_page=PER_PAGE,
        name_lang="vi",
    )
    return render_template(
        "console/sites.html",
        result=result,
        args={"q": q, "kind": kind, "status": status, "missing": missing},
        kinds=kind_names(),
        languages=languages(),
        native_name=native_name,
        display_name=display_name,
    )


# ---- the form <-> the API's shape ----------------------------------------------------------


def format_hours(hours: list[dict[str, Any]]) -> str:
    return "\n".join(f"{','.join(h['days'])} {h['opens']}-{h['closes']}" for h in hours)


def form_values(site: Site) -> dict[str, str]:
    """Every field of the edit form as the site holds it (also what a conflict compares)."""
    values = {
        "kind": site.kind,
        "lat": repr(site.lat),
        "lon": repr(site.lon),
        "ticketed": "1" if site.ticketed else "",
        "aliases": "\n".join(str(alias) for alias in site.aliases),
        "opening_hours": format_hours(site.opening_hours),
        "osm": site.osm_id or "",
        "wikidata": site.wikidata_id or "",
        "unesco": site.unesco_id or "",
    }
    for lang in languages():
        text = site.text_for(lang)
        for field in TEXT_FIELDS:
            values[f"{field}-{lang}"] = getattr(text, field) if text else ""
        values[f"address-{lang}"] = str(site.address.get(lang, ""))
    return values


def submitted() -> dict[str, str]:
    """The edit form's fields as posted (line ends normalised as browsers differ)."""
    return {
        key: request.form.get(key, "").replace("\r\n", "\n").strip() for key in form_values_keys()
    }


def form_values_keys() -> list[str]:
    keys = ["kind", "lat", "lon", "ticketed", "aliases", "opening_hours"]
    keys += ["osm", "wikidata", "unesco"]
    for lang in languages():
        keys += [f"{field}-{lang}" for field in (*TEXT_FIELDS, "address")]
    return keys


def field_label(key: str) -> str:
    """A form field's name in the console's language, for errors and the conflict page."""
    labels = {
        "kind": _("Kind"),
        "lat": _("Latitude"),
        "lon": _("Longitude"),
        "ticketed": _("On the old-town ticket"),
        "aliases": _("Other names"),
        "opening_hours": _("Opening hours"),
        "osm": "OpenStreetMap",
        "wikidata": "Wikidata",
        "unesco": "UNESCO",
        "name": _("Name"),
        "summary": _("Summary"),
        "description": _("Description"),
        "address": _("Address"),
        "slug": _("Address in the URL (slug)"),
        "duration_min": _("Duration (minutes)"),
        "stops": _("Stops"),
    }
    field, _sep, lang = key.partition("-")
    label = labels.get(field, field)
    return f"{label} ({native_name(lang)})" if lang else label


def parse_hours(text: str) -> list[dict[str, Any]]:
    """Lines like `mo,tu,we 08:00-17:00`; ValueError naming the line otherwise."""
    hours = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        match = _HOURS.match(line.lower())
        if not match:
            raise ValueError(line)
        days = [day.strip() for day in match.group(1).split(",") if day.strip()]
        hours.append({"days": days, "opens": match.group(2), "closes": match.group(3)})
    return hours


def to_body(form: dict[str, str], site: Site | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's body for this form (only languages with something written), and the errors of
    fields the schema cannot name."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"kind": form.get("kind", "")}
    try:
        body["location"] = {"lat": float(form.get("lat", "")), "lon": float(form.get("lon", ""))}
    except ValueError:
        errors["lat"] = _("Latitude and longitude are decimal degrees, e.g. 15.877 and 108.326.")
    body["ticketed"] = form.get("ticketed") == "1"
    body["aliases"] = [a.strip() for a in form.get("aliases", "").splitlines() if a.strip()]
    try:
        body["opening_hours"] = parse_hours(form.get("opening_hours", ""))
    except ValueError as exc:
        errors["opening_hours"] = _(
            "Write each line as days and hours, e.g. mo,tu,we 08:00-17:00 (not: %(line)s)",
            line=str(exc),
        )
    body["ids"] = {key: form.get(key) or None for key in ("osm", "wikidata", "unesco")}
    body["address"] = {
        lang: form[f"address-{lang}"] for lang in languages() if form.get(f"address-{lang}")
    }
    texts: dict[str, dict[str, Any]] = {}
    for lang in languages():
        values = {field: form.get(f"{field}-{lang}", "") for field in TEXT_FIELDS}
        existing = site.text_for(lang) if site else None
        if existing is None and not any(values.values()):
            continue
        if existing is not None and all(values[f] == getattr(existing, f) for f in TEXT_FIELDS):
            continue
        if not values["name"]:
            errors[f"name-{lang}"] = _("A name is needed in %(lang)s.", lang=native_name(lang))
            continue
        # A person wrote or checked this text: it is theirs now, not the machine's.
        texts[lang] = {**values, "provenance": Provenance.HUMAN.value, "reviewed": True}
    body["texts"] = texts
    return body, errors


def schema_errors(exc: ValidationError) -> dict[str, str]:
    """The schema's refusal, keyed by the form's field names."""
    errors: dict[str, str] = {}
    messages = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
    for key, value in messages.items():
        if key in ("texts", "address") and isinstance(value, dict):
            # A Dict field's errors come as {lang: {"value": ..., "key": ...}}.
            for lang, inner in value.items():
                inner = inner.get("value", inner) if isinstance(inner, dict) else inner
                if key == "address" or not isinstance(inner, dict):
                    errors[f"{key}-{lang}" if key == "address" else key] = _words(inner)
                    continue
                for field, words in inner.items():
                    errors[f"{field}-{lang}"] = _words(words)
        elif key in ("location", "ids") and isinstance(value, dict):
            for field, words in value.items():
                errors[field] = _words(words)
        else:
            errors[key] = _words(value)
    return errors


def _words(value: Any) -> str:
    return " ".join(map(str, _flat(value)))


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [item for inner in value.values() for item in _flat(inner)]
    if isinstance(value, list):
        return [item for inner in value for item in _flat(inner)]
    return [value]


# ---- pages ---------------------------------------------------------------------------------


def _edit_page(
    site: Site, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
    version: int | None = None, status: int = 200,
) -> Any:  # fmt: skip
    return (
        render_template(
            "console/site_edit.html",
            site=site,
            form=form or form_values(site),
            base=base_json(form_values(site)),
            errors=errors or {},
            version=site.version if version is None else version,
            languages=languages(),
            kinds=kind_names(),
            native_name=native_name,
            field_label=field_label,
            display_name=display_name,
            panorama_count=len(panoramas.site_panoramas(site)),
        ),
        status,
    )


@bp.route(f"/sites/{SLUG}")
@staff_page("editor")
def site_edit(slug: str) -> Any:
    return _edit_page(services.get_site(slug=slug, include_unpublished=True))


def posted_base() -> dict[str, str] | None:
    """The form's fields as the editor loaded them (its hidden `base`), if it sent them."""
    try:
        base = json.loads(request.form.get("base", ""))
    except ValueError:
        return None
    return base if isinstance(base, dict) else None


def base_json(loaded: dict[str, str]) -> str:
    """The hidden `base` of an edit form: the posted one when the form comes back with errors,
    else what the page shows now."""
    base = posted_base()
    return json.dumps(loaded if base is None else base)


def expected_version() -> int:
    version: int = request.form.get("version", -1, type=int)
    return version


def site_changed_meanwhile(endpoint: str, slug: str) -> WerkzeugResponse:
    """Back to the site's page `endpoint`, saying that a form made from an older version of the
    site changed nothing."""
    db.session.rollback()
    flash(
        _("Someone else changed this site in the meantime; nothing was changed. Here it is now."),
        "error",
    )
    return redirect(url_for(endpoint, slug=slug))


def conflict_page(
    *, name: str, form: dict[str, str], saved: dict[str, str], keys: list[str],
    current_version: int, save_url: str, edit_url: str,
) -> Any:  # fmt: skip
    """Both versions side by side after a stale save (409), nothing overwritten. A three-way
    merge against the form's `base` (what the editor loaded): the fields both people changed
    are shown; "keep mine" posts the saved version with the editor's own changes on top, so
    what the other person changed elsewhere stays."""
    base = posted_base()
    mine = [key for key in keys if base is None or form.get(key, "") != base.get(key, "")]
    merged = {**saved, **{key: form.get(key, "") for key in mine}}
    return (
        render_template(
            "console/conflict.html",
            name=name,
            form=form,
            merged=merged,
            base=json.dumps(saved),
            saved=saved,
            differ=[
                key
                for key in mine
                if form.get(key, "") != saved.get(key, "")
                and (base is None or saved.get(key, "") != base.get(key, ""))
            ],
            current_version=current_version,
            edited_version=expected_version(),
            save_url=save_url,
            edit_url=edit_url,
            field_label=field_label,
        ),
        409,
    )


def _site_conflict(slug: str, form: dict[str, str]) -> Any:
    db.session.rollback()  # what the stale save set on the row is dropped; read it anew
    current = services.get_site(slug=slug, include_unpublished=True)
    return conflict_page(
        name=display_name(current),
        form=form,
        saved=form_values(current),
        keys=form_values_keys(),
        current_version=current.version,
        save_url=url_for("console.site_save", slug=slug),
        edit_url=url_for("console.site_edit", slug=slug),
    )


@bp.route(f"/sites/{SLUG}", methods=["POST"])
@staff_page("editor")
def site_save(slug: str) -> Any:
    site = services.get_site(slug=slug, include_unpublished=True)
    form = submitted()
    if site.version != expected_version():  # stale: both versions first, then any errors
        return _site_conflict(slug, form)
    body, errors = to_body(form, site)
    try:
        data = SiteWriteSchema().load(body)
    except ValidationError as exc:
        errors = {**schema_errors(exc), **errors}
    if errors:
        return _edit_page(site, form=form, errors=errors, version=expected_version(), status=422)
    try:
        services.update_site(
            slug=slug, expected_version=expected_version(), data=flatten_site_input(data)
        )
    except PreconditionFailed:
        return _site_conflict(slug, form)
    flash(_("%(name)s was saved.", name=display_name(site)), "ok")
    return redirect(url_for("console.site_edit", slug=slug))


@bp.route(f"/sites/{SLUG}/published", methods=["POST"])
@staff_page("editor")
def site_publish(slug: str) -> WerkzeugResponse | Any:
    site = services.get_site(slug=slug, include_unpublished=True)
    published = request.form.get("published") == "1"
    try:
        services.update_site(
            slug=slug, expected_version=expected_version(), data={"published": published}
        )
    except PreconditionFailed:
        return _site_conflict(slug, form_values(site))
    if published:
        flash(_("%(name)s is published: tourists see it.", name=display_name(site)), "ok")
    else:
        flash(_("%(name)s is unpublished: tourists no longer see it.", name=display_name(site)))
    return redirect(url_for("console.site_edit", slug=slug))


@bp.route("/sites/new")
@staff_page("editor")
def site_new() -> Any:
    return _new_page({}, {})


def _new_page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    return (
        render_template(
            "console/site_new.html",
            form=form,
            errors=errors,
            kinds=kind_names(),
            field_label=field_label,
        ),
        status,
    )


@bp.route("/sites/new", methods=["POST"])
@staff_page("editor")
def site_create() -> Any:
    source = current_app.config["SOURCE_LANGUAGE"]
    form = {
        key: request.form.get(key, "").strip()
        for key in ("slug", "kind", "lat", "lon", f"name-{source}", f"summary-{source}")
    }
    body, errors = to_body(form, None)
    body = {key: body[key] for key in ("kind", "location", "texts") if key in body}
    body["slug"] = form["slug"]
    try:
        data = SiteCreateSchema().load(body)
    except ValidationError as exc:
        errors = {**schema_errors(exc), **errors}
    if errors:
        return _new_page(form, errors, 422)
    try:
        site = services.create_site(data={**flatten_site_input(data), "published": False})
    except Conflict:
        db.session.rollback()
        return _new_page(form, {"slug": _("A site with this address exists.")}, 409)
    flash(
        _("%(name)s was created as a draft: publish it when it is ready.", name=display_name(site))
    )
    return redirect(url_for("console.site_edit", slug=site.slug))
