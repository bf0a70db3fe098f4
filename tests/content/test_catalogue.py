"""The public catalogue: languages, search, geo, ETags, pagination, GeoJSON, JSON-LD, tours."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.test_shell import assert_error

BRIDGE = "japanese-covered-bridge"


def slugs(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["slug"] for item in response.get_json()["items"]]


@pytest.mark.parametrize(
    "query", ["chua cau", "Chùa Cầu", "CHÙA CẦU", "japanese bridge", "Japanese", "lai vien kieu"]
)
def test_search_finds_the_bridge_in_any_language_and_accent(client: Any, query: str) -> None:
    assert slugs(client.get("/api/v1/sites", query_string={"q": query}))[0] == BRIDGE


def test_search_in_a_language_not_served_still_matches(client: Any, auth: Any) -> None:
    body = {"texts": {"ja": {"name": "来遠橋 日本橋"}}}
    etag = client.get(f"/api/v1/sites/{BRIDGE}").headers["ETag"]
    response = client.patch(
        f"/api/v1/sites/{BRIDGE}", json=body, headers={**auth("editor"), "If-Match": etag}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert slugs(client.get("/api/v1/sites", query_string={"q": "日本橋"})) == [BRIDGE]


def test_search_with_no_match_is_an_empty_page(client: Any) -> None:
    body = client.get("/api/v1/sites", query_string={"q": "eiffel tower"}).get_json()
    assert body["items"] == [] and body["total"] == 0


def test_near_sorts_by_distance_and_reports_it(client: Any) -> None:
    items = client.get(
        "/api/v1/sites", query_string={"near": "15.8771,108.3260", "per_page": 100}
    ).get_json()["items"]
    distances = [item["distance_m"] for item in items]
    assert distances == sorted(distances)
    assert items[0]["slug"] == BRIDGE and items[0]["distance_m"] < 30
    within = client.get(
        "/api/v1/sites", query_string={"near": "15.8771,108.3260", "radius_m": 150}
    ).get_json()
    assert within["total"] < len(items) and all(i["distance_m"] <= 150 for i in within["items"])


@pytest.mark.parametrize(
    "params",
    [
        {"near": "abc"},
        {"near": "91,10"},
        {"near": "15.8,nan"},
        {"near": "1,2,3"},
        {"radius_m": 100},
        {"per_page": 0},
        {"per_page": 101},
        {"page": 0},
        {"kind": "castle"},
        {"lang": "xx"},
        {"q": ""},
    ],
)
def test_bad_list_parameters_are_422(client: Any, params: dict[str, Any]) -> None:
    assert_error(client.get("/api/v1/sites", query_string=params), 422)


def test_pagination(client: Any) -> None:
    first = client.get("/api/v1/sites?per_page=5").get_json()
    second = client.get("/api/v1/sites?per_page=5&page=2").get_json()
    assert first["total"] == second["total"] >= 22 and first["pages"] == -(-first["total"] // 5)
    assert not {i["slug"] for i in first["items"]} & {i["slug"] for i in second["items"]}
    beyond = client.get(f"/api/v1/sites?per_page=5&page={first['pages'] + 1}").get_json()
    assert beyond["items"] == []


def test_language_from_query_then_header_with_fallback(client: Any) -> None:
    vi = client.get(
        f"/api/v1/sites/{BRIDGE}", headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
    )
    assert vi.headers["Content-Language"] == "vi" and vi.get_json()["name"] == "Chùa Cầu"
    forced = client.get(f"/api/v1/sites/{BRIDGE}?lang=en", headers={"Accept-Language": "vi"})
    assert forced.get_json()["lang"] == "en"
    fr = client.get(f"/api/v1/sites/{BRIDGE}", headers={"Accept-Language": "fr-FR"}).get_json()
    assert (fr["requested_lang"], fr["lang"]) == ("fr", "en")  # no French text yet: chain fr -> en
    unknown_header = client.get(f"/api/v1/sites/{BRIDGE}", headers={"Accept-Language": "xx-YY"})
    assert unknown_header.status_code == 200 and unknown_header.get_json()["lang"] == "en"
    assert "Accept-Language" in vi.headers["Vary"]


def test_etag_and_304(client: Any) -> None:
    first = client.get(f"/api/v1/sites/{BRIDGE}?lang=en")
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/sites/{BRIDGE}?lang=en", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other_lang = client.get(f"/api/v1/sites/{BRIDGE}?lang=vi", headers={"If-None-Match": etag})
    assert other_lang.status_code == 200


def test_edits_need_if_match_and_never_overwrite_each_other(client: Any, auth: Any) -> None:
    editor = auth("editor")
    etag = client.get(f"/api/v1/sites/{BRIDGE}").headers["ETag"]
    assert_error(
        client.patch(f"/api/v1/sites/{BRIDGE}", json={"ticketed": True}, headers=editor), 428
    )
    first = client.patch(
        f"/api/v1/sites/{BRIDGE}",
        json={"texts": {"en": {"summary": "First editor."}}},
        headers={**editor, "If-Match": etag},
    )
    assert first.status_code == 200
    second = client.patch(
        f"/api/v1/sites/{BRIDGE}",
        json={"texts": {"en": {"summary": "Second editor."}}},
        headers={**editor, "If-Match": etag},
    )
    assert_error(second, 412, "edit_conflict")
    shown = client.get(f"/api/v1/sites/{BRIDGE}?lang=en")
    assert shown.get_json()["summary"] == "First editor."  # the public cache saw the edit
    audited = client.get("/api/v1/audit?object_type=site", headers=auth("admin")).get_json()
    update = next(row for row in audited if row["action"] == "site.update")
    assert update["changes"]["texts.en.summary"][1] == "First editor."
    assert update["changes"]["texts.en.summary"][0]  # the text it replaced
    assert shown.headers["ETag"].split(".")[0] == first.headers["ETag"].split(".")[0]


def test_create_site_then_find_it(client: Any, auth: Any) -> None:
    body = {
        "slug": "ba-le-well",
        "kind": "landmark",
        "location": {"lat": 15.87803, "lon": 108.32749},
        "texts": {
            "vi": {"name": "Giếng Bá Lễ"},
            "en": {"name": "Ba Le Well", "summary": "An old Cham well."},
        },
        "opening_hours": [{"days": ["mo", "tu"], "opens": "07:00", "closes": "18:00"}],
    }
    created = client.post("/api/v1/sites", json=body, headers=auth("editor"))
    assert created.status_code == 201, created.get_data(as_text=True)
    assert slugs(client.get("/api/v1/sites?q=gieng ba le"))[0] == "ba-le-well"
    assert_error(client.post("/api/v1/sites", json=body, headers=auth("editor")), 409, "slug_taken")


@pytest.mark.parametrize(
    "patch",
    [
        {
            "slug": "Bad Slug!",
            "kind": "bridge",
            "location": {"lat": 1, "lon": 1},
            "texts": {"en": {"name": "x"}},
        },
        {
            "slug": "x-y",
            "kind": "castle",
            "location": {"lat": 1, "lon": 1},
            "texts": {"en": {"name": "x"}},
        },
        {
            "slug": "x-y",
            "kind": "bridge",
            "location": {"lat": 100, "lon": 1},
            "texts": {"en": {"name": "x"}},
        },
        {
            "slug": "x-y",
            "kind": "bridge",
            "location": {"lat": 1, "lon": 1},
            "texts": {"xx": {"name": "x"}},
        },
        {"slug": "x-y", "kind": "bridge", "location": {"lat": 1, "lon": 1}, "texts": {}},
    ],
)
def test_bad_site_input_is_422_and_nothing_is_stored(
    client: Any, auth: Any, patch: dict[str, Any]
) -> None:
    total = client.get("/api/v1/sites").get_json()["total"]
    assert_error(client.post("/api/v1/sites", json=patch, headers=auth("editor")), 422)
    assert client.get("/api/v1/sites").get_json()["total"] == total


def test_unknown_and_invalid_slugs_are_404(client: Any) -> None:
    assert_error(client.get("/api/v1/sites/no-such-site"), 404, "site_not_found")
    assert_error(client.get("/api/v1/sites/" + "x" * 200), 404)
    assert_error(client.get("/api/v1/tours/no-such-tour"), 404, "tour_not_found")


def test_jsonld_is_schema_org(client: Any) -> None:
    museum = next(item for item in client.get("/api/v1/sites?kind=museum").get_json()["items"])
    doc = client.get(museum["url"]).get_json()["jsonld"]
    assert doc["@context"] == "https://schema.org" and doc["@type"] == [
        "TouristAttraction",
        "Museum",
    ]
    bridge = client.get(f"/api/v1/sites/{BRIDGE}").get_json()["jsonld"]
    assert bridge["@type"] == ["TouristAttraction", "LandmarksOrHistoricalBuildings"]
    assert bridge["geo"]["latitude"] == pytest.approx(15.8771, abs=0.001)
    assert bridge["url"].endswith(f"/s/{BRIDGE}")


def test_geojson_has_every_published_site(client: Any) -> None:
    response = client.get("/api/v1/sites.geojson")
    assert response.mimetype == "application/geo+json"
    collection = response.get_json()
    total = client.get("/api/v1/sites").get_json()["total"]
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == total
    lon, lat = collection["features"][0]["geometry"]["coordinates"]
    assert 108 < lon < 109 and 15 < lat < 17


def test_tours_have_ordered_stops_distance_and_duration(client: Any) -> None:
    tours = client.get("/api/v1/tours").get_json()["items"]
    assert len(tours) >= 2
    tour = client.get(tours[0]["url"], headers={"Accept-Language": "vi"}).get_json()
    assert tour["lang"] == "vi" and tour["duration_min"] > 0 and tour["distance_m"] > 0
    assert [stop["position"] for stop in tour["stops"]] == list(range(1, len(tour["stops"]) + 1))
    assert sum(stop["distance_from_previous_m"] for stop in tour["stops"]) == pytest.approx(
        tour["distance_m"], abs=len(tour["stops"])
    )


def test_languages_lists_configured_languages_with_counts(client: Any) -> None:
    items = client.get("/api/v1/languages").get_json()["items"]
    codes = [item["code"] for item in items]
    assert codes == ["vi", "en", "ko", "zh", "ja", "fr", "de", "es", "ru"]
    vi = items[0]
    assert vi["source"] and vi["name"] == "Tiếng Việt" and vi["sites_with_text"] >= 22


def test_repeated_reads_come_from_the_response_cache(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"/api/v1/sites/{BRIDGE}?lang=vi"
    first = client.get(url)
    with caplog.at_level("INFO", logger="hoian.access"):
        again = client.get(url, headers={"X-Request-ID": "gate-42"})
        revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["X-Request-ID"] == "gate-42"
    assert again.headers["Content-Language"] == "vi" and "X-Hoian-Data-Version" not in again.headers
    assert revalidated.status_code == 304 and revalidated.data == b""
    cached = [r.getMessage() for r in caplog.records if r.getMessage().endswith("(cached)")]
    assert len(cached) == 2
