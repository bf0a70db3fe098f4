"""The buyer's pages as a tourist meets them: a family buys several tiers in one order without
JavaScript, the pay page names the product, says until when to pay and speaks the buyer's
language, tickets save to the phone, and every HTML route answers errors with a page."""

from __future__ import annotations

import re
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.ticketing.conftest import Shop


def _form_key(client: Any, path: str) -> str:
    form = client.get(path)
    assert form.status_code == 200, form.get_data(as_text=True)
    key = re.search(r'name="key" value="([^"]+)"', form.get_data(as_text=True))
    assert key
    return key.group(1)


def test_a_family_buys_four_tickets_of_three_tiers_in_one_order(
    client: Any, db: Any, shop: Shop
) -> None:
    form = client.get("/buy/old-town-pass?lang=en").get_data(as_text=True)
    # Each tier has its own number, its price and how many sites it admits; no script needed.
    assert "<script" not in form
    assert re.search(r"Foreign visitor · 120\.000 ₫ · admits 5 sites", form)
    assert re.search(r"Vietnamese visitor · 80\.000 ₫ · admits 3 sites", form)
    assert 'name="quantity_child"' in form
    key = _form_key(client, "/buy/old-town-pass?lang=vi")
    response = client.post(
        "/buy/old-town-pass?lang=vi",
        data={
            "key": key,
            "quantity_foreign": "2",
            "quantity_domestic": "1",
            "quantity_child": "1",
            "email": "family@example.com",
            "payment_method": "cash",
        },
    )
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.startswith("/pay/") and "lang=vi" in target
    page = client.get(target).get_data(as_text=True)
    assert "Vé tham quan phố cổ Hội An" in page
    assert "old-town-pass" not in page  # the product's name, not its slug
    assert "2 × " in page and "Khách nước ngoài" in page  # noqa: RUF001
    assert "Trẻ em dưới 16 tuổi" in page
    assert "Vui lòng thanh toán trước" in page  # until when the places are held
    english = client.get(re.sub(r"lang=vi", "lang=en", target)).get_data(as_text=True)
    assert "Please pay by" in english and "Waiting for payment" in english


def test_a_form_with_no_ticket_chosen_says_so(client: Any, db: Any, shop: Shop) -> None:
    key = _form_key(client, "/buy/old-town-pass?lang=en")
    response = client.post(
        "/buy/old-town-pass?lang=en",
        data={"key": key, "quantity_foreign": "0", "email": "a@example.com"},
    )
    assert response.status_code == 422
    assert "Choose at least one ticket." in response.get_data(as_text=True)


def test_a_ticket_saves_to_the_phone_as_a_picture_whose_code_scans(
    client: Any, db: Any, shop: Shop, tmp_path: Path
) -> None:
    order = shop.order(("old-town-pass", "foreign", 1))
    db.session.commit()
    (ticket,) = order.tickets
    from ticketing.verify import format_serial

    serial = format_serial(ticket.serial)
    page = client.get(f"/t/{serial}?token={order.token}&lang=ja").get_data(as_text=True)
    link = re.search(r'href="(/t/[^"]+/phone\.png\?[^"]+)"', page)
    assert link and "スマートフォンに保存" in page
    picture = client.get(link.group(1).replace("&amp;", "&"))
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    path = tmp_path / "phone.png"
    path.write_bytes(picture.data)
    scanned = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=30
    )
    assert scanned.stdout.strip() == ticket.code


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/s/{}?lang=fr".format("x" * 81), 404, "Page introuvable"),
        ("/t/NOT-A-SERIAL?token=x&lang=de", 404, "Seite nicht gefunden"),
        ("/t/00000-00001?token=hot_nothing", 404, "Page not found"),
        ("/pay/NOSUCHORDER?token=x&lang=vi", 404, "Không tìm thấy trang"),
        ("/buy/no-such-product?lang=es", 404, "Hội An"),
        ("/t/00000-00001/phone.png?lang=en", 404, "Error 404"),
    ],
)
def test_html_routes_answer_errors_with_pages_in_the_visitors_language(
    client: Any, db: Any, path: str, status: int, words: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/html", response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    assert body.startswith("<!doctype html>") and words in body
    assert '"reason"' not in body


def test_a_crash_on_an_html_route_is_a_page_and_the_api_keeps_json(
    app: Flask, client: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import services

    def broken(**_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "site_page_view", broken)
    page = client.get("/s/japanese-covered-bridge?lang=en")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong" in page.get_data(as_text=True)
    assert "boom" not in page.get_data(as_text=True)
    api = client.get("/api/v1/sites/nowhere")
    assert api.status_code == 404 and api.get_json()["reason"] == "site_not_found"
    unrouted = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert unrouted.status_code == 404 and unrouted.mimetype == "text/html"
    assert client.get("/api/v1/no/such").mimetype == "application/json"


def test_too_many_orders_from_the_form_is_a_page_with_retry_after(
    app: Flask, client: Any, db: Any, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "ORDER_RATE_LIMIT", "1 per minute")
    from app import ratelimit

    ratelimit.init_app(app)
    try:
        answers = [
            client.post("/buy/old-town-pass?lang=ru", data={"quantity_foreign": "0"})
            for _ in range(3)
        ]
    finally:
        monkeypatch.undo()
        ratelimit.init_app(app)
    limited = answers[-1]
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert "Слишком много запросов" in limited.get_data(as_text=True)
    assert limited.headers["Retry-After"]


@pytest.mark.parametrize("module", ["web.messages", "ticketing.messages", "mail.messages"])
def test_every_served_language_has_every_word_with_the_same_placeholders(
    app: Flask, module: str
) -> None:
    import importlib

    catalogue = importlib.import_module(module)
    english, translations = catalogue._EN, catalogue.MESSAGES

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for lang in app.config["LANGUAGES"]:
        words = translations[lang]
        assert set(words) == set(english), (module, lang, set(english) ^ set(words))
        assert all(fields(words[key]) == fields(english[key]) for key in english), (module, lang)
