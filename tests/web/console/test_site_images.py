"""A site's images in the console, over HTTP: upload with its Vietnamese description, alt text
in every language, order and removal; bad files and stale pages change nothing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from content.models import Site
from tests.content.test_images import photo, png_header_only
from tests.web.console.conftest import Console

BRIDGE = "japanese-covered-bridge"
PAGE = f"/console/sites/{BRIDGE}/images"


def _version(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match
    return match.group(1)


def _images(db: Any) -> list[dict[str, Any]]:
    db.session.expire_all()
    site = db.session.scalar(select(Site).where(Site.slug == BRIDGE))
    return list(site.images)


def _upload(editor: Console, data: bytes, name: str = "cau.jpg", **fields: str) -> Any:
    version = _version(editor.get(PAGE).text)
    body = {"csrf_token": editor.token, "version": version, "alt-vi": "Chùa Cầu nhìn từ bờ kênh"}
    environ = EnvironBuilder(
        path=PAGE,
        method="POST",
        data={**body, **fields, "image": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    ).get_environ()
    try:  # over 500 KB, werkzeug spools the body to a file its test client leaves open
        return editor.client.open(environ)
    finally:
        environ["wsgi.input"].close()


def test_an_editor_uploads_describes_orders_and_removes_images(
    signed_in: Callable[..., Console], db: Any, client: Any
) -> None:
    editor = signed_in("editor")
    before = _images(db)
    page = editor.get(PAGE)
    assert page.status_code == 200 and "15 MB" in page.text  # the limit, shown before upload
    assert _upload(editor, photo(1600, 1200), credit="Trung tâm Di sản").status_code == 302
    added = _images(db)[len(before)]
    assert (
        added["alt"] == {"vi": "Chùa Cầu nhìn từ bờ kênh"} and added["credit"] == "Trung tâm Di sản"
    )
    assert [v["width"] for v in added["variants"]] == [480, 960]
    with client.get(added["variants"][0]["url"]) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"

    index = len(before)
    texts = {f"alt-{index}-vi": "Chùa Cầu", f"alt-{index}-en": "The covered bridge from the canal",
             f"alt-{index}-ja": "運河から見た来遠橋", f"license-{index}": "CC BY 4.0"}  # fmt: skip
    for i, image in enumerate(before):
        texts.update({f"alt-{i}-{lang}": alt for lang, alt in (image.get("alt") or {}).items()})
    version = _version(editor.get(PAGE).text)
    saved = editor.post(f"{PAGE}/texts", {"version": version, **texts})
    assert saved.status_code == 302
    image = _images(db)[index]
    assert image["alt"]["ja"] == "運河から見た来遠橋" and image["license"] == "CC BY 4.0"
    tourist = client.get(f"/api/v1/sites/{BRIDGE}?lang=en").get_json()
    assert "The covered bridge from the canal" in [i["alt"] for i in tourist["images"]]

    version = _version(editor.get(PAGE).text)
    first = editor.post(
        f"{PAGE}/order", {"version": version, "url": image["url"], "action": "first"}
    )
    assert first.status_code == 302 and _images(db)[0]["url"] == image["url"]
    version = _version(editor.get(PAGE).text)
    gone = editor.post(
        f"{PAGE}/order", {"version": version, "url": image["url"], "action": "remove"}
    )
    assert gone.status_code == 302 and _images(db) == before


def test_bad_uploads_are_refused_with_a_clear_message_and_nothing_changes(
    signed_in: Callable[..., Console], db: Any
) -> None:
    editor = signed_in("editor")
    before = _images(db)
    for data, name, words in (
        (b"%PDF-1.4 not an image", "plan.jpg", "không phải là ảnh đọc được"),
        (photo(fmt="GIF"), "anim.gif", "Chỉ dùng được ảnh JPEG, PNG và WebP"),
        (png_header_only(90_000, 90_000), "bomb.png", "triệu điểm ảnh"),
        (photo()[:2000], "cut.jpg", "không phải là ảnh đọc được"),
        (b"\xff" * (16 * 1024 * 1024), "huge.jpg", "Tệp quá lớn"),
    ):
        refused = _upload(editor, data, name)
        assert refused.status_code == 422, name
        assert words in refused.text, name
    no_alt = _upload(editor, photo(), **{"alt-vi": ""})
    assert no_alt.status_code == 422 and "Mô tả ảnh bằng tiếng Việt" in no_alt.text
    assert _images(db) == before


def test_a_stale_images_page_changes_nothing(signed_in: Callable[..., Console], db: Any) -> None:
    editor = signed_in("editor")
    old = _version(editor.get(PAGE).text)
    assert _upload(editor, photo(800, 600)).status_code == 302
    after = _images(db)
    upload = {"version": old, "alt-vi": "x", "image": (io.BytesIO(photo()), "a.jpg")}
    stale = editor.post(PAGE, upload, content_type="multipart/form-data")
    assert stale.status_code == 302
    assert "Đã có người khác sửa điểm này" in editor.get(PAGE).text
    assert _images(db) == after
