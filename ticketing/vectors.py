"""The published test vectors (docs/test-vectors/): codes, the state a scanner holds, answers.

Made from a test-only key whose seed is published with them, so anyone can re-derive every
code; Ed25519 signatures are deterministic, so `build()` always gives the same document and a
test keeps the committed file equal to it. `flask tickets write-vectors` rewrites the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

from ticketing.verify import (
    ALL_GENERATIONS,
    CODE_LENGTH,
    FORMAT_VERSION,
    MAX_SERIAL,
    SIGNING_CONTEXT,
    TIER_CODES,
    OfflineVerifier,
    TicketClaims,
    b64url_encode,
    encode_code,
    format_serial,
    from_unix,
    parse_serial,
)

VECTORS_FILE = Path(__file__).resolve().parents[1] / "docs" / "test-vectors" / "vectors.json"

# Test-only keys: their seeds are published on purpose. Never use them to sign real tickets.
_TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
_OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
_RETIRED_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
ACTIVE_KID, RETIRED_KID, UNKNOWN_KID = 7, 6, 9
#: A listed key that is a point of small order: it verifies nothing (docs, "Signatures").
SMALL_ORDER_KID = 8
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Hội An
DAY = 86_400

PASS, MUSEUM = 1, 2
_PASS_SITES = sorted(
    [
        "japanese-covered-bridge",
        "quan-cong-temple",
        "fujian-assembly-hall",
        "tan-ky-old-house",
        "museum-of-trade-ceramics",
        "museum-of-folk-culture",
    ]
)


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Ed25519's group order and field prime, to write the signatures a strict verifier refuses.
_ORDER = 2**252 + 27742317777372353535851937790883648493
_PRIME = 2**255 - 19


def _key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public(seed: bytes) -> str:
    return b64url_encode(_key(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _claims(serial: int, **changes: Any) -> TicketClaims:
    values: dict[str, Any] = {
        "key_id": ACTIVE_KID,
        "serial": serial,
        "generation": 0,
        "product_id": PASS,
        "tier": TIER_CODES["foreign"],
        "max_sites": 5,
        "valid_from": int(T0.timestamp()),
        "valid_until": int(T0.timestamp()) + 30 * DAY,
        "use_window_minutes": 24 * 60,
    }
    values.update(changes)
    return TicketClaims(**values)


def _sign(claims: TicketClaims, seed: bytes = _TEST_SEED) -> str:
    return encode_code(claims, _key(seed))


def _raw_code(body: bytes, signature: bytes) -> str:
    return base64.b32encode(body + signature).decode("ascii")[:CODE_LENGTH]


def _patched(claims: TicketClaims, changes: dict[int, int], seed: bytes = _TEST_SEED) -> str:
    """A code whose body has bytes set at the given offsets after `pack`, signed as it is: the
    fields `pack` refuses to write, for the verifier's own range checks."""
    body = bytearray(claims.pack())
    for offset, value in changes.items():
        body[offset] = value
    return _raw_code(bytes(body), _key(seed).sign(SIGNING_CONTEXT + bytes(body)))


def _le(number: int) -> bytes:
    return number.to_bytes(32, "little")


