"""The scanner's offline verifier (web/scan/static/verify.js) in Debian's headless Chromium.

A local HTTP server gives the browser the scanner's static folder at /static/, the published
test vectors at /vectors/ and the harness page at /, so that the page is a secure context
(WebCrypto) on 127.0.0.1. Shared by tests/web/scan/ and benchmarks/scan_verify.py.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.web.conftest import CHROMIUM, ROOT

STATIC = ROOT / "web" / "scan" / "static"
VECTORS = ROOT / "docs" / "test-vectors"
PAGES = Path(__file__).resolve().parent / "pages"
# Debian's Chromium with nothing in the background that could compete with the measurement
# or reach for the network (Playwright adds its own automation flags to these).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_ROUTES = {"/static/": STATIC, "/vectors/": VECTORS}


class _Files(http.server.SimpleHTTPRequestHandler):
    """Each URL prefix maps to one folder (the pages by default); the standard handler keeps
    paths inside it."""

    def translate_path(self, path: str) -> str:
        self.directory = str(PAGES)
        for prefix, folder in _ROUTES.items():
            if path.startswith(prefix):
                self.directory = str(folder)
                path = path[len(prefix) - 1 :]
                break
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # always the files of this checkout
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest would show every request."""


@contextmanager
def serving() -> Iterator[str]:
    """The harness server on a free loopback port, for as long as the block runs; yields its
    base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def launch(playwright: Any) -> Any:
    """Debian's Chromium (never a downloaded one), for benchmarks/scan_verify.py. Tests take
    tests/web/conftest.py's `chromium` instead: a second Playwright in one pytest session
    fails ("Sync API inside the asyncio loop")."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_harness(browser: Any, base: str) -> tuple[Any, Any]:
    """A context and a page with the harness loaded and verify.js imported."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/harness.html")
    page.wait_for_function("window.harnessReady === true")
    return context, page
