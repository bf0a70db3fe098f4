"""The console in real headless Chromium against a real gunicorn: signing in, the home page,
users and the audit log, on a laptop and on a tablet, checked by axe-core (WCAG 2.1 A/AA)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Server
from tests.web.console.conftest import browser_login, server_user

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}

pytestmark = pytest.mark.slow


def test_an_admin_signs_in_and_every_foundation_page_passes_axe(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    email = server_user(guide_server, "admin", email="lan.admin@hoian.test")
    axe = Axe()
    report: dict[str, Any] = {}
    for device, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
        context = chromium.new_context(viewport=viewport)
        page = context.new_page()
        try:
            page.goto(f"{guide_server.base}/console/login")
            results = axe.run(page, options=WCAG_AA)
            report[f"login-{device}"] = results.generate_snapshot()
            if device == "laptop":
                page.screenshot(path=str(artifacts_dir / "console-login.png"))
            browser_login(page, guide_server.base, email)
            for name, path in (
                ("home", "/console/"),
                ("users", "/console/users"),
                ("audit", "/console/audit"),
            ):
                page.goto(guide_server.base + path)
                assert page.locator("h1").count() == 1
                report[f"{name}-{device}"] = axe.run(page, options=WCAG_AA).generate_snapshot()
                page.screenshot(
                    path=str(artifacts_dir / f"console-{name}-{device}.png"), full_page=True
                )
            page.get_by_role("button", name="English").click()
            page.wait_for_load_state()
            assert page.locator("html").get_attribute("lang") == "en"
            page.get_by_role("button", name="Tiếng Việt").click()
            page.wait_for_load_state()
        finally:
            context.close()
    (artifacts_dir / "console-axe-wcag-aa.json").write_text(json.dumps(report, indent=2) + "\n")
    assert all(not violations for violations in report.values()), report
