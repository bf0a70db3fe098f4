"""The published test vectors (docs/test-vectors/): codes, the state a scanner holds, answers.

Made from a test-only key whose seed is published with them, so anyone can re-derive every
code; Ed25519 signatures are deterministic, so `build()` always gives the same document and a
test keeps the committed file equal to it. `flask tickets write-vectors` rewrites the file.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketing.verify import (
    ALL_GENERATIONS,
    CODE_LENGTH,
    FORMAT_VERSION,
    TIER_CODES,
    OfflineVerifier,
    TicketClaims,
    b64url_encode,
    encode_code,
    format_serial,
)

VECTORS_FILE = Path(__file__).resolve().parents[1] / "docs" / "test-vectors" / "vectors.json"

# Test-only keys: their seeds are published on purpose. Never use them to sign real tickets.
_TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
_OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
_RETIRED_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
ACTIVE_KID, RETIRED_KID, UNKNOWN_KID = 7, 6, 9
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
    ]


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
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
