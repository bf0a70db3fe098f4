"""The seeded Hội An catalogue: real places, narrations, tours; loading is idempotent and safe."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import func, select

from content.models import Site
from content.seeding import SEED_DIR, SeedError, SeedRefused, load_seed
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


BRIDGE = "japanese-covered-bridge"


def _edit_bridge(client: Any, auth: Any, body: dict[str, Any]) -> None:
    etag = client.get(f"/api/v1/sites/{BRIDGE}").headers["ETag"]
    response = client.patch(
        f"/api/v1/sites/{BRIDGE}", json=body, headers={**auth("editor"), "If-Match": etag}
    )
    assert response.status_code == 200, response.text


def _bridge(db: Any) -> Site:
    db.session.expire_all()
    return db.session.scalar(select(Site).where(Site.slug == BRIDGE))


def _seed_copy(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copytree(SEED_DIR, tmp_path / "seed")
    path = tmp_path / "seed" / "sites" / f"{BRIDGE}.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return tmp_path / "seed"


EDIT = {
    "opening_hours": [{"days": ["mo", "tu"], "opens": "09:00", "closes": "17:30"}],
    "texts": {"vi": {"summary": "Tóm tắt do biên tập viên sửa."}},
}


def test_an_edit_through_the_api_survives_make_runs_load_steps(
    app: Flask, db: Any, client: Any, auth: Any
) -> None:
    """The bug: `make run` reloaded the seed over staff edits (opening hours and the Vietnamese
    summary were lost). Its load steps now keep them, and `--update` refuses and names them."""
    _edit_bridge(client, auth, EDIT)
    runner = app.test_cli_runner()
    for step in (["content", "load"], ["tickets", "setup"]):
        result = runner.invoke(args=step)
        assert result.exit_code == 0, result.output
    assert f"site:{BRIDGE}" in runner.invoke(args=["content", "load"]).output
    refused = runner.invoke(args=["content", "load", "--update"])
    assert refused.exit_code == 1
    assert f"site:{BRIDGE}" in refused.output and "Nothing was written" in refused.output
    site = _bridge(db)
    assert site.opening_hours == EDIT["opening_hours"]
    assert site.text_for("vi").summary == "Tóm tắt do biên tập viên sửa."


def test_update_rewrites_what_nobody_edited_and_keeps_what_people_did(
    app: Flask, db: Any, client: Any, auth: Any, tmp_path: Path
) -> None:
    def new_summary(data: dict[str, Any]) -> None:
        data["texts"]["en"]["summary"] = "A newer seed summary."

    seed = _seed_copy(tmp_path, new_summary)
    languages = app.config["LANGUAGES"]
    plain = load_seed(directory=seed, languages=languages, source_lang="vi")
    assert plain.kept == [f"site:{BRIDGE}"] and not plain.changed
    assert _bridge(db).text_for("en").summary != "A newer seed summary."
    updated = load_seed(directory=seed, languages=languages, source_lang="vi", update=True)
    assert updated.updated == [f"site:{BRIDGE}"] and not updated.edited
    assert _bridge(db).text_for("en").summary == "A newer seed summary."

    _edit_bridge(client, auth, EDIT)
    with pytest.raises(SeedRefused, match=f"site:{BRIDGE}"):
        load_seed(directory=SEED_DIR, languages=languages, source_lang="vi", update=True)
    skipped = load_seed(
        directory=SEED_DIR, languages=languages, source_lang="vi", update=True, skip_edited=True
    )
    assert skipped.edited == [f"site:{BRIDGE}"]
    assert _bridge(db).text_for("vi").summary == "Tóm tắt do biên tập viên sửa."


def test_a_translation_people_wrote_is_not_overwritten_by_the_seeded_narration(
    app: Flask, db: Any
) -> None:
    site = _bridge(db)
    narration = db.session.scalar(
        select(Narration).where(Narration.site_id == site.id).order_by(Narration.id)
    )
    narration.text_for("en").text = "A guide's own English narration."
    db.session.flush()
    languages = app.config["LANGUAGES"]
    assert f"narration:{BRIDGE}" in load_seed(languages=languages, source_lang="vi").kept
    with pytest.raises(SeedRefused, match=f"narration:{BRIDGE}"):
        load_seed(languages=languages, source_lang="vi", update=True)
    db.session.expire_all()
    assert narration.text_for("en").text == "A guide's own English narration."


def test_skip_edited_needs_update(app: Flask, db: Any) -> None:
    result = app.test_cli_runner().invoke(args=["content", "load", "--skip-edited"])
    assert result.exit_code == 2 and "--skip-edited goes with --update" in result.output
