"""Check-in at the gates: redeem online, offline scans uploaded later, conflicts, visitor counts.

Every rule of entry is decided under a lock on the ticket's row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite, where every write request starts with BEGIN IMMEDIATE, the database
write lock), and the
database backs the two rules that must never break: one entry per ticket and site (a unique
constraint) and no more sites than the ticket admits to (a check constraint on its counter).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app import audit
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from content.models import SiteText
from ticketing import services
from ticketing.models import (
    CheckinScan,
    ConflictKind,
    Order,
    ScanDirection,
    ScanMode,
    Ticket,
    TicketEntry,
    TicketRevocation,
    TicketStatus,
)
from ticketing.verify import (
    InvalidCode,
    Reason,
    TicketClaims,
    evaluate,
    format_serial,
    parse_serial,
)

#: How far ahead of the server's clock an offline scan's time may be before it is refused.
CLOCK_TOLERANCE = timedelta(minutes=5)
#: A device clock further off than this when it uploads offline scans has its scans' times
#: corrected by the offset; closer, the difference is the upload's own delay and is left alone.
CLOCK_CORRECTION_THRESHOLD = timedelta(seconds=60)
#: Entries a gate downloads to refuse a second entry offline: those of the last week.
RECENT_ENTRIES = timedelta(days=7)

MESSAGES: dict[Reason, str] = {
    Reason.OK: "Admit.",
    Reason.INVALID: "Not a valid ticket code.",
    Reason.REVOKED: "This ticket was refunded, cancelled or replaced by a newer code.",
    Reason.EXPIRED: "This ticket is no longer valid.",
    Reason.NOT_YET_VALID: "This ticket is not valid yet.",
    Reason.WRONG_SITE: "This ticket does not cover this site.",
    Reason.ALREADY_REDEEMED: "This ticket already entered this site.",
    Reason.QUOTA_EXHAUSTED: "This ticket has used all the sites it admits to.",
    Reason.UNPAID: "This ticket's order is not paid.",
}
#: Messages that say more than their reason's, by detail.
DETAIL_MESSAGES: dict[str, str] = {
    "device_site": "This device is enrolled for another site.",
}


class ExitReason(enum.StrEnum):
    """The answer to a scan in exit mode (a visitor leaving)."""

    OK = "ok"  # the visitor's entry here is marked as left
    INVALID = "invalid"  # not a ticket we issued (the same details as at entry)
    NOT_ENTERED = "not_entered"  # the ticket has no entry at this site
    ALREADY_EXITED = "already_exited"  # its entry here was marked as left before


EXIT_MESSAGES: dict[ExitReason, str] = {
    ExitReason.OK: "Goodbye.",
    ExitReason.INVALID: "Not a valid ticket code.",
    ExitReason.NOT_ENTERED: "This ticket did not enter this site.",
    ExitReason.ALREADY_EXITED: "This ticket already left this site.",
}

_CONFLICTS: dict[Reason, ConflictKind] = {
    Reason.ALREADY_REDEEMED: ConflictKind.DOUBLE_ENTRY,
    Reason.QUOTA_EXHAUSTED: ConflictKind.OVER_QUOTA,
    Reason.REVOKED: ConflictKind.REVOKED_TICKET,
    Reason.EXPIRED: ConflictKind.OUTSIDE_VALIDITY,
    Reason.NOT_YET_VALID: ConflictKind.OUTSIDE_VALIDITY,
    Reason.WRONG_SITE: ConflictKind.WRONG_SITE,
    Reason.UNPAID: ConflictKind.UNPAID,
    Reason.INVALID: ConflictKind.INVALID_CODE,
}


@dataclass(frozen=True, slots=True)
class Gate:
    """Who scans: an enrolled inspector device, or an admin."""

    actor: str
    device_id: int | None = None
    user_id: int | None = None
    #: The site a device is enrolled for, and since when (None: it may scan anywhere).
    site_id: int | None = None
    site_assigned_at: datetime | None = None

    def bound_site(self, scanned_at: datetime | None) -> int | None:
        """The site this gate must scan for at that time (None: any); an offline scan made
        before the device was moved keeps the site it was made at."""
        if self.site_id is None:
            return None
        if scanned_at is not None and self.site_assigned_at and scanned_at < self.site_assigned_at:
            return None
        return self.site_id


@dataclass(frozen=True, slots=True)
class Scan:
    site: str
    nonce: str
    scanned_at: datetime
    code: str | None = None
    serial: str | None = None
    admitted: bool = True  # offline: whether the device let the person in
    direction: ScanDirection = ScanDirection.ENTRY
    annulled_at: datetime | None = None  # offline: the device undid its check-in at that time

    def content_hash(self) -> str:
        """What this scan is about, so that its nonce cannot be reused for another scan."""
        what = f"c:{self.code}" if self.code is not None else f"s:{_normal_serial(self.serial)}"
        return hashlib.sha256(f"{self.site}\0{self.direction}\0{what}".encode()).hexdigest()


def _normal_serial(text: str | None) -> str:
    try:
        return format_serial(parse_serial(text or ""))
    except ValueError:
        return text or ""


@dataclass(slots=True)
class _HeldTicket:
    """A ticket locked for this transaction: what the rules and the answer need, kept
    current as this transaction adds entries."""

    id: int
    serial: int
    product_id: int
    tier: str
    status: str
    generation: int
    max_sites: int
    valid_from: datetime
    valid_until: datetime
    use_window_minutes: int
    first_used_at: datetime | None
    revoked_at: datetime | None
    updated_at: datetime
    order_admits: bool
    entries: list[tuple[int, datetime]] = field(default_factory=list)  # (site id, entered at)


# The statements of a scan, built once: Core on the tables, so that a scan pays for neither
# statement construction nor the ORM's unit of work.
_TICKETS = Ticket.__table__
_ENTRIES = TicketEntry.__table__
_SCANS = CheckinScan.__table__
_LOCK_TICKETS = (
    select(
        _TICKETS.c.id,
        _TICKETS.c.serial,
        _TICKETS.c.product_id,
        _TICKETS.c.tier,
        _TICKETS.c.status,
        _TICKETS.c.generation,
        _TICKETS.c.max_sites,
        _TICKETS.c.valid_from,
        _TICKETS.c.valid_until,
        _TICKETS.c.use_window_minutes,
        _TICKETS.c.first_used_at,
        _TICKETS.c.revoked_at,
        _TICKETS.c.updated_at,
        Order.admits.label("order_admits"),
    )
    .join(Order.__table__, Order.__table__.c.id == _TICKETS.c.order_id)
    .where(_TICKETS.c.serial.in_(bindparam("serials", expanding=True)))
    .order_by(_TICKETS.c.id)
    .with_for_update(of=_TICKETS)
)
_TICKET_ENTRIES = (
    select(_ENTRIES.c.ticket_id, _ENTRIES.c.site_id, _ENTRIES.c.entered_at)
    .where(_ENTRIES.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)))
    .order_by(_ENTRIES.c.entered_at, _ENTRIES.c.id)
)
_ADD_ENTRY = insert(_ENTRIES)
# entries_count is checked against max_sites by the database: no entry over quota commits.
_COUNT_ENTRY = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("ticket"))
    .values(
        entries_count=_TICKETS.c.entries_count + 1,
        first_used_at=bindparam("first_use", type_=_TICKETS.c.first_used_at.type),
        updated_at=bindparam("now", type_=_TICKETS.c.updated_at.type),
    )
)
# SQLite: a repeated nonce from the same gate writes nothing (PostgreSQL does the same in
# _admission_statement, where it first waits for the transaction holding that nonce to end).
_ADD_SCAN_ONCE = (
    sqlite.insert(_SCANS)
    .on_conflict_do_nothing(index_elements=[_SCANS.c.actor, _SCANS.c.nonce])
    .returning(_SCANS.c.id)
)


_AUDIT = audit.AuditLog.__table__
_SCAN_COLUMNS = (
    "actor", "nonce", "device_id", "user_id", "mode", "site_id", "ticket_id", "scanned_at",
    "received_at", "admitted", "status", "reason", "conflict", "response", "direction",
    "content_hash", "clock_offset_s", "annulled_at",
)  # fmt: skip
_ENTRY_COLUMNS = (
    "ticket_id", "site_id", "entered_at", "recorded_at", "mode", "device_id", "user_id",
)  # fmt: skip
_AUDIT_COLUMNS = (
    "at", "action", "object_type", "object_id", "changes", "actor_user_id", "actor_device_id",
    "actor_label", "request_id",
)  # fmt: skip


def _params(table: Any, prefix: str, columns: Sequence[str]) -> list[Any]:
    return [bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in columns]


def _insert_for_each(
    table: Any, prefix: str, columns: Sequence[str], source: Any, *where: Any
) -> Any:
    """INSERT one row of bound values for each row of `source` (a CTE), returning its first
    primary-key-or-reference column."""
    rows = select(*_params(table, prefix, columns)).select_from(source).where(*where)
    return insert(table).from_select(list(columns), rows).returning(table.c[columns[0]])


def _admission_statement() -> Any:
    """PostgreSQL: the scan, its entry, the ticket's counter and the audit row in ONE statement
    (data-modifying CTEs), so that a gate scan is two round trips (lock, write) plus commit.

    The entry, the counter and the audit row are taken from the scan's RETURNING: when the
    nonce was used before, the scan inserts nothing and neither does the rest. `:enters` is
    false for a refusal, which then writes only the scan.
    """
    scan = (
        postgresql.insert(_SCANS)
        .values(dict(zip(_SCAN_COLUMNS, _params(_SCANS, "s_", _SCAN_COLUMNS), strict=True)))
        .on_conflict_do_nothing(index_elements=[_SCANS.c.actor, _SCANS.c.nonce])
        .returning(_SCANS.c.id)
        .cte("scan")
    )
    entry = _insert_for_each(
        _ENTRIES, "e_", _ENTRY_COLUMNS, scan, bindparam("enters", type_=Boolean)
    ).cte("entry")
    counted = (
        update(_TICKETS)
        .where(_TICKETS.c.id.in_(select(entry.c.ticket_id)))
        .values(
            entries_count=_TICKETS.c.entries_count + 1,
            first_used_at=bindparam("first_use", type_=_TICKETS.c.first_used_at.type),
            updated_at=bindparam("e_recorded_at", type_=_TICKETS.c.updated_at.type),
        )
        .returning(_TICKETS.c.id)
        .cte("counted")
    )
    audited = _insert_for_each(_AUDIT, "a_", _AUDIT_COLUMNS, entry).cte("audited")
    return select(scan.c.id).add_cte(entry, counted, audited)


_ADMIT_IN_ONE = _admission_statement()


@dataclass(frozen=True, slots=True)
class _Entry:
    """The entry a scan earned: its row, the ticket's first use after it, its audit row."""

    row: dict[str, Any]
    first_use: datetime | None
    audit: dict[str, Any]


