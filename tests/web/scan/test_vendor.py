"""The vendored @noble/ed25519 is the npm release its README names, with its licence."""

from __future__ import annotations

import hashlib
import re

from tests.web.scan import harness

NOBLE = harness.STATIC / "vendor" / "noble-ed25519"


def test_vendored_noble_is_the_pinned_release_unchanged() -> None:
    note = (NOBLE / "README.md").read_text(encoding="utf-8")
    version = re.search(r"version \*\*(\d+\.\d+\.\d+)\*\*", note)
    assert version is not None and f"ed25519-{version[1]}.tgz" in note
    recorded = re.search(r"sha256 of `index.js`:\s*`([0-9a-f]{64})`", note)
    assert recorded is not None
    assert hashlib.sha256((NOBLE / "index.js").read_bytes()).hexdigest() == recorded[1]
    licence = (NOBLE / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Paul Miller" in licence


def test_the_verifier_loads_nothing_from_outside_its_folder() -> None:
    """Offline at a gate, every import must be a file the scanner serves itself."""
    source = (harness.STATIC / "verify.js").read_text(encoding="utf-8")
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)  # the usage example
    imports = re.findall(r"""\bimport\s*(?:\(|[\w*{}\s,]+from\s*)\s*["']([^"']+)["']""", source)
    assert imports == ["./vendor/noble-ed25519/index.js"]


def test_vendored_jsqr_is_the_pinned_release_unchanged() -> None:
    folder = harness.STATIC / "vendor" / "jsqr"
    note = (folder / "README.md").read_text(encoding="utf-8")
    version = re.search(r"version \*\*(\d+\.\d+\.\d+)\*\*", note)
    assert version is not None and f"jsqr-{version[1]}.tgz" in note
    recorded = re.search(r"sha256 of\s+`jsQR.js`:\s*`([0-9a-f]{64})`", note)
    assert recorded is not None
    assert hashlib.sha256((folder / "jsQR.js").read_bytes()).hexdigest() == recorded[1]
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")


def test_the_scanner_loads_only_its_own_files() -> None:
    """scan.js imports verify.js only; the page loads jsQR from the vendor folder."""
    source = (harness.STATIC / "scan.js").read_text(encoding="utf-8")
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    imports = re.findall(r"""\bimport\s*(?:\(|[\w*{}\s,]+from\s*)\s*["']([^"']+)["']""", source)
    assert imports == ["./verify.js"]
    assert "http://" not in source and "https://" not in source
