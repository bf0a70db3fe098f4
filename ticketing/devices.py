"""Inspector devices as gates: each is enrolled for one site, paired with a one-time code, moved
or revoked by an admin (the tokens and codes themselves are app.auth's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.auth import services as auth
from app.auth.models import InspectorDevice
from app.auth.services import IssuedPairing, IssuedToken
from app.errors import ValidationFailed
from ticketing import services


def site_id_for(slug: str) -> int:
    """The id of a site a gate can be at; 422 `unknown_site` for any other slug."""
    site_id = services.catalogue_rules().site_ids.get(slug)
    if site_id is None:
        raise ValidationFailed(
            f"unknown site {slug[:80]!r}", reason="unknown_site", errors={"site": ["unknown"]}
        )
    return site_id


def enroll(
    *, name: str, site: str | None, enrolled_by_id: int | None, ttl_days: int
) -> tuple[InspectorDevice, IssuedToken]:
    """Enroll a device for a site and hand its token back at once (API clients)."""
    return auth.enroll_device(
        name=name,
        enrolled_by_id=enrolled_by_id,
        ttl_days=ttl_days,
        site_id=site_id_for(site) if site else None,
    )


def enroll_for_pairing(
    *, name: str, site: str, enrolled_by_id: int | None, minutes: int
) -> IssuedPairing:
    """Enroll a device for a site and give it a pairing code (the console: the phone scans it)."""
    device = auth.create_device(name=name, enrolled_by_id=enrolled_by_id, site_id=site_id_for(site))
    return auth.start_pairing(device_id=device.id, created_by_id=enrolled_by_id, minutes=minutes)


def move(*, device_id: int, site: str) -> InspectorDevice:
    """Bind a device to another site (gate)."""
    return auth.set_device_site(device_id=device_id, site_id=site_id_for(site))


def device_view(device: InspectorDevice) -> dict[str, Any]:
    """A device as the API and the console show it."""
    return {
        "id": device.id,
        "name": device.name,
        "active": device.active,
        "site": services.catalogue_rules().site_slugs.get(device.site_id)
        if device.site_id is not None
        else None,
        "site_assigned_at": device.site_assigned_at,
        "created_at": device.created_at,
        "revoked_at": device.revoked_at,
    }


def pairing_view(issued: IssuedPairing) -> dict[str, Any]:
    return {
        "device": device_view(issued.device),
        "code": issued.code,
        "expires_at": issued.expires_at,
    }


def paired_view(device: InspectorDevice, issued: IssuedToken) -> dict[str, Any]:
    return {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_at": datetime.fromisoformat(issued.expires_at_iso),
        "device": device_view(device),
    }
