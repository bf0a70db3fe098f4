"""The Sites pages in real headless Chromium against a real gunicorn: an editor finds a site
with the folded search and edits it; two editors save the same site and the second gets the
conflict page with both versions, then keeps theirs knowingly. axe-core (WCAG 2.1 A/AA) checks
every page on the way; screenshots land in test-artifacts/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import gunicorn_serving
from tests.web.conftest import Server
from tests.web.console.conftest import browser_login, server_user
from tests.web.console.test_browser import LAPTOP, TABLET, WCAG_AA

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
BRIDGE = "japanese-covered-bridge"
STEP_MS = 15_000  # no single step of a person's may take longer: the test stays bounded


@pytest.fixture(scope="module")
def catalogue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn on a migrated database holding the seeded catalogue (no guides needed)."""
    workdir = tmp_path_factory.mktemp("console-sites")
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
        "LOG_LEVEL": "WARNING",
    }
    flask = str(Path(sys.executable).parent / "flask")
    for command in ([flask, "db", "upgrade"], [flask, "content", "load"]):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
        assert done.returncode == 0, (command, done.stderr.decode()[-3000:])
    with gunicorn_serving(listener, env=env, workdir=workdir):
        yield Server("127.0.0.1", port, workdir)


def _check(page: Any, report: dict[str, Any], name: str, artifacts: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    assert page.locator("h1").count() == 1, name
    report[name] = Axe().run(page, options=WCAG_AA).generate_snapshot()
    page.screenshot(path=str(artifacts / f"console-{name}.png"), full_page=True)


def test_an_editor_edits_a_site_and_two_editors_get_the_conflict_page(
    catalogue_server: Server, chromium: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    base = catalogue_server.base
    lan_email = server_user(catalogue_server, "editor", email="lan.editor@hoian.test")
    minh_email = server_user(catalogue_server, "editor", email="minh.editor@hoian.test")
    report: dict[str, Any] = {}
    lan_context = chromium.new_context(viewport=LAPTOP)
    minh_context = chromium.new_context(viewport=TABLET)
    try:
        lan, minh = lan_context.new_page(), minh_context.new_page()
        for page, email in ((lan, lan_email), (minh, minh_email)):
            page.set_default_timeout(STEP_MS)
            browser_login(page, base, email)

        # Lan finds the bridge by its name typed without accents, through the menu.
        lan.get_by_role("link", name="Điểm tham quan").first.click()
        lan.get_by_label("Tìm kiếm (mọi ngôn ngữ, không phân biệt dấu)").fill("chua cau")
        lan.get_by_role("button", name="Lọc").click()
        lan.wait_for_url("**/console/sites?**")
        _check(lan, report, "sites-list-laptop", artifacts_dir)
        lan.get_by_role("link", name="Chùa Cầu").first.click()
        lan.wait_for_url(f"**/console/sites/{BRIDGE}")
        _check(lan, report, "site-edit-laptop", artifacts_dir)

        # Minh opens the same site on a tablet before Lan saves.
        minh.goto(f"{base}/console/sites/{BRIDGE}")
        _check(minh, report, "site-edit-tablet", artifacts_dir)

        lan.locator("#f-summary-en").fill("Lan's summary of the covered bridge.")
        lan.locator("#f-name-ko").fill("내원교")
        lan.get_by_role("button", name="Lưu", exact=True).click()
        lan.wait_for_url(f"**/console/sites/{BRIDGE}")
        assert "đã được lưu" in lan.locator(".flash").inner_text()
        assert lan.locator("#f-name-ko").input_value() == "내원교"

        # Minh saves his own edit of the same field: the conflict page, never an overwrite.
        minh.locator("#f-summary-en").fill("Minh's summary of the covered bridge.")
        minh.get_by_role("button", name="Lưu", exact=True).click()
        minh.wait_for_load_state()
        assert minh.locator("h1").inner_text() == "Đã có người khác lưu trong lúc bạn sửa"
        assert "Lan's summary" in minh.locator("td.theirs").first.inner_text()
        assert "Minh's summary" in minh.locator("td.mine").first.inner_text()
        _check(minh, report, "site-conflict-tablet", artifacts_dir)
        status, _, body = catalogue_server.get(f"/api/v1/sites/{BRIDGE}?lang=en")
        assert (
            status == 200 and json.loads(body)["summary"] == "Lan's summary of the covered bridge."
        )

        # Having seen both, Minh keeps his version; Lan's Korean name, not in conflict, stays.
        minh.get_by_role("button", name="Giữ bản của tôi").click()
        minh.wait_for_url(f"**/console/sites/{BRIDGE}")
        assert "đã được lưu" in minh.locator(".flash").inner_text()
        assert (
            minh.locator("#f-summary-en").input_value() == "Minh's summary of the covered bridge."
        )
        assert minh.locator("#f-name-ko").input_value() == "내원교"

        # Lan adds a photo with its description; the page shows its phone-sized copy.
        photo = tmp_path / "chua-cau.png"
        Image.new("RGB", (1200, 800), (150, 90, 40)).save(photo)
        lan.get_by_role("link", name="Ảnh (0)").click()
        lan.get_by_label("Tệp ảnh").set_input_files(str(photo))
        lan.get_by_label("Mô tả cho người không nhìn thấy (tiếng Việt)").fill(
            "Chùa Cầu lúc hoàng hôn"
        )
        lan.get_by_role("button", name="Tải lên").click()
        lan.wait_for_url(f"**/console/sites/{BRIDGE}/images")
        assert lan.locator("img.thumb").get_attribute("alt") == "Chùa Cầu lúc hoàng hôn"
        assert lan.locator("img.thumb").evaluate("img => img.naturalWidth") == 480
        _check(lan, report, "site-images-laptop", artifacts_dir)

        lan.get_by_role("link", name="Biển QR").first.click()
        lan.wait_for_url("**/console/plaques")
        _check(lan, report, "plaques-laptop", artifacts_dir)

        lan.get_by_role("link", name="Tuyến tham quan").first.click()
        lan.wait_for_url("**/console/tours")
        _check(lan, report, "tours-laptop", artifacts_dir)
        lan.locator("table a").first.click()
        lan.wait_for_url("**/console/tours/**")
        _check(lan, report, "tour-edit-laptop", artifacts_dir)
    finally:
        lan_context.close()
        minh_context.close()
    (artifacts_dir / "console-sites-axe-wcag-aa.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    assert all(not violations for violations in report.values()), report