def _scan_row(
    gate: Any,
    scan: Any,
    *,
    mode: Any,
    site_id: int,
    ticket: _HeldTicket | None,
    now: datetime,
    answer: dict[str, Any],
    admitted: bool,
    reason: str,
    conflict: Any,
    direction: str,
    clock_offset_s: Any,
    annulled_at: datetime | None,
) -> dict[str, Any]:
    """The scan's row as `_write_scan` inserts it: an entry's and an exit's alike."""
    return {
        "actor": gate.actor,
        "nonce": scan.nonce,
        "device_id": gate.device_id,
        "user_id": gate.user_id,
        "mode": mode.value,
        "site_id": site_id,
        "ticket_id": ticket.id if ticket is not None else None,
        "scanned_at": scan.scanned_at,
        "received_at": now,
        "admitted": admitted,
        "status": answer["status"],
        "reason": reason,
        "conflict": conflict,
        "response": answer,
        "direction": direction,
        "content_hash": scan.content_hash(),
        "clock_offset_s": clock_offset_s,
        "annulled_at": annulled_at,
    }


def _write_scan(scan_row: dict[str, Any], entry: _Entry | None, *, now: datetime) -> int | None:
    """Store the scan and the entry it earned, unless the gate used this nonce before (then
    nothing is written and None is returned). The scan goes first, so a replay writes nothing."""
    if db.engine.dialect.name == "postgresql":
        params: dict[str, Any] = {f"s_{k}": v for k, v in scan_row.items()}
        params["enters"] = entry is not None
        params.update({f"e_{name}": None for name in _ENTRY_COLUMNS})
        params.update({f"a_{name}": None for name in _AUDIT_COLUMNS})
        params["first_use"] = None
        if entry is not None:
            params.update({f"e_{k}": v for k, v in entry.row.items()})
            params.update({f"a_{k}": v for k, v in entry.audit.items()})
            params["first_use"] = entry.first_use
        scan_id: int | None = db.session.scalar(_ADMIT_IN_ONE, params)
        return scan_id
    scan_id = db.session.scalar(_ADD_SCAN_ONCE, scan_row)
    if scan_id is not None and entry is not None:
        db.session.execute(_ADD_ENTRY, entry.row)
        db.session.execute(
            _COUNT_ENTRY,
            {"ticket": entry.row["ticket_id"], "first_use": entry.first_use, "now": now},
        )
        audit.insert_row(entry.audit)
    return scan_id


