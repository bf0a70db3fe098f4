"""The console's Devices page: enroll a device for a site, show its pairing code once (QR and
short code), pair again, move it, revoke it; the code pairs the phone through the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.web.console.conftest import Console

BRIDGE = "japanese-covered-bridge"
TAN_KY = "tan-ky-old-house"
_CODE = re.compile(r'class="short-code">([0-9A-Z]{5}-[0-9A-Z]{5})<')


def _enroll(admin: Console, name: str = "Chùa Cầu, cổng đông", site: str = BRIDGE) -> Any:
    return admin.post("/console/devices", {"name": name, "site": site})


def test_enrolling_shows_a_one_time_pairing_code_that_pairs_the_phone(
    signed_in: Callable[..., Console], client: Any
) -> None:
    admin = signed_in("admin")
    page = admin.get("/console/devices")
    assert page.status_code == 200 and "Đăng ký thiết bị" in page.text and "Chùa Cầu" in page.text
    enrolled = _enroll(admin)
    assert enrolled.status_code == 302
    shown = admin.get(enrolled.headers["Location"])
    assert shown.status_code == 200 and "<svg" in shown.text
    code = _CODE.search(shown.text)
    assert code is not None
    # The QR code's link opens the scanner with the code in the fragment, never sent to a server.
    assert "/scan/#pair=" + code[1] not in enrolled.headers["Location"]
    again = admin.get(enrolled.headers["Location"])
    assert _CODE.search(again.text) is None and "chỉ hiện một lần" in again.text
    paired = client.post("/api/v1/devices/pair", json={"code": code[1]})
    assert paired.status_code == 201 and paired.get_json()["device"]["site"] == BRIDGE
    listed = admin.get("/console/devices")
    assert "Chùa Cầu, cổng đông" in listed.text and "đang hoạt động" in listed.text
    assert "0 vào, 0 ra, 0 đang ở trong" in listed.text


def test_a_device_needs_a_name_and_a_site(signed_in: Callable[..., Console]) -> None:
    admin = signed_in("admin")
    admin.get("/console/devices")
    no_site = admin.post("/console/devices", {"name": "gate", "site": ""})
    assert no_site.status_code == 422 and "Chọn điểm mà thiết bị này soát vé" in no_site.text
    assert 'value="gate"' in no_site.text  # what was typed is kept
    no_name = admin.post("/console/devices", {"name": "", "site": BRIDGE})
    assert no_name.status_code == 422 and "name" in no_name.text
    unknown = admin.post("/console/devices", {"name": "gate", "site": "atlantis"})
    assert unknown.status_code == 422
    assert "Chưa có thiết bị nào" in admin.get("/console/devices").text


def test_move_pair_again_and_revoke(signed_in: Callable[..., Console], client: Any) -> None:
    admin = signed_in("admin")
    admin.get("/console/devices")
    location = _enroll(admin).headers["Location"]
    device_id = int(location.split("/")[-2])
    first = _CODE.search(admin.get(location).text)[1]  # type: ignore[index]
    moved = admin.post(f"/console/devices/{device_id}/site", {"site": TAN_KY})
    assert moved.status_code == 302
    assert "Tấn Ký" in admin.get("/console/devices").text
    newer = admin.post(f"/console/devices/{device_id}/pairing")
    second = _CODE.search(admin.get(newer.headers["Location"]).text)[1]  # type: ignore[index]
    assert second != first
    assert client.post("/api/v1/devices/pair", json={"code": first}).status_code == 409
    paired = client.post("/api/v1/devices/pair", json={"code": second}).get_json()
    assert paired["device"]["site"] == TAN_KY
    token = {"Authorization": f"Bearer {paired['access_token']}"}
    assert admin.post(f"/console/devices/{device_id}/revoke").status_code == 302
    listed = admin.get("/console/devices")
    assert "đã thu hồi" in listed.text
    refused = client.get("/api/v1/checkin/gate", headers=token)
    assert refused.status_code == 401 and refused.get_json()["reason"] == "device_revoked"
    revoked_again = admin.post(f"/console/devices/{device_id}/pairing")
    assert revoked_again.status_code == 409
