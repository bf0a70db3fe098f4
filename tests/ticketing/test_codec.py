"""The code format, the reference offline verifier, and the published test vectors."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ticketing.conftest import BRIDGE, OLD_TOWN_SITES, TAN_KY, Shop, redeem
from ticketing import services, vectors
from ticketing.verify import (
    CODE_BYTES,
    CODE_LENGTH,
    InvalidCode,
    KeySet,
    OfflineVerifier,
    Reason,
    TicketClaims,
    decode_code,
    encode_code,
    format_serial,
    parse_serial,
)

VERIFY_PY = Path(__file__).resolve().parents[2] / "ticketing" / "verify.py"


def test_published_vectors_are_current() -> None:
    assert vectors.VECTORS_FILE.read_text(encoding="utf-8") == vectors.render()


def test_every_published_vector_gives_its_answer() -> None:
    document = json.loads(vectors.VECTORS_FILE.read_text(encoding="utf-8"))
    names = {case["name"] for case in document["cases"]}
    assert {"valid", "expired", "revoked", "tampered", "wrong_key", "other_product"} <= names
    for case in document["cases"]:
        verifier = OfflineVerifier.from_bundle(document["bundle"], site=case["site"])
        if case["entries"]:
            serial = parse_serial(case["claims"]["serial"])
            verifier.entries[serial] = {
                site: datetime.fromisoformat(at) for site, at in case["entries"].items()
            }
        verdict = verifier.check(case["code"], at=datetime.fromisoformat(case["at"]))
        got = {
            "status": verdict.status,
            "reason": verdict.reason.value,
            "detail": verdict.detail,
            "entries_left": verdict.entries_left,
        }
        assert got == case["expected"], case["name"]


def test_published_serials_are_written_and_read_as_documented() -> None:
    serials = json.loads(vectors.VECTORS_FILE.read_text(encoding="utf-8"))["serials"]
    for item in serials["written"]:
        assert format_serial(item["serial"]) == item["text"]
        assert parse_serial(item["text"]) == item["serial"]
    for item in serials["read"]:
        try:
            got: int | None = parse_serial(item["input"])
        except ValueError:
            got = None
        assert got == item["serial"], item["input"]


def test_verifier_imports_no_flask_and_runs_as_a_script(tmp_path: Path) -> None:
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('verify', {str(VERIFY_PY)!r})\n"
        "module = sys.modules['verify'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "roots = {name.split('.')[0] for name in sys.modules}\n"
        "assert not roots & {'flask', 'sqlalchemy', 'app'}, roots\n"
    )
    subprocess.run([sys.executable, "-I", "-c", probe], check=True)
    document = json.loads(vectors.VECTORS_FILE.read_text(encoding="utf-8"))
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(document["bundle"]))
    valid = next(case for case in document["cases"] if case["name"] == "valid")

    def verify(site: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-I",
                str(VERIFY_PY),
                "--bundle",
                str(bundle),
                "--site",
                site,
                "--at",
                valid["at"],
                valid["code"],
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    run = verify(valid["site"])
    assert run.returncode == 0 and json.loads(run.stdout)["reason"] == "ok", run.stderr
    refused = verify("x")
    assert refused.returncode == 1 and json.loads(refused.stdout)["reason"] == "wrong_site"


def test_codes_are_141_base32_characters_and_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    claims = TicketClaims(
        key_id=3,
        serial=(1 << 48) - 1,
        generation=255,
        product_id=65535,
        tier=2,
        max_sites=255,
        valid_from=0,
        valid_until=2**32 - 1,
        use_window_minutes=65535,
    )
    code = encode_code(claims, key)
    assert len(code) == CODE_LENGTH == 141 and set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert decode_code(code, KeySet(keys={3: key.public_key()})) == claims


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@settings(max_examples=400, deadline=None)
@given(
    body=st.binary(min_size=CODE_BYTES, max_size=CODE_BYTES),
    noise=st.lists(
        st.tuples(st.integers(0, CODE_LENGTH - 1), st.characters(codec="utf-8")), max_size=3
    ),
)
def test_fast_base32_reading_agrees_with_the_standard_library(
    body: bytes, noise: list[tuple[int, str]]
) -> None:
    """decode_code reads base32 with int(); it must accept exactly what b32decode accepts."""
    chars = list(base64.b32encode(body).decode()[:CODE_LENGTH])
    for at, char in noise:
        chars[at] = char
    text = "".join(chars)
    try:
        expected: bytes | str = base64.b32decode(text + "===")[:CODE_BYTES]
        if text[-1] not in _ALPHABET[::2]:
            expected = "bad_encoding"  # a second spelling of the same bytes
    except (binascii.Error, ValueError):
        expected = "bad_encoding"
    try:
        decode_code(text, KeySet(keys={}))
    except InvalidCode as exc:
        got = exc.detail
    if expected == "bad_encoding":
        assert got == "bad_encoding", text
    else:
        # It read the bytes: the failure comes from what they say, never from the spelling.
        assert got != "bad_encoding", text


def test_serials_are_typed_forgivingly() -> None:
    serial = 0x0ABC_DEF0_1234
    text = format_serial(serial)
    assert len(text) == 11 and text[5] == "-"
    assert parse_serial(text.lower().replace("-", " ")) == serial
    assert parse_serial(text.replace("0", "O").replace("1", "I")) == serial


def test_api_documents_are_a_scanner_bundle(client: Any, shop: Shop, device: Any, db: Any) -> None:
    """A scanner that downloads keys, products and revocations verifies real tickets offline."""
    gate = device()
    order = shop.order(("old-town-pass", "foreign", 2))
    kept, refunded = order.tickets
    client.post(
        f"/api/v1/tickets/{format_serial(refunded.serial)}/cancel",
        json={},
        headers=_admin(client, db),
    )
    bundle = {
        "keys": client.get("/api/v1/checkin/keys").get_json(),
        "products": client.get("/api/v1/products").get_json(),
        "revocations": client.get("/api/v1/checkin/revocations", headers=gate).get_json(),
    }
    at = datetime.now(UTC) + timedelta(minutes=1)
    scanner = OfflineVerifier.from_bundle(bundle, site=BRIDGE)
    assert scanner.scan(kept.code, at=at).reason is Reason.OK
    assert scanner.scan(kept.code, at=at).reason is Reason.ALREADY_REDEEMED
    assert scanner.check(refunded.code, at=at).reason is Reason.REVOKED
    elsewhere = OfflineVerifier.from_bundle(bundle, site=TAN_KY)
    assert elsewhere.check(kept.code, at=at).entries_left == 4


def _admin(client: Any, db: Any) -> dict[str, str]:
    from app.auth import services

    services.create_user(
        email="codec-admin@hoian.test", password="correct horse battery", roles=["admin"]
    )
    token = services.login(
        email="codec-admin@hoian.test", password="correct horse battery", ttl_hours=1
    )
    return {"Authorization": f"Bearer {token.token}"}


def test_cli_verifies_a_code_offline_from_downloaded_files(
    app: Any, shop: Shop, tmp_path: Any
) -> None:
    ticket = shop.ticket()
    tmp_path = tmp_path / "offline"  # beside the shop's keys
    runner = app.test_cli_runner()
    wrote = runner.invoke(args=["tickets", "offline-files", str(tmp_path)])
    assert wrote.exit_code == 0, wrote.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "entries.json", "keys.json", "products.json", "revocations.json"
    ]  # fmt: skip
    ok = runner.invoke(
        args=["tickets", "verify", ticket.code, "--site", BRIDGE, "--files", tmp_path]
    )
    assert ok.exit_code == 0, ok.output
    answer = json.loads(ok.output)
    assert answer["reason"] == "ok" and answer["ticket"]["serial"] == format_serial(ticket.serial)
    assert answer["ticket"]["product"] == "old-town-pass" and answer["ticket"]["tier"] == "foreign"
    bad = runner.invoke(
        args=["tickets", "verify", ticket.code[:-1], "--site", BRIDGE, "--files", tmp_path]
    )
    assert bad.exit_code == 1 and json.loads(bad.output)["detail"] == "bad_length"


def test_cli_verify_knows_the_entries_and_revocations_it_was_given(
    app: Any, shop: Shop, client: Any, device: Any, tmp_path: Any
) -> None:
    """The bug: `flask tickets verify` said ok, entries_left 4 for a ticket used at 5 sites."""
    used, refunded = shop.ticket(), shop.ticket()
    gate = device()
    for site in OLD_TOWN_SITES[:5]:
        assert redeem(client, gate, site=site, code=used.code).get_json()["reason"] == "ok"
    services.refund_order(code=refunded.order.code, serials=None, note="")
    tmp_path = tmp_path / "offline"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["tickets", "offline-files", str(tmp_path)]).exit_code == 0
    site = OLD_TOWN_SITES[5]
    full = runner.invoke(args=["tickets", "verify", used.code, "--site", site, "--files", tmp_path])
    answer = json.loads(full.output)
    assert (full.exit_code, answer["reason"], answer["entries_left"]) == (1, "quota_exhausted", 0)
    assert len(answer["ticket"]["sites_used"]) == 5
    again = runner.invoke(
        args=["tickets", "verify", used.code, "--site", BRIDGE, "--files", tmp_path]
    )
    assert json.loads(again.output)["reason"] == "already_redeemed"
    gone = runner.invoke(
        args=["tickets", "verify", refunded.code, "--site", BRIDGE, "--files", tmp_path]
    )
    assert json.loads(gone.output)["reason"] == "revoked"
    assert json.loads(gone.output)["detail"] == "refunded"
    (tmp_path / "entries.json").write_text("not json", encoding="utf-8")
    broken = runner.invoke(
        args=["tickets", "verify", used.code, "--site", site, "--files", tmp_path]
    )
    assert broken.exit_code == 1 and "entries.json" in broken.output
