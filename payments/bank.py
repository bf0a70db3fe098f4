"""VietQR bank transfers: instructions, signed bank notifications, statement reconciliation.

The buyer scans a VietQR code whose transfer note carries the order's reference (a prefix and
the order code). The bank (or an aggregator in front of it) notifies us of each credit to the
town's account; a notification is matched by that reference and by the amount. A transfer for
another amount, for an order that can no longer be paid, or with no reference we know is
recorded and flagged for finance, never silently accepted. A statement export can be matched
the same way (`flask payments reconcile`), and the bank's transaction id keeps a transfer seen
by both from counting twice.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from unidecode import unidecode

from app.db import utcnow
from app.errors import BadRequest, DomainError, NotFound, ValidationFailed
from app.extensions import db
from payments import presenters, services, vietqr
from payments.models import (
    BankTransfer,
    FlagKind,
    PaymentMethodName,
    RefundOrigin,
    RefundState,
    TransferOutcome,
)
from payments.schemas import BankNotificationSchema
from ticketing import services as tickets
from ticketing.models import Order, OrderStatus

log = logging.getLogger(__name__)

VIETQR = PaymentMethodName.VIETQR
TIMESTAMP_HEADER = "X-Hoian-Timestamp"
SIGNATURE_HEADER = "X-Hoian-Signature"
_CODE_CHARS = "0-9A-HJKMNP-TV-Z"  # Crockford base32, as in order codes


# --- references and instructions --------------------------------------------------------------


def reference_for(order: Order) -> str:
    """The reference the payer sends in the transfer note: prefix and order code, no spaces."""
    return f"{current_app.config['VIETQR_REFERENCE_PREFIX']}{order.code}"


def references_in(note: str) -> list[str]:
    """Order codes named in a transfer note, however the bank spaced or cased it."""
    prefix = re.escape(current_app.config["VIETQR_REFERENCE_PREFIX"].upper())
    folded = re.sub(r"[^0-9A-Z]", "", unidecode(note).upper())
    found = re.findall(rf"(?={prefix}([{_CODE_CHARS}]{{8}}))", folded)
    return list(dict.fromkeys(found))


def payload_for(order: Order) -> str:
    config = current_app.config
    return vietqr.build_payload(
        bank_bin=config["VIETQR_BANK_BIN"],
        account=config["VIETQR_ACCOUNT"],
        amount=order.total_amount,
        note=f"{reference_for(order)} Ve Hoi An",
    )


def qr_signature(code: str) -> str:
    """Makes the QR image URL of an order unguessable without putting a token in it."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"vietqr-qr\x00" + code.encode(), hashlib.sha256).hexdigest()[:32]


def start_payment(order: Order) -> None:
    """Open the transfer payment that bank notifications will be matched against."""
    payment = services.new_payment(
        order=order, method=VIETQR, source="api", reference=reference_for(order)
    )
    services.transition_payment(payment, "open", source="api")


def instructions(order: Order) -> dict[str, Any]:
    """The bank transfer to make: account, amount, reference, the VietQR text and its image."""
    config = current_app.config
    body: dict[str, Any] = {"provider": "vietqr", "reference": reference_for(order)}
    if order.status != OrderStatus.PENDING.value:
        return body
    payment = services.open_payment_for(order.id, method=VIETQR)
    signature = qr_signature(order.code)
    return {
        **body,
        "payment_state": payment.state if payment else None,
        "bank_bin": config["VIETQR_BANK_BIN"],
        "account": config["VIETQR_ACCOUNT"],
        "account_name": config.get("VIETQR_ACCOUNT_NAME") or None,
        "amount": order.total_amount,
        "currency": order.currency,
        "payload": payload_for(order),
        "qr_url": url_for("payments.vietqr_qr_png", code=order.code, sig=signature),
        "qr_svg_url": url_for("payments.vietqr_qr_svg", code=order.code, sig=signature),
    }


