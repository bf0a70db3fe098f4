"""Sites and tours in the console, over HTTP: the folded search and filters, every field in
every language, publish and unpublish, the conflict page for two editors, tours' stops, and
bad input that saves nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from content.models import Site, Tour
from tests.web.console.conftest import Console

BRIDGE = "japanese-covered-bridge"
EDIT = f"/console/sites/{BRIDGE}"


def _version(page: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match
    return match.group(1)


def _form(page: str) -> dict[str, str]:
    """The edit form's fields as the page filled them (what a browser would post back)."""
    form = page.split('class="site-form"', 1)[1].split("</form>", 1)[0]
    values = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', form))
    for name, value in re.findall(
        r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S
    ):
        values[name] = value
    values["kind"] = re.search(r'<option value="([a-z_]+)" selected>', form).group(1)  # type: ignore[union-attr]
    if 'name="ticketed" value="1" checked' not in form:
        values.pop("ticketed", None)
    values.pop("csrf_token", None)
    return {k: html.unescape(v) for k, v in values.items()}


def _keep_mine(page: str) -> dict[str, str]:
    """The hidden fields of the conflict page's "keep my version" form."""
    form = page.split("<main", 1)[1].split('class="inline">', 1)[1].split("</form>", 1)[0]
    fields = re.findall(r'name="([^"]+)" value="([^"]*)"', form)
    return {k: html.unescape(v) for k, v in fields if k != "csrf_token"}


def _site(db: Any, slug: str = BRIDGE) -> Site:
    db.session.expire_all()
    return db.session.scalar(select(Site).where(Site.slug == slug))


def test_the_list_searches_folded_and_filters(signed_in: Callable[..., Console]) -> None:
    editor = signed_in("editor")
    found = editor.get("/console/sites?q=chua+cau")
    assert found.status_code == 200 and BRIDGE in found.text
    assert BRIDGE in editor.get("/console/sites?q=Chùa Cầu").text
    museums = editor.get("/console/sites?kind=museum").text
    assert BRIDGE not in museums and "museum" in museums
    assert "Không có điểm nào khớp" in editor.get("/console/sites?status=draft").text
    missing_ko = editor.get("/console/sites?missing=ko").text
    assert BRIDGE in missing_ko  # the seed has vi and en only
    assert BRIDGE not in editor.get("/console/sites?missing=en").text
    assert editor.get("/console/sites?kind=castle&page=-3&missing=xx").status_code == 200


def test_an_editor_edits_fields_and_languages_beside_the_vietnamese(
    signed_in: Callable[..., Console], db: Any, client: Any
) -> None:
    editor = signed_in("editor")
    page = editor.get(EDIT)
    assert page.status_code == 200
    assert 'id="lang-ko"' in page.text and "Nguồn tiếng Việt" in page.text
    form = _form(page.text)
    form.update(
        {
            "summary-en": "The bridge of the Japanese quarter, edited in the console.",
            "name-ko": "내원교",
            "opening_hours": "mo,tu,we,th,fr,sa,su 07:00-21:30",
            "aliases": "Chùa Cầu\nLai Viễn Kiều",
            "address-ko": "호이안 쩐푸",
        }
    )
    saved = editor.post(EDIT, form)
    assert saved.status_code == 302, saved.text
    site = _site(db)
    assert site.text_for("en").summary.endswith("edited in the console.")
    assert site.text_for("ko").name == "내원교" and site.text_for("ko").provenance == "human"
    assert site.opening_hours == [
        {"days": ["mo", "tu", "we", "th", "fr", "sa", "su"], "opens": "07:00", "closes": "21:30"}
    ]
    assert site.address["ko"] == "호이안 쩐푸"
    api = client.get(f"/api/v1/sites/{BRIDGE}?lang=ko").get_json()
    assert api["name"] == "내원교"
    assert "đã được lưu" in editor.get(EDIT).text


def test_bad_input_is_named_and_nothing_is_saved(
    signed_in: Callable[..., Console], db: Any
) -> None:
    editor = signed_in("editor")
    form = _form(editor.get(EDIT).text)
    before = _site(db).version
    for change, words in (
        ({"lat": "north"}, "Vĩ độ"),
        ({"lat": "95"}, "Vĩ độ"),
        ({"opening_hours": "every day 9 to 5"}, "every day 9 to 5"),
        ({"name-en": "", "summary-en": "x"}, "Cần có tên"),
        ({"wikidata": "not-an-id"}, "Wikidata"),
        ({"kind": "castle"}, "Loại"),
        ({"name-fr": "x" * 201}, "Tên (Français)"),
    ):
        refused = editor.post(EDIT, {**form, **change})
        assert refused.status_code == 422, change
        assert "Chưa lưu gì" in refused.text and words in refused.text, change
    assert _site(db).version == before


def test_two_editors_saving_the_same_site_get_the_conflict_page(
    signed_in: Callable[..., Console], db: Any
) -> None:
    lan, minh = signed_in("editor"), signed_in("editor")
    lan_form = _form(lan.get(EDIT).text)
    minh_form = _form(minh.get(EDIT).text)
    lan_edit = {**lan_form, "summary-vi": "Bản của Lan.", "name-ko": "내원교"}
    assert lan.post(EDIT, lan_edit).status_code == 302
    minh_edit = {**minh_form, "summary-vi": "Bản của Minh.", "description-en": "Minh's words."}
    conflict = minh.post(EDIT, minh_edit)
    assert conflict.status_code == 409
    assert "Đã có người khác lưu" in conflict.text
    table = conflict.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "Bản của Lan." in table and "Bản của Minh." in table
    assert "Minh&#39;s words." not in table and "내원교" not in table  # only one of them changed
    assert _site(db).text_for("vi").summary == "Bản của Lan."  # nothing silently overwritten
    # Minh keeps his version, knowingly: his changes on top of Lan's saved version.
    kept = minh.post(EDIT, _keep_mine(conflict.text))
    assert kept.status_code == 302, kept.text
    site = _site(db)
    assert site.text_for("vi").summary == "Bản của Minh."
    assert site.text_for("en").description == "Minh's words."
    assert site.text_for("ko").name == "내원교"  # Lan's change elsewhere stays
    stale_again = minh.post(EDIT, minh_edit)  # the old tab again: still refused
    assert stale_again.status_code == 409


