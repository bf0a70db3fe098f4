"""Models and languages (admins): for every served language, which translation model and which
voice are installed, their licence and quality, what is missing, and the command that installs
it (`flask models download ...`, on a connected machine, or `flask models install` from files).
"""

from __future__ import annotations

from flask import current_app, render_template

from app.i18n import N_
from guides import stages
from web.console.access import bp, menu_item, staff_page

menu_item("models", N_("Models and languages"), "admin")


@bp.route("/models", endpoint="models")
@staff_page("admin")
def models_page() -> str:
    source = current_app.config["SOURCE_LANGUAGE"]
    return render_template(
        "console/models.html",
        rows=stages.language_models(list(current_app.config["LANGUAGES"]), source=source),
        source=source,
    )