@dataclass
class _Decision:
    reason: Reason
    detail: str | None = None
    ticket: _HeldTicket | None = None
    entries_left: int | None = None


def _site_id(slug: str, rules: services.CatalogueRules) -> int:
    site_id = rules.site_ids.get(slug)
    if site_id is None:
        raise ValidationFailed(
            f"unknown site {slug[:80]!r}", reason="unknown_site", errors={"site": ["unknown"]}
        )
    return site_id


def _identify(scan: Scan) -> tuple[TicketClaims | None, int | None, str | None]:
    """The code's claims and serial, or the detail of why it is not a genuine code."""
    if scan.code is not None:
        try:
            claims = services.decode(scan.code)
        except InvalidCode as exc:
            return None, None, exc.detail
        return claims, claims.serial, None
    try:
        return None, parse_serial(scan.serial or ""), None
    except ValueError:
        return None, None, "bad_serial"


def _lock(serials: Sequence[int]) -> dict[int, _HeldTicket]:
    """Lock tickets (in id order, so that two syncs never deadlock) with their order's status
    and their entries."""
    if not serials:
        return {}
    held = {
        row.id: _HeldTicket(**row._asdict())
        for row in db.session.execute(_LOCK_TICKETS, {"serials": sorted(set(serials))})
    }
    if not held:
        return {}
    # A statement of its own, run once the locks are held: on PostgreSQL it sees the entries
    # that the previous holder of a lock committed (a join in the locking statement would not).
    for ticket_id, site_id, entered_at in db.session.execute(
        _TICKET_ENTRIES, {"ticket_ids": list(held)}
    ):
        held[ticket_id].entries.append((site_id, entered_at))
    return {ticket.serial: ticket for ticket in held.values()}


def _revoked_at(ticket: _HeldTicket, claims: TicketClaims | None) -> datetime | None:
    """When the presented code stopped being valid, or None if it still is."""
    if ticket.status != TicketStatus.VALID.value:
        return ticket.revoked_at or ticket.updated_at
    if claims is not None and claims.generation < ticket.generation:
        return db.session.scalar(
            select(func.min(TicketRevocation.revoked_at)).where(
                TicketRevocation.ticket_id == ticket.id,
                TicketRevocation.below_generation > claims.generation,
            )
        )
    return None


