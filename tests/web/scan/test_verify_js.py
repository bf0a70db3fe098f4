"""The scanner's offline verifier (web/scan/static/verify.js) in real headless Chromium gives
the reference verifier's answer on every published vector, with the browser's own Ed25519 and
with the vendored @noble/ed25519 fallback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.scan import harness

DOCUMENT = json.loads((harness.VECTORS / "vectors.json").read_text(encoding="utf-8"))
BACKENDS = ["webcrypto", "noble"]


@pytest.fixture(scope="module")
def page(chromium: Any) -> Iterator[Any]:
    """The harness page, served from this checkout (tests/web/conftest.py's Chromium)."""
    with harness.serving() as base:
        context, page = harness.open_harness(chromium, base)
        try:
            yield page
        finally:
            context.close()


@pytest.mark.parametrize("ed25519", BACKENDS)
def test_every_vector_gets_the_reference_verdict(page: Any, ed25519: str) -> None:
    result = page.evaluate("(ed25519) => window.runVectors(ed25519)", ed25519)
    assert result["backend"] == ed25519
    got = {case["name"]: case["verdict"] for case in result["cases"]}
    assert list(got) == [case["name"] for case in DOCUMENT["cases"]]
    wrong = {}
    for case in DOCUMENT["cases"]:
        verdict = dict(got[case["name"]])
        claims = verdict.pop("claims")
        if verdict != case["expected"] or claims != case.get("claims"):
            wrong[case["name"]] = {"got": got[case["name"]], "expected": case["expected"]}
    assert not wrong, json.dumps(wrong, indent=1)
    serials = DOCUMENT["serials"]
    assert result["written"] == [item["text"] for item in serials["written"]]
    assert result["read"] == [item["serial"] for item in serials["read"]]


def test_chromium_verifies_with_its_own_ed25519_when_left_to_choose(page: Any) -> None:
    assert page.evaluate("() => window.runVectors('auto')")["backend"] == "webcrypto"


@pytest.mark.parametrize("ed25519", BACKENDS)
def test_a_ticket_admitted_at_this_gate_is_refused_here_the_second_time(
    page: Any, ed25519: str
) -> None:
    first, second = page.evaluate("(e) => window.scanTwice(e, 'valid')", ed25519)
    assert (first["reason"], first["entries_left"]) == ("ok", 4)
    assert (second["reason"], second["entries_left"]) == ("already_redeemed", 4)
    assert second["claims"]["serial"] == first["claims"]["serial"]


def test_the_browsers_own_ed25519_accepts_what_the_format_refuses(page: Any) -> None:
    """Why verify.js checks small orders itself: Chromium's WebCrypto (BoringSSL) passes a
    small-order R, and a small-order key, that libsodium (the server) refuses."""
    keys = {key["kid"]: key["public_key"] for key in DOCUMENT["bundle"]["keys"]["keys"]}
    cases = []
    for name in ("signature_small_order_r", "small_order_key"):
        code = next(case["code"] for case in DOCUMENT["cases"] if case["name"] == name)
        kid = int.from_bytes(base64.b32decode(code + "===")[1:3], "big")
        cases.append({"code": code, "key": keys[kid]})
    accepted = page.evaluate(
        """async (cases) => {
          const results = [];
          for (const { code, key } of cases) {
            const raw = window.verify.readCode(code);
            const bytes = Uint8Array.from(
              atob(key.replaceAll("-", "+").replaceAll("_", "/") + "="), (c) => c.charCodeAt(0));
            const publicKey = await crypto.subtle.importKey("raw", bytes, "Ed25519", false,
              ["verify"]);
            const message = new Uint8Array(40);
            message.set(new TextEncoder().encode("hoian-ticket-v1\0"));
            message.set(raw.subarray(0, 24), 16);
            results.push(await crypto.subtle.verify("Ed25519", publicKey, raw.subarray(24),
              message));
          }
          return results;
        }""",
        cases,
    )
    assert accepted == [True, True]
    verdicts = {case["name"]: case["expected"]["detail"] for case in DOCUMENT["cases"]}
    assert verdicts["signature_small_order_r"] == verdicts["small_order_key"] == "bad_signature"
