"""Offline ticket checks per second in the inspector's browser: web/scan/static/verify.js in
Debian's headless Chromium, against its own Ed25519 alone on the same bytes.

For each Ed25519 the scanner can use (the browser's WebCrypto, and the vendored
@noble/ed25519 fallback), alternating rounds in one page of:

* baseline: that Ed25519's verification alone (the function verify.js calls, WebCrypto's
  `crypto.subtle.verify` or noble's point arithmetic) on the exact bytes each code signs;
* verifier: `OfflineVerifier.check(code, at)`, which reads the base32 text, parses the fields,
  looks up the key, runs libsodium's checks and the same signature check, then every rule of
  entry (revocations, validity, site, earlier entries, quota).

Each check is awaited before the next, as at a gate. Codes are the mix of
benchmarks/ticket_verify.py: many tickets, two products, some with entries at other sites,
a revocation list of 10,000 serials. Goal: >= 2,000 checks/s (issue #12). It prints both
rates and their ratio and writes them as JSON under benchmarks/results/.

    <venv>/bin/python benchmarks/scan_verify.py [--seconds 2] [--rounds 5] [--codes 2000]
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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.conftest import CHROMIUM  # noqa: E402
from tests.web.scan import harness  # noqa: E402
from ticketing.verify import (  # noqa: E402 - after the path is set
    ALL_GENERATIONS,
    BODY_LENGTH,
    SIGNING_CONTEXT,
    TicketClaims,
    b64url_encode,
    encode_code,
    format_serial,
)

RESULTS = ROOT / "benchmarks" / "results"
SITE = "tan-ky-old-house"
OTHER_SITES = ["japanese-covered-bridge", "fujian-assembly-hall", "quan-cong-temple"]
GOAL_PER_S = 2_000


def _workload(count: int) -> dict[str, Any]:
    """The scanner's downloads and the codes it meets, as benchmarks/ticket_verify.py has them."""
    rng = random.Random(7)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    now = int(time.time())
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    codes: list[str] = []
    signed: list[tuple[str, str]] = []
    entries: list[tuple[str, str, str]] = []
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
            earlier = (at - dt.timedelta(minutes=30)).isoformat()
            serial = format_serial(claims.serial)
            entries.extend((serial, site, earlier) for site in OTHER_SITES[: n % 4])
        raw = base64.b32decode(code + "===")
        codes.append(code)
        signed.append((raw[BODY_LENGTH:].hex(), (SIGNING_CONTEXT + raw[:BODY_LENGTH]).hex()))
    revocations = [
        {"serial": format_serial(rng.randrange(1, 2**48)), "below_generation": ALL_GENERATIONS,
         "reason": "refunded"}
        for _ in range(10_000)
    ]  # fmt: skip
    bundle = {
        "keys": {
            "keys": [
                {"kid": 1, "algorithm": "Ed25519", "public_key": b64url_encode(public),
                 "status": "active"}
            ]
        },
        "products": {
            "items": [
                {"id": 1, "slug": "old-town-pass", "sites": [SITE, *OTHER_SITES]},
                {"id": 2, "slug": "museum", "sites": ["museum-of-trade-ceramics"]},
            ]
        },
        "revocations": {"items": revocations},
    }  # fmt: skip
    return {
        "bundle": bundle,
        "site": SITE,
        "at": at.timestamp() * 1000,
        "entries": entries,
        "codes": codes,
        "signed": signed,
        "publicKey": public.hex(),
    }


def _chromium_version() -> str:
    done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--codes", type=int, default=2000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workload = _workload(args.codes)
    load_before = os.getloadavg()
    if load_before[0] > (os.cpu_count() or 1) / 2:
        print(f"warning: load average {load_before[0]:.1f} already: figures will be low")
    measured: dict[str, Any] = {}
    with harness.serving() as base, sync_playwright() as playwright:
        browser = harness.launch(playwright)
        try:
            context, page = harness.open_harness(browser, base)
            for ed25519 in ("webcrypto", "noble"):
                # noble is ~20 times slower: shorter rounds keep the run short, rates are rates.
                seconds = args.seconds if ed25519 == "webcrypto" else args.seconds / 2
                measured[ed25519] = page.evaluate(
                    "(options) => window.benchmark(options)",
                    {**workload, "ed25519": ed25519, "seconds": seconds, "rounds": args.rounds},
                )
            context.close()
        finally:
            browser.close()
    rows = {}
    for ed25519, result in measured.items():
        assert result["backend"] == ed25519, result["backend"]
        # The workload's answers: admitted, or a museum ticket at the old house.
        assert set(result["reasons"]) == {"ok", "wrong_site"}, result["reasons"]
        raw, full = statistics.median(result["ed25519"]), statistics.median(result["verifier"])
        rows[ed25519] = {
            "ed25519_per_s": round(raw),
            "verify_js_per_s": round(full),
            "ratio": round(full / raw, 3),
            "rounds": {
                "ed25519": [round(r) for r in result["ed25519"]],
                "verify_js": [round(r) for r in result["verifier"]],
            },
        }
    report = {
        "benchmark": "scan_verify",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "browser": _chromium_version(),
        },
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "codes": args.codes,
        "results": rows,
        "goal": {"per_s": GOAL_PER_S},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"scan-verify-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'Ed25519':<10} {'alone /s':>10} {'verify.js /s':>13} {'ratio':>6}")
    for ed25519, row in rows.items():
        print(
            f"{ed25519:<10} {row['ed25519_per_s']:>10,} {row['verify_js_per_s']:>13,} "
            f"{row['ratio']:>6.3f}"
        )
    print(f"goal: verify.js >= {GOAL_PER_S:,}/s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
