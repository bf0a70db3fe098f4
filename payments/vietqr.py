"""VietQR: the EMVCo merchant-presented QR payload that Vietnamese banking apps pay (NAPAS 247).

A payload is a list of ID-length-value fields; tag 38 carries NAPAS's GUID `A000000727`, the
receiving bank's BIN and account and the service `QRIBFTTA` (transfer to an account); tag 62/08
the transfer note, where we put the order's reference so the bank notification can be matched;
tag 63 a CRC-16/CCITT-FALSE over everything before its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidecode import unidecode

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
STATIC, DYNAMIC = "11", "12"  # point of initiation: reusable code, or one with an amount

_BIN = re.compile(r"^\d{6}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")
_NOTE_CHARS = re.compile(r"[^A-Za-z0-9 .\-]")


class VietQRError(ValueError):
    """A payload cannot be built or does not parse; the message says which field."""


def crc16_ccitt(data: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) as four upper-case hex digits."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError(f"field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def transfer_note(text: str, *, max_length: int = 25) -> str:
    """A transfer note every bank keeps intact: ASCII letters, digits, spaces, '.' and '-'."""
    folded = _NOTE_CHARS.sub("", unidecode(text))
    return " ".join(folded.split())[:max_length]


def build_payload(*, bank_bin: str, account: str, amount: int | None, note: str = "") -> str:
    """The VietQR text for a transfer of `amount` VND (None: the payer types the amount)."""
    if not _BIN.match(bank_bin):
        raise VietQRError("the bank BIN must be 6 digits (NAPAS list, e.g. 970436)")
    if not _ACCOUNT.match(account):
        raise VietQRError("the account must be 1-19 letters or digits")
    if amount is not None and not 0 < amount <= 9_999_999_999_999:
        raise VietQRError("the amount must be a positive whole number of VND")
    beneficiary = _field("00", bank_bin) + _field("01", account)
    merchant = (
        _field("00", NAPAS_GUID) + _field("01", beneficiary) + _field("02", SERVICE_TO_ACCOUNT)
    )
    parts = [
        _field("00", "01"),
        _field("01", STATIC if amount is None else DYNAMIC),
        _field("38", merchant),
        _field("53", CURRENCY_VND),
    ]
    if amount is not None:
        parts.append(_field("54", str(amount)))
    parts.append(_field("58", COUNTRY_VN))
    cleaned = transfer_note(note)
    if cleaned:
        parts.append(_field("62", _field("08", cleaned)))
    body = "".join(parts) + "6304"
    return body + crc16_ccitt(body)


@dataclass(frozen=True, slots=True)
class VietQRPayload:
    bank_bin: str
    account: str
    service: str
    amount: int | None
    currency: str
    country: str
    note: str
    dynamic: bool


def _fields(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    position = 0
    while position < len(text):
        if position + 4 > len(text):
            raise VietQRError(f"truncated field at position {position}")
        tag, size = text[position : position + 2], text[position + 2 : position + 4]
        if not (tag.isdigit() and size.isdigit()):
            raise VietQRError(f"malformed field header {text[position : position + 4]!r}")
        end = position + 4 + int(size)
        if end > len(text):
            raise VietQRError(f"field {tag} runs past the end")
        found[tag] = text[position + 4 : end]
        position = end
    return found


def parse_payload(text: str) -> VietQRPayload:
    """Parse and check a VietQR text (CRC, GUID, currency); the inverse of build_payload."""
    if len(text) < 8 or text[-8:-4] != "6304":
        raise VietQRError("no CRC field at the end")
    if crc16_ccitt(text[:-4]) != text[-4:].upper():
        raise VietQRError("CRC mismatch: the code is damaged or was altered")
    root = _fields(text[:-8])
    merchant = _fields(root.get("38", ""))
    if merchant.get("00") != NAPAS_GUID:
        raise VietQRError("not a NAPAS VietQR code (tag 38 GUID)")
    beneficiary = _fields(merchant.get("01", ""))
    amount = root.get("54")
    return VietQRPayload(
        bank_bin=beneficiary.get("00", ""),
        account=beneficiary.get("01", ""),
        service=merchant.get("02", ""),
        amount=int(amount) if amount and amount.isdigit() else None,
        currency=root.get("53", ""),
        country=root.get("58", ""),
        note=_fields(root["62"]).get("08", "") if "62" in root else "",
        dynamic=root.get("01") == DYNAMIC,
    )
