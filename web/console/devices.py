"""Gates' scanner phones (admins): enroll a device for a site, show its one-time pairing code
(a QR code the scanner reads, and the short code to type), pair it again, move it to another
site, revoke it. The same services and schemas as the JSON API (POST /api/v1/devices...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from app.auth import services as auth_services
from app.auth.services import IssuedPairing
from app.i18n import N_, _, ui_language
from ticketing import checkin, devices, services
from ticketing.schemas import DeviceCreateSchema, DeviceUpdateSchema
from web.console.access import bp, menu_item, staff, staff_page
from web.console.auth import qr_svg
from web.console.home import site_names

menu_item("devices_page", N_("Devices"), "admin")

#: The pairing code just made, kept in the signed session only until its page shows it once.
SESSION_PAIRING = "console_pairing"


def _gate_sites() -> list[tuple[str, str]]:
    """(slug, name) of every site a ticket admits to: where gates stand, by name."""
    rules = services.catalogue_rules()
    slugs = sorted({slug for sites in rules.product_sites.values() for slug in sites})
    names = site_names({rules.site_ids[slug] for slug in slugs}, ui_language())
    return sorted(((slug, names[rules.site_ids[slug]]) for slug in slugs), key=lambda s: s[1])


def _page(
    *, error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> Any:
    rules = services.catalogue_rules()
    rows = auth_services.list_devices()
    site_ids = {row.site_id for row in rows if row.site_id is not None}
    today = services.local_today()
    names = site_names(site_ids, ui_language())
    return (
        render_template(
            "console/devices.html",
            devices=[devices.device_view(row) for row in rows],
            names={rules.site_slugs[sid]: name for sid, name in names.items()},
            occupancy={
                rules.site_slugs[sid]: checkin.site_occupancy(site_id=sid, day=today)
                for sid in sorted(site_ids)
            },
            sites=_gate_sites(),
            error=error,
            form=form or {},
        ),
        status,
    )


@bp.route("/devices")
@staff_page("admin")
def devices_page() -> Any:
    return _page()


def _show_pairing(issued: IssuedPairing) -> WerkzeugResponse:
    # Post-redirect-get without the code in a URL: it waits in the signed session, shown once.
    session[SESSION_PAIRING] = {
        "device": issued.device.id,
        "code": issued.code,
        "expires_at": issued.expires_at.isoformat(),
    }
    return redirect(url_for("console.device_pairing_page", device_id=issued.device.id))


def _by_admin() -> int | None:
    principal = staff()
    return principal.user_id if principal else None


@bp.route("/devices", methods=["POST"])
@staff_page("admin")
def device_enroll() -> Any:
    form = {"name": request.form.get("name", "").strip(), "site": request.form.get("site", "")}
    try:
        data = DeviceCreateSchema().load({k: v for k, v in form.items() if v})
    except ValidationError as exc:
        fields = ", ".join(sorted(exc.messages_dict))
        return _page(
            error=_("Check these fields: %(fields)s", fields=fields), form=form, status=422
        )
    if "site" not in data:
        return _page(error=_("Choose the site this device scans at."), form=form, status=422)
    issued = devices.enroll_for_pairing(
        name=data["name"],
        site=data["site"],
        enrolled_by_id=_by_admin(),
        minutes=current_app.config["DEVICE_PAIRING_MINUTES"],
    )
    flash(_("Device %(name)s enrolled. Pair the phone now.", name=data["name"]), "ok")
    return _show_pairing(issued)


@bp.route("/devices/<int:device_id>/pairing", methods=["POST"])
@staff_page("admin")
def device_pair_again(device_id: int) -> WerkzeugResponse:
    issued = auth_services.start_pairing(
        device_id=device_id,
        created_by_id=_by_admin(),
        minutes=current_app.config["DEVICE_PAIRING_MINUTES"],
    )
    return _show_pairing(issued)


@bp.route("/devices/<int:device_id>/pairing")
@staff_page("admin")
def device_pairing_page(device_id: int) -> Any:
    shown = session.get(SESSION_PAIRING)
    pairing = None
    if shown and shown.get("device") == device_id:
        session.pop(SESSION_PAIRING, None)
        link = url_for("scan.index", _external=True) + "#pair=" + shown["code"]
        pairing = {
            "code": shown["code"],
            "expires_at": datetime.fromisoformat(shown["expires_at"]),
            "qr": qr_svg(link),
        }
    device = next((d for d in auth_services.list_devices() if d.id == device_id), None)
    if device is None:
        return render_template("console/error.html", status=404, message=_("No such device.")), 404
    return render_template(
        "console/device_pairing.html", device=devices.device_view(device), pairing=pairing
    )


@bp.route("/devices/<int:device_id>/site", methods=["POST"])
@staff_page("admin")
def device_move(device_id: int) -> Any:
    try:
        data = DeviceUpdateSchema().load({"site": request.form.get("site", "")})
    except ValidationError:
        return _page(error=_("Choose the site this device scans at."), status=422)
    device = devices.move(device_id=device_id, site=data["site"])
    flash(_("Device %(name)s now scans at another site.", name=device.name), "ok")
    return redirect(url_for("console.devices_page"))


@bp.route("/devices/<int:device_id>/revoke", methods=["POST"])
@staff_page("admin")
def device_revoke(device_id: int) -> WerkzeugResponse:
    device = auth_services.revoke_device(device_id=device_id)
    flash(_("Device %(name)s revoked: it can no longer scan.", name=device.name), "ok")
    return redirect(url_for("console.devices_page"))
