"""Ticket QR codes: the v1 format and a reference offline verifier.

This module imports no Flask and no database code: it needs only the Python standard library
and `cryptography` (keys) with PyNaCl (libsodium verifies signatures), so a scanner app
can copy it as it is. The format is specified in
docs/ticket-format.md; docs/test-vectors/ holds codes with the answers this module gives.

    python ticketing/verify.py --bundle offline.json --site tan-ky-old-house CODE

A code is 88 bytes, written in RFC 4648 base32 (A-Z, 2-7, no padding: 141 characters, all in
the QR alphanumeric set, so the symbol stays at version 6-M):

    offset size  field
    0      1     format version (1)
    1      2     key id of the Ed25519 key that signed it
    3      6     ticket serial
    9      1     generation (bumped when the code is reissued; older generations are revoked)
    10     2     product number
    12     1     tier code (TIER_CODES)
    13     1     how many distinct sites the ticket admits to
    14     4     valid from, Unix seconds
    18     4     valid until, Unix seconds: the first second it no longer admits (for
                 first-use tickets, the end of the time to make a first entry)
    22     2     minutes the ticket stays valid after its first entry (0: no such window)
    24     64    Ed25519 signature of SIGNING_CONTEXT + bytes 0-23

All integers are big-endian and unsigned.
"""

from __future__ import annotations

import argparse
import base64
import enum
import json
import struct
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