def payable_order(*, code: str, signature: str) -> Order:
    """The pending order behind a QR image URL (404 for a wrong signature or a paid order)."""
    expected = qr_signature(code.strip().upper()).encode()
    if not hmac.compare_digest(expected, (signature or "").encode("utf-8", "replace")):
        raise NotFound("no such payment code")
    order: Order | None = db.session.scalar(select(Order).where(Order.code == code.strip().upper()))
    if order is None or order.status != OrderStatus.PENDING.value:
        raise NotFound("this order is not waiting for a transfer", reason="not_payable")
    return order


# --- notifications ----------------------------------------------------------------------------


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The signature header value for a notification (what the sender computes)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_notification(*, body: bytes, timestamp: str | None, signature: str | None) -> None:
    """Refuse a notification that is not signed with our secret, or signed too long ago."""
    secret = current_app.config.get("VIETQR_NOTIFY_SECRET")
    if not secret:
        raise NotFound("bank notifications are not configured", reason="method_disabled")
    if not timestamp or not timestamp.strip().isdigit() or not signature:
        raise BadRequest(
            f"send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}", reason="invalid_signature"
        )
    sent = int(timestamp.strip())
    if abs(time.time() - sent) > current_app.config["VIETQR_NOTIFY_TOLERANCE_S"]:
        raise BadRequest("the timestamp is outside the tolerance", reason="stale_timestamp")
    expected = sign(body, secret=secret, timestamp=sent)
    offered = [part.strip() for part in signature.split(",")]
    # Compare with every offered signature, so a sender rotating secrets can send two.
    if not any(
        hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
        for candidate in offered
    ):
        raise BadRequest("signature check failed", reason="invalid_signature")


@dataclass(frozen=True, slots=True)
class IncomingTransfer:
    transaction_id: str
    account: str
    amount: int
    description: str
    currency: str = "VND"
    transacted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TransferResult:
    transfer: BankTransfer
    duplicate: bool
    order_code: str | None
    flag_id: int | None = None