def _decide(
    scan: Scan,
    *,
    site_id: int,
    claims: TicketClaims | None,
    detail: str | None,
    ticket: _HeldTicket | None,
    at: datetime,
    offline: bool,
    rules: services.CatalogueRules,
    bound_site: int | None,
) -> _Decision:
    if detail is not None:
        return _Decision(Reason.INVALID, detail=detail)
    if ticket is None:
        return _Decision(Reason.INVALID, detail="unknown_ticket")
    entered = {rules.site_slugs[site_id] for site_id, _ in ticket.entries}
    left = max(0, ticket.max_sites - len(entered))
    if bound_site is not None and bound_site != site_id:
        # A device scans for its own gate only: a phone carried to another site is refused.
        return _Decision(Reason.WRONG_SITE, detail="device_site", ticket=ticket, entries_left=left)
    if claims is not None and claims.generation > ticket.generation:
        return _Decision(Reason.INVALID, detail="unknown_generation", ticket=ticket)
    revoked_at = _revoked_at(ticket, claims)
    # Offline, a code that was valid when it was scanned was rightly admitted.
    revoked = revoked_at is not None and (not offline or revoked_at <= at)
    if not revoked and not ticket.order_admits:
        return _Decision(Reason.UNPAID, ticket=ticket, entries_left=left)
    reason, left = evaluate(
        max_sites=ticket.max_sites,
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
        use_window=(
            timedelta(minutes=ticket.use_window_minutes) if ticket.use_window_minutes else None
        ),
        first_used_at=ticket.first_used_at,
        covered_sites=rules.product_sites.get(ticket.product_id, frozenset()),
        entered_sites=entered,
        site=rules.site_slugs[site_id],
        at=at,
        revoked=revoked,
    )
    if reason is Reason.REVOKED:
        detail = "reissued" if ticket.status == TicketStatus.VALID.value else ticket.status
    return _Decision(reason, detail=detail, ticket=ticket, entries_left=left)


def _ticket_view(
    ticket: _HeldTicket,
    rules: services.CatalogueRules,
    *,
    entries: Sequence[tuple[int, datetime]],
    first_used_at: datetime | None,
) -> dict[str, Any]:
    return {
        "serial": format_serial(ticket.serial),
        "product": rules.product_slugs.get(ticket.product_id),
        "tier": ticket.tier,
        "status": ticket.status,
        "generation": ticket.generation,
        "max_sites": ticket.max_sites,
        "sites_used": [rules.site_slugs[site_id] for site_id, _ in entries],
        "entries": [
            {"site": rules.site_slugs[site_id], "at": entered_at.isoformat()}
            for site_id, entered_at in entries
        ],
        "valid_from": ticket.valid_from.isoformat(),
        "valid_until": ticket.valid_until.isoformat(),
        "first_used_at": first_used_at.isoformat() if first_used_at else None,
    }


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a decided scan does: whether the gate let the visitor in, the conflict an offline
    admission makes with the server's verdict, and the entry it earns."""

    admitted: bool
    conflict: ConflictKind | None
    enters: bool
    entered_at: datetime


def _outcome(scan: Scan, decision: _Decision, *, mode: ScanMode, now: datetime) -> _Outcome:
    ok = decision.reason is Reason.OK
    offline = mode is ScanMode.OFFLINE
    admitted = scan.admitted if offline else ok
    return _Outcome(
        admitted=admitted,
        conflict=_CONFLICTS[decision.reason] if offline and scan.admitted and not ok else None,
        enters=decision.ticket is not None and ok and admitted,
        entered_at=scan.scanned_at if offline else now,
    )


