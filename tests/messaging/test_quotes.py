"""Price quotes: validated cards in the chat, a price board per enterprise with chart data and CSV."""

from __future__ import annotations

import csv
import io
import json
import re

from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, _until, people  # noqa: F401 - fixture

QUOTE = {"product": "Zinc ingot", "quantity": 25, "unit": "t", "price": 2710, "currency": "usd", "incoterm": "cif",
         "place": "Nampo", "hs_code": "7901.11"}


def test_quotes_feed_the_board_of_their_enterprise_only(people: People) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol", "daedong")
    conv = _conversation(a, people.ids["bob"])
    h = {"x-csrf-token": csrf_of(a)}
    r = a.post(f"/api/v1/conversations/{conv}/quotes", json={"client_id": "q1", **QUOTE}, headers=h)
    assert r.status_code == 201, r.text
    card = r.json()["quote"]
    assert card["currency"] == "USD" and card["incoterm"] == "CIF" and card["hs_code"] == "790111"
    with a.websocket_connect("/ws") as wa:
        wa.send_json({"type": "quote", "client_id": "q2", "conversation_id": conv,
                      "quote": {**QUOTE, "product": "zinc  INGOT", "price": 2650}})
        _until(wa, "sent")
        wa.send_json({"type": "quote", "client_id": "q3", "conversation_id": conv,
                      "quote": {**QUOTE, "product": "</script><script>alert(1)</script>", "currency": "EUR"}})
        _until(wa, "sent")
    board = b.get("/prices").text
    series = json.loads(re.search(r'id="price-series">(.*?)</script>', board, re.S).group(1))  # type: ignore[union-attr]
    zinc = next(s for s in series if s["label"].startswith("Zinc ingot (USD/t)"))
    assert [p["y"] for p in zinc["points"]] == [2710, 2650]
    assert "<script>alert(1)</script>" not in board
    assert b.get("/prices", params={"currency": "EUR"}).text.count("<tr>") == 2  # header + one quote
    export = b.get("/prices.csv", params={"product": "zinc"})
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["quoted_at", "product", "hs_code"] and len(rows) == 3
    assert "Zinc ingot" not in c.get("/prices").text  # another enterprise's board


def test_bad_quotes_are_refused_clearly(people: People) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    h = {"x-csrf-token": csrf_of(a)}
    for change, message in (({"currency": "US$"}, "ISO 4217"), ({"incoterm": "XYZ"}, "Incoterm must be"),
                            ({"price": -5}, "positive"), ({"hs_code": "12"}, "not a valid code"),
                            ({"valid_until": "2001-01-01"}, "already ended"), ({"product": " "}, "required")):
        r = a.post(f"/api/v1/conversations/{conv}/quotes", json={"client_id": f"bad-{message}", **QUOTE, **change},
                   headers=h)
        assert r.status_code == 400 and message in r.json()["error"]["message"], (change, r.text)
    board = a.get("/prices").text
    assert board.count("<tr>") == 1


def test_csv_export_defuses_formulas(people: People) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    a.post(f"/api/v1/conversations/{conv}/quotes", json={"client_id": "f1", **QUOTE, "product": "=HYPERLINK(\"x\")"},
           headers={"x-csrf-token": csrf_of(a)})
    rows = list(csv.reader(io.StringIO(a.get("/prices.csv").text.lstrip("\ufeff"))))
    assert rows[1][1].startswith("'=")
