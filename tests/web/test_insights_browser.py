"""In real headless Chromium against a real gunicorn: a tourist's page sends its listening
events and takes feedback without JavaScript; a manager opens the dashboard, changes the range
and downloads the CSV and the workbook (the same figures); axe finds no WCAG 2.1 A/AA issue."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import gunicorn_serving
from tests.web.conftest import Server
from tests.web.console.conftest import browser_login, server_user

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SITE = "cantonese-assembly-hall"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn on a migrated, seeded SQLite database (no guides needed)."""
    workdir = tmp_path_factory.mktemp("insights-server")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'hoian.db'}",
        "MEDIA_DIR": str(workdir / "media"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FLASK_APP": "wsgi:app",
        "LOG_JSON": "true",
        "LOG_LEVEL": "WARNING",
    }
    for command in (["db", "upgrade"], ["content", "load"], ["tickets", "setup"]):
        done = subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, capture_output=True, check=False
        )
        assert done.returncode == 0, (command, done.stderr.decode()[-3000:])
    with gunicorn_serving(listener, env=env, workdir=workdir):
        yield Server("127.0.0.1", port, workdir)


def test_a_tourist_page_sends_its_events_and_takes_feedback(
    server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        with page.expect_response(f"{server.base}/api/v1/events") as sent:
            page.goto(f"{server.base}/s/{SITE}?lang=en", wait_until="domcontentloaded")
        assert sent.value.status == 202
        assert sent.value.json()["stored"] >= 1  # the guide_opened event
        assert "cookie" not in {k.lower() for k in sent.value.request.headers}
        assert "set-cookie" not in {k.lower() for k in sent.value.headers}
        page_axe = axe.run(page, options=WCAG_AA)
        form = page.locator("#feedback")
        form.get_by_label("4", exact=True).check()
        form.get_by_label("About").select_option("translation_error")
        form.get_by_label("Comment (optional, in any language)").fill(
            "The second paragraph is translated wrongly."
        )
        page.screenshot(path=str(artifacts_dir / "insights-feedback-form.png"), full_page=True)
        form.get_by_role("button", name="Send").click()
        page.wait_for_load_state()
        assert "your feedback was received" in page.locator("main").inner_text()
        thanks_axe = axe.run(page, options=WCAG_AA)
    finally:
        context.close()
    report = {"site": page_axe.generate_snapshot(), "thanks": thanks_axe.generate_snapshot()}
    (artifacts_dir / "insights-tourist-axe.json").write_text(json.dumps(report, indent=2) + "\n")
    assert page_axe.violations_count == 0, report["site"]
    assert thanks_axe.violations_count == 0, report["thanks"]


def test_a_manager_reads_the_dashboard_and_downloads_it(
    server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    email = server_user(server, "manager", email="hoa.manager@hoian.test")
    axe = Axe()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    reports: dict[str, Any] = {}
    try:
        browser_login(page, server.base, email)
        page.get_by_role("link", name="Báo cáo").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().startswith("Báo cáo")
        for kind in ("visitors", "listening", "feedback", "sales"):
            page.goto(f"{server.base}/console/reports?kind={kind}")
            assert page.locator("svg.chart").count() == 1
            reports[kind] = axe.run(page, options=WCAG_AA).generate_snapshot()
        page.get_by_label("Từ ngày").fill("2026-11-01")
        page.get_by_label("Đến ngày").fill("2026-11-30")
        page.get_by_role("button", name="Xem").click()
        page.wait_for_load_state()
        assert "2026-11-01" in page.locator("main").inner_text()
        page.screenshot(path=str(artifacts_dir / "insights-dashboard.png"), full_page=True)
        with page.expect_download() as got_csv:
            page.get_by_role("link", name="CSV").click()
        text = Path(got_csv.value.path()).read_text(encoding="utf-8-sig")
        with page.expect_download() as got_book:
            page.get_by_role("link", name="Excel").click()
        book = load_workbook(io.BytesIO(Path(got_book.value.path()).read_bytes()))
    finally:
        context.close()
    rows = list(csv.reader(io.StringIO(text)))
    summary = {row[0]: row[1] for row in rows if len(row) == 4 and row[0] != "figure"}
    figures = {r[0]: r[1] for r in book["summary"].iter_rows(values_only=True) if r and r[0]}
    assert (
        int(summary["orders"]) == figures["orders"]
        and int(summary["revenue"]) == figures["revenue"]
    )
    (artifacts_dir / "insights-dashboard-axe.json").write_text(json.dumps(reports, indent=2) + "\n")
    assert all(not r for r in reports.values()), reports