def _record(
    scan: Scan,
    gate: Gate,
    *,
    site_id: int,
    decision: _Decision,
    mode: ScanMode,
    now: datetime,
    rules: services.CatalogueRules,
    clock_offset_s: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store the scan (and the entry it earned) once per nonce; returns the answer and
    whether it repeats an earlier one."""
    ticket = decision.ticket
    outcome = _outcome(scan, decision, mode=mode, now=now)
    site_slug = rules.site_slugs[site_id]
    answer = _answer(scan, decision, outcome, site_slug=site_slug, mode=mode, now=now)
    entries: list[tuple[int, datetime]] = []
    first_used_at: datetime | None = None
    if ticket is not None:
        # The answer shows the ticket as it is once this scan is written.
        entries = (
            [*ticket.entries, (site_id, outcome.entered_at)] if outcome.enters else ticket.entries
        )
        first_used_at = ticket.first_used_at
        if outcome.enters and (first_used_at is None or outcome.entered_at < first_used_at):
            first_used_at = outcome.entered_at
        answer["ticket"] = _ticket_view(ticket, rules, entries=entries, first_used_at=first_used_at)
    entry = (
        _entry(
            ticket,
            gate,
            decision,
            outcome,
            site_id=site_id,
            site_slug=site_slug,
            mode=mode,
            now=now,
            first_use=first_used_at,
        )
        if outcome.enters and ticket is not None
        else None
    )
    scan_row = _scan_row(
        gate,
        scan,
        mode=mode,
        site_id=site_id,
        ticket=ticket,
        now=now,
        answer=answer,
        admitted=outcome.admitted,
        reason=decision.reason.value,
        conflict=answer["conflict"],
        direction=scan.direction.value,
        clock_offset_s=clock_offset_s,
        annulled_at=scan.annulled_at,
    )
    scan_id = _write_scan(scan_row, entry, now=now)
    if scan_id is None:
        return _earlier_answer(gate, scan), True
    if entry is not None and ticket is not None:
        ticket.entries, ticket.first_used_at = entries, first_used_at
    if outcome.conflict is not None:
        audit.record_now(
            action="checkin.conflict",
            object_type="checkin_scan",
            object_id=scan_id,
            changes={"conflict": outcome.conflict.value, "site": site_slug, "nonce": scan.nonce},
        )
    return answer, False


def _answer(
    scan: Scan,
    decision: _Decision,
    outcome: _Outcome,
    *,
    site_slug: str,
    mode: ScanMode,
    now: datetime,
) -> dict[str, Any]:
    """The verdict the scanner shows (the ticket is added by the caller)."""
    return {
        "status": "ok" if decision.reason is Reason.OK else "error",
        "reason": decision.reason.value,
        "detail": decision.detail,
        "message": DETAIL_MESSAGES.get(decision.detail or "", MESSAGES[decision.reason]),
        "entries_left": decision.entries_left,
        "site": site_slug,
        "nonce": scan.nonce,
        "mode": mode.value,
        "scanned_at": scan.scanned_at.isoformat(),
        "decided_at": now.isoformat(),
        "admitted": outcome.admitted,
        "conflict": outcome.conflict.value if outcome.conflict else None,
        "direction": ScanDirection.ENTRY.value,
        "annulled_at": scan.annulled_at.isoformat() if scan.annulled_at else None,
        "ticket": None,
    }


def _entry(
    ticket: _HeldTicket,
    gate: Gate,
    decision: _Decision,
    outcome: _Outcome,
    *,
    site_id: int,
    site_slug: str,
    mode: ScanMode,
    now: datetime,
    first_use: datetime | None,
) -> _Entry:
    """The entry row a scan earned, the ticket's first use after it, and its audit row."""
    return _Entry(
        row={
            "ticket_id": ticket.id,
            "site_id": site_id,
            "entered_at": outcome.entered_at,
            "recorded_at": now,
            "mode": mode.value,
            "device_id": gate.device_id,
            "user_id": gate.user_id,
        },
        first_use=first_use,
        # An offline entry happened when the gate scanned it, not when the phone uploaded it.
        audit={
            **audit.row_values(
                action="ticket.redeem",
                object_type="ticket",
                object_id=format_serial(ticket.serial),
                changes={
                    "site": site_slug,
                    "mode": mode.value,
                    "entries_left": decision.entries_left,
                    "recorded_at": now.isoformat(),
                },
            ),
            "at": outcome.entered_at,
        },
    )


def _nonce_reused(nonce: str) -> Conflict:
    return Conflict(
        f"nonce {nonce!r} was already used for another scan; send a new nonce for each scan",
        reason="nonce_reused",
        errors={"nonce": [nonce]},
    )


def _earlier_answer(gate: Gate, scan: Scan) -> dict[str, Any]:
    """The answer to this gate's earlier scan with the nonce: the same scan sent again gets it,
    another scan under the same nonce is refused (409 nonce_reused) and writes nothing."""
    row = db.session.execute(
        select(CheckinScan.response, CheckinScan.content_hash).where(
            CheckinScan.actor == gate.actor, CheckinScan.nonce == scan.nonce
        )
    ).one()
    if row.content_hash is not None and row.content_hash != scan.content_hash():
        raise _nonce_reused(scan.nonce)
    return dict(row.response)


def redeem(*, gate: Gate, scan: Scan) -> tuple[dict[str, Any], bool]:
    """Decide a scan at the gate now and record the entry atomically.

    Returns the answer and whether it repeats the answer to an earlier scan with this nonce.
    """
    rules = services.catalogue_rules()
    site_id = _site_id(scan.site, rules)
    claims, serial, detail = _identify(scan)
    ticket = _lock([serial]).get(serial) if serial is not None and detail is None else None
    now = utcnow()
    if scan.direction is ScanDirection.EXIT:
        return _exit(
            scan,
            gate,
            site_id=site_id,
            detail=detail,
            ticket=ticket,
            mode=ScanMode.ONLINE,
            now=now,
            rules=rules,
        )
    decision = _decide(
        scan,
        site_id=site_id,
        claims=claims,
        detail=detail,
        ticket=ticket,
        at=now,
        offline=False,
        rules=rules,
        bound_site=gate.bound_site(None),
    )
    return _record(
        scan, gate, site_id=site_id, decision=decision, mode=ScanMode.ONLINE, now=now, rules=rules
    )


def _clock_offset(sent_at: datetime | None, now: datetime) -> timedelta:
    """How far the device's clock is behind ours (negative: ahead), measured as its batch
    arrives; zero when within the threshold (the upload's own delay)."""
    if sent_at is None:
        return timedelta(0)
    offset = now - sent_at
    return offset if abs(offset) > CLOCK_CORRECTION_THRESHOLD else timedelta(0)


def _corrected(scan: Scan, offset: timedelta) -> Scan:
    if not offset:
        return scan
    return replace(
        scan,
        scanned_at=scan.scanned_at + offset,
        annulled_at=scan.annulled_at + offset if scan.annulled_at else None,
    )


def _earlier_scans(gate: Gate, scans: Sequence[Scan]) -> dict[str, dict[str, Any]]:
    """This gate's earlier answers to these nonces; 409 nonce_reused if one came with other
    content, or if the batch itself holds one nonce for two scans (nothing is written)."""
    hashes: dict[str, str] = {}
    for scan in scans:
        if hashes.setdefault(scan.nonce, scan.content_hash()) != scan.content_hash():
            raise _nonce_reused(scan.nonce)
    earlier: dict[str, dict[str, Any]] = {}
    for nonce, response, content_hash in db.session.execute(
        select(CheckinScan.nonce, CheckinScan.response, CheckinScan.content_hash).where(
            CheckinScan.actor == gate.actor, CheckinScan.nonce.in_(set(hashes))
        )
    ):
        if content_hash is not None and content_hash != hashes[nonce]:
            raise _nonce_reused(nonce)
        earlier[nonce] = dict(response)
    return earlier


#: The PostgreSQL advisory lock a sync holds to its commit (migration 0018_rollups): a sync
#: writes many entries in one transaction, and two of them could take the visitor rollups'
#: rows in different orders and deadlock. Online scans write one entry and never take it.
SYNC_LOCK = 1_800_180


def _one_sync_at_a_time() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(SYNC_LOCK)))


