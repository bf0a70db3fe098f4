"""Products, orders, tickets and their QR codes, and check-in at the gates."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.apidoc import BINARY, OPTIONAL_BEARER, error_responses
from app.auth import services as auth_services
from app.auth.access import BEARER, current_principal, public_write, require_roles
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.http_cache import cached_public_read
from app.i18n import requested_language
from app.ratelimit import rate_limited
from content.cache import catalogue_version
from ticketing import checkin, devices, presenters, qr, services
from ticketing.models import CheckinScan, Order, ScanDirection, Ticket
from ticketing.schemas import (
    AnnulInSchema,
    AnnulResultSchema,
    CashPaymentSchema,
    CashReceiptSchema,
    ConflictArgsSchema,
    ConflictSchema,
    DeviceCreateSchema,
    DeviceSchema,
    DeviceUpdateSchema,
    DisputeSchema,
    EnrolledDeviceSchema,
    EntriesArgsSchema,
    EntryArgsSchema,
    EntryPageSchema,
    GateStatusSchema,
    KeyListSchema,
    NoteSchema,
    OccupancySchema,
    OrderCreateSchema,
    OrderSchema,
    OrderTokenArgsSchema,
    PairedSchema,
    PairingInSchema,
    PairingSchema,
    PairInSchema,
    ProductListArgsSchema,
    ProductListSchema,
    RefundResultSchema,
    RefundSchema,
    ResolveSchema,
    RevocationArgsSchema,
    RevocationPageSchema,
    ScanInSchema,
    ScanResultSchema,
    SearchArgsSchema,
    SearchResultSchema,
    SiteEntriesSchema,
    SyncInSchema,
    SyncResultSchema,
    TicketSchema,
)
from ticketing.verify import FORMAT_VERSION, format_serial

blp = Blueprint(
    "ticketing", __name__, url_prefix="/api/v1", description="Tickets, orders and check-in"
)


SLUG = "<string(maxlength=80):slug>"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{8,100}$")
_REPLAYED = "Idempotent-Replayed"
_FINANCE = ("finance",)  # admins always may
_IDEMPOTENCY_DOC = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 8, "maxLength": 100},
    "description": "Same key and body: the same order again; same key, other body: 409",
}


# --- products ---------------------------------------------------------------------------------


@blp.route("/products")
@cached_public_read(catalogue_version)
@blp.arguments(ProductListArgsSchema, location="query")
@blp.response(200, ProductListSchema)
def product_list(args: dict[str, Any]) -> dict[str, Any]:
    """Ticket products: price per tier, how many sites, which sites, validity."""
    requested = requested_language()
    g.content_language = requested
    return {"items": [presenters.product_view(p, requested) for p in services.list_products()]}


# --- orders -----------------------------------------------------------------------------------


def _order_token() -> str | None:
    token = request.args.get("token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _readable_order(code: str) -> tuple[Order, str | None]:
    """The order for a finance or admin caller, or for the holder of its access token."""
    principal = current_principal()
    if principal is not None and principal.roles & {"finance", "admin"}:
        return services.get_order(code=code), None
    token = _order_token()
    if token is None:
        raise Unauthorized("send the order's access token (Bearer or ?token=)")
    order = services.order_for_token(code=code, token=token)
    if order is None:
        raise NotFound("no such order for this token")
    return order, token


@blp.route("/orders", methods=["POST"])
@rate_limited("ORDER_RATE_LIMIT")
@public_write
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
@error_responses(
    blp,
    409,
    422,
    429,
    503,
    reasons={
        409: ("idempotency_key_reused", "sold_out"),
        422: (
            "invalid_idempotency_key",
            "payment_method_unavailable",
            "unknown_product",
            "not_sellable",
            "too_many_tickets",
            "mixed_currencies",
        ),
        503: ("signing_key_unavailable", "stripe_unavailable", "stripe_not_configured"),
    },
)
@blp.doc(parameters=[_IDEMPOTENCY_DOC])
def order_create(body: dict[str, Any]) -> Any:
    """Order tickets; prices come from the products. Pay with the instructions in `payment`."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 8 to 100 printable ASCII characters",
            reason="invalid_idempotency_key",
        )
    created = services.create_order(
        items=body["items"],
        email=body["email"],
        payment_method=body["payment_method"],
        language=body.get("language") or requested_language(),
        idempotency_key=key,
    )
    token = created.access_token
    view = presenters.order_view(created.order, token=token, access_token=token)
    return view, 201, ({_REPLAYED: "true"} if created.replayed else {})