FORMAT_VERSION = 1
# Signatures cover this prefix too, so a signature made with the key for anything else can never
# pass as a ticket.
SIGNING_CONTEXT = b"hoian-ticket-v1\x00"
_BODY = struct.Struct(">BHHIBHBBIIH")
BODY_LENGTH = _BODY.size  # 24
SIGNATURE_LENGTH = 64
CODE_BYTES = BODY_LENGTH + SIGNATURE_LENGTH  # 88
CODE_LENGTH = -(-CODE_BYTES * 8 // 5)  # 141 base32 characters
_PAD_BITS = CODE_LENGTH * 5 - CODE_BYTES * 8  # 1
_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# 141 characters carry 705 bits for 704: the last character's lowest bit must be zero.
_CANONICAL_LAST = frozenset(c for i, c in enumerate(_B32_ALPHABET) if i % 2 == 0)
# Decoding is one str.translate and one int(): RFC 4648 letters become the digits int(x, 32)
# reads, and every other ASCII character becomes "!", which int() refuses (so do signs,
# spaces and underscores, which int() would otherwise accept). Four times faster than
# base64.b32decode, which decodes in Python; test_codec checks that both agree.
_B32_TO_INT_DIGITS = dict.fromkeys(range(128), "!") | {
    ord(c): "0123456789abcdefghijklmnopqrstuv"[i] for i, c in enumerate(_B32_ALPHABET)
}
MAX_SERIAL = (1 << 48) - 1
MAX_KEY_ID = 0xFFFF
MAX_PRODUCT = 0xFFFF
MAX_GENERATION = 0xFF
#: A revocation that covers every generation of a serial (cancelled or refunded).
ALL_GENERATIONS = MAX_GENERATION + 1

#: The tiers a code can carry. Codes are part of the format: never renumber, only add.
TIER_CODES: dict[str, int] = {
    "foreign": 1,
    "domestic": 2,
    "child": 3,
    "senior": 4,
    "student": 5,
}
TIER_NAMES: dict[int, str] = {code: name for name, code in TIER_CODES.items()}


class Reason(enum.StrEnum):
    """The verdict on a scan; the same words online (the server) and offline (a scanner)."""

    OK = "ok"  # admit: the code is genuine and every rule holds
    INVALID = "invalid"  # not a code we issued: unreadable, tampered, unknown or retired key
    REVOKED = "revoked"  # refunded, cancelled, or replaced by a reissued code
    EXPIRED = "expired"  # past its validity (or past the window after its first entry)
    NOT_YET_VALID = "not_yet_valid"  # before its validity starts (e.g. a show on a later day)
    WRONG_SITE = "wrong_site"  # its product does not cover this site
    ALREADY_REDEEMED = "already_redeemed"  # it already entered this site
    QUOTA_EXHAUSTED = "quota_exhausted"  # it already entered as many sites as it admits to
    UNPAID = "unpaid"  # its order is not (or no longer) paid; known online only


class InvalidCode(Exception):
    """The text is not a genuine v1 code; `detail` says why, in one stable word."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a genuine code says about its ticket."""

    key_id: int
    serial: int
    generation: int
    product_id: int
    tier: int
    max_sites: int
    valid_from: int
    valid_until: int
    use_window_minutes: int
    version: int = FORMAT_VERSION

    @property
    def tier_name(self) -> str:
        return TIER_NAMES.get(self.tier, f"tier-{self.tier}")

    def pack(self) -> bytes:
        """The signed part of the code (24 bytes)."""
        if not (
            0 < self.key_id <= MAX_KEY_ID
            and 0 <= self.serial <= MAX_SERIAL
            and 0 <= self.generation <= MAX_GENERATION
            and 0 < self.product_id <= MAX_PRODUCT
            and 0 < self.tier <= 0xFF
            and 0 < self.max_sites <= 0xFF
            and 0 <= self.valid_from < self.valid_until <= 0xFFFFFFFF
            and 0 <= self.use_window_minutes <= 0xFFFF
        ):
            raise ValueError(f"claims out of range for format v{FORMAT_VERSION}: {self}")
        return _BODY.pack(
            self.version,
            self.key_id,
            self.serial >> 32,
            self.serial & 0xFFFFFFFF,
            self.generation,
            self.product_id,
            self.tier,
            self.max_sites,
            self.valid_from,
            self.valid_until,
            self.use_window_minutes,
        )


@dataclass(frozen=True)
class KeySet:
    """Public keys by key id; retired ids are known but no longer accepted."""

    keys: Mapping[int, Ed25519PublicKey]
    retired: frozenset[int] = frozenset()
    #: The same keys as raw bytes, for libsodium (filled in from `keys`).
    raw: Mapping[int, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw = {
            kid: key.public_bytes(Encoding.Raw, PublicFormat.Raw) for kid, key in self.keys.items()
        }
        object.__setattr__(self, "raw", raw)

    @classmethod
    def from_raw(cls, keys: Mapping[int, bytes], retired: Iterable[int] = ()) -> KeySet:
        """From raw 32-byte public keys."""
        return cls(
            keys={kid: Ed25519PublicKey.from_public_bytes(raw) for kid, raw in keys.items()},
            retired=frozenset(retired),
        )

    @classmethod
    def from_api(cls, document: Mapping[str, Any]) -> KeySet:
        """From the JSON of GET /api/v1/checkin/keys."""
        usable: dict[int, bytes] = {}
        retired: list[int] = []
        for item in document["keys"]:
            if item["status"] == "retired":
                retired.append(int(item["kid"]))
            else:
                usable[int(item["kid"])] = b64url_decode(item["public_key"])
        return cls.from_raw(usable, retired)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Ed25519 (RFC 8032) through libsodium, about 1.6 times as fast here as OpenSSL's;
    raises BadSignatureError.

    libsodium's rules are the format's (docs/ticket-format.md, "Signatures"): S below the group
    order, R and the key not of small order, the key canonical, and the cofactorless equation
    with R compared byte for byte. OpenSSL accepts a small-order R, so the two are not
    interchangeable here.
    """
    crypto_sign_open(signature + message, public_key)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode_code(claims: TicketClaims, private_key: Ed25519PrivateKey) -> str:
    """Sign the claims and write them as QR text."""
    body = claims.pack()
    signature = private_key.sign(SIGNING_CONTEXT + body)
    return base64.b32encode(body + signature).decode("ascii")[:CODE_LENGTH]


def decode_code(text: str, keys: KeySet) -> TicketClaims:
    """Read and authenticate a code, or raise InvalidCode with a stable detail word."""
    if not isinstance(text, str) or len(text) != CODE_LENGTH:
        raise InvalidCode("bad_length")
    if text[-1] not in _CANONICAL_LAST:
        # Either not base32 at all, or a spelling of the same bytes that we never write.
        raise InvalidCode("bad_encoding")
    if not text.isascii():
        raise InvalidCode("bad_encoding")
    try:
        raw = (int(text.translate(_B32_TO_INT_DIGITS), 32) >> _PAD_BITS).to_bytes(CODE_BYTES)
    except ValueError:
        raise InvalidCode("bad_encoding") from None
    fields = _BODY.unpack_from(raw)
    if fields[0] != FORMAT_VERSION:
        raise InvalidCode("unknown_version")
    key_id = fields[1]
    key = keys.raw.get(key_id)
    if key is None:
        raise InvalidCode("retired_key" if key_id in keys.retired else "unknown_key")
    try:
        verify_signature(key, raw[BODY_LENGTH:], SIGNING_CONTEXT + raw[:BODY_LENGTH])
    except BadSignatureError:
        raise InvalidCode("bad_signature") from None
    claims = TicketClaims(
        version=fields[0],
        key_id=key_id,
        serial=(fields[2] << 32) | fields[3],
        generation=fields[4],
        product_id=fields[5],
        tier=fields[6],
        max_sites=fields[7],
        valid_from=fields[8],
        valid_until=fields[9],
        use_window_minutes=fields[10],
    )
    # Values `pack` never writes: only a signer that bypassed it could have signed them.
    if (
        claims.product_id == 0
        or claims.tier == 0
        or claims.max_sites == 0
        or claims.valid_until <= claims.valid_from
    ):
        raise InvalidCode("bad_fields")
    return claims


def evaluate(
    *,
    max_sites: int,
    valid_from: datetime,
    valid_until: datetime,
    use_window: timedelta | None,
    first_used_at: datetime | None,
    covered_sites: Collection[str],
    entered_sites: Collection[str],
    site: str,
    at: datetime,
    revoked: bool = False,
) -> tuple[Reason, int]:
    """The rules of entry, in the order both the server and scanners apply them.

    Returns the reason and the entries left after this scan (one fewer when admitted).
    """
    left = max(0, max_sites - len(entered_sites))
    if revoked:
        return Reason.REVOKED, left
    if at < valid_from:
        return Reason.NOT_YET_VALID, left
    if use_window is not None and first_used_at is not None:
        if at >= first_used_at + use_window:
            return Reason.EXPIRED, left
    elif at >= valid_until:
        return Reason.EXPIRED, left
    if site not in covered_sites:
        return Reason.WRONG_SITE, left
    if site in entered_sites:
        return Reason.ALREADY_REDEEMED, left
    if left == 0:
        return Reason.QUOTA_EXHAUSTED, 0
    return Reason.OK, left - 1


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer a scanner shows: admit or not, why, and how many sites remain."""

    reason: Reason
    entries_left: int | None = None
    claims: TicketClaims | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    @property
    def status(self) -> str:
        return "ok" if self.ok else "error"


@dataclass
class OfflineVerifier:
    """What a scanner does with no signal.

    It checks codes against the keys, products and revocations it last downloaded, and against
    the entries it recorded itself; its scans are uploaded later (POST /api/v1/checkin/sync),
    where the server finds what one device could not see, such as the same ticket at the same
    site on another device.
    """

    keys: KeySet
    #: product number -> slugs of the sites it admits to
    products: Mapping[int, frozenset[str]]
    site: str
    #: serial -> codes of generations below this number are revoked (ALL_GENERATIONS: all)
    revoked_below: Mapping[int, int] = field(default_factory=dict)
    #: serial -> the `reason` of the revocation behind `revoked_below` ("refunded",
    #: "cancelled", "reissued"): the detail of a `revoked` verdict, as the server gives it
    revocation_reasons: Mapping[int, str] = field(default_factory=dict)
    #: serial -> {site slug: time of entry}, as recorded by `admit`
    entries: dict[int, dict[str, datetime]] = field(default_factory=dict)

    def check(self, text: str, *, at: datetime) -> Verdict:
        """The verdict on one code at this site and time; records nothing."""
        try:
            claims = decode_code(text, self.keys)
        except InvalidCode as exc:
            return Verdict(Reason.INVALID, detail=exc.detail)
        covered = self.products.get(claims.product_id)
        if covered is None:
            return Verdict(Reason.INVALID, claims=claims, detail="unknown_product")
        entered = self.entries.get(claims.serial, {})
        reason, left = evaluate(
            max_sites=claims.max_sites,
            valid_from=from_unix(claims.valid_from),
            valid_until=from_unix(claims.valid_until),
            use_window=(
                timedelta(minutes=claims.use_window_minutes) if claims.use_window_minutes else None
            ),
            first_used_at=min(entered.values()) if entered else None,
            covered_sites=covered,
            entered_sites=entered.keys(),
            site=self.site,
            at=at,
            revoked=claims.generation < self.revoked_below.get(claims.serial, 0),
        )
        detail = self.revocation_reasons.get(claims.serial) if reason is Reason.REVOKED else None
        return Verdict(reason, entries_left=left, claims=claims, detail=detail)

    def admit(self, verdict: Verdict, *, at: datetime) -> None:
        """Remember an admitted entry, so the same ticket is refused here next time."""
        if verdict.ok and verdict.claims is not None:
            self.entries.setdefault(verdict.claims.serial, {})[self.site] = at

    def scan(self, text: str, *, at: datetime) -> Verdict:
        """Check a code and, when it is admitted, record the entry."""
        verdict = self.check(text, at=at)
        self.admit(verdict, at=at)
        return verdict

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any], *, site: str) -> OfflineVerifier:
        """From the JSON documents a scanner downloads while online.

        `bundle` holds "keys" (GET /api/v1/checkin/keys), "products" (GET /api/v1/products)
        and, optionally, "revocations" (GET /api/v1/checkin/revocations, pages' items in seq
        order) and "entries" (GET /api/v1/checkin/entries: entries already made, here or at
        other sites, which count against the ticket's quota and start its use window).
        """
        revoked: dict[int, int] = {}
        reasons: dict[int, str] = {}
        for item in bundle.get("revocations", {}).get("items", []):
            serial = parse_serial(item["serial"])
            below = int(item["below_generation"])
            # The widest entry names the revocation: a refund or cancellation (every generation)
            # outranks an earlier reissue, as the ticket's final status does on the server. Items
            # come in seq order, so of two equally wide entries the later one wins.
            if below >= revoked.get(serial, 0):
                revoked[serial] = below
                reasons[serial] = str(item["reason"])
        entries: dict[int, dict[str, datetime]] = {}
        for item in bundle.get("entries", {}).get("items", []):
            at = datetime.fromisoformat(item["entered_at"])
            entries.setdefault(parse_serial(item["serial"]), {})[item["site"]] = at
        return cls(
            keys=KeySet.from_api(bundle["keys"]),
            products={
                int(item["id"]): frozenset(item["sites"]) for item in bundle["products"]["items"]
            },
            site=site,
            revoked_below=revoked,
            revocation_reasons=reasons,
            entries=entries,
        )