def _odd_signature(claims: TicketClaims, kind: str) -> str:
    """A signature by the test key that the equation alone would let through, but the format's
    strict rules refuse (docs/ticket-format.md, "Signatures"). Ed25519 by hand (RFC 8032 5.1.6)
    to choose R and S: that needs the secret scalar, which only a signer has."""
    body = claims.pack()
    message = SIGNING_CONTEXT + body
    digest = hashlib.sha512(_TEST_SEED).digest()
    secret = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    public = _key(_TEST_SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    nonce = int.from_bytes(hashlib.sha512(digest[32:] + message).digest(), "little") % _ORDER
    honest = _key(_TEST_SEED).sign(message)

    def challenge(r: bytes) -> int:
        return int.from_bytes(hashlib.sha512(r + public + message).digest(), "little") % _ORDER

    if kind == "s_not_reduced":
        # The honest signature with S + L: the same point, a second spelling (malleability).
        return _raw_code(body, honest[:32] + _le(int.from_bytes(honest[32:], "little") + _ORDER))
    if kind == "small_order_r":
        # R is the neutral point and S = k*a, so [S]B - [k]A is that point: the cofactorless
        # equation holds (OpenSSL, BoringSSL's WebCrypto and noble accept it); libsodium refuses
        # any R of small order.
        r = _le(1)
        return _raw_code(body, r + _le(challenge(r) * secret % _ORDER))
    if kind == "mixed_order_r":
        # R = [nonce]B + T, T the point of order 2 ((x, y) + (0, -1) = (-x, -y)): a cofactored
        # check (noble's verify) cannot see T; the cofactorless one compares R and fails.
        y = int.from_bytes(honest[:32], "little")
        sign, y = y >> 255, y & ((1 << 255) - 1)
        r = _le((_PRIME - y) % _PRIME | (sign ^ 1) << 255)
        return _raw_code(body, r + _le((nonce + challenge(r) * secret) % _ORDER))
    raise ValueError(kind)


def _small_order_key() -> bytes:
    """(0, -1), the point of order 2: [k]A is the neutral point for every even k."""
    return _le(_PRIME - 1)


def _signed_for_small_order_key(claims: TicketClaims) -> str:
    """A signature that the cofactorless equation accepts for the order-2 key (OpenSSL does):
    R = [s]B for the first s whose k is even, so that [s]B - [k]A = R."""
    body = claims.pack()
    message = SIGNING_CONTEXT + body
    for s in range(1, 64):
        r = crypto_scalarmult_ed25519_base_noclamp(_le(s))
        k = int.from_bytes(hashlib.sha512(r + _small_order_key() + message).digest(), "little")
        if k % _ORDER % 2 == 0:
            return _raw_code(body, r + _le(s))
    raise AssertionError("no even challenge in 63 tries")  # odds of 2^-63


def _flip_bit(code: str, bit: int) -> str:
    raw = bytearray(base64.b32decode(code + "==="))
    raw[bit // 8] ^= 0x80 >> (bit % 8)
    return base64.b32encode(bytes(raw)).decode()[:CODE_LENGTH]


def _case(
    name: str,
    description: str,
    code: str,
    *,
    site: str = "japanese-covered-bridge",
    at: datetime = T0 + timedelta(hours=2),
    entries: dict[str, datetime] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "code": code,
        "site": site,
        "at": at.isoformat(),
        "entries": {slug: moment.isoformat() for slug, moment in (entries or {}).items()},
    }


def _cases() -> list[dict[str, Any]]:
    valid = _sign(_claims(0x0000_0000_1001))
    early = T0 + timedelta(hours=1)
    return [
        _case("valid", "A paid old-town pass, first scan at a site it covers.", valid),
        _case(
            "valid_domestic",
            "A domestic-tier pass admits to 3 sites.",
            _sign(_claims(0x0000_0000_1002, tier=TIER_CODES["domestic"], max_sites=3)),
        ),
        _case(
            "expired",
            "Scanned after its last day.",
            valid,
            at=T0 + timedelta(days=31),
        ),
        _case(
            "expired_after_first_use",
            "First entry 25 hours earlier: past the 24-hour window.",
            valid,
            at=early + timedelta(hours=25),
            entries={"tan-ky-old-house": early},
        ),
        _case(
            "not_yet_valid",
            "A show ticket for a later evening.",
            _sign(
                _claims(
                    0x0000_0000_1003,
                    product_id=MUSEUM,
                    max_sites=1,
                    valid_from=int((T0 + timedelta(days=3)).timestamp()),
                    valid_until=int((T0 + timedelta(days=4)).timestamp()),
                    use_window_minutes=0,
                )
            ),
            site="museum-of-trade-ceramics",
        ),
        _case(
            "revoked",
            "Refunded: its serial is on the revocation list for every generation.",
            _sign(_claims(0x0000_0000_1004)),
        ),
        _case(
            "reissued_old_generation",
            "Generation 0 of a ticket reissued as generation 1.",
            _sign(_claims(0x0000_0000_1005)),
        ),
        _case(
            "reissued_new_generation",
            "Generation 1 of that ticket: valid.",
            _sign(_claims(0x0000_0000_1005, generation=1)),
        ),
        _case("tampered", "One bit of the serial flipped.", _flip_bit(valid, 8 * 8 + 7)),
        _case("tampered_signature", "One bit of the signature flipped.", _flip_bit(valid, 600)),
        _case(
            "wrong_key",
            "Signed by another key that claims the active key id.",
            _sign(_claims(0x0000_0000_1006), _OTHER_SEED),
        ),
        _case(
            "unknown_key",
            "A key id the scanner has never been given.",
            _sign(_claims(0x0000_0000_1007, key_id=UNKNOWN_KID), _OTHER_SEED),
        ),
        _case(
            "retired_key",
            "Signed by a key that has been retired.",
            _sign(_claims(0x0000_0000_1008, key_id=RETIRED_KID), _RETIRED_SEED),
        ),
        _case(
            "other_product",
            "A single-museum ticket scanned at the covered bridge.",
            _sign(_claims(0x0000_0000_1009, product_id=MUSEUM, max_sites=1, use_window_minutes=0)),
        ),
        _case(
            "unknown_product",
            "A product the scanner's product list does not have.",
            _sign(_claims(0x0000_0000_100A, product_id=99)),
        ),
        _case(
            "already_redeemed",
            "The same ticket at the same site a second time.",
            valid,
            entries={"japanese-covered-bridge": early},
        ),
        _case(
            "quota_exhausted",
            "A domestic pass (3 sites) that has entered 3 sites.",
            _sign(_claims(0x0000_0000_100B, tier=TIER_CODES["domestic"], max_sites=3)),
            entries={
                "tan-ky-old-house": early,
                "fujian-assembly-hall": early + timedelta(minutes=20),
                "quan-cong-temple": early + timedelta(minutes=40),
            },
        ),
        _case("truncated", "The last character missing.", valid[:-1]),
        _case(
            "lowercase", "The right code in lower case (not how codes are written).", valid.lower()
        ),
        _case(
            "non_canonical",
            "The same bytes with the unused last bit set.",
            valid[:-1] + _B32[_B32.index(valid[-1]) | 1],
        ),
        _case("empty", "Nothing scanned.", ""),
        *_cases_added_for_the_scanner(valid, early),
    ]


def _cases_added_for_the_scanner(valid: str, early: datetime) -> list[dict[str, Any]]:
    """Where the first document left a second verifier to guess (issue #12): the order of the
    checks, the validity boundaries, revocation details, bad fields and strict signatures."""
    day_ticket = _claims(0x0000_0000_100D, use_window_minutes=0, valid_until=_unix(T0) + DAY)
    day = _sign(day_ticket)
    until = from_unix(day_ticket.valid_until)
    first_use = _claims(0x0000_0000_1010, valid_until=_unix(T0) + DAY)
    second = timedelta(seconds=1)
    return [
        # Rule 1, its checks in order: length, spelling, version, key, signature, fields, product.
        _case(
            "trailing_newline", "A valid code with the newline a reader left on it.", valid + "\n"
        ),
        _case(
            "lowercase_truncated",
            "Lower case and one character short: the length is checked first.",
            valid.lower()[:-1],
        ),
        _case(
            "astral_character",
            "One character replaced by an emoji: 141 characters (code points), so bad_encoding.",
            valid[:70] + "\U0001f600" + valid[71:],
        ),
        _case(
            "astral_character_short",
            "The last two characters replaced by one emoji: 140 code points (two UTF-16 units "
            "for the emoji make 141), so bad_length.",
            valid[:139] + "\U0001f600",
        ),
        _case(
            "unknown_version",
            "Format version 2 with a key id the scanner does not know: the version is read first.",
            _sign(_claims(0x0000_0000_1011, version=2, key_id=UNKNOWN_KID), _OTHER_SEED),
        ),
        _case(
            "retired_key_bad_signature",
            "A retired key id with a signature by another key: the key is judged before the "
            "signature.",
            _sign(_claims(0x0000_0000_1012, key_id=RETIRED_KID), _OTHER_SEED),
        ),
        _case(
            "bad_fields_no_sites",
            "Genuinely signed, but admitting to 0 sites.",
            _patched(_claims(0x0000_0000_1013), {13: 0}),
        ),
        _case(
            "bad_fields_empty_validity",
            "Genuinely signed, but valid until = valid from.",
            _patched(
                _claims(0x0000_0000_1014),
                dict(zip(range(18, 22), _unix(T0).to_bytes(4, "big"), strict=True)),
            ),
        ),
        _case(
            "bad_fields_tier_zero",
            "Genuinely signed, but tier 0 (tiers start at 1).",
            _patched(_claims(0x0000_0000_1015), {12: 0}),
        ),
        _case(
            "bad_fields_product_zero",
            "Genuinely signed, but product 0 (products start at 1): bad_fields, not "
            "unknown_product.",
            _patched(_claims(0x0000_0000_1016), {10: 0, 11: 0}),
        ),
        _case(
            "bad_fields_unknown_product",
            "0 sites and a product the scanner does not know: fields are judged before the "
            "product.",
            _patched(_claims(0x0000_0000_1017, product_id=99), {13: 0}),
        ),
        _case(
            "bad_fields_bad_signature",
            "0 sites, signed by another key: the signature is judged before the fields.",
            _patched(_claims(0x0000_0000_1018), {13: 0}, _OTHER_SEED),
        ),
        _case(
            "signature_s_not_reduced",
            "The valid code's signature with S + L: the same equation, S not below the order.",
            _odd_signature(_claims(0x0000_0000_1001), "s_not_reduced"),
        ),
        _case(
            "signature_small_order_r",
            "Signed by the test key with R the neutral point: the cofactorless equation holds, "
            "but R has small order.",
            _odd_signature(_claims(0x0000_0000_1019), "small_order_r"),
        ),
        _case(
            "signature_mixed_order_r",
            "Signed by the test key with R off the prime-order subgroup: only a cofactored "
            "check passes it.",
            _odd_signature(_claims(0x0000_0000_101A), "mixed_order_r"),
        ),
        _case(
            "small_order_key",
            "A listed key that has small order, with a signature the equation accepts: such a "
            "key verifies nothing.",
            _signed_for_small_order_key(_claims(0x0000_0000_101C, key_id=SMALL_ORDER_KID)),
        ),
        # Rules 4 and 5 at their boundaries: valid from is the first second that admits, valid
        # until the first that does not.
        _case(
            "before_valid_from",
            "A day ticket one second before it starts.",
            day,
            at=T0 - second,
        ),
        _case("at_valid_from", "A day ticket at its first second.", day, at=T0),
        _case("after_valid_from", "A day ticket one second after it starts.", day, at=T0 + second),
        _case("before_valid_until", "A day ticket at its last second.", day, at=until - second),
        _case("at_valid_until", "A day ticket at its valid until: no longer valid.", day, at=until),
        _case(
            "after_valid_until", "A day ticket one second after its end.", day, at=until + second
        ),
        _case(
            "window_last_second",
            "24 hours after a first entry, less one second.",
            valid,
            at=early + timedelta(hours=24) - second,
            entries={"tan-ky-old-house": early},
        ),
        _case(
            "window_end",
            "Exactly 24 hours after a first entry.",
            valid,
            at=early + timedelta(hours=24),
            entries={"tan-ky-old-house": early},
        ),
        _case(
            "window_outlasts_valid_until",
            "First entry an hour before valid until, scanned an hour after it: the window runs.",
            _sign(first_use),
            at=from_unix(first_use.valid_until) + timedelta(hours=1),
            entries={"tan-ky-old-house": from_unix(first_use.valid_until) - timedelta(hours=1)},
        ),
        _case(
            "no_first_entry_by_valid_until",
            "A first-use ticket never used, at its valid until: too late to start.",
            _sign(first_use),
            at=from_unix(first_use.valid_until),
        ),
        # Revocations: the detail is the reason of the widest entry for the serial.
        _case(
            "cancelled",
            "Cancelled by staff: every generation revoked.",
            _sign(_claims(0x0000_0000_100E)),
        ),
        _case(
            "reissued_then_refunded",
            "Generation 1 of a ticket reissued and later refunded: the refund names it.",
            _sign(_claims(0x0000_0000_100F, generation=1)),
        ),
        # Rules 2 to 8: the first that fails is the answer.
        _case(
            "revoked_and_expired",
            "The refunded ticket after its last day: revoked comes first.",
            _sign(_claims(0x0000_0000_1004)),
            at=T0 + timedelta(days=31),
        ),
        _case(
            "expired_and_wrong_site",
            "Past its last day at a site it does not cover: expired comes first.",
            valid,
            at=T0 + timedelta(days=31),
            site="museum-of-history-and-culture",
        ),
        _case(
            "already_redeemed_and_quota_exhausted",
            "A 3-site pass that used its 3 sites, this one among them: already_redeemed first.",
            _sign(_claims(0x0000_0000_101B, tier=TIER_CODES["domestic"], max_sites=3)),
            entries={
                "japanese-covered-bridge": early,
                "fujian-assembly-hall": early + timedelta(minutes=20),
                "quan-cong-temple": early + timedelta(minutes=40),
            },
        ),
    ]


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _serials() -> dict[str, list[dict[str, Any]]]:
    """How serials are written and read (docs/ticket-format.md, "Serials as people read them")."""
    written = [0, 0x0000_0000_1001, 0x0ABC_DEF0_1234, MAX_SERIAL]
    typed = [
        "00000-00401",
        "0000o 004oi",
        "0000O-OO4OL",
        "  7zzzz-zzzzz\t",
        "7ZZZZZZZZZ",
        "80000-00000",  # 49 bits
        "00000-0040U",  # U is not a digit
        "00000-004011",
        "00000\t00401",  # tabs only at the ends
        "0000\u0131-00401",  # a dotless i: not ASCII, though upper() makes it I
        "",
    ]
    readings: list[dict[str, Any]] = []
    for text in typed:
        try:
            value: int | None = parse_serial(text)
        except ValueError:
            value = None
        readings.append({"input": text, "serial": value})
    return {
        "written": [{"serial": serial, "text": format_serial(serial)} for serial in written],
        "read": readings,
    }


def build() -> dict[str, Any]:
    """The vectors document, with the answers the reference verifier gives."""
    bundle: dict[str, Any] = {
        "keys": {
            "format": FORMAT_VERSION,
            "keys": [
                {
                    "kid": ACTIVE_KID,
                    "algorithm": "Ed25519",
                    "public_key": _public(_TEST_SEED),
                    "status": "active",
                },
                {
                    "kid": RETIRED_KID,
                    "algorithm": "Ed25519",
                    "public_key": _public(_RETIRED_SEED),
                    "status": "retired",
                },
                {
                    "kid": SMALL_ORDER_KID,
                    "algorithm": "Ed25519",
                    "public_key": b64url_encode(_small_order_key()),
                    "status": "verify_only",
                },
            ],
        },
        "products": {
            "items": [
                {"id": PASS, "slug": "old-town-pass", "sites": _PASS_SITES},
                {"id": MUSEUM, "slug": "museum", "sites": ["museum-of-trade-ceramics"]},
            ]
        },
        "revocations": {
            "items": [
                {
                    "serial": format_serial(0x0000_0000_1004),
                    "below_generation": ALL_GENERATIONS,
                    "reason": "refunded",
                },
                {
                    "serial": format_serial(0x0000_0000_1005),
                    "below_generation": 1,
                    "reason": "reissued",
                },
                {
                    "serial": format_serial(0x0000_0000_100E),
                    "below_generation": ALL_GENERATIONS,
                    "reason": "cancelled",
                },
                {
                    "serial": format_serial(0x0000_0000_100F),
                    "below_generation": 1,
                    "reason": "reissued",
                },
                {
                    "serial": format_serial(0x0000_0000_100F),
                    "below_generation": ALL_GENERATIONS,
                    "reason": "refunded",
                },
            ]
        },
    }
    cases = _cases()
    for case in cases:
        verifier = OfflineVerifier.from_bundle(bundle, site=case["site"])
        if case["entries"]:
            # Every stateful case is about the `valid`-style ticket in its own code.
            claims = verifier.check(case["code"], at=T0).claims
            assert claims is not None
            verifier.entries[claims.serial] = {
                slug: datetime.fromisoformat(moment) for slug, moment in case["entries"].items()
            }
        verdict = verifier.check(case["code"], at=datetime.fromisoformat(case["at"]))
        case["expected"] = {
            "status": verdict.status,
            "reason": verdict.reason.value,
            "detail": verdict.detail,
            "entries_left": verdict.entries_left,
        }
        if verdict.claims is not None:
            case["claims"] = {
                "key_id": verdict.claims.key_id,
                "serial": format_serial(verdict.claims.serial),
                "generation": verdict.claims.generation,
                "product_id": verdict.claims.product_id,
                "tier": verdict.claims.tier_name,
                "max_sites": verdict.claims.max_sites,
                "valid_from": verdict.claims.valid_from,
                "valid_until": verdict.claims.valid_until,
                "use_window_minutes": verdict.claims.use_window_minutes,
            }
    return {
        "format": FORMAT_VERSION,
        "about": (
            "Test vectors for Hội An ticket codes (docs/ticket-format.md). The keys are "
            "test-only: their seeds are published below so that every code can be re-derived."
        ),
        "test_keys": {
            str(ACTIVE_KID): _TEST_SEED.hex(),
            str(RETIRED_KID): _RETIRED_SEED.hex(),
            "other": _OTHER_SEED.hex(),
        },
        "bundle": bundle,
        "cases": cases,
        "serials": _serials(),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
