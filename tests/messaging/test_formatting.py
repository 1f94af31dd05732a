"""Message formatting is data, never HTML: links only from http(s) URLs, nothing a user types becomes
markup or a script; the same tree reaches the page in events and in the history."""

from __future__ import annotations

from typing import Any

import pytest

from entrepot.messaging.richtext import rich, safe_href
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture

ALLOWED = {"b", "i", "code", "a", "br"}


def _walk(nodes: list[Any]) -> list[Any]:
    out = []
    for n in nodes:
        out.append(n)
        if isinstance(n, dict):
            assert set(n) <= {"t", "c", "href"} and n["t"] in ALLOWED, n
            out.extend(_walk(n.get("c", [])))
    return out


def _text(nodes: list[Any]) -> str:
    return "".join(
        n if isinstance(n, str) else "\n" if n["t"] == "br" else _text(n.get("c", [])) for n in nodes
    )


def test_simple_formatting() -> None:
    assert rich("plain words") is None
    assert rich("*bold* _italic_ `x < y`\nnext") == [
        {"t": "b", "c": ["bold"]},
        " ",
        {"t": "i", "c": ["italic"]},
        " ",
        {"t": "code", "c": ["x < y"]},
        {"t": "br"},
        "next",
    ]
    assert rich("2*3*4 and snake_case_name") is None  # markers inside words are not formatting
    assert rich("`*not bold*`") == [{"t": "code", "c": ["*not bold*"]}]
    assert rich("중요 *선적* 확인") == ["중요 ", {"t": "b", "c": ["선적"]}, " 확인"]


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        "[click](javascript:alert(1))",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1) file:///etc/passwd ftp://host/x //evil.example/x",
        "*<b onmouseover=alert(1)>bold</b>*",
        'https://ok.example/"><script>alert(1)</script>',
        "https://ok.example/a'onmouseover='alert(1)",
        "`</code><script>alert(1)</script>`",
    ],
)
def test_hostile_text_stays_text(text: str) -> None:
    tree = rich(text) or [text]
    nodes = _walk(tree)
    for n in nodes:
        if isinstance(n, dict) and n["t"] == "a":
            assert n["href"].lower().startswith(("http://", "https://")), n
            assert not set(n["href"]) & set("<>\"' `"), n
    shown = _text(tree)
    assert all(shown.count(ch) == text.count(ch) for ch in "<>\"'=:()")  # shown as typed, as text


def test_links_http_and_https_only() -> None:
    tree = rich("See https://example.com/a_b?q=1, (http://x.example/y_(z)) and ftp://no.example.")
    links = [n for n in _walk(tree or []) if isinstance(n, dict) and n["t"] == "a"]
    assert [n["href"] for n in links] == ["https://example.com/a_b?q=1", "http://x.example/y_(z)"]
    assert safe_href("javascript:alert(1)") is None and safe_href("https://") is None
    assert safe_href("http://x.example") == "http://x.example"


def test_hostile_and_long_input_is_fast() -> None:
    import time

    for text in ("*a " * 2600, "_" * 8000, "`" * 8000, "https://x" * 900, "*_" * 4000):
        started = time.perf_counter()
        rich(text)
        assert time.perf_counter() - started < 0.5, text[:20]


def test_payloads_carry_the_tree(people: People) -> None:
    a, b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    body = "*Offer* <script>alert(1)</script> https://docs.example/lc javascript:alert(1)"
    sent = a.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"client_id": "f1", "body": body},
        headers={"x-csrf-token": csrf_of(a)},
    ).json()
    assert sent["body"] == body
    history = b.get(f"/api/v1/conversations/{conv}/messages").json()
    tree = history[0]["rich"]
    assert tree == [
        {"t": "b", "c": ["Offer"]},
        " <script>alert(1)</script> ",
        {"t": "a", "href": "https://docs.example/lc", "c": ["https://docs.example/lc"]},
        " javascript:alert(1)",
    ]
