"""The seeded Hội An catalogue: real places, narrations, tours; loading is idempotent and safe."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import func, select

from content.models import Site
from content.seeding import SEED_DIR, SeedError, load_seed
from guides.models import Narration

TICKETED = {
    "chùa cầu",
    "quan công",
    "phúc kiến",
    "quảng đông",
    "triều châu",
    "tộc trần",
    "tấn ký",
    "phùng hưng",
    "quân thắng",
    "đức an",
    "lịch sử",
    "sa huỳnh",
    "gốm sứ",
    "văn hóa dân gian",
}
OUTSIDE = {"thanh hà", "trà quế", "cẩm thanh", "cù lao chàm", "an bàng"}


def _files() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(p.read_text("utf-8")) for p in sorted((SEED_DIR / "sites").glob("*.yaml"))
    ]


def test_seed_has_the_real_places() -> None:
    sites = _files()
    assert len(sites) >= 22
    names = " | ".join(
        " ".join([s["texts"]["vi"]["name"], *s.get("aliases", [])]).lower() for s in sites
    )
    for fragment in TICKETED | OUTSIDE:
        assert fragment in names, fragment
    for site in sites:
        assert 15.7 < site["location"]["lat"] < 16.0 and 108.2 < site["location"]["lon"] < 108.6
        assert site["texts"]["vi"]["description"] and site["texts"]["en"]["description"]


def test_narrations_are_120_to_250_words_with_a_human_english_version() -> None:
    narrated = [s for s in _files() if s.get("narration")]
    assert len(narrated) >= 10
    for site in narrated:
        assert 120 <= len(site["narration"]["vi"].split()) <= 250, site["slug"]
        assert len(site["narration"]["en"].split()) >= 100, site["slug"]


def test_loading_twice_changes_nothing(app: Flask, db: Any) -> None:
    report = load_seed(languages=app.config["LANGUAGES"], source_lang="vi")
    assert not report.changed and len(report.unchanged) >= 24
    assert db.session.scalar(select(func.count()).select_from(Narration)) >= 10


def test_a_bad_file_leaves_the_catalogue_untouched(app: Flask, db: Any, tmp_path: Path) -> None:
    shutil.copytree(SEED_DIR, tmp_path / "seed")
    bridge = tmp_path / "seed" / "sites" / "japanese-covered-bridge.yaml"
    data = yaml.safe_load(bridge.read_text("utf-8"))
    data["texts"]["en"]["summary"] = "Changed."
    bridge.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    (tmp_path / "seed" / "sites" / "zz-broken.yaml").write_text(
        "slug: Not A Slug\nkind: castle\n", "utf-8"
    )
    with pytest.raises(SeedError, match=r"zz-broken\.yaml"):
        load_seed(directory=tmp_path / "seed", languages=app.config["LANGUAGES"], source_lang="vi")
    site = db.session.scalar(select(Site).where(Site.slug == "japanese-covered-bridge"))
    assert site.text_for("en").summary != "Changed."


def test_cli_load_reports_counts(app: Flask, db: Any) -> None:
    result = app.test_cli_runner().invoke(args=["content", "load"])
    assert result.exit_code == 0 and "0 created, 0 updated" in result.output