def sync(*, gate: Gate, scans: Sequence[Scan], sent_at: datetime | None) -> dict[str, Any]:
    """Record scans decided offline, in the order they happened; rule breaks become conflicts.

    `sent_at` is the device's clock when it sent the batch: a clock found off by more than
    CLOCK_CORRECTION_THRESHOLD has every scan's time corrected by the offset, and the
    correction is kept with each scan and in the audit log. Returns one answer per scan, in
    the order given, the number of conflicts, and the correction applied.
    """
    rules = services.catalogue_rules()
    site_ids = {scan.site: rules.site_ids.get(scan.site) for scan in scans}
    unknown = [slug for slug, site_id in site_ids.items() if site_id is None]
    if unknown:
        raise ValidationFailed(
            f"unknown sites: {', '.join(sorted(set(unknown)))[:200]}",
            reason="unknown_site",
            errors={"scans": [f"unknown site {slug!r}" for slug in sorted(set(unknown))]},
        )
    earlier = _earlier_scans(gate, scans)
    now = utcnow()
    offset = _clock_offset(sent_at, now)
    offset_s = round(offset.total_seconds()) if offset else None
    if offset:
        audit.record_now(
            action="checkin.clock_corrected",
            object_type="device" if gate.device_id else "user",
            object_id=gate.device_id or gate.user_id,
            changes={"offset_s": offset_s, "scans": len(scans)},
        )
    scans = [_corrected(scan, offset) for scan in scans]
    identified = [_identify(scan) for scan in scans]
    _one_sync_at_a_time()
    locked = _lock(
        [serial for _, serial, detail in identified if serial is not None and not detail]
    )
    answers: list[dict[str, Any] | None] = [None] * len(scans)
    order = sorted(range(len(scans)), key=lambda i: scans[i].scanned_at)
    for index in order:
        scan = scans[index]
        claims, serial, detail = identified[index]
        if scan.nonce in earlier:
            answers[index] = earlier[scan.nonce]
            continue
        if detail is None and scan.scanned_at > now + CLOCK_TOLERANCE:
            detail = "clock_ahead"
        site_id = site_ids[scan.site]
        assert site_id is not None
        ticket = locked.get(serial) if serial is not None else None
        if scan.direction is ScanDirection.EXIT:
            answer, _ = _exit(
                scan,
                gate,
                site_id=site_id,
                detail=detail,
                ticket=ticket,
                mode=ScanMode.OFFLINE,
                now=now,
                rules=rules,
                clock_offset_s=offset_s,
            )
        else:
            decision = _decide(
                scan,
                site_id=site_id,
                claims=claims,
                detail=detail,
                ticket=ticket,
                at=scan.scanned_at,
                offline=True,
                rules=rules,
                bound_site=gate.bound_site(scan.scanned_at),
            )
            answer, _ = _record(
                scan,
                gate,
                site_id=site_id,
                decision=decision,
                mode=ScanMode.OFFLINE,
                now=now,
                rules=rules,
                clock_offset_s=offset_s,
            )
            if scan.annulled_at is not None:
                audit.record_now(
                    action="checkin.annul",
                    object_type="checkin_scan",
                    object_id=scan.nonce,
                    changes={"site": scan.site, "mode": ScanMode.OFFLINE.value},
                )
        answers[index] = earlier[scan.nonce] = answer
    results = [answer for answer in answers if answer is not None]
    return {
        "results": results,
        "conflicts": sum(1 for result in results if result.get("conflict")),
        "clock_offset_s": offset_s or 0,
        "server_time": now,
    }


# --- exits, annulments, occupancy -------------------------------------------------------------


