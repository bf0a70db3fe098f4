"""Gate conflicts in the console: what the offline scanners' uploads broke, over a range of
local days and a site, counted per kind, paginated, resolved or not; managers and admins read
it (linked from the menu and the home page), every other role gets a 403."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.console.conftest import Console

BRIDGE, TAN_KY = "japanese-covered-bridge", "tan-ky-old-house"
#: 23:30 in Hội An on 10 November (UTC+7): the local day is the 10th, the UTC day too.
EVENING = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)


@pytest.fixture
def conflicts(db: Any) -> Callable[..., Any]:
    """Record a conflict as the offline sync writes it: a scan row with its answer."""
    from app.auth.models import InspectorDevice
    from content.models import Site
    from ticketing.models import CheckinScan

    ids = dict(db.session.execute(select(Site.slug, Site.id)).all())
    gate = InspectorDevice(name="Cổng Chùa Cầu")
    db.session.add(gate)
    db.session.flush()

    def record(
        site: str, kind: str, at: datetime, *, serial: str = "HA-0001-0002", resolved: bool = False
    ) -> Any:
        row = CheckinScan(
            actor=f"device:{gate.id}",
            nonce=secrets.token_hex(8),
            device_id=gate.id,
            mode="offline",
            site_id=ids[site],
            scanned_at=at,
            received_at=at + timedelta(hours=2),
            admitted=True,
            status="error",
            reason="already_redeemed",
            conflict=kind,
            response={"site": site, "ticket": {"serial": serial}},
            resolved_at=at + timedelta(days=1) if resolved else None,
            resolution_note="warned both gates" if resolved else None,
        )
        db.session.add(row)
        db.session.flush()
        return row

    return record


def _kinds(page: str) -> dict[str, str]:
    table = re.search(r'<table id="conflict-kinds">.*?</table>', page, re.S)
    assert table is not None
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table.group(0)))


def test_a_manager_reads_conflicts_by_range_site_and_kind_page_by_page(
    signed_in: Callable[..., Console], conflicts: Callable[..., Any], monkeypatch: Any
) -> None:
    from web.console import conflicts as page_module

    double = conflicts(BRIDGE, "double_entry", EVENING, serial="HA-1111-2222")
    conflicts(BRIDGE, "over_quota", EVENING - timedelta(hours=3), resolved=True)
    conflicts(TAN_KY, "double_entry", EVENING + timedelta(minutes=45))  # 00:15 on the 11th
    conflicts(TAN_KY, "invalid_code", EVENING - timedelta(days=20))  # October
    manager = signed_in("manager")

    november = manager.get("/console/conflicts?from=2026-11-01&to=2026-11-30")
    assert november.status_code == 200
    kinds = _kinds(november.text)
    assert (kinds["Vào điểm này hai lần"], kinds["Vượt số điểm vé cho phép"]) == ("2", "1")
    assert kinds["Mã không hợp lệ"] == "0" and kinds["Tất cả"] == "3"
    assert "HA-1111-2222" in november.text and "Cổng Chùa Cầu" in november.text
    assert "warned both gates" in november.text

    # The local day: 00:15 in Hội An on the 11th belongs to the 11th.
    tenth = manager.get("/console/conflicts?from=2026-11-10&to=2026-11-10")
    assert _kinds(tenth.text)["Tất cả"] == "2"
    at_bridge = manager.get(f"/console/conflicts?from=2026-11-01&to=2026-11-30&site={BRIDGE}")
    assert _kinds(at_bridge.text)["Tất cả"] == "2"
    open_ones = manager.get("/console/conflicts?from=2026-11-01&to=2026-11-30&unresolved=1")
    assert _kinds(open_ones.text)["Tất cả"] == "2"

    # Newest first, a page at a time, the filters kept from page to page.
    monkeypatch.setattr(page_module, "PER_PAGE", 2)
    first = manager.get("/console/conflicts?from=2026-11-01&to=2026-11-30")
    assert "trang 1 trên 2" in first.text
    assert first.text.index(f'id="conflict-{double.id}"') > first.text.index("HA-0001-0002")
    older = re.search(r'href="([^"]+page=2[^"]*)"', first.text)
    assert older is not None and "from=2026-11-01" in older.group(1)
    second = manager.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('<tr id="conflict-') == 1 and "trang 2 trên 2" in second.text

    reversed_range = manager.get("/console/conflicts?from=2026-11-30&to=2026-11-01")
    assert reversed_range.status_code == 422 and 'role="alert"' in reversed_range.text
    assert manager.get("/console/conflicts?site=nowhere").status_code == 422
    assert manager.get("/console/conflicts?from=yesterday").status_code == 422


def test_only_managers_and_admins_see_the_conflicts_page(
    signed_in: Callable[..., Console], console: Console, conflicts: Callable[..., Any]
) -> None:
    conflicts(BRIDGE, "double_entry", datetime.now(UTC) - timedelta(hours=1))
    for role in ("manager", "admin"):
        browser = signed_in(role)
        assert browser.get("/console/conflicts").status_code == 200
        home = browser.get("/console/").text
        assert 'href="/console/conflicts"' in home
        assert "1 sự cố từ máy soát vé ngoại tuyến đang chờ giải quyết." in home
    for role in ("editor", "inspector", "finance"):
        browser = signed_in(role)
        assert browser.get("/console/conflicts").status_code == 403
        assert 'href="/console/conflicts"' not in browser.get("/console/").text
    anonymous = console.get("/console/conflicts")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]
