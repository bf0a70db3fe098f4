"""Offline ticket verification per second on one core, against raw Ed25519 on the same bytes.

In one process, pinned to one CPU where the OS allows, alternating rounds of:

* baseline: raw Ed25519 verification (`verify_signature`: libsodium, the primitive the
  verifier uses) on the exact bytes each code signs;
* for reference: OpenSSL's Ed25519 (`cryptography`'s `Ed25519PublicKey.verify`) on them;
* verifier: `OfflineVerifier.check(code, at=...)` from ticketing/verify.py, which decodes
  the base32 text, parses the v1 fields, looks up the key, verifies the same signature and
  applies every rule of entry (revocations, validity, site, earlier entries, quota).

Codes are a realistic mix: many tickets, several products, some with entries already made at
other sites, a revocation list of 10,000 serials. It prints both rates and their ratio (the
goal: verifier >= 0.5 x raw and >= 15,000 checks/s), and writes them as JSON under
benchmarks/results/.

    <venv>/bin/python benchmarks/ticket_verify.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ticketing.verify import (  # noqa: E402 - after the path is set
    BODY_LENGTH,
    SIGNING_CONTEXT,
    KeySet,
    OfflineVerifier,
    TicketClaims,
    encode_code,
    verify_signature,
)

RESULTS = ROOT / "benchmarks" / "results"
SITE = "tan-ky-old-house"
OTHER_SITES = ["japanese-covered-bridge", "fujian-assembly-hall", "quan-cong-temple"]


def _codes(count: int) -> tuple[OfflineVerifier, list[str], list[tuple[bytes, bytes]]]:
    rng = random.Random(7)
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    verifier = OfflineVerifier(
        keys=KeySet(keys={1: key.public_key()}),
        products={1: frozenset([SITE, *OTHER_SITES]), 2: frozenset(["museum-of-trade-ceramics"])},
        site=SITE,
        revoked_below={rng.randrange(1, 2**48): 256 for _ in range(10_000)},
    )
    codes: list[str] = []
    signed: list[tuple[bytes, bytes]] = []
    for n in range(count):
        claims = TicketClaims(
            key_id=1,
            serial=rng.randrange(1, 2**48),
            generation=0,
            product_id=1 if n % 5 else 2,
            tier=1 + n % 3,
            max_sites=5,
            valid_from=now - 3600,
            valid_until=now + 86_400,
            use_window_minutes=1440,
        )
        code = encode_code(claims, key)
        if n % 3 == 0:
            at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
            verifier.entries[claims.serial] = dict.fromkeys(OTHER_SITES[: n % 4], at)
        raw = base64.b32decode(code + "===")
        codes.append(code)
        signed.append((raw[BODY_LENGTH:], SIGNING_CONTEXT + raw[:BODY_LENGTH]))
    return verifier, codes, signed


def _rate(work: object, seconds: float) -> float:
    """Calls per second of `work()` (which runs one batch and returns its size)."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += work()  # type: ignore[operator]
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--codes", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    verifier, codes, signed = _codes(args.codes)
    public = verifier.keys.keys[1]
    public_raw = verifier.keys.raw[1]
    at = dt.datetime.now(dt.UTC)
    verdicts = [verifier.check(code, at=at) for code in codes]
    assert all(v.reason.value in {"ok", "wrong_site"} for v in verdicts), "setup is wrong"

    def raw_batch() -> int:
        for signature, message in signed:
            verify_signature(public_raw, signature, message)
        return len(signed)

    def openssl_batch() -> int:
        for signature, message in signed:
            public.verify(signature, message)
        return len(signed)

    def verifier_batch() -> int:
        for code in codes:
            verifier.check(code, at=at)
        return len(codes)

    raw_rates, verify_rates, openssl_rates = [], [], []
    for _ in range(args.rounds):
        raw_rates.append(_rate(raw_batch, args.seconds))
        verify_rates.append(_rate(verifier_batch, args.seconds))
        openssl_rates.append(_rate(openssl_batch, args.seconds / 3))
    raw, full = statistics.median(raw_rates), statistics.median(verify_rates)
    openssl = statistics.median(openssl_rates)
    result = {
        "benchmark": "ticket_verify",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "raw_ed25519_per_s": round(raw),
        "openssl_ed25519_per_s": round(openssl),
        "offline_verify_per_s": round(full),
        "ratio": round(full / raw, 3),
        "rounds": {
            "raw": [round(r) for r in raw_rates],
            "verify": [round(r) for r in verify_rates],
            "openssl": [round(r) for r in openssl_rates],
        },
        "goal": {"ratio": 0.5, "per_s": 15_000},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"ticket-verify-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"raw Ed25519 verify     {raw:>10,.0f} /s  (libsodium, one core)")
    print(f"  OpenSSL's, for scale {openssl:>10,.0f} /s")
    print(f"offline verification   {full:>10,.0f} /s  (decode, parse, Ed25519, rules)")
    print(f"ratio                  {full / raw:>10.3f}    (goal >= 0.5 and >= 15,000/s)")
    print(f"load average           {os.getloadavg()[0]:>10.2f}")


if __name__ == "__main__":
    main()