def _exit(
    scan: Scan,
    gate: Gate,
    *,
    site_id: int,
    detail: str | None,
    ticket: _HeldTicket | None,
    mode: ScanMode,
    now: datetime,
    rules: services.CatalogueRules,
    clock_offset_s: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """A visitor scanned leaving: their entry here gets its exit time (once), which the site's
    occupancy subtracts. Stored once per nonce, like an entry scan."""
    entry = None
    if ticket is not None and detail is None:
        entry = db.session.execute(
            select(TicketEntry.id, TicketEntry.entered_at, TicketEntry.exited_at).where(
                TicketEntry.ticket_id == ticket.id, TicketEntry.site_id == site_id
            )
        ).one_or_none()
    if detail is not None or ticket is None:
        reason = ExitReason.INVALID
        detail = detail or "unknown_ticket"
    elif entry is None:
        reason = ExitReason.NOT_ENTERED
    elif entry.exited_at is not None:
        reason = ExitReason.ALREADY_EXITED
    else:
        reason = ExitReason.OK
    at = now if mode is ScanMode.ONLINE else scan.scanned_at
    answer: dict[str, Any] = {
        "status": "ok" if reason is ExitReason.OK else "error",
        "reason": reason.value,
        "detail": detail,
        "message": EXIT_MESSAGES[reason],
        "entries_left": None,
        "site": rules.site_slugs[site_id],
        "nonce": scan.nonce,
        "mode": mode.value,
        "scanned_at": scan.scanned_at.isoformat(),
        "decided_at": now.isoformat(),
        "admitted": reason is ExitReason.OK,
        "conflict": None,
        "direction": ScanDirection.EXIT.value,
        "annulled_at": None,
        "ticket": None,
    }
    if ticket is not None:
        answer["ticket"] = _ticket_view(
            ticket, rules, entries=ticket.entries, first_used_at=ticket.first_used_at
        )
    scan_row = _scan_row(
        gate,
        scan,
        mode=mode,
        site_id=site_id,
        ticket=ticket,
        now=now,
        answer=answer,
        admitted=reason is ExitReason.OK,
        reason=reason.value,
        conflict=None,
        direction=ScanDirection.EXIT.value,
        clock_offset_s=clock_offset_s,
        annulled_at=None,
    )
    if _write_scan(scan_row, None, now=now) is None:
        return _earlier_answer(gate, scan), True
    if entry is not None and reason is ExitReason.OK:
        db.session.execute(
            update(TicketEntry)
            .where(TicketEntry.id == entry.id)
            .values(exited_at=max(at, entry.entered_at))
        )
    return answer, False


def annul(*, gate: Gate, nonce: str, minutes: int) -> dict[str, Any]:
    """Undo this gate's own check-in (a turnstile that did not turn, a wrong ticket scanned)
    within `minutes` of the entry: the entry is removed, so the ticket's quota and this site
    are free again, and the annulment is audited."""
    mine = (
        select(CheckinScan)
        .where(CheckinScan.actor == gate.actor, CheckinScan.nonce == nonce)
        .execution_options(populate_existing=True)
    )
    scan = db.session.scalar(mine)
    if scan is None or scan.direction != ScanDirection.ENTRY.value:
        raise NotFound(f"this device made no check-in with nonce {nonce!r}", reason="unknown_scan")
    serial = (
        db.session.scalar(select(Ticket.serial).where(Ticket.id == scan.ticket_id))
        if scan.ticket_id is not None
        else None
    )
    # The ticket's lock first, as every scan takes it: then the scan as it is under that lock.
    locked = _lock([serial]).get(serial) if serial is not None else None
    scan = db.session.scalar(mine.with_for_update())
    assert scan is not None
    if scan.annulled_at is not None:
        raise Conflict("this check-in was annulled already", reason="already_annulled")
    entry = (
        db.session.scalar(
            select(TicketEntry).where(
                TicketEntry.ticket_id == locked.id, TicketEntry.site_id == scan.site_id
            )
        )
        if locked is not None and scan.status == "ok" and scan.admitted
        else None
    )
    if locked is None or entry is None:
        raise Conflict("this scan admitted nobody: nothing to annul", reason="not_admitted")
    rules = services.catalogue_rules()
    now = utcnow()
    if now - entry.entered_at > timedelta(minutes=minutes):
        raise Conflict(
            f"a check-in can be annulled for {minutes} minutes after the entry",
            reason="annul_too_late",
        )
    remaining = [(site, at) for site, at in locked.entries if site != scan.site_id]
    db.session.execute(delete(TicketEntry).where(TicketEntry.id == entry.id))
    db.session.execute(
        update(Ticket)
        .where(Ticket.id == locked.id)
        .values(
            entries_count=Ticket.entries_count - 1,
            first_used_at=min((at for _, at in remaining), default=None),
            updated_at=now,
        )
    )
    scan.annulled_at = now
    scan.admitted = False
    scan.response = {**scan.response, "admitted": False, "annulled_at": now.isoformat()}
    entries_left = max(0, locked.max_sites - len(remaining))
    site_slug = rules.site_slugs[scan.site_id]
    db.session.flush()
    audit.record(
        action="ticket.redeem.annul",
        object_type="ticket",
        object_id=format_serial(locked.serial),
        changes={"site": site_slug, "nonce": nonce, "entries_left": entries_left},
    )
    return {
        "nonce": nonce,
        "site": site_slug,
        "serial": format_serial(locked.serial),
        "annulled_at": now,
        "entries_left": entries_left,
    }


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), services.local_zone())
    return start, start + timedelta(days=1)


def site_occupancy(*, site_id: int, day: date, device_id: int | None = None) -> dict[str, Any]:
    """A site's entries, exits and occupancy (entries minus exits) on one local day, and the
    entries one device recorded there (its gate's count)."""
    start, end = _day_bounds(day)
    in_day = TicketEntry.site_id == site_id
    entries = db.session.scalar(
        select(func.count()).where(
            in_day, TicketEntry.entered_at >= start, TicketEntry.entered_at < end
        )
    )
    exits = db.session.scalar(
        select(func.count()).where(
            in_day, TicketEntry.exited_at >= start, TicketEntry.exited_at < end
        )
    )
    answer: dict[str, Any] = {
        "site": services.catalogue_rules().site_slugs[site_id],
        "date": day.isoformat(),
        "entries": entries or 0,
        "exits": exits or 0,
        "occupancy": max(0, (entries or 0) - (exits or 0)),
    }
    if device_id is not None:
        answer["entries_here"] = db.session.scalar(
            select(func.count()).where(
                in_day,
                TicketEntry.device_id == device_id,
                TicketEntry.entered_at >= start,
                TicketEntry.entered_at < end,
            )
        )
    return answer


def occupancy(*, slug: str, day: date) -> dict[str, Any]:
    """The site's occupancy today (or on `day`), for the console and managers."""
    site_id = services.catalogue_rules().site_ids.get(slug)
    if site_id is None:
        raise NotFound(f"no site {slug!r}")
    return site_occupancy(site_id=site_id, day=day)


def site_names(site_id: int) -> dict[str, str]:
    """A site's name in every language it has one."""
    return dict(
        db.session.execute(
            select(SiteText.lang, SiteText.name).where(SiteText.site_id == site_id)
        ).all()
    )


def gate_status(*, gate: Gate, minutes: int) -> dict[str, Any]:
    """What a scanner shows and needs: its site, today's counts there, the server's clock."""
    if gate.site_id is None:
        raise Conflict("this device is not enrolled for a site; ask an admin", reason="no_site")
    now = utcnow()
    return {
        "device_id": gate.device_id,
        "site": services.catalogue_rules().site_slugs[gate.site_id],
        "site_names": site_names(gate.site_id),
        "server_time": now,
        "annul_minutes": minutes,
        "today": site_occupancy(
            site_id=gate.site_id, day=services.local_today(), device_id=gate.device_id
        ),
    }


