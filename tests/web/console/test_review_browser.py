"""The editor's whole round in real headless Chromium against a real gunicorn and the real
speech stack: paste a Vietnamese narration, watch its job finish, write the English
translation sentence by sentence, hear the draft, approve, publish; the tourist then gets it;
then upload a recording and correct Whisper's transcript while it plays. Every page on the way
is checked by axe-core (WCAG 2.1 A/AA) and photographed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import BIN, Server, _needs_speech_stack, speech_server
from tests.web.console.conftest import browser_login, server_user

pytestmark = pytest.mark.slow

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SITE = "quan-cong-temple"
VI_TEXT = "Miếu Quan Công được dựng vào thế kỷ mười bảy. Người Hoa thờ Quan Vũ ở đây."
EN = ["The Quan Cong temple was built in the seventeenth century.", "The Chinese worship here."]
JOB_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def review_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn on a migrated, seeded database serving Vietnamese and English, whose jobs run
    in the local speech worker it spawns (espeak-ng is let through Whisper's check here: these
    tests are about the console, tests/guides hold the bounds)."""
    _needs_speech_stack()
    workdir = tmp_path_factory.mktemp("review-server")
    yield from speech_server(
        workdir,
        env={
            "HOIAN_MODEL_DIR": str(workdir / "models"),
            "HOIAN_SPEECH_THREADS": "1",
            "HOIAN_LANGUAGES": "vi,en",
            "HOIAN_FALLBACK_CHAIN": "en,vi",
            "HOIAN_CALIBRATION_BOUNDS": "vi=10,en=10",
            "HOIAN_HEARING_BOUNDS": "vi=10,en=10",
        },
        commands=[[str(BIN / "flask"), "db", "upgrade"], [str(BIN / "flask"), "content", "load"]],
    )


def _axe(page: Any, report: dict[str, Any], name: str, artifacts: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    assert page.locator("h1").count() == 1, name
    report[name] = Axe().run(page, options=WCAG_AA).generate_snapshot()
    page.screenshot(path=str(artifacts / f"console-{name}.png"), full_page=True)


def _job_finishes(page: Any) -> None:
    page.wait_for_function(
        "() => document.getElementById('job').dataset.final === 'true'", timeout=JOB_TIMEOUT_MS
    )


def _record_and_correct(
    page: Any, base: str, tmp_path: Path, report: dict[str, Any], artifacts: Path
) -> None:
    """A recording made with espeak-ng and ffmpeg: a wrong kind of file is refused before any
    upload; the recording goes up with its progress bar, its job transcribes it, and the
    editor corrects Whisper's words while the recording plays."""
    wav, notes = tmp_path / "chua-cau.wav", tmp_path / "notes.txt"
    subprocess.run(
        ["espeak-ng", "-v", "vi", "-s", "140", "-w", str(tmp_path / "raw.wav"), VI_TEXT],
        check=True,
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "raw.wav"), "-ar", "16000", str(wav)],
        check=True,
    )
    notes.write_text("not audio", encoding="utf-8")
    page.goto(f"{base}/console/narrations")
    page.locator("#upload-site").select_option(SITE)
    page.locator("#upload-file").set_input_files(str(notes))
    assert "Không nhận loại tệp này" in page.locator("#upload-error").inner_text()
    page.locator("#upload-file").set_input_files(str(wav))
    assert page.locator("#upload-error").is_hidden()
    page.get_by_role("button", name="Tải lên và tạo thuyết minh").click()
    page.wait_for_url(f"{base}/console/jobs/*")
    _job_finishes(page)
    page.get_by_role("link", name="Duyệt các bản thuyết minh").click()
    page.wait_for_url(f"{base}/console/review/*")
    page.goto(page.url.split("?")[0] + "?lang=vi")
    assert page.locator("th", has_text="Whisper nghe được").count() == 1
    page.evaluate("document.getElementById('recording-player').play()")
    page.wait_for_function(
        "() => document.getElementById('recording-player').currentTime > 0.3", timeout=20_000
    )
    _axe(page, report, "review-recording", artifacts)
    boxes = page.locator("textarea[name=s]")
    boxes.nth(0).fill("Miếu Quan Công được dựng vào thế kỷ mười bảy.")
    page.get_by_role("button", name="Lưu và tạo lại ngôn ngữ này").click()
    assert "Đã lưu" in page.locator(".flash").inner_text()
    assert page.locator("#review-state").inner_text() == "cần duyệt"