def test_publish_and_unpublish(signed_in: Callable[..., Console], client: Any) -> None:
    editor = signed_in("editor")
    version = _version(editor.get(EDIT).text)
    off = editor.post(f"{EDIT}/published", {"published": "0", "version": version})
    assert off.status_code == 302
    assert client.get(f"/api/v1/sites/{BRIDGE}").status_code == 404
    assert BRIDGE in editor.get("/console/sites?status=draft").text
    stale = editor.post(f"{EDIT}/published", {"published": "1", "version": version})
    assert stale.status_code == 409
    on = editor.post(
        f"{EDIT}/published", {"published": "1", "version": _version(editor.get(EDIT).text)}
    )
    assert on.status_code == 302 and client.get(f"/api/v1/sites/{BRIDGE}").status_code == 200


def test_a_new_site_is_a_draft_and_bad_ones_are_refused(
    signed_in: Callable[..., Console], db: Any, client: Any
) -> None:
    editor = signed_in("editor")
    editor.get("/console/sites/new")
    new = {"slug": "hoi-quan-hai-nam", "kind": "assembly_hall", "lat": "15.8770",
           "lon": "108.3300", "name-vi": "Hội quán Hải Nam"}  # fmt: skip
    created = editor.post("/console/sites/new", new)
    assert created.status_code == 302 and created.headers["Location"].endswith("/hoi-quan-hai-nam")
    assert _site(db, "hoi-quan-hai-nam").published is False
    assert client.get("/api/v1/sites/hoi-quan-hai-nam").status_code == 404
    assert editor.post("/console/sites/new", new).status_code == 409
    bad = editor.post("/console/sites/new", {**new, "slug": "Not A Slug", "name-vi": ""})
    assert bad.status_code == 422 and "slug" in bad.text


def test_tour_stops_reorder_add_remove_with_distance_and_duration(
    signed_in: Callable[..., Console], db: Any
) -> None:
    editor = signed_in("editor")
    listing = editor.get("/console/tours")
    assert listing.status_code == 200 and " km" in listing.text
    tour = db.session.scalar(select(Tour).order_by(Tour.slug))
    url = f"/console/tours/{tour.slug}"
    page = editor.get(url)
    assert page.status_code == 200 and "ước tính" in page.text
    stops = [s.site.slug for s in tour.stops]

    def act(action: str, site: str) -> Any:
        return editor.post(f"{url}/stops", {"action": action, "site": site,
                                            "version": _version(editor.get(url).text)})  # fmt: skip

    assert act("up", stops[1]).status_code == 302
    db.session.expire_all()
    assert [s.site.slug for s in tour.stops][:2] == [stops[1], stops[0]]
    other = next(s for s in db.session.scalars(select(Site)) if s.slug not in stops)
    assert act("add", other.slug).status_code == 302
    db.session.expire_all()
    assert tour.stops[-1].site.slug == other.slug and len(tour.stops) == len(stops) + 1
    assert act("remove", other.slug).status_code == 302
    for slug in stops[2:]:
        act("remove", slug)
    too_few = act("remove", stops[0])
    assert too_few.status_code == 422 and "ít nhất hai điểm dừng" in too_few.text
    stale = editor.post(f"{url}/stops", {"action": "up", "site": stops[0], "version": "1"})
    assert stale.status_code == 302
    assert "Đã có người khác sửa" in editor.get(url).text
    db.session.expire_all()
    from content.services import route_of

    assert tour.duration_min == route_of([s.site for s in tour.stops]).duration_min


def test_tour_texts_conflict_and_creation(signed_in: Callable[..., Console], db: Any) -> None:
    lan, minh = signed_in("editor"), signed_in("editor")
    tour = db.session.scalar(select(Tour).order_by(Tour.slug))
    url = f"/console/tours/{tour.slug}"
    version = _version(lan.get(url).text)
    minh.get(url)
    from web.console.tours import form_values

    shown = form_values(tour)
    ok = lan.post(url, {**shown, "version": version, "duration_min": "95", "name-ja": "会館めぐり"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert tour.duration_min == 95 and tour.text_for("ja").name == "会館めぐり"
    conflict = minh.post(url, {**shown, "version": version, "duration_min": "60"})
    assert conflict.status_code == 409 and "95" in conflict.text
    bad = lan.post(url, {**shown, "version": str(tour.version), "duration_min": "forever"})
    assert bad.status_code == 422
    lan.get("/console/tours")
    sites = [s.slug for s in db.session.scalars(select(Site).order_by(Site.slug).limit(2))]
    made = lan.post("/console/tours", {"slug": "a-new-walk", "name": "Đi bộ mới",
                                        "first": sites[0], "second": sites[1]})  # fmt: skip
    assert made.status_code == 302
    same = lan.post("/console/tours", {"slug": "a-new-walk", "name": "x", "first": sites[0],
                                        "second": sites[0]})  # fmt: skip
    assert same.status_code == 422
