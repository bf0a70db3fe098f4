"""A site's 360° views in the console, over HTTP: an editor uploads an equirectangular JPEG
drawn with Pillow with its description, sees its still, describes it in other languages,
replaces and removes it; every bad file is refused on the page in the console's language and
nothing is kept; other roles cannot."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from content.models import Site, SitePanorama
from tests.content.test_panoramas import bomb, equirectangular
from tests.web.console.conftest import Console

SITE = "tan-ky-old-house"
PAGE = f"/console/sites/{SITE}/panoramas"


@pytest.fixture(autouse=True)
def own_media(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own media folder: what it finds there is what it made."""
    monkeypatch.setitem(app.config, "MEDIA_DIR", str(tmp_path / "media"))


def _version(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match
    return match.group(1)


def _rows(db: Any) -> list[SitePanorama]:
    db.session.expire_all()
    site = db.session.scalar(select(Site).where(Site.slug == SITE))
    return list(
        db.session.scalars(
            select(SitePanorama).where(SitePanorama.site_id == site.id).order_by(SitePanorama.id)
        )
    )


def _files(app: Any) -> set[str]:
    folder = Path(app.config["MEDIA_DIR"]) / "panoramas"
    return {path.name for path in folder.glob("*")} if folder.is_dir() else set()


def _send(editor: Console, path: str, data: bytes | None, **fields: str) -> Any:
    """Post a form with a file as a browser does (over 500 KB, werkzeug spools the body to a
    file its test client leaves open: closed here)."""
    body: dict[str, Any] = {"csrf_token": editor.token, "version": _version(editor.get(PAGE).text)}
    if data is not None:
        body["image"] = (io.BytesIO(data), "view.jpg")
    environ = EnvironBuilder(
        path=path, method="POST", data={**body, **fields}, content_type="multipart/form-data"
    ).get_environ()
    try:
        return editor.client.open(environ)
    finally:
        environ["wsgi.input"].close()


def _upload(editor: Console, data: bytes | None, **fields: str) -> Any:
    return _send(editor, PAGE, data, **{"alt-vi": "Gian giữa nhà cổ Tấn Ký", **fields})


def test_an_editor_uploads_sees_describes_replaces_and_removes_a_panorama(
    signed_in: Callable[..., Console], db: Any, client: Any, app: Any
) -> None:
    editor = signed_in("editor")
    edit = editor.get(f"/console/sites/{SITE}")
    assert f'href="{PAGE}"' in edit.text and "Ảnh 360° (0)" in edit.text
    page = editor.get(PAGE)
    assert page.status_code == 200 and "40 MB" in page.text and "Chưa có ảnh 360° nào" in page.text

    added = _upload(editor, equirectangular(), **{"alt-en": "The middle hall of Tấn Ký house"})
    assert added.status_code == 302, added.text
    [row] = _rows(db)
    assert (row.width, row.height) == (2048, 1024)
    assert row.alt == {"vi": "Gian giữa nhà cổ Tấn Ký", "en": "The middle hall of Tấn Ký house"}
    page = editor.get(PAGE)
    assert "Đã thêm ảnh 360°" in page.text
    still = f"/media/panoramas/{row.sha256}-still.jpg"
    assert f'src="{still}"' in page.text and 'alt="Gian giữa nhà cổ Tấn Ký"' in page.text
    with client.get(still) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
    tourist = client.get(f"/s/{SITE}?lang=en").get_data(as_text=True)
    assert still in tourist and "The middle hall of Tấn Ký house" in tourist

    texts = {f"alt-{row.id}-{lang}": alt for lang, alt in row.alt.items()}
    texts[f"alt-{row.id}-fr"] = "La salle du milieu de la maison Tấn Ký"
    saved = editor.post(f"{PAGE}/{row.id}/texts", {"version": _version(page.text), **texts})
    assert saved.status_code == 302
    assert _rows(db)[0].alt["fr"] == "La salle du milieu de la maison Tấn Ký"

    first, first_files = row.sha256, _files(app)
    assert first_files == {f"{first}.jpg", f"{first}-still.jpg"}
    replaced = _send(editor, f"{PAGE}/{row.id}/replace", equirectangular(4096, 2048))
    assert replaced.status_code == 302, replaced.text
    [new] = _rows(db)
    assert (new.width, new.height) == (4096, 2048) and new.sha256 != first
    assert new.alt["fr"] == "La salle du milieu de la maison Tấn Ký"  # descriptions kept
    assert not first_files & _files(app)  # the old JPEG and still are gone
    assert "Đã thay ảnh 360°" in editor.get(PAGE).text

    second = new.sha256
    gone = editor.post(f"{PAGE}/{new.id}/delete", {"version": _version(editor.get(PAGE).text)})
    assert gone.status_code == 302 and _rows(db) == [] and _files(app) == set()
    assert client.get(f"/media/panoramas/{second}.jpg").status_code == 404
    assert f"/media/panoramas/{second}" not in client.get(f"/s/{SITE}").get_data(as_text=True)


def test_bad_panoramas_are_refused_on_the_page_and_nothing_is_kept(
    signed_in: Callable[..., Console], db: Any, app: Any
) -> None:
    editor = signed_in("editor")
    for data, words in (
        (equirectangular(2048, 1536), "rộng gấp đôi chiều cao"),  # 4:3, not 2:1
        (equirectangular(fmt="PNG"), "phải là tệp JPEG"),
        (b"%PDF-1.4 not an image", "không phải là ảnh"),
        (bomb(60_000, 30_000), "bị từ chối mà không được mở"),
        (equirectangular()[:4000], "bị hỏng hoặc bị cắt ngang"),
        (equirectangular(800, 400), "rộng ít nhất 1024 điểm ảnh"),
    ):
        refused = _upload(editor, data)
        assert refused.status_code == 422, words
        assert words in refused.text and "Không có gì được thay đổi" in refused.text, words
    no_alt = _upload(editor, equirectangular(), **{"alt-vi": " "})
    assert no_alt.status_code == 422 and "Hãy mô tả khung cảnh bằng tiếng Việt" in no_alt.text
    no_file = _upload(editor, None)
    assert no_file.status_code == 422 and "Hãy chọn tệp JPEG" in no_file.text
    assert _rows(db) == [] and _files(app) == set()


def test_a_file_over_the_limits_is_refused_with_the_limit_in_words(
    signed_in: Callable[..., Console], db: Any, app: Any
) -> None:
    editor = signed_in("editor")
    over_panorama_limit = _upload(editor, b"\xff\xd8" + bytes(41 * 1024 * 1024))
    assert over_panorama_limit.status_code == 413
    assert "Tệp quá lớn: tối đa 40 MB" in over_panorama_limit.text
    # 80 MB is over what the server reads at all: refused before the form is read.
    over_request_limit = _upload(editor, bytes(80 * 1024 * 1024))
    assert over_request_limit.status_code == 413
    assert "Tệp quá lớn: tối đa 40 MB" in over_request_limit.text
    assert _rows(db) == [] and _files(app) == set()


def test_a_refused_replacement_keeps_the_old_view_and_english_pages_say_why(
    signed_in: Callable[..., Console], db: Any
) -> None:
    editor = signed_in("editor")
    assert _upload(editor, equirectangular()).status_code == 302
    [row] = _rows(db)
    editor.post("/console/language", {"lang": "en"})
    refused = _send(editor, f"{PAGE}/{row.id}/replace", equirectangular(2048, 2048))
    assert refused.status_code == 422
    assert "twice as wide as it is high" in refused.text and "Nothing was changed" in refused.text
    assert [(r.id, r.sha256) for r in _rows(db)] == [(row.id, row.sha256)]


def test_only_editors_manage_panoramas(
    signed_in: Callable[..., Console], db: Any, app: Any
) -> None:
    editor = signed_in("editor")
    assert _upload(editor, equirectangular()).status_code == 302
    [row] = _rows(db)
    inspector = signed_in("inspector")
    assert inspector.get(PAGE).status_code == 403
    form = {
        "version": "1",
        "alt-vi": "x",
        "image": (io.BytesIO(equirectangular(1024, 512)), "a.jpg"),
    }
    for path in (
        PAGE,
        f"{PAGE}/{row.id}/replace",
        f"{PAGE}/{row.id}/texts",
        f"{PAGE}/{row.id}/delete",
    ):
        refused = inspector.post(path, dict(form), content_type="multipart/form-data")
        assert (
            refused.status_code == 403 and "Vai trò của bạn không được mở trang này" in refused.text
        )
        form["image"] = (io.BytesIO(equirectangular(1024, 512)), "a.jpg")
    assert [(r.id, r.sha256, r.alt) for r in _rows(db)] == [(row.id, row.sha256, row.alt)]


def test_a_stale_page_changes_nothing(signed_in: Callable[..., Console], db: Any) -> None:
    editor = signed_in("editor")
    old = _version(editor.get(PAGE).text)
    assert _upload(editor, equirectangular()).status_code == 302
    [row] = _rows(db)
    stale = editor.post(f"{PAGE}/{row.id}/delete", {"version": old})
    assert stale.status_code == 302
    assert "Đã có người khác sửa điểm này" in editor.get(PAGE).text
    assert [r.id for r in _rows(db)] == [row.id]
