"""In real headless Chromium against a real gunicorn: a tourist's page sends its listening
events and takes feedback without JavaScript; a tourist reports a translation error on a
sentence of the guide's transcript and an editor finds it in the review queue, beside that
sentence, and marks it handled; a manager opens the dashboard, changes the range and downloads
the CSV and the workbook (the same figures); axe finds no WCAG 2.1 A/AA issue."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.web.conftest import BIN, Server, speech_server
from tests.web.console.conftest import browser_login, server_user

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SITE = "cantonese-assembly-hall"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn on a migrated, seeded SQLite database (no guides needed) with real sales: orders
    of three products and tiers paid by cash, VietQR and card, and a refund (seed_sales, which
    writes what they add up to in sales.json)."""
    workdir = tmp_path_factory.mktemp("insights-server")
    flask = str(BIN / "flask")
    yield from speech_server(
        workdir,
        env={},
        commands=[
            [flask, "db", "upgrade"],
            [flask, "content", "load"],
            [flask, "tickets", "setup"],
            [sys.executable, "-m", "tests.web.seed_sales", str(workdir / "sales.json")],
        ],
    )


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


#: Selects the first sentence of the transcript as a tourist's finger would; returns it.
SELECT_FIRST_SENTENCE = """() => {
  const text = document.querySelector(".transcript [data-quotable] p").firstChild;
  const end = text.textContent.indexOf(".") + 1;
  const range = document.createRange();
  range.setStart(text, 0);
  range.setEnd(text, end);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
  return text.textContent.slice(0, end);
}"""