# Serials are shown to people in Crockford's base32 (no I, L, O, U), as two groups of five.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_IN = {c: i for i, c in enumerate(_CROCKFORD)} | {"O": 0, "I": 1, "L": 1}


def format_serial(serial: int) -> str:
    """A serial as people read and type it, e.g. '3KX9Q-7M2PA'."""
    chars = "".join(_CROCKFORD[(serial >> shift) & 31] for shift in range(45, -1, -5))
    return f"{chars[:5]}-{chars[5:]}"


def parse_serial(text: str) -> int:
    """Read a typed serial: case, hyphens and spaces ignored, O/I/L read as 0/1/1."""
    if not text.isascii():
        # str.upper() would read a dotless i (U+0131) as I, and the ligature U+FB00 as "FF".
        raise ValueError(f"not a ticket serial: {text[:20]!r}")
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) != 10 or any(c not in _CROCKFORD_IN for c in cleaned):
        raise ValueError(f"not a ticket serial: {text[:20]!r}")
    value = 0
    for char in cleaned:
        value = value << 5 | _CROCKFORD_IN[char]
    if value > MAX_SERIAL:
        raise ValueError(f"not a ticket serial: {text[:20]!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Verify one code offline against a downloaded bundle; exit 0 when it is admitted."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("code", help="the QR text")
    parser.add_argument(
        "--bundle", required=True, help="JSON with keys, products, revocations, entries"
    )
    parser.add_argument("--site", required=True, help="slug of the site being scanned at")
    parser.add_argument("--at", help="ISO-8601 time of the scan (default: now)")
    args = parser.parse_args(argv)
    with open(args.bundle, encoding="utf-8") as handle:
        verifier = OfflineVerifier.from_bundle(json.load(handle), site=args.site)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    verdict = verifier.check(args.code.strip(), at=at)
    answer: dict[str, Any] = {
        "status": verdict.status,
        "reason": verdict.reason.value,
        "detail": verdict.detail,
        "entries_left": verdict.entries_left,
    }
    if verdict.claims is not None:
        answer["serial"] = format_serial(verdict.claims.serial)
        answer["tier"] = verdict.claims.tier_name
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