def record_transfer(incoming: IncomingTransfer, *, source: str) -> TransferResult:
    """Record a credit to the town's account once, and pay or flag the order it names."""
    config = current_app.config
    if incoming.account != config["VIETQR_ACCOUNT"]:
        raise ValidationFailed(
            "the transfer is not to the configured account", reason="not_our_account"
        )
    if incoming.currency != "VND":
        raise ValidationFailed("bank transfers are in VND", reason="unsupported_currency")
    existing = _known(incoming.transaction_id)
    if existing is not None:
        return TransferResult(existing, True, _order_code(existing.order_id))
    services.set_lock_timeout()
    with services.lock_timeouts_as_503():
        codes = references_in(incoming.description)
        order = db.session.scalar(
            select(Order)
            .where(Order.code.in_(codes), Order.payment_method == VIETQR.value)
            .order_by(Order.id)
            .limit(1)
        )
        if order is not None:
            order = services.lock_order(order.id)
        row = BankTransfer(
            transaction_id=incoming.transaction_id,
            source=source,
            account=incoming.account,
            amount=incoming.amount,
            currency=incoming.currency,
            description=incoming.description[:500],
            transacted_at=incoming.transacted_at,
            outcome=TransferOutcome.UNMATCHED.value,
            order_id=order.id if order else None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            # The same transaction reported at the same moment by another request.
            known = _known(incoming.transaction_id)
            assert known is not None
            return TransferResult(known, True, _order_code(known.order_id))
        flag_id = _match(row, order, source=f"bank:{incoming.transaction_id}")
    return TransferResult(row, False, order.code if order else None, flag_id)


def _known(transaction_id: str) -> BankTransfer | None:
    return db.session.scalar(
        select(BankTransfer).where(BankTransfer.transaction_id == transaction_id)
    )


def _order_code(order_id: int | None) -> str | None:
    order = db.session.get(Order, order_id) if order_id else None
    return order.code if order else None


def _match(row: BankTransfer, order: Order | None, *, source: str) -> int | None:
    if order is None:
        flag = services.raise_flag(
            kind=FlagKind.UNKNOWN_REFERENCE,
            message=(
                f"transfer {row.transaction_id} of {row.amount} VND names no order we know "
                f"(note: {row.description[:120]!r})"
            ),
            bank_transfer_id=row.id,
            amount=row.amount,
            currency=row.currency,
        )
        return flag.id
    payment = services.open_payment_for(order.id, method=VIETQR)
    if payment is None:
        payment = services.new_payment(
            order=order, method=VIETQR, source=source, reference=reference_for(order)
        )
    row.payment_id = payment.id
    if row.amount != order.total_amount:
        under = row.amount < order.total_amount
        row.outcome = (TransferOutcome.UNDERPAID if under else TransferOutcome.OVERPAID).value
        db.session.flush()
        flag = services.raise_flag(
            kind=FlagKind.UNDERPAID if under else FlagKind.OVERPAID,
            message=(
                f"order {order.code} costs {order.total_amount} VND; transfer "
                f"{row.transaction_id} brought {row.amount} VND. The order stays unpaid."
            ),
            order=order,
            payment=payment,
            bank_transfer_id=row.id,
            amount=row.amount,
        )
        return flag.id
    was_paid = order.paid_at is not None
    receipt = services.payment_received(
        payment,
        amount=row.amount,
        source=source,
        provider_ref=row.transaction_id,
        bank_transfer_id=row.id,
    )
    if receipt.paid:
        row.outcome = TransferOutcome.MATCHED.value
    else:
        row.outcome = (TransferOutcome.DUPLICATE if was_paid else TransferOutcome.LATE).value
    db.session.flush()
    return receipt.flag.id if receipt.flag else None


# --- refunds ------------------------------------------------------------------------------------


def refund(*, order: Order, amount: int) -> dict[str, Any]:
    """A transfer cannot be pulled back: record the refund and ask finance to send it."""
    if amount == 0:
        return {"provider": "vietqr", "refund": None}
    payment = services.refundable_payment(order, method=VIETQR)
    transfer = db.session.scalar(
        select(BankTransfer).where(BankTransfer.payment_id == payment.id).limit(1)
    )
    row = services.record_refund(
        payment,
        amount=amount,
        state=RefundState.PENDING,
        origin=RefundOrigin.API,
        source="api",
        tickets_refunded=services.unlinked_refunded_tickets(order),
    )
    flag = services.raise_flag(
        kind=FlagKind.MANUAL_REFUND,
        message=(
            f"order {order.code}: send {amount} VND back by bank transfer"
            + (f" (paid by transfer {transfer.transaction_id})" if transfer else "")
            + "; resolve this flag once it is sent"
        ),
        order=order,
        payment=payment,
        amount=amount,
        details={"refund_id": row.id},
    )
    return {"provider": "vietqr", "refund": row.id, "to_send_by_finance": True, "flag": flag.id}


# --- statements -------------------------------------------------------------------------------

# Header names as banks export them (folded to ASCII, lower case, no punctuation).
_COLUMNS = {
    "transaction_id": (
        "transaction_id",
        "transaction id",
        "reference",
        "ref",
        "so tham chieu",
        "ma giao dich",
        "so giao dich",
    ),
    "amount": ("amount", "credit", "credit amount", "so tien ghi co", "ghi co", "so tien"),
    "description": ("description", "note", "details", "noi dung", "mo ta", "dien giai"),
    "date": ("date", "transacted_at", "transaction date", "ngay giao dich", "ngay"),
    "account": ("account", "so tai khoan", "tai khoan"),
}


def _fold(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9_ ]", " ", unidecode(name).lower()).split())


@dataclass
class StatementLine:
    line: int
    transfer: IncomingTransfer | None
    problem: str = ""


@dataclass
class ReconcileReport:
    matched: list[tuple[StatementLine, str]] = field(default_factory=list)
    already_recorded: list[tuple[StatementLine, str]] = field(default_factory=list)
    flagged: list[tuple[StatementLine, str]] = field(default_factory=list)
    skipped: list[StatementLine] = field(default_factory=list)
    open_orders: list[Order] = field(default_factory=list)


def _amount(text: str) -> int | None:
    cleaned = text.strip().replace(" ", "")
    if not cleaned or cleaned.startswith("-") or cleaned.startswith("("):
        return None
    # Banks write 240,000 or 240.000 (and sometimes 240,000.00): VND has no minor unit.
    cleaned = re.sub(r"[.,]00$", "", cleaned)
    digits = re.sub(r"[.,]", "", cleaned)
    return int(digits) if digits.isdigit() and int(digits) > 0 else None


def _when(text: str) -> datetime | None:
    text = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tickets.local_zone())
    return None