@blp.route("/orders/<code>")
@blp.arguments(OrderTokenArgsSchema, location="query")
@blp.response(200, OrderSchema)
@error_responses(blp, 401, 404)
@blp.doc(security=OPTIONAL_BEARER)
def order_detail(args: dict[str, Any], code: str) -> dict[str, Any]:
    """An order and, once paid, its tickets (order access token, or finance)."""
    order, token = _readable_order(code)
    return presenters.order_view(order, token=token)


@blp.route("/orders/<code>/cash", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(CashPaymentSchema)
@blp.response(200, CashReceiptSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    409,
    422,
    503,
    reasons={
        409: ("not_a_cash_order", "order_expired"),
        422: ("insufficient_amount", "wrong_amount"),
        503: ("payment_method_unavailable", "signing_key_unavailable"),
    },
)
@blp.doc(security=BEARER)
def order_pay_cash(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Take cash for a pending order at the desk: issues its tickets (finance)."""
    order, change = services.pay_cash(code=code, amount_received=body["amount_received"])
    return {**presenters.order_view(order, token=None), "change": change}


@blp.route("/orders/<code>/cancel", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(NoteSchema)
@blp.response(200, OrderSchema)
@error_responses(blp, 401, 403, 404, 409)
@blp.doc(security=BEARER)
def order_cancel(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Cancel an order that is not paid (finance)."""
    return presenters.order_view(services.cancel_order(code=code, note=body["note"]), token=None)


@blp.route("/orders/<code>/refund", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(RefundSchema)
@blp.response(200, RefundResultSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    409,
    422,
    503,
    reasons={
        409: (
            "ticket_used",
            "not_refundable",
            "nothing_to_refund",
            "refund_failed",
            "refund_exceeds_payment",
            "stripe_refused",
            "idempotency_conflict",
        ),
        422: ("not_refundable", "invalid_serial"),
        503: ("payment_method_unavailable", "stripe_unavailable", "stripe_not_configured"),
    },
)
@blp.doc(security=BEARER)
def order_refund(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Refund unused tickets, all or some; their codes are revoked at once (finance)."""
    order, amount = services.refund_order(code=code, serials=body.get("tickets"), note=body["note"])
    return {**presenters.order_view(order, token=None), "refund_amount": amount}


@blp.route("/orders/<code>/dispute", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(DisputeSchema)
@blp.response(200, OrderSchema)
@error_responses(blp, 401, 403, 404, 409)
@blp.doc(security=BEARER)
def order_dispute(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Record a contested payment: opened (tickets refused as unpaid), won, or lost (finance)."""
    order = services.record_dispute(code=code, outcome=body["outcome"], note=body["note"])
    return presenters.order_view(order, token=None)


# --- tickets ----------------------------------------------------------------------------------


def readable_ticket(serial: str) -> Ticket:
    """The ticket for a finance or admin caller, or for the holder of its order's token."""
    ticket = services.get_ticket(serial=serial)
    principal = current_principal()
    if principal is not None and principal.roles & {"finance", "admin"}:
        return ticket
    token = _order_token()
    if token is None:
        raise Unauthorized("send the order's access token (Bearer or ?token=)")
    if services.order_for_token(code=ticket.order.code, token=token) is None:
        raise NotFound("no such ticket for this token")
    return ticket


def _qr_response(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    # The image is the ticket itself: no cache, shared or the browser's, keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/tickets/<serial>/qr.svg")
@blp.arguments(OrderTokenArgsSchema, location="query")
@blp.response(200, BINARY, content_type="image/svg+xml", description="The ticket's QR code")
@error_responses(blp, 401, 404, reasons={404: ("revoked", "invalid_serial")})
@blp.doc(security=OPTIONAL_BEARER)
def ticket_qr_svg(args: dict[str, Any], serial: str) -> Response:
    """The ticket's QR code as SVG (order access token, or finance)."""
    ticket = _valid_code(readable_ticket(serial))
    return _qr_response(qr.svg(ticket.code), "image/svg+xml")


@blp.route("/tickets/<serial>/qr.png")
@blp.arguments(OrderTokenArgsSchema, location="query")
@blp.response(200, BINARY, content_type="image/png", description="The ticket's QR code")
@error_responses(blp, 401, 404, reasons={404: ("revoked", "invalid_serial")})
@blp.doc(security=OPTIONAL_BEARER)
def ticket_qr_png(args: dict[str, Any], serial: str) -> Response:
    """The ticket's QR code as PNG (order access token, or finance)."""
    ticket = _valid_code(readable_ticket(serial))
    return _qr_response(qr.png(ticket.code), "image/png")


def _valid_code(ticket: Ticket) -> Ticket:
    if ticket.status != "valid":
        raise NotFound(
            f"ticket {format_serial(ticket.serial)} is {ticket.status}", reason="revoked"
        )
    return ticket


@blp.route("/tickets/<serial>/reissue", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(NoteSchema)
@blp.response(200, TicketSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    409,
    503,
    reasons={
        404: ("invalid_serial",),
        409: ("too_many_reissues",),
        503: ("signing_key_unavailable",),
    },
)
@blp.doc(security=BEARER)
def ticket_reissue(body: dict[str, Any], serial: str) -> dict[str, Any]:
    """Give a ticket a new code; the old one is revoked, its entries are kept (finance)."""
    ticket = services.reissue_ticket(serial=serial, note=body["note"])
    return presenters.ticket_view(ticket, token=None)


@blp.route("/tickets/<serial>/cancel", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(NoteSchema)
@blp.response(200, TicketSchema)
@error_responses(blp, 401, 403, 404, 409, reasons={404: ("invalid_serial",)})
@blp.doc(security=BEARER)
def ticket_cancel(body: dict[str, Any], serial: str) -> dict[str, Any]:
    """Void a ticket without refund; its codes are revoked everywhere (finance)."""
    ticket = services.cancel_ticket(serial=serial, note=body["note"])
    return presenters.ticket_view(ticket, token=None)


# --- check-in ---------------------------------------------------------------------------------


def _gate() -> checkin.Gate:
    """The scanning gate: an enrolled device, or an admin (inspector accounts use devices)."""
    principal = current_principal()
    assert principal is not None  # require_roles ran
    if principal.device_id is not None:
        return checkin.Gate(
            actor=f"device:{principal.device_id}",
            device_id=principal.device_id,
            site_id=principal.site_id,
            site_assigned_at=principal.site_assigned_at,
        )
    if "admin" in principal.roles and principal.user_id is not None:
        return checkin.Gate(actor=f"user:{principal.user_id}", user_id=principal.user_id)
    raise Forbidden(
        "scans come from enrolled inspector devices (or admins)", reason="device_required"
    )


def _scan(data: dict[str, Any]) -> checkin.Scan:
    return checkin.Scan(
        site=data["site"],
        nonce=data["nonce"],
        scanned_at=data["scanned_at"],
        code=data.get("secret"),
        serial=data.get("serial"),
        # An annulled offline check-in admitted nobody in the end.
        admitted=data.get("admitted", True) and data.get("annulled_at") is None,
        direction=ScanDirection(data["direction"]),
        annulled_at=data.get("annulled_at"),
    )


@blp.route("/checkin/redeem", methods=["POST"])
@require_roles("inspector")
@blp.arguments(ScanInSchema)
@blp.response(200, ScanResultSchema)
@error_responses(blp, 401, 403, 422, reasons={403: ("device_required",), 422: ("unknown_site",)})
@blp.doc(security=BEARER)
def checkin_redeem(body: dict[str, Any]) -> Any:
    """Verify a code and record the entry atomically; the verdict is in `status` and `reason`.

    Refusals are answered with 200 too: the scan is recorded, and a repeated nonce gets the
    same answer (with the header Idempotent-Replayed); a nonce reused for another scan (other
    site, code or direction) is a 409 `nonce_reused`. A device enrolled for another site gets
    `wrong_site` with the detail `device_site`. With `direction: exit` the scan marks the
    visitor's entry here as left (`not_entered`, `already_exited` otherwise).
    """
    answer, replayed = checkin.redeem(gate=_gate(), scan=_scan(body))
    return answer, 200, ({_REPLAYED: "true"} if replayed else {})


@blp.route("/checkin/sync", methods=["POST"])
@require_roles("inspector")
@blp.arguments(SyncInSchema)
@blp.response(200, SyncResultSchema)
@error_responses(
    blp,
    401,
    403,
    409,
    422,
    reasons={403: ("device_required",), 409: ("nonce_reused",), 422: ("unknown_site",)},
)
@blp.doc(security=BEARER)
def checkin_sync(body: dict[str, Any]) -> dict[str, Any]:
    """Upload scans made offline; each gets its answer, and rule breaks are named conflicts.

    Send `sent_at` (the device's clock now): a clock off by more than a minute has the scans'
    times corrected, and `clock_offset_s` says by how much."""
    return checkin.sync(
        gate=_gate(), scans=[_scan(item) for item in body["scans"]], sent_at=body.get("sent_at")
    )


@blp.route("/checkin/annul", methods=["POST"])
@require_roles("inspector")
@blp.arguments(AnnulInSchema)
@blp.response(200, AnnulResultSchema)
@error_responses(blp, 401, 403, 404, 409, 422)
@blp.doc(security=BEARER)
def checkin_annul(body: dict[str, Any]) -> dict[str, Any]:
    """Undo this device's own check-in (by its nonce) within CHECKIN_ANNUL_MINUTES of the entry:
    the ticket may enter this site again and its quota is restored; audited."""
    return checkin.annul(
        gate=_gate(), nonce=body["nonce"], minutes=current_app.config["CHECKIN_ANNUL_MINUTES"]
    )


@blp.route("/checkin/gate")
@require_roles("inspector")
@blp.response(200, GateStatusSchema)
@error_responses(blp, 401, 403, 409)
@blp.doc(security=BEARER)
def checkin_gate() -> dict[str, Any]:
    """The calling device's gate: its site, today's entries there (and its own), exits and
    occupancy, and the server's clock (scanners measure their clock's offset with it)."""
    gate = _gate()
    if gate.device_id is None:
        raise Forbidden("this is a device's own view", reason="device_required")
    return checkin.gate_status(gate=gate, minutes=current_app.config["CHECKIN_ANNUL_MINUTES"])


@blp.route("/checkin/entries")
@require_roles("inspector")
@blp.arguments(EntryArgsSchema, location="query")
@blp.response(200, EntryPageSchema)
@error_responses(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def checkin_entries(args: dict[str, Any]) -> dict[str, Any]:
    """Entries of the last week (at `site`, or everywhere), after the cursor: a gate keeps its
    own to refuse a second entry offline; `flask tickets verify` reads them from a file."""
    items, cursor = checkin.recent_entries(
        site=args.get("site"), after=args["after"], limit=args["limit"]
    )
    return {"items": items, "cursor": cursor, "more": len(items) == args["limit"]}


@blp.route("/checkin/keys")
@blp.response(200, KeyListSchema)
def checkin_keys() -> dict[str, Any]:
    """Public keys that verify ticket codes offline, by key id (retired ones marked)."""
    return {
        "format": FORMAT_VERSION,
        "keys": [presenters.key_view(key) for key in services.list_keys()],
    }


@blp.route("/checkin/revocations")
@require_roles("inspector")
@blp.arguments(RevocationArgsSchema, location="query")
@blp.response(200, RevocationPageSchema)
@error_responses(blp, 401, 403)
@blp.doc(security=BEARER)
def checkin_revocations(args: dict[str, Any]) -> dict[str, Any]:
    """Revoked codes since the cursor (serial, and the generations revoked)."""
    rows, cursor = services.list_revocations(since=args["since"], limit=args["limit"])
    return {
        "items": [presenters.revocation_view(row) for row in rows],
        "cursor": cursor,
        "more": len(rows) == args["limit"],
    }


@blp.route("/checkin/search")
@require_roles("inspector")
@blp.arguments(SearchArgsSchema, location="query")
@blp.response(200, SearchResultSchema)
@error_responses(blp, 401, 403)
@blp.doc(security=BEARER)
def checkin_search(args: dict[str, Any]) -> dict[str, Any]:
    """Find tickets by order code or serial, for a code too damaged to scan (then redeem by
    serial)."""
    return {
        "items": [
            {**presenters.ticket_view(ticket, token=None), "code": None}
            for ticket in services.search_tickets(query=args["q"])
        ]
    }


def _conflict_view(row: CheckinScan) -> dict[str, Any]:
    ticket = row.response.get("ticket") or {}
    return {
        "id": row.id,
        "conflict": row.conflict,
        "site": row.response.get("site"),
        "serial": ticket.get("serial"),
        "device_id": row.device_id,
        "nonce": row.nonce,
        "scanned_at": row.scanned_at,
        "received_at": row.received_at,
        "reason": row.reason,
        "resolved_at": row.resolved_at,
        "resolution_note": row.resolution_note,
    }


@blp.route("/checkin/conflicts")
@require_roles("finance", "manager")
@blp.arguments(ConflictArgsSchema, location="query")
@blp.response(200, ConflictSchema(many=True))
@error_responses(blp, 401, 403)
@blp.doc(security=BEARER)
def checkin_conflicts(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Offline admissions that broke a rule (double entry, over quota, ...), for managers."""
    rows = checkin.list_conflicts(
        site=args.get("site"),
        unresolved=args["unresolved"],
        after=args["after"],
        limit=args["limit"],
    )
    return [_conflict_view(row) for row in rows]


@blp.route("/checkin/conflicts/<int:scan_id>/resolve", methods=["POST"])
@require_roles("finance")
@blp.arguments(ResolveSchema)
@blp.response(200, ConflictSchema)
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def checkin_conflict_resolve(body: dict[str, Any], scan_id: int) -> dict[str, Any]:
    """Mark a conflict as dealt with, saying how (managers)."""
    principal = current_principal()
    row = checkin.resolve_conflict(
        scan_id=scan_id, user_id=principal.user_id if principal else None, note=body["note"]
    )
    return _conflict_view(row)


@blp.route(f"/sites/{SLUG}/entries")
@require_roles("finance", "inspector", "manager")
@blp.arguments(EntriesArgsSchema, location="query")
@blp.response(200, SiteEntriesSchema)
@error_responses(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
def site_entries(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Entries at a site today (or on `date`) and by local hour: the visitor flow."""
    return checkin.site_entries(slug=slug, day=args.get("date") or services.local_today())


@blp.route(f"/sites/{SLUG}/occupancy")
@require_roles("finance", "inspector", "manager")
@blp.arguments(EntriesArgsSchema, location="query")
@blp.response(200, OccupancySchema)
@error_responses(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
def site_occupancy(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Entries, exits (scanned in exit mode) and occupancy (entries minus exits) at a site
    today, or on `date`."""
    return checkin.occupancy(slug=slug, day=args.get("date") or services.local_today())


# --- inspector devices (gates) ----------------------------------------------------------------


@blp.route("/devices")
class DevicesView(MethodView):
    @require_roles("admin")
    @blp.response(200, DeviceSchema(many=True))
    @error_responses(blp, 401, 403)
    @blp.doc(security=BEARER, operationId="listDevices")
    def get(self) -> list[dict[str, Any]]:
        """Every enrolled inspector device with its site (admin)."""
        return [devices.device_view(device) for device in auth_services.list_devices()]

    @require_roles("admin")
    @blp.arguments(DeviceCreateSchema)
    @blp.response(201, EnrolledDeviceSchema)
    @error_responses(blp, 401, 403, 422)
    @blp.doc(security=BEARER, operationId="enrollDevice")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Enroll a scanner device for a site; its token is returned once (admin). The scanner
        app pairs instead: POST /devices/pairing gives a one-time code."""
        principal = current_principal()
        device, issued = devices.enroll(
            name=body["name"],
            site=body.get("site"),
            enrolled_by_id=principal.user_id if principal else None,
            ttl_days=current_app.config["DEVICE_TOKEN_TTL_DAYS"],
        )
        return {
            **devices.device_view(device),
            "access_token": issued.token,
            "expires_at": issued.expires_at_iso,
        }


# One rule for both methods: with two, an id out of range would answer 405 for the other
# method's rule instead of 404.
@blp.route("/devices/<int:device_id>")
class DeviceView(MethodView):
    @require_roles("admin")
    @blp.arguments(DeviceUpdateSchema)
    @blp.response(200, DeviceSchema)
    @error_responses(blp, 401, 403, 404, 409, 422)
    @blp.doc(security=BEARER, operationId="deviceMove")
    def patch(self, body: dict[str, Any], device_id: int) -> dict[str, Any]:
        """Bind a device to another site (admin)."""
        return devices.device_view(devices.move(device_id=device_id, site=body["site"]))

    @require_roles("admin")
    @blp.response(200, DeviceSchema)
    @error_responses(blp, 401, 403, 404)
    @blp.doc(security=BEARER, operationId="deviceRevoke")
    def delete(self, device_id: int) -> dict[str, Any]:
        """Revoke a device and its tokens (admin)."""
        return devices.device_view(auth_services.revoke_device(device_id=device_id))


@blp.route("/devices/pairing", methods=["POST"])
@require_roles("admin")
@blp.arguments(PairingInSchema)
@blp.response(201, PairingSchema)
@error_responses(blp, 401, 403, 404, 409)
@blp.doc(security=BEARER)
def device_pairing(body: dict[str, Any]) -> dict[str, Any]:
    """A new one-time pairing code for an enrolled device (admin); it works once, for
    DEVICE_PAIRING_MINUTES, and replaces any earlier code of the device."""
    principal = current_principal()
    issued = auth_services.start_pairing(
        device_id=body["device"],
        created_by_id=principal.user_id if principal else None,
        minutes=current_app.config["DEVICE_PAIRING_MINUTES"],
    )
    return devices.pairing_view(issued)


@blp.route("/devices/pair", methods=["POST"])
@rate_limited("LOGIN_RATE_LIMIT")
@public_write
@blp.arguments(PairInSchema)
@blp.response(201, PairedSchema)
@error_responses(
    blp,
    404,
    409,
    422,
    429,
    reasons={404: ("pairing_unknown",), 409: ("pairing_used", "pairing_expired", "device_revoked")},
)
def device_pair(body: dict[str, Any]) -> dict[str, Any]:
    """The scanner exchanges a pairing code for its device token (once): `pairing_unknown`,
    `pairing_used`, `pairing_expired` or `device_revoked` otherwise. The device's older tokens
    are revoked."""
    device, issued = auth_services.complete_pairing(
        code=body["code"], ttl_days=current_app.config["DEVICE_TOKEN_TTL_DAYS"]
    )
    return devices.paired_view(device, issued)
