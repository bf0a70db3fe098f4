"""VietQR payloads match published examples, survive a real QR decoder, and reject damage."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
import qrcode

from payments.vietqr import VietQRError, build_payload, crc16_ccitt, parse_payload

# A published example: subiz/vietqr's README (120,000 VND to BIN 970415, account
# 0011001932418, note "ủng hộ lũ lụt"). The static example copied around from the NAPAS IBFT
# v1.5.2 document is not used: its account field says 12 characters but holds 13.
SUBIZ_DYNAMIC = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
    "530370454061200005802VN62170813ung ho lu lut6304C15C"
)


def test_static_payload_has_no_amount_and_is_reusable() -> None:
    parsed = parse_payload(build_payload(bank_bin="970403", account="0011012345678", amount=None))
    assert parsed.amount is None and not parsed.dynamic and parsed.account == "0011012345678"


def test_dynamic_payload_matches_a_published_example() -> None:
    payload = build_payload(
        bank_bin="970415", account="0011001932418", amount=120000, note="ủng hộ lũ lụt"
    )
    assert payload == SUBIZ_DYNAMIC


def test_parse_round_trips() -> None:
    parsed = parse_payload(SUBIZ_DYNAMIC)
    assert (parsed.bank_bin, parsed.account, parsed.amount, parsed.note) == (
        "970415",
        "0011001932418",
        120000,
        "ung ho lu lut",
    )
    assert (
        parsed.currency == "704"
        and parsed.country == "VN"
        and parsed.service == "QRIBFTTA"
        and parsed.dynamic
    )


def test_crc_is_ccitt_false() -> None:
    assert crc16_ccitt("123456789") == "29B1"  # the standard check value


@pytest.mark.parametrize(
    "damaged",
    [
        SUBIZ_DYNAMIC[:-1] + "D",
        SUBIZ_DYNAMIC.replace("120000", "920000"),
        SUBIZ_DYNAMIC[:40],
        "",
        "6304ABCD",
    ],
)
def test_damaged_payloads_are_refused(damaged: str) -> None:
    with pytest.raises(VietQRError):
        parse_payload(damaged)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bank_bin": "97041", "account": "1", "amount": 1},
        {"bank_bin": "970415", "account": "", "amount": 1},
        {"bank_bin": "970415", "account": "1" * 20, "amount": 1},
        {"bank_bin": "970415", "account": "1", "amount": 0},
        {"bank_bin": "970415", "account": "12-3", "amount": 5},
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(VietQRError):
        build_payload(**kwargs)  # type: ignore[arg-type]


def test_a_real_decoder_reads_our_qr_image() -> None:
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbar-tools is installed by make test (Makefile system-deps)"
    payload = build_payload(
        bank_bin="970436", account="0071000888999", amount=240000, note="HA-7KQ2M9 ve tham quan"
    )
    image = io.BytesIO()
    qrcode.make(payload, border=4).save(image)
    decoded = (
        subprocess.run(
            [zbarimg, "--raw", "--quiet", "-"],
            input=image.getvalue(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert decoded == payload and parse_payload(decoded).amount == 240000