def parse_statement(text: str, *, account: str) -> list[StatementLine]:
    """Credit lines of a CSV statement export; debits and unreadable lines are kept as skipped."""
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if header is None:
        raise ValidationFailed("the statement is empty", reason="empty_statement")
    folded = [_fold(name) for name in header]
    where: dict[str, int] = {}
    for key, names in _COLUMNS.items():
        for index, name in enumerate(folded):
            if name in names:
                where[key] = index
                break
    missing = [key for key in ("transaction_id", "amount", "description") if key not in where]
    if missing:
        raise ValidationFailed(
            f"the statement has no column for {', '.join(missing)} (found: {', '.join(header)})",
            reason="unknown_statement_format",
        )
    lines: list[StatementLine] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(key: str, row: list[str] = cells) -> str:
            index = where.get(key)
            return row[index].strip() if index is not None and index < len(row) else ""

        amount = _amount(cell("amount"))
        transaction_id = cell("transaction_id")
        if amount is None:
            lines.append(StatementLine(number, None, "not a credit"))
            continue
        if not transaction_id:
            lines.append(StatementLine(number, None, "no transaction id"))
            continue
        lines.append(
            StatementLine(
                number,
                IncomingTransfer(
                    transaction_id=transaction_id[:100],
                    account=cell("account") or account,
                    amount=amount,
                    description=cell("description"),
                    transacted_at=_when(cell("date")),
                ),
            )
        )
    return lines


def reconcile(text: str) -> ReconcileReport:
    """Match a statement's credits to open orders, as notifications would have."""
    account = current_app.config["VIETQR_ACCOUNT"]
    report = ReconcileReport()
    for line in parse_statement(text, account=account):
        if line.transfer is None:
            report.skipped.append(line)
            continue
        try:
            with db.session.begin_nested():
                result = record_transfer(line.transfer, source="statement")
        except DomainError as exc:
            line.problem = exc.message
            report.skipped.append(line)
            continue
        outcome = result.transfer.outcome
        label = f"{outcome}" + (f" order {result.order_code}" if result.order_code else "")
        if result.duplicate:
            report.already_recorded.append((line, label))
        elif outcome == TransferOutcome.MATCHED.value:
            report.matched.append((line, label))
        else:
            report.flagged.append((line, label))
    report.open_orders = _open_transfer_orders()
    return report


def _open_transfer_orders() -> list[Order]:
    return list(
        db.session.scalars(
            select(Order)
            .where(
                Order.payment_method == VIETQR.value,
                Order.status == OrderStatus.PENDING.value,
                Order.expires_at > utcnow(),
            )
            .order_by(Order.id)
        )
    )


def handle_notification(
    *, body: bytes, timestamp: str | None, signature: str | None
) -> TransferResult:
    """Verify a signed bank notification, then record its transfer once and match it."""
    verify_notification(body=body, timestamp=timestamp, signature=signature)
    data = presenters.load_json(body, BankNotificationSchema())
    return record_transfer(_incoming(data), source="notify")


def _incoming(data: Mapping[str, Any]) -> IncomingTransfer:
    return IncomingTransfer(
        transaction_id=data["transaction_id"],
        account=data["account"],
        amount=data["amount"],
        currency=data["currency"],
        description=data["description"],
        transacted_at=data.get("transacted_at"),
    )