def test_a_reported_translation_error_reaches_the_review_queue(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    """The Fujian hall's French guide (a person's translation): the tourist selects a sentence
    of the transcript, the report form takes it, and the editor sees it beside that sentence."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    base = guide_server.base
    axe = Axe()
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/s/fujian-assembly-hall?lang=fr", wait_until="domcontentloaded")
        sentence = page.evaluate(SELECT_FIRST_SENTENCE)
        assert sentence.startswith("Vous êtes devant la salle de réunion du Fujian")
        page.get_by_text("Signaler une erreur de traduction").click()
        quote = page.get_by_label("La phrase erronée (copiez-la depuis la transcription)")
        expect(quote).to_have_value(sentence)  # copied from the selection
        page.get_by_label("Qu’est-ce qui ne va pas ? (facultatif)").fill(  # noqa: RUF001 - French words
            "« salle de réunion » : on dit « salle des assemblées »."
        )
        report_axe = axe.run(page, options=WCAG_AA)
        page.screenshot(path=str(artifacts_dir / "insights-report-error.png"), full_page=True)
        page.get_by_role("button", name="Envoyer le signalement").click()
        page.wait_for_load_state()
        assert "un rédacteur va relire cette phrase" in page.locator("main").inner_text()
    finally:
        context.close()

    email = server_user(guide_server, "editor", email="lan.editor@hoian.test")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        browser_login(page, base, email)
        page.get_by_role("link", name="Duyệt").first.click()
        page.wait_for_load_state()
        assert "1 lỗi dịch do du khách báo đang chờ xử lý." in page.locator("main").inner_text()
        page.get_by_role("link", name="1 lỗi được báo").first.click()
        page.wait_for_load_state()
        beside = page.locator("td.reported-here").filter(has_text=sentence)
        expect(beside).to_have_count(1)  # on the row of the sentence it quotes
        reports = page.locator("#reports")
        assert "salle des assemblées" in reports.inner_text()
        queue_axe = axe.run(page, options=WCAG_AA)
        page.screenshot(path=str(artifacts_dir / "insights-review-reports.png"), full_page=True)
        reports.get_by_label("Đã làm gì").first.fill("Sửa câu đầu của bản tiếng Pháp")
        reports.get_by_role("button", name="Đánh dấu đã xử lý").first.click()
        page.wait_for_load_state()
        assert "là đã xử lý" in page.locator("main").inner_text()
        expect(page.locator("#reports")).to_have_count(0)
    finally:
        context.close()
    report = {
        "report": report_axe.generate_snapshot(),
        "review": queue_axe.generate_snapshot(),
    }
    (artifacts_dir / "insights-report-error-axe.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    assert report_axe.violations_count == 0, report["report"]
    assert queue_axe.violations_count == 0, report["review"]


def test_a_manager_reads_the_dashboard_and_downloads_it(
    server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    """The seeded sales, on the page, in the CSV and in the workbook: the same figures as the
    seeding counted (orders, tickets, revenue, the refund, per payment method)."""
    from axe_playwright_python.sync_playwright import Axe

    sold = json.loads((server.workdir / "sales.json").read_text())
    today = datetime.now(ZONE).date()
    start, end = (today - timedelta(days=6)).isoformat(), today.isoformat()
    email = server_user(server, "manager", email="hoa.manager@hoian.test")
    axe = Axe()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    reports: dict[str, Any] = {}
    try:
        browser_login(page, server.base, email)
        page.get_by_role("link", name="Sự cố tại cổng soát vé").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Sự cố tại cổng soát vé"
        reports["conflicts"] = axe.run(page, options=WCAG_AA).generate_snapshot()
        page.get_by_role("link", name="Báo cáo").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().startswith("Báo cáo")
        for kind in ("visitors", "listening", "feedback", "sales"):
            page.goto(f"{server.base}/console/reports?kind={kind}")
            assert page.locator("svg.chart").count() == 1
            reports[kind] = axe.run(page, options=WCAG_AA).generate_snapshot()
        page.get_by_label("Từ ngày").fill(start)
        page.get_by_label("Đến ngày").fill(end)
        page.get_by_role("button", name="Xem").click()
        page.wait_for_load_state()
        assert start in page.locator("main").inner_text()
        totals = {
            row.locator("th").inner_text(): row.locator("td").first.inner_text()
            for row in page.locator("table.totals tbody tr").all()
        }
        by_method = {
            row.locator("th").inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
            for row in page.locator("table", has_text="Theo phương thức thanh toán")
            .locator("tbody tr")
            .all()
        }
        page.screenshot(path=str(artifacts_dir / "insights-dashboard.png"), full_page=True)
        with page.expect_download() as got_csv:
            page.get_by_role("link", name="CSV").click()
        text = Path(got_csv.value.path()).read_text(encoding="utf-8-sig")
        with page.expect_download() as got_book:
            page.get_by_role("link", name="Excel").click()
        book = load_workbook(io.BytesIO(Path(got_book.value.path()).read_bytes()))
    finally:
        context.close()
    (artifacts_dir / "insights-dashboard-axe.json").write_text(json.dumps(reports, indent=2) + "\n")

    net = sold["revenue"] - sold["refunded"]
    figures = {"orders", "tickets", "revenue", "refunds", "refunded"}
    assert sold["orders"] == 4 and sold["refunds"] == 1  # several methods, and a refund
    words = {
        "orders": "Đơn hàng",
        "tickets": "Vé",
        "revenue": "Doanh thu (VND)",
        "refunds": "Lượt hoàn tiền",
        "refunded": "Đã hoàn (VND)",
    }
    on_page = {name: int(totals[word].replace(",", "")) for name, word in words.items()}
    assert on_page == {name: sold[name] for name in figures}
    assert int(totals["Doanh thu thuần (VND)"].replace(",", "")) == net
    methods = {m: [int(v.replace(",", "")) for v in row] for m, row in by_method.items()}
    assert methods == {
        m: [sold["by_method"]["orders"][m], sold["by_method"]["revenue"][m]]
        for m in ("cash", "vietqr", "stripe")
    }

    rows = list(csv.reader(io.StringIO(text)))
    summary = {row[0]: row[1] for row in rows if len(row) == 4 and row[0] != "figure"}
    assert {name: int(summary[name]) for name in figures} == {name: sold[name] for name in figures}
    assert int(summary["net_revenue"]) == net
    section = rows[rows.index(["# by_method"]) + 2 :]
    section = section[: section.index([])] if [] in section else section
    in_csv = {r[0]: [int(r[1]), int(r[2])] for r in section}
    assert in_csv == methods
    workbook = {r[0]: r[1] for r in book["summary"].iter_rows(values_only=True) if r and r[0]}
    assert {name: workbook[name] for name in figures} == {name: sold[name] for name in figures}
    sheet = list(book["by_method"].iter_rows(values_only=True))[1:]
    assert {method: [count, amount] for method, count, amount in sheet} == methods
    assert all(not r for r in reports.values()), reports