def test_an_editor_narrates_translates_approves_and_publishes(
    review_server: Server, chromium: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    base = review_server.base
    email = server_user(review_server, "editor", email="hoa.editor@hoian.test")
    admin = server_user(review_server, "admin", email="minh.admin@hoian.test")
    report: dict[str, Any] = {}
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        browser_login(page, base, email)
        page.goto(f"{base}/console/narrations")
        _axe(page, report, "narrations", artifacts_dir)
        page.locator("#text-site").select_option(SITE)
        page.locator("#text-body").fill(VI_TEXT)
        for code in ("vi", "en"):
            assert page.locator(f"input[name=langs][value={code}]").is_checked()
        page.get_by_role("button", name="Tạo thuyết minh", exact=True).click()
        page.wait_for_url(f"{base}/console/jobs/*")
        assert page.locator("td", has_text="Kiểm tra văn bản hoặc chép lời bản ghi âm").count() == 1
        _job_finishes(page)  # followed live: the page polls the job's JSON
        assert page.locator("#job-state").inner_text() == "đã xong"
        # No vi->en model here: English waits for one, in words, and nothing failed.
        assert "Chưa cài mô hình" in page.locator("#job").inner_text()
        _axe(page, report, "job", artifacts_dir)

        page.get_by_role("link", name="Duyệt các bản thuyết minh").click()
        page.wait_for_url(f"{base}/console/review/*")
        assert page.locator("#review-state").inner_text() == "máy"
        boxes = page.locator("textarea[name=s]")
        assert boxes.count() == 2  # one row per Vietnamese sentence
        for index, sentence in enumerate(EN):
            boxes.nth(index).fill(sentence)
        page.get_by_role("button", name="Lưu và tạo lại ngôn ngữ này").click()
        flash = page.locator(".flash").inner_text()
        assert "Đã lưu" in flash
        rebuild = flash.split("#", 1)[1].split(")", 1)[0]
        review_url = page.url
        page.goto(f"{base}/console/jobs/{rebuild}")
        _job_finishes(page)
        assert page.locator("#job-state").inner_text() == "đã xong", page.locator(
            "#job"
        ).inner_text()

        page.goto(review_url)
        assert page.locator("#review-state").inner_text() == "cần duyệt"
        assert page.locator("#draft-player source").count() >= 1
        assert page.locator("#draft-player track[kind=captions]").count() == 1
        assert page.locator("#hearing").is_visible()  # what Whisper heard, beside the player
        page.evaluate("document.getElementById('draft-player').play()")
        page.wait_for_function(
            "() => document.getElementById('draft-player').currentTime > 0.3", timeout=20_000
        )
        page.evaluate("document.getElementById('draft-player').pause()")
        _axe(page, report, "review", artifacts_dir)
        # Not published yet: the tourist still gets nothing in English.
        _, _, body = review_server.get(f"/api/v1/sites/{SITE}/guide?lang=en")
        assert json.loads(body)["status"] != "ready"

        page.get_by_role("button", name="Duyệt", exact=True).click()
        assert page.locator("#review-state").inner_text() == "đã duyệt"
        page.get_by_role("button", name="Xuất bản mọi ngôn ngữ đã duyệt").click()
        assert "Đã xuất bản" in page.locator(".flash").inner_text()
        assert page.locator("#review-state").inner_text() == "đã xuất bản"

        _record_and_correct(page, base, tmp_path, report, artifacts_dir)

        page.goto(f"{base}/console/review")
        _axe(page, report, "review-list", artifacts_dir)
        page.goto(f"{base}/console/glossary?site={SITE}")
        _axe(page, report, "glossary", artifacts_dir)
        page.get_by_role("button", name="Đăng xuất").click()
        browser_login(page, base, admin)
        page.goto(f"{base}/console/models")
        _axe(page, report, "models", artifacts_dir)
    finally:
        context.close()

    status, _, body = review_server.get(f"/api/v1/sites/{SITE}/guide?lang=en")
    guide = json.loads(body)
    assert status == 200 and (guide["status"], guide["lang"]) == ("ready", "en")
    assert guide["machine_translated"] is False and "seventeenth century" in guide["transcript"]
    tourist = chromium.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    try:
        visit = tourist.new_page()
        visit.goto(f"{base}/s/{SITE}")
        assert visit.get_attribute("#player", "lang") == "en"
        visit.screenshot(path=str(artifacts_dir / "console-published-tourist-page.png"))
    finally:
        tourist.close()
    (artifacts_dir / "console-review-axe-wcag-aa.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    assert all(not violations for violations in report.values()), report
