"""Reports in the console: a manager reads the dashboard in Vietnamese with its chart and
tables, changes the range, downloads the same figures; bad ranges get a message."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl import load_workbook

from tests.insights.generate import generate_month
from tests.web.console.conftest import Console

NOVEMBER = "from=2026-11-01&to=2026-11-30&group=day"


def test_a_manager_reads_each_report_and_downloads_it(
    db: Any, signed_in: Callable[..., Console]
) -> None:
    generate_month(seed=5, orders=20)
    manager = signed_in("manager")
    home = manager.get("/console/")
    assert "/console/reports" in home.text and "Báo cáo" in home.text
    for kind, words in (
        ("visitors", "Lượt vào"),
        ("sales", "Doanh thu (VND)"),
        ("listening", "Ngôn ngữ được yêu cầu nhưng chưa có"),
        ("feedback", "Điểm trung bình"),
    ):
        page = manager.get(f"/console/reports?kind={kind}&{NOVEMBER}")
        assert page.status_code == 200, kind
        assert words in page.text and '<svg class="chart"' in page.text
        assert "Kỳ trước" in page.text and "2026-10-02" in page.text
    form = manager.get(f"/console/reports?kind=sales&{NOVEMBER}&site=&group=")
    assert form.status_code == 200  # the form's empty fields mean "every site", "automatic"
    week = manager.get("/console/reports?kind=visitors&from=2026-11-01&to=2026-11-30&group=week")
    assert "2026-10-26" in week.text
    as_csv = manager.get(f"/console/reports/download?kind=sales&format=csv&{NOVEMBER}")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    book = manager.get(f"/console/reports/download?kind=sales&format=xlsx&{NOVEMBER}")
    sheets = load_workbook(io.BytesIO(book.get_data())).sheetnames
    assert sheets[:3] == ["summary", "series", "by_method"]


def test_a_reversed_or_long_range_gets_a_message(signed_in: Callable[..., Console]) -> None:
    manager = signed_in("manager")
    reversed_ = manager.get("/console/reports?kind=sales&from=2026-11-30&to=2026-11-01")
    assert reversed_.status_code == 422
    assert "Ngày kết thúc" in reversed_.text or "trước ngày bắt đầu" in reversed_.text
    long = manager.get("/console/reports?kind=sales&from=2020-01-01&to=2026-11-01")
    assert long.status_code == 422 and "tối đa 366 ngày" in long.text
    bad = manager.get("/console/reports?kind=sales&from=yesterday")
    assert bad.status_code == 422


def test_only_managers_finance_and_admins_open_reports(signed_in: Callable[..., Console]) -> None:
    for role, status in (("finance", 200), ("admin", 200), ("editor", 403), ("inspector", 403)):
        assert signed_in(role).get("/console/reports").status_code == status, role
