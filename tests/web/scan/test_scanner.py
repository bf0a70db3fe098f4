"""The scanner at a gate, in Debian's headless Chromium against a real gunicorn, with a fake
camera fed a video of real ticket QR codes (PNG from the API, made into y4m by ffmpeg).

One phone (one Chromium profile, kept between launches as a phone keeps its storage) is paired
from the console's pairing code, scans online, then offline, annuls a check-in and uploads its
queue when the network is back; each launch plays the video of the tickets held up to the
camera at that moment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qrcode

from tests.conftest import gunicorn_serving
from tests.web.conftest import BIN, CHROMIUM, ROOT

pytestmark = pytest.mark.slow

BRIDGE = "japanese-covered-bridge"
ADMIN = ("gate-admin@hoian.test", "correct horse battery")
FPS = 4
SIDE = 360  # video frames: a version-6 code (41 modules) at about 7 pixels a module
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@dataclass(frozen=True)
class Gate:
    base: str
    workdir: Path
    token: str  # the admin's

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token or self.token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()[:300]!r}") from None
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw

    def tickets(self, tier: str, quantity: int) -> list[dict[str, Any]]:
        order = self.api(
            "POST",
            "/api/v1/orders",
            {
                "items": [{"product": "old-town-pass", "tier": tier, "quantity": quantity}],
                "email": "visitor@example.com",
                "payment_method": "cash",
            },
        )
        paid = self.api(
            "POST", f"/api/v1/orders/{order['code']}/cash", {"amount_received": order["total"]}
        )
        return [{**ticket, "order": order["code"]} for ticket in paid["tickets"]]

    def png(self, ticket: dict[str, Any], folder: Path) -> Path:
        path = folder / f"{ticket['serial']}.png"
        path.write_bytes(self.api("GET", f"/api/v1/tickets/{ticket['serial']}/qr.png"))
        return path

    def device(self, name: str) -> tuple[int, str]:
        """A device at the bridge and its pairing code (the console's services, by the API)."""
        made = self.api("POST", "/api/v1/devices", {"name": name, "site": BRIDGE})
        code = self.api("POST", "/api/v1/devices/pairing", {"device": made["id"]})["code"]
        return made["id"], code


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    """gunicorn on a migrated, seeded database with a signing key and an admin."""
    if not Path(CHROMIUM).exists() or shutil.which("ffmpeg") is None:
        pytest.skip("needs Debian's chromium and ffmpeg (make system-deps)")
    workdir = tmp_path_factory.mktemp("gate")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'hoian.db'}",
        "MEDIA_DIR": str(workdir / "media"),
        "HOIAN_TICKET_KEYS_DIR": str(workdir / "keys"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FLASK_APP": "wsgi:app",
        "LOG_LEVEL": "WARNING",
        "HOIAN_LOGIN_RATE_LIMIT": "1000 per minute",
        "HOIAN_NEW_USER_PASSWORD": ADMIN[1],
    }
    for command in (
        ["db", "upgrade"],
        ["content", "load"],
        ["tickets", "setup"],
        ["users", "create", "--email", ADMIN[0], "--role", "admin"],
    ):
        done = subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, capture_output=True, check=False
        )
        assert done.returncode == 0, (command, done.stderr.decode()[-2000:])
    with gunicorn_serving(listener, env=env, workdir=workdir):
        base = f"http://127.0.0.1:{port}"
        login = urllib.request.Request(
            base + "/api/v1/auth/token",
            data=json.dumps({"email": ADMIN[0], "password": ADMIN[1]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=30) as response:
            token = json.loads(response.read())["access_token"]
        yield Gate(base=base, workdir=workdir, token=token)


def video(folder: Path, name: str, segments: list[tuple[Path | None, float]]) -> Path:
    """A y4m the fake camera plays (and loops): each PNG, or a blank frame, for its seconds,
    centred on a white square; ffmpeg writes the frames as the camera's I420."""
    from PIL import Image

    frames = []
    for image, seconds in segments:
        frame = Image.new("RGB", (SIDE, SIDE), "white")
        if image is not None:
            picture = Image.open(image).convert("RGB")
            picture.thumbnail((SIDE, SIDE))
            frame.paste(picture, ((SIDE - picture.width) // 2, (SIDE - picture.height) // 2))
        frames += [frame.tobytes()] * max(1, round(seconds * FPS))
    out = folder / f"{name}.y4m"
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{SIDE}x{SIDE}", "-r", str(FPS), "-i", "-", "-pix_fmt", "yuv420p", str(out)],
        input=b"".join(frames),
        capture_output=True,
        check=False,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return out


def text_png(folder: Path, name: str, text: str) -> Path:
    """A QR code of any text, as a phone would meet it at the gate."""
    path = folder / f"{name}.png"
    qrcode.make(text, border=4).save(str(path))
    return path


class Phone:
    """One phone's browser profile, launched again for each moment with what its camera sees."""

    def __init__(self, chromium: Any, profile: Path, base: str) -> None:
        self.chromium = chromium
        self.profile = profile
        self.base = base

    def launch(self, camera: Path, *, offline: bool = False, init_script: str | None = None) -> Any:
        context = self.chromium.browser_type.launch_persistent_context(
            str(self.profile),
            executable_path=CHROMIUM,
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
                "--autoplay-policy=no-user-gesture-required",
                "--mute-audio",
            ],
            viewport={"width": 412, "height": 860},
            permissions=["camera"],
        )
        if init_script:
            context.add_init_script(init_script)
        context.set_offline(offline)
        return context

    @staticmethod
    def page(context: Any, url: str) -> Any:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(url)
        return page


def until(page: Any, predicate: str, timeout_s: float = 30) -> None:
    """Wait until a JS function of the page returns true. Polled from here with evaluate:
    Playwright's wait_for_function compiles its predicate with eval, which the scanner's
    Content-Security-Policy forbids (as it should)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        page.wait_for_timeout(100)


def wait_for_log(page: Any, test: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Wait until the scanner's log of verdicts passes `test` (a JS expression on `log`)."""
    until(page, f"() => {{ const log = window.scanLog ?? []; return {test}; }}", timeout_s)
    # How long each took (`ms`) is the benchmark's (benchmarks/scan_online.py).
    return [
        {k: v for k, v in entry.items() if k != "ms"} for entry in page.evaluate("window.scanLog")
    ]


def axe_clean(page: Any, name: str, artifacts: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG_AA)
    (artifacts / f"axe-{name}.json").write_text(
        json.dumps({"violations": results.generate_snapshot()}, indent=2) + "\n"
    )
    assert not results.response["violations"], results.generate_snapshot()
    assert len(results.response["passes"]) > 5


def _console_pairing_code(chromium: Any, gate: Gate, artifacts: Path) -> str:
    """The admin enrolls the gate's phone in the console and reads its short code."""
    context = chromium.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    try:
        page.goto(gate.base + "/console/login")
        page.fill("#email", ADMIN[0])
        page.fill("#password", ADMIN[1])
        with page.expect_navigation():
            page.press("#password", "Enter")
        page.goto(gate.base + "/console/devices")
        axe_clean(page, "console-devices", artifacts)
        page.fill("#device-name", "Chùa Cầu, east gate")
        page.select_option("#device-site", BRIDGE)
        page.click("text=Đăng ký và hiện mã ghép nối")
        code = page.text_content(".short-code")
        assert code and re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code)
        page.screenshot(path=str(artifacts / "console-device-pairing.png"), full_page=True)
        axe_clean(page, "console-device-pairing", artifacts)
        return code
    finally:
        context.close()


def test_a_gate_scans_online_then_offline_and_reconciles(
    chromium: Any, gate: Gate, tmp_path: Path, artifacts_dir: Path
) -> None:
    online, later, revoked, twice = gate.tickets("foreign", 3) + gate.tickets("domestic", 1)
    pngs = {t["serial"]: gate.png(t, tmp_path) for t in (online, later, revoked, twice)}
    gate.api("POST", f"/api/v1/orders/{revoked['order']}/refund",
             {"tickets": [revoked["serial"]], "note": "test"})  # fmt: skip
    _, other_code = gate.device("Chùa Cầu, west gate")
    other_token = gate.api("POST", "/api/v1/devices/pair", {"code": other_code})["access_token"]
    code = _console_pairing_code(chromium, gate, artifacts_dir)
    phone = Phone(chromium, tmp_path / "phone", gate.base)

    # Online: the phone pairs, the visitor shows a ticket, then shows it again.
    first = video(tmp_path, "online", [(None, 1), (pngs[online["serial"]], 1.5), (None, 1.5)])
    context = phone.launch(first)
    try:
        page = phone.page(context, gate.base + "/scan/?lang=en")
        page.wait_for_selector("#pairing:not([hidden])")
        axe_clean(page, "scan-pairing", artifacts_dir)
        page.fill("#pair-code", code.lower())
        page.click("#pair-form button")
        page.wait_for_selector("#scanner:not([hidden])")
        page.wait_for_selector("#site-name:not(:empty)")
        assert page.evaluate("localStorage.length") == 0  # the token is in IndexedDB only
        log = wait_for_log(page, "log.length >= 1")
        assert log[0] == {"status": "ok", "reason": "ok", "detail": None, "direction": "entry",
                          "serial": online["serial"], "mode": "online"}  # fmt: skip
        page.screenshot(path=str(artifacts_dir / "scan-green-online.png"))
        assert page.text_content("#verdict-reason") == "Admit"
        assert page.text_content("#verdict-left") == "Entries left: 4"
        log = wait_for_log(page, "log.length >= 2")
        assert (log[1]["reason"], log[1]["mode"]) == ("already_redeemed", "online")
        page.screenshot(path=str(artifacts_dir / "scan-red-online.png"))
        assert page.text_content("#verdict-reason") == "Already entered here"
        page.wait_for_selector("#verdict", state="hidden", timeout=10_000)
        assert page.text_content("#count-here") == "1"
        page.screenshot(path=str(artifacts_dir / "scan-ready-online.png"))
        axe_clean(page, "scan-scanner", artifacts_dir)
        until(page, "() => navigator.serviceWorker.controller !== null", 15)
    finally:
        context.close()

    # Offline: three tickets, one revoked before the download, one shown twice.
    segments: list[tuple[Path | None, float]] = []
    for serial in (later["serial"], revoked["serial"], twice["serial"], twice["serial"]):
        segments += [(None, 1), (pngs[serial], 1.5)]
    second = video(tmp_path, "offline", [*segments, (None, 60)])
    context = phone.launch(second, offline=True)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        started = page.goto(gate.base + "/scan/?lang=en")
        assert started is not None and started.from_service_worker  # no network: its copy
        page.wait_for_selector("#scanner:not([hidden])")
        log = wait_for_log(page, "log.length >= 4", timeout_s=40)
        assert [(e["serial"], e["reason"], e["mode"]) for e in log] == [
            (later["serial"], "ok", "offline"),
            (revoked["serial"], "revoked", "offline"),
            (twice["serial"], "ok", "offline"),
            (twice["serial"], "already_redeemed", "offline"),
        ]
        assert page.text_content("#verdict-mode") == "Decided offline"
        page.screenshot(path=str(artifacts_dir / "scan-red-offline.png"))
        assert page.text_content("#net") == "Offline: decided on this phone"
        assert page.text_content("#queue") == "Scans waiting to upload: 4"
        # The turnstile did not turn for the last one admitted: annul it.
        page.click("#annul")
        wait_for_log(page, "log.length >= 5 && log[4].reason === 'annulled'")
        page.screenshot(path=str(artifacts_dir / "scan-annulled-offline.png"))
        # Meanwhile the other gate lets the first offline ticket in again, online.
        again = gate.api(
            "POST",
            "/api/v1/checkin/redeem",
            {
                "secret": later["code"],
                "site": BRIDGE,
                "nonce": "other-gate-0001",
                "scanned_at": "2026-01-01T00:00:00+00:00",
            },
            token=other_token,
        )
        assert again["reason"] == "ok"
        # Back online: the queue goes up, and the server names the double entry.
        context.set_offline(False)
        page.wait_for_selector("#conflicts li[data-conflict=double_entry]", timeout=20_000)
        assert later["serial"] in page.text_content("#conflicts")
        page.wait_for_selector("#queue", state="hidden")
        page.wait_for_selector("#verdict", state="hidden")
        page.screenshot(path=str(artifacts_dir / "scan-conflicts-online.png"))
    finally:
        context.close()
    conflicts = gate.api("GET", "/api/v1/checkin/conflicts")
    assert [(c["serial"], c["conflict"]) for c in conflicts] == [(later["serial"], "double_entry")]
    # The annulled check-in admitted nobody: the ticket still has all its entries.
    found = gate.api("GET", f"/api/v1/checkin/search?q={twice['serial']}")["items"]
    assert found[0]["entries_left"] == found[0]["max_sites"]


def test_bad_codes_reused_pairings_a_revoked_device_and_a_clock_hours_off(
    chromium: Any, gate: Gate, tmp_path: Path, artifacts_dir: Path
) -> None:
    (ticket,) = gate.tickets("foreign", 1)
    tampered = (
        ticket["code"][:40] + ("A" if ticket["code"][40] != "A" else "B") + ticket["code"][41:]
    )
    vietqr = ("00020101021238570010A000000727012700069704360113007100088899902080"
              "QRIBFTTA53037045406320000580 2VN62140810HA7KQ2M9XY6304ABCD")  # fmt: skip
    device_id, code = gate.device("Chùa Cầu, north gate")
    gate.api("POST", "/api/v1/devices/pair", {"code": code})  # someone else used it first
    phone = Phone(chromium, tmp_path / "phone", gate.base)
    blank = video(tmp_path, "blank", [(None, 2)])

    context = phone.launch(blank)
    try:
        page = phone.page(context, f"{gate.base}/scan/?lang=en#pair={code}")
        page.wait_for_selector("#pairing-message:not([hidden])")
        assert "used already" in page.text_content("#pairing-message")
        assert page.evaluate("location.hash") == ""  # the code leaves the address bar
        expired = gate.api("POST", "/api/v1/devices/pairing", {"device": device_id})["code"]
        with sqlite3.connect(gate.workdir / "hoian.db") as db:
            db.execute("UPDATE device_pairings SET expires_at = '2000-01-01 00:00:00'"
                       " WHERE used_at IS NULL")  # fmt: skip
        page.fill("#pair-code", expired)
        page.click("#pair-form button")
        until(
            page, "() => document.querySelector('#pairing-message').textContent.includes('expired')"
        )
        fresh = gate.api("POST", "/api/v1/devices/pairing", {"device": device_id})["code"]
        page.fill("#pair-code", fresh)
        page.click("#pair-form button")
        page.wait_for_selector("#scanner:not([hidden])")
    finally:
        context.close()

    # Codes that are not tickets, and damaged ones, held up to the camera.
    shown = [
        text_png(tmp_path, "url", "https://example.com/not-a-ticket"),
        text_png(tmp_path, "vietqr", vietqr),
        text_png(tmp_path, "random", "hello from the gate 12345"),
        text_png(tmp_path, "tampered", tampered),
        text_png(tmp_path, "lower", ticket["code"].lower()),
    ]
    segments: list[tuple[Path | None, float]] = []
    for image in shown:
        segments += [(None, 1), (image, 1.5)]
    context = phone.launch(video(tmp_path, "bad", [*segments, (None, 60)]))
    try:
        page = phone.page(context, gate.base + "/scan/?lang=vi")
        log = wait_for_log(page, "log.length >= 5", timeout_s=40)
        assert [(e["reason"], e["detail"]) for e in log[:5]] == [
            ("invalid", "not_a_ticket"),
            ("invalid", "not_a_ticket"),
            ("invalid", "not_a_ticket"),
            ("invalid", "bad_signature"),  # the server's verdict on a genuine-looking code
            ("invalid", "damaged"),
        ]
        assert page.text_content("#verdict-reason") == "Vé không hợp lệ"
        page.screenshot(path=str(artifacts_dir / "scan-red-damaged-vi.png"))
        # Too damaged to read: the order code, typed, finds the ticket; it is let in by serial.
        page.wait_for_selector("#verdict", state="hidden", timeout=10_000)
        page.click("#manual-open")
        page.fill("#manual-q", ticket["order"])
        page.click("#manual button[type=submit]")
        page.click("#manual-results button")
        log = wait_for_log(page, "log.length >= 6")
        assert (log[5]["reason"], log[5]["serial"], log[5]["mode"]) == (
            "ok",
            ticket["serial"],
            "online",
        )
        # The admin revokes the phone: at its next call it says so and forgets its token.
        gate.api("DELETE", f"/api/v1/devices/{device_id}")
        page.reload()
        page.wait_for_selector("#pairing-message:not([hidden])")
        assert (
            page.text_content("#pairing-message")
            == "Thiết bị này đã bị thu hồi. Hãy hỏi quản trị viên."
        )
        page.screenshot(path=str(artifacts_dir / "scan-revoked-vi.png"))
        token = page.evaluate(
            """() => new Promise((resolve) => {
                 const open = indexedDB.open("hoian-scan", 1);
                 open.onsuccess = () => {
                   const get = open.result.transaction("kv").objectStore("kv").get("token");
                   get.onsuccess = () => resolve(get.result ?? null);
                 };
               })"""
        )
        assert token is None
    finally:
        context.close()


# A phone whose clock is three hours slow: Date itself is shifted, as the phone's would be.
SLOW_CLOCK = """(() => {
  const shift = -3 * 3600 * 1000;
  const RealDate = Date;
  class PhoneDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + shift);
      else super(...args);
    }
    static now() { return RealDate.now() + shift; }
  }
  globalThis.Date = PhoneDate;
})();"""


def test_a_phone_clock_hours_off_is_corrected(
    chromium: Any, gate: Gate, tmp_path: Path, artifacts_dir: Path
) -> None:
    (ticket,) = gate.tickets("foreign", 1)
    device_id, code = gate.device("Chùa Cầu, south gate")
    phone = Phone(chromium, tmp_path / "phone", gate.base)
    context = phone.launch(video(tmp_path, "blank", [(None, 2)]), init_script=SLOW_CLOCK)
    try:
        page = phone.page(context, gate.base + "/scan/?lang=en")
        page.fill("#pair-code", code)
        page.click("#pair-form button")
        page.wait_for_selector("#clock:not([hidden])")
        assert "180 minutes off" in page.text_content("#clock")
        until(page, "() => navigator.serviceWorker.controller !== null", 15)
    finally:
        context.close()
    png = gate.png(ticket, tmp_path)
    camera = video(tmp_path, "slow", [(None, 1), (png, 1.5), (None, 60)])
    context = phone.launch(camera, offline=True, init_script=SLOW_CLOCK)
    try:
        page = phone.page(context, gate.base + "/scan/?lang=en")
        log = wait_for_log(page, "log.length >= 1")
        # Uncorrected, the phone would call a ticket sold a minute ago not valid yet.
        assert (log[0]["reason"], log[0]["mode"]) == ("ok", "offline")
        context.set_offline(False)
        page.wait_for_selector("#queue", state="hidden", timeout=20_000)
    finally:
        context.close()
    audit = gate.api("GET", f"/api/v1/audit?object_type=device&object_id={device_id}")
    corrected = [row for row in audit if row["action"] == "checkin.clock_corrected"]
    assert corrected and abs(corrected[0]["changes"]["offset_s"] - 3 * 3600) < 60
    entries = gate.api("GET", f"/api/v1/checkin/entries?site={BRIDGE}")["items"]
    (entry,) = [e for e in entries if e["serial"] == ticket["serial"]]
    # The entry is at the real time of the scan, not three hours earlier.
    entered = datetime.fromisoformat(entry["entered_at"])
    assert abs(datetime.now(UTC) - entered) < timedelta(minutes=5)
