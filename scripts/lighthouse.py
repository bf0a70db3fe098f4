"""Lighthouse on the tourist pages: the map (`/`), a walking tour and a site page, served by a
real gunicorn on a scratch copy of the seeded catalogue, audited by npm's `lighthouse@12.2.3`
in Debian's Chromium with Lighthouse's default mobile settings (a mid-range phone on a slow
4G connection, simulated). The reports go to `test-artifacts/lighthouse/` (`<page>.json`,
`<page>.html`, `scores.json`) and the four scores of each page are printed.

    python scripts/lighthouse.py [--guide] [--out DIR]

Lighthouse is installed once into `.npm-tools/` (ignored by git) with npm. Map tiles come from
a tile server this script runs (one PNG for every tile), as an operator's own would, so the
audit needs no internet. `--guide` first builds the site's English guide (the speech venv's
interpreter, about a minute), so the site page is audited with its player and captions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VERSION = "12.2.3"
TOOLS = ROOT / ".npm-tools"
CLI = TOOLS / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
SITE = "fujian-assembly-hall"
PAGES = {
    "map": "/",
    "tour": "/tours/assembly-halls-walk",
    "site": f"/s/{SITE}",
}


def install() -> None:
    """lighthouse@12.2.3 under .npm-tools/, unless that version is there already."""
    installed = TOOLS / "node_modules" / "lighthouse" / "package.json"
    if installed.is_file() and json.loads(installed.read_text())["version"] == VERSION:
        return
    package = f"lighthouse@{VERSION}"
    subprocess.run(
        ["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", package], check=True
    )


@contextmanager
def tile_server() -> Iterator[str]:
    """One 256 px PNG for every /z/x/y.png; the URL template for HOIAN_MAP_TILE_URL."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256), (242, 236, 222))
    ImageDraw.Draw(image).rectangle((0, 0, 255, 255), outline=(200, 190, 170), width=2)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    png = buffer.getvalue()

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "public, max-age=86400")
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def serving(workdir: Path, *, tiles: str, guide: bool) -> Iterator[str]:
    """gunicorn on a migrated, seeded scratch database; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'hoian.db'}",
        "MEDIA_DIR": str(workdir / "media"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HOIAN_MAP_TILE_URL": tiles,
        "HOIAN_TICKET_KEYS_DIR": str(workdir / "ticket-keys"),
        "FLASK_APP": "wsgi:app",
        "LOG_LEVEL": "WARNING",
    }
    commands = [["db", "upgrade"], ["content", "load"], ["tickets", "setup"]]
    if guide:
        commands.append(["guide", "build", SITE, "--langs", "en"])
    for command in commands:
        subprocess.run([str(bin_dir / "flask"), *command], cwd=ROOT, env=env, check=True)
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            *("--config", "gunicorn.conf.py", "--workers", "2", "wsgi:app"),
            *("--bind", f"fd://{listener.fileno()}"),
        ],
        cwd=ROOT,
        env=env,
        pass_fds=[listener.fileno()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        listener.close()
        log.close()


def audit(url: str, out: Path) -> dict[str, int]:
    """One Lighthouse run (mobile, the default) on `url`; its scores out of 100."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "node",
            str(CLI),
            url,
            "--quiet",
            "--output=json",
            "--output=html",
            f"--output-path={out}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
    )
    report = json.loads(out.with_suffix(".report.json").read_text())
    return {name: round(100 * (report["categories"][name]["score"] or 0)) for name in CATEGORIES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "lighthouse")
    parser.add_argument("--guide", action="store_true", help="build the site's English guide")
    args = parser.parse_args()
    if shutil.which("node") is None or not Path(CHROMIUM).exists():
        print("needs node/npm and Debian's chromium (make system-deps)", file=sys.stderr)
        return 2
    install()
    scores: dict[str, dict[str, int]] = {}
    started = time.monotonic()
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lighthouse-"))
        tiles = stack.enter_context(tile_server())
        base = stack.enter_context(serving(Path(tmp), tiles=tiles, guide=args.guide))
        for name, path in PAGES.items():
            scores[name] = audit(base + path, args.out / name)
            line = "  ".join(f"{c} {scores[name][c]:>3}" for c in CATEGORIES)
            print(f"{path:<32} {line}")
    (args.out / "scores.json").write_text(
        json.dumps(
            {
                "lighthouse": VERSION,
                "form_factor": "mobile",
                "pages": {name: {"path": PAGES[name], **scores[name]} for name in PAGES},
                "seconds": round(time.monotonic() - started),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
