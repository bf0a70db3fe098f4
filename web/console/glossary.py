"""Glossary (editors): the town's and each site's proper names per language. Whisper is primed
with them and translation keeps them; staff add the names the seed's file lacks, for the whole
town or for one site, and remove their own. Every change is audited."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import NotFound, ValidationFailed
from app.i18n import N_, _
from guides import glossary, narrations, stages
from web.console.access import bp, menu_item, staff_page
from web.console.narrations import site_choices

menu_item("glossary", N_("Glossary"), "editor")


def _variants(text: str) -> dict[str, list[str]]:
    """`en: Hoi An, Hoian` per line -> {"en": ["Hoi An", "Hoian"]}."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        lang, sep, values = line.partition(":")
        if not sep:
            raise ValidationFailed(
                _("Write each line of other spellings as “en: Hoi An, Hoian”."),
                errors={"variants": [line]},
            )
        found.setdefault(lang.strip(), []).extend(v for v in values.split(",") if v.strip())
    return found


def _page(*, status: int = 200, error: str | None = None) -> Any:
    chosen = request.values.get("site") or ""
    try:
        site = narrations.site_by_slug(chosen) if chosen else None
    except NotFound:
        if request.method == "GET":
            raise
        site, chosen = None, ""  # the refused form named a site that does not exist
    terms = stages.staff_terms(site.id if site else None)
    codes = [glossary.ANY_LATIN, *current_app.config["LANGUAGES"]]
    own_names = {text.lang: text.name for text in site.texts} if site else {}
    return (
        render_template(
            "console/glossary.html",
            codes=codes,
            sites=site_choices(),
            chosen=chosen,
            own_names=own_names,
            site_terms=[t for t in terms if t.site_id is not None],
            town_terms=[t for t in terms if t.site_id is None],
            seed=stages.seed_glossary(),
            error=error,
            form=request.form if request.method == "POST" else {},
        ),
        status,
    )


@bp.route("/glossary", endpoint="glossary")
@staff_page("editor")
def glossary_page() -> Any:
    try:
        return _page()
    except NotFound:
        message = _("There is no such site.")
        return render_template("console/error.html", status=404, message=message), 404


@bp.route("/glossary", methods=["POST"])
@staff_page("editor")
def glossary_add() -> Any:
    slug = request.form.get("site", "")
    try:
        site = narrations.site_by_slug(slug) if slug else None
        forms = {
            key.removeprefix("form-"): value
            for key, value in request.form.items()
            if key.startswith("form-")
        }
        variants = _variants(request.form.get("variants", ""))
        glossary.add_term(site=site, forms=forms, variants=variants)
    except NotFound:
        return _page(status=422, error=_("Choose the site this name belongs to."))
    except ValidationFailed as exc:
        return _page(status=422, error=_words(exc))
    flash(_("Name added to the glossary."), "ok")
    return redirect(url_for("console.glossary", site=slug), code=303)


def _words(exc: ValidationFailed) -> str:
    field = next(iter(exc.errors or {}), "")
    if exc.reason == "unsupported_language":
        return _("A language given is not served: %(codes)s.", codes=exc.message.split(": ", 1)[-1])
    if field == "variants" and exc.message.startswith("Write"):
        return exc.message
    if "too long" in str(exc.errors):
        return _("A name has at most %(max)d characters.", max=glossary.MAX_FORM_CHARS)
    return _("Write the name in at least one language.")


@bp.route("/glossary/<int:term_id>/delete", methods=["POST"])
@staff_page("editor")
def glossary_delete(term_id: int) -> WerkzeugResponse:
    glossary.delete_term(term_id=term_id)
    flash(_("Name removed from the glossary."), "ok")
    return redirect(url_for("console.glossary", site=request.form.get("site", "")), code=303)
