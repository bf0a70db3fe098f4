"""The scanner's shell page, web app manifest and service worker, in Vietnamese and English.

Everything the page needs at a gate with no signal is served from here and kept by the service
worker: the shell in both languages, the scripts (scan.js, verify.js and the vendored noble and
jsQR), the styles and the icons. The device token never reaches these pages: the script keeps it
in IndexedDB and sends it to the API only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request, url_for

from app.i18n import _

STATIC = Path(__file__).resolve().parent / "static"
LANG_COOKIE = "scan_lang"
#: A strict policy: only the app's own scripts, styles, images and API; the camera on this page.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; "
    "manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

bp = Blueprint(
    "scan",
    __name__,
    url_prefix="/scan",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def _files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file() and p.suffix != ".md")


#: Content hash of each static file, and of them all (the service worker's cache version).
ASSET_VERSIONS = {
    str(path.relative_to(STATIC)): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    for path in _files()
    if path.name not in ("LICENSE",)
}
RELEASE = hashlib.sha256("".join(sorted(ASSET_VERSIONS.values())).encode()).hexdigest()[:12]


def scan_asset(name: str) -> str:
    return url_for("scan.static", filename=name, v=ASSET_VERSIONS[name])


def _languages() -> list[str]:
    return list(current_app.config["CONSOLE_LANGUAGES"])


@bp.before_request
def _language() -> None:
    """?lang= wins and is remembered in a cookie, then the cookie, then Accept-Language."""
    languages = _languages()
    asked = request.args.get("lang")
    if asked in languages:
        g.ui_lang = asked
    elif request.cookies.get(LANG_COOKIE) in languages:
        g.ui_lang = request.cookies[LANG_COOKIE]
    else:
        g.ui_lang = request.accept_languages.best_match(languages) or languages[0]


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=()"
    if not request.path.startswith("/scan/static/"):
        # The service worker keeps its own copy; the network copy is always checked.
        response.headers["Cache-Control"] = "no-cache"
    if request.args.get("lang") in _languages():
        response.set_cookie(
            LANG_COOKIE, g.ui_lang, max_age=365 * 24 * 3600, samesite="Lax", path="/scan/"
        )
    return response


def words() -> dict[str, str]:
    """The words the script shows, in the page's language (the same catalogue as the page)."""
    return {
        # verdicts, by reason (and by detail where it says more)
        "ok": _("Admit"),
        "invalid": _("Not a valid ticket"),
        "revoked": _("Ticket revoked"),
        "expired": _("Ticket expired"),
        "not_yet_valid": _("Not valid yet"),
        "wrong_site": _("Not for this site"),
        "already_redeemed": _("Already entered here"),
        "quota_exhausted": _("No entries left"),
        "unpaid": _("Order not paid"),
        "device_site": _("This phone is enrolled for another site"),
        "exit_ok": _("Goodbye"),
        "not_entered": _("Did not enter here"),
        "already_exited": _("Already left"),
        "refunded": _("refunded"),
        "cancelled": _("cancelled"),
        "reissued": _("replaced by a newer code"),
        "unknown_product": _("unknown ticket type"),
        "unknown_ticket": _("unknown ticket"),
        "not_a_ticket": _("This QR code is not a ticket"),
        "damaged": _("The code is damaged: type the serial"),
        # tiers to check
        "tier_domestic": _("Vietnamese visitor: check the ID card"),
        "tier_child": _("Child: check the age"),
        "tier_senior": _("Senior: check the ID card"),
        "tier_student": _("Student: check the student card"),
        "entries_left": _("Entries left: %(n)s"),
        # the gate's state
        "online": _("Online"),
        "offline": _("Offline: decided on this phone"),
        "decided_offline": _("Decided offline"),
        "queued": _("Scans waiting to upload: %(n)s"),
        "uploaded": _("Offline scans uploaded: %(n)s"),
        "conflicts": _("Problems the server found in the offline scans: %(n)s"),
        "conflict_double_entry": _("entered this site twice"),
        "conflict_over_quota": _("used more sites than it admits to"),
        "conflict_revoked_ticket": _("was revoked"),
        "conflict_outside_validity": _("was outside its validity"),
        "conflict_wrong_site": _("was not for this site"),
        "conflict_unpaid": _("its order was not paid"),
        "conflict_invalid_code": _("was not a genuine code"),
        "clock": _("This phone's clock is %(n)s minutes off: times are corrected."),
        "annulled": _("Check-in annulled"),
        "needs_network": _("This needs the network"),
        "camera_blocked": _("The camera is blocked: allow it for this page."),
        "no_camera": _("No camera: type the codes instead."),
        "pairing_unknown": _("This pairing code is unknown."),
        "pairing_used": _("This pairing code was used already. Ask an admin for a new one."),
        "pairing_expired": _("This pairing code has expired. Ask an admin for a new one."),
        "device_revoked": _("This device was revoked. Ask an admin."),
        "no_site": _("This device has no site yet. Ask an admin."),
        "no_ticket_found": _("No ticket found."),
        "check_in": _("Check in"),
        "status_valid": _("valid"),
        "status_refunded": _("refunded"),
        "status_cancelled": _("cancelled"),
    }


@bp.route("/")
def index() -> Any:
    return render_template(
        "scan/index.html",
        lang=g.ui_lang,
        languages=_languages(),
        words=words(),
        scan_asset=scan_asset,
        release=RELEASE,
    )


@bp.route("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: installed, the scanner opens at once in its language."""
    document = {
        "name": _("Hội An ticket scanner"),
        "short_name": _("Scanner"),
        "lang": g.ui_lang,
        "start_url": url_for("scan.index", lang=g.ui_lang),
        "scope": url_for("scan.index"),
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#141311",
        "theme_color": "#7a2e12",
        "icons": [
            {"src": scan_asset(f"icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png"}
            for size in (192, 512)
        ],
    }
    response = current_app.response_class(
        current_app.json.dumps(document), mimetype="application/manifest+json"
    )
    return response


@bp.route("/sw.js")
def service_worker() -> Response:
    """The service worker, at /scan/ so that its scope is the whole scanner."""
    assets = [scan_asset(name) for name in ASSET_VERSIONS]
    # ES modules import each other by plain relative URLs: those are kept too.
    modules = [url_for("scan.static", filename=n) for n in ASSET_VERSIONS if n.endswith(".js")]
    pages = [url_for("scan.index", lang=lang) for lang in _languages()]
    manifests = [url_for("scan.manifest", lang=lang) for lang in _languages()]
    body = render_template(
        "scan/sw.js",
        release=RELEASE,
        precache=[url_for("scan.index"), *pages, *manifests, *assets, *modules],
    )
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("scan.index")
    return response