def recent_entries(*, site: str | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Entries of the last RECENT_ENTRIES (at one site, or all), oldest first after the cursor:
    what a gate downloads to refuse a second entry while offline. Returns items and cursor."""
    rules = services.catalogue_rules()
    query = (
        select(
            TicketEntry.id,
            Ticket.serial,
            TicketEntry.site_id,
            TicketEntry.entered_at,
            TicketEntry.exited_at,
        )
        .join(Ticket, Ticket.id == TicketEntry.ticket_id)
        .where(TicketEntry.id > after, TicketEntry.entered_at >= utcnow() - RECENT_ENTRIES)
        .order_by(TicketEntry.id)
        .limit(limit)
    )
    if site:
        query = query.where(TicketEntry.site_id == _site_id(site, rules))
    rows = db.session.execute(query).all()
    items = [
        {
            "id": row.id,
            "serial": format_serial(row.serial),
            "site": rules.site_slugs[row.site_id],
            "entered_at": row.entered_at,
            "exited_at": row.exited_at,
        }
        for row in rows
    ]
    return items, rows[-1].id if rows else after


# --- managers' views --------------------------------------------------------------------------


def list_conflicts(
    *, site: str | None, unresolved: bool, after: int, limit: int
) -> list[CheckinScan]:
    """Offline admissions that broke a rule, oldest first after the cursor `after`."""
    query = (
        select(CheckinScan)
        .where(CheckinScan.conflict.is_not(None), CheckinScan.id > after)
        .order_by(CheckinScan.id)
        .limit(limit)
    )
    if site:
        query = query.where(CheckinScan.site_id == _site_id(site, services.catalogue_rules()))
    if unresolved:
        query = query.where(CheckinScan.resolved_at.is_(None))
    return list(db.session.scalars(query))


def conflicts_between(
    *,
    since: datetime,
    until: datetime,
    site_id: int | None,
    unresolved: bool,
    page: int,
    per_page: int,
) -> tuple[list[CheckinScan], int, dict[str, int]]:
    """Conflicts scanned in [since, until), newest first: one page of them, how many in all,
    and how many of each kind."""
    where = [
        CheckinScan.conflict.is_not(None),
        CheckinScan.scanned_at >= since,
        CheckinScan.scanned_at < until,
    ]
    if site_id is not None:
        where.append(CheckinScan.site_id == site_id)
    if unresolved:
        where.append(CheckinScan.resolved_at.is_(None))
    kinds: dict[str, int] = {
        str(kind): count
        for kind, count in db.session.execute(
            select(CheckinScan.conflict, func.count()).where(*where).group_by(CheckinScan.conflict)
        )
    }
    rows = db.session.scalars(
        select(CheckinScan)
        .where(*where)
        .order_by(CheckinScan.scanned_at.desc(), CheckinScan.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), sum(kinds.values()), kinds


def unresolved_conflicts() -> int:
    """How many conflicts nobody has looked into yet."""
    query = select(func.count()).where(
        CheckinScan.conflict.is_not(None), CheckinScan.resolved_at.is_(None)
    )
    return int(db.session.scalar(query) or 0)


def resolve_conflict(*, scan_id: int, user_id: int | None, note: str) -> CheckinScan:
    """Mark a conflict as looked into, with what was done about it."""
    row = db.session.get(CheckinScan, scan_id, with_for_update=True)
    if row is None or row.conflict is None:
        raise NotFound(f"no conflict {scan_id}")
    if row.resolved_at is None:
        row.resolved_at = utcnow()
        row.resolved_by_id = user_id
        row.resolution_note = note
        db.session.flush()
        audit.record(
            action="checkin.conflict.resolve",
            object_type="checkin_scan",
            object_id=row.id,
            changes={"conflict": row.conflict, "note": note},
        )
    return row


def site_entries(*, slug: str, day: date) -> dict[str, Any]:
    """Entries at a site on one local day, in total and by local hour."""
    site_id = services.catalogue_rules().site_ids.get(slug)
    if site_id is None:
        raise NotFound(f"no site {slug!r}")
    zone = services.local_zone()
    start, end = _day_bounds(day)
    entries = db.session.execute(
        select(TicketEntry.entered_at, TicketEntry.mode).where(
            TicketEntry.site_id == site_id,
            TicketEntry.entered_at >= start,
            TicketEntry.entered_at < end,
        )
    ).all()
    conflicts = db.session.scalars(
        select(CheckinScan.scanned_at).where(
            CheckinScan.site_id == site_id,
            CheckinScan.conflict.is_not(None),
            CheckinScan.scanned_at >= start,
            CheckinScan.scanned_at < end,
        )
    ).all()
    hours = [{"hour": hour, "entries": 0, "conflicts": 0} for hour in range(24)]
    for entered_at, _mode in entries:
        hours[entered_at.astimezone(zone).hour]["entries"] += 1
    for scanned_at in conflicts:
        hours[scanned_at.astimezone(zone).hour]["conflicts"] += 1
    return {
        "site": slug,
        "date": day.isoformat(),
        "timezone": str(zone),
        "entries": len(entries),
        "online": sum(1 for _, mode in entries if mode == ScanMode.ONLINE.value),
        "offline": sum(1 for _, mode in entries if mode == ScanMode.OFFLINE.value),
        "conflicts": len(conflicts),
        "by_hour": hours,
    }
