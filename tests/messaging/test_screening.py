"""Screening beyond the message text: the rule index against a rule-by-rule matcher, attachments'
text (a PDF, a DOCX, a picture read by OCR) flagged by the worker, and the off-topic rule flagging a
drifting conversation once per episode and never a trade conversation."""

from __future__ import annotations

import io
import random
import shutil
import unicodedata
from pathlib import Path

import pytest
import regex
from fastapi.testclient import TestClient
from sqlalchemy import select

from entrepot.compliance.lexicon import (
    REGEX_TIMEOUT_S,
    Lexicon,
    PhraseIndex,
    Rule,
    language_family,
    locate,
    tokens_of,
)
from entrepot.core.types import Role
from entrepot.db.compliance import Flag, LexiconRule
from entrepot.workers.loop import Worker
from tests.conftest import csrf_of, make_app
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture
from tests.parsers import _parser_samples as samples

WORDS = {
    "en": "zinc copper steel cargo vessel invoice sanctions bypass cash offshore bribe permit the of".split(),
    "ko": "밀수 선적 대금 세관 현금 뇌물 화물 통관 제재 우회".split(),
    "zh": "走私 装运 货款 海关 现金 贿赂 制裁 绕过 货物 报关".split(),
    "ja": "密輸 船積み 代金 税関 現金 賄賂 制裁 回避 貨物 通関".split(),
}
JOIN = {"en": " ", "ko": " ", "zh": "", "ja": ""}
REGEXES = [
    r"\b\d{4}-\d{4}-\d{4}-\d{4}\b",
    r"(?:wire|send)\s+\$?\d+",
    r"\bacc(?:ount)?\s*#?\d{6,}",
    r"(\w)\1\1",
    r"현금\s*\d+",
    r"[0-9]{3}-[0-9]{4}",
    r"(?i)offshore",
    r"cash|bribe",
    r"\bUSD\s?\d+",
]


def _naive(rules: list[Rule], text: str, language: str | None) -> set[tuple[int, int, int]]:
    """The obvious matcher: every rule, one after another, at its first occurrence."""
    tokens = tokens_of(text)
    found: set[tuple[int, int, int]] = set()
    for rule in rules:
        if rule.language is not None and language_family(rule.language) != language_family(language):
            continue
        if rule.kind == "regex":
            m = regex.search(
                rule.pattern,
                unicodedata.normalize("NFKC", text),
                regex.IGNORECASE | regex.UNICODE,
                timeout=REGEX_TIMEOUT_S,
            )
            if m:
                found.add((rule.id, m.start(), m.end()))
            continue
        seq = tokens_of(rule.pattern)
        for i in range(len(tokens) - len(seq) + 1):
            if seq and tokens[i : i + len(seq)] == seq:
                _, start, end = locate(text, seq)
                found.add((rule.id, start, end))
                break
    return found


def test_rule_index_matches_like_checking_every_rule() -> None:
    rng = random.Random(20240611)
    langs = list(WORDS)
    rules = []
    for i in range(400):
        lang = rng.choice(langs)
        if i % 8 == 0:
            rules.append(
                Rule(i, 1, "regex", rng.choice(REGEXES), rng.choice([None, "ko", "en"]), "low", "flag", "")
            )
            continue
        words = [rng.choice(WORDS[lang]) for _ in range(rng.choice([1, 1, 2, 3]))]
        language = rng.choice([None, None, lang if lang != "zh" else rng.choice(["zh-Hans", "zh-Hant"])])
        rules.append(
            Rule(
                i,
                1,
                "word" if len(words) == 1 else "phrase",
                JOIN[lang].join(words),
                language,
                "low",
                "flag",
                "",
            )
        )
    lexicon = Lexicon(rules)
    assert len(lexicon) == len(rules)
    checked = hits = 0
    for _ in range(250):
        lang = rng.choice(langs)
        parts = [rng.choice(WORDS[lang]) for _ in range(rng.randint(3, 14))]
        if rng.random() < 0.3:
            parts.insert(
                rng.randint(0, len(parts)),
                rng.choice(["1234-5678-9012-3456", "wire $500", "acc #1234567", "현금 300", "USD 42", "zzz"]),
            )
        text = JOIN[lang].join(parts)
        language = {"zh": rng.choice(["zh-Hans", "zh-Hant"])}.get(lang, lang)
        got = {(m.rule.id, m.start, m.end) for m in lexicon.match(text, language)}
        assert got == _naive(rules, text, language), text
        checked += 1
        hits += bool(got)
    assert checked == 250 and hits > 150  # the comparison was not vacuous


def test_phrase_index_finds_every_occurrence() -> None:
    rng = random.Random(7)
    alphabet = list("abcdefg")
    entries = [tuple(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(60)]
    index: PhraseIndex[int] = PhraseIndex()
    for n, seq in enumerate(entries):
        index.add(seq, n)
    for _ in range(200):
        tokens = [rng.choice(alphabet) for _ in range(rng.randint(0, 30))]
        expected = {
            (i, len(seq), n)
            for n, seq in enumerate(entries)
            for i in range(len(tokens))
            if tuple(tokens[i : i + len(seq)]) == seq
        }
        assert set(index.find(tokens)) == expected


# -- through the app ---------------------------------------------------------------------------------


def _rule(rev: TestClient, **fields: str) -> None:
    data = {
        "severity": "high",
        "action": "flag",
        "language": "",
        "description": "",
        **fields,
        "csrf_token": csrf_of(rev),
    }
    assert rev.post("/review/rules", data=data).status_code == 200


def _send(c: TestClient, conv: int, cid: str, body: str) -> None:
    r = c.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"client_id": cid, "body": body},
        headers={"x-csrf-token": csrf_of(c)},
    )
    assert r.status_code in (200, 201), r.text


def _attach(c: TestClient, conv: int, name: str, data: bytes, cid: str) -> int:
    r = c.post(
        f"/api/v1/conversations/{conv}/attachments",
        files={"file": (name, data)},
        data={"client_id": cid},
        headers={"x-csrf-token": csrf_of(c), "accept": "application/json"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _picture(lines: list[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_path), 40) if font_path.exists() else ImageFont.load_default(40)
    image = Image.new("RGB", (1400, 120 + 80 * len(lines)), "white")
    for i, line in enumerate(lines):
        ImageDraw.Draw(image).text((60, 60 + i * 80), line, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _flags(people: People) -> list[Flag]:
    with people.db.read() as s:
        return list(s.execute(select(Flag).order_by(Flag.id)).scalars())


def test_attachment_text_is_screened_after_the_send(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    _rule(rev, name="embargo", kind="word", pattern="embargo")
    _rule(rev, name="cash deal", kind="phrase", pattern="현금 거래")
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    _send(a, conv, "t1", "Here are the papers for the zinc lot.")
    pdf = _attach(
        a,
        conv,
        "terms.pdf",
        samples.make_text_pdf(
            ["Payment terms: 30% deposit.", "Route the cargo through Dalian to avoid the embargo checks."]
        ),
        "f1",
    )
    docx = _attach(
        a, conv, "memo.docx", samples.make_docx(["물품 대금은 현금 거래로 처리합니다.", "서명"]), "f2"
    )
    clean = _attach(a, conv, "spec.docx", samples.make_docx(["Zinc ingots, 99.995%, 25 t per lot."]), "f3")
    assert _flags(people) == []  # nothing is flagged at send time: the files are read by the worker
    Worker(people.db, people.app.state.settings).run_until_idle()
    flags = {f.message_id: f for f in _flags(people)}
    assert set(flags) == {pdf, docx} and clean not in flags
    on_pdf, on_docx = flags[pdf], flags[docx]
    assert on_pdf.details is not None and on_pdf.details["source"] == "attachment"
    assert on_pdf.details["file"] == "terms.pdf" and on_pdf.details["page"] == 2
    excerpt, (a0, a1) = on_pdf.details["excerpt"], on_pdf.details["excerpt_span"]
    assert excerpt[a0:a1] == on_pdf.matched == "embargo" and on_pdf.span[1] - on_pdf.span[0] == len("embargo")
    assert on_pdf.context[-1]["body"] == "Here are the papers for the zinc lot."
    assert on_docx.matched.startswith("현금") and on_docx.details["file"] == "memo.docx"
    with people.db.read() as s:
        rule = s.get(LexiconRule, on_pdf.rule_id)
        assert rule is not None and rule.name == "embargo" and on_pdf.rule_version == rule.version == 1
    page = rev.get(f"/review/flags/{on_pdf.id}").text
    assert "<mark>embargo</mark>" in page and "terms.pdf" in page
    Worker(people.db, people.app.state.settings).run_until_idle()
    assert len(_flags(people)) == 2  # nothing more the second time


@pytest.mark.slow
def test_text_in_a_picture_is_read_by_ocr_and_flagged(people: People) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    rev = people.client("rev", "centre", Role.REVIEWER)
    _rule(rev, name="embargo", kind="word", pattern="embargo")
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    pic = _attach(
        a,
        conv,
        "whiteboard.png",
        _picture(["Plan for next week:", "ship via Dalian, avoid the EMBARGO"]),
        "p1",
    )
    plain = _attach(a, conv, "pallets.png", _picture(["Pallets stacked four high", "loading bay 3"]), "p2")
    Worker(people.db, people.app.state.settings).run_until_idle()
    flags = _flags(people)
    assert [f.message_id for f in flags] == [pic] and plain != pic
    assert flags[0].matched.lower() == "embargo" and flags[0].details["file"] == "whiteboard.png"


TRADE = [
    "Can you offer 500 t of zinc ingots CIF Busan, delivery in May?",
    "Our best price is USD 2,710 per tonne FOB Tianjin, valid until Friday.",
    "The buyer wants 25 containers, payment by L/C at sight.",
    "Please send the proforma invoice and the packing list for the copper order.",
    "Shipment is delayed, the vessel now leaves the port on the 14th.",
    "Customs asked for the certificate of origin, HS 7901.11.",
    "Freight went up again, please recheck the CFR price for the steel coils.",
    "The supplier wants a 30% deposit before loading the cargo.",
    "Inspection report on the urea lot is fine, we can release the payment.",
    "Two containers of rubber arrived, clearing customs tomorrow.",
]
GENERAL = [
    "Did you watch the football final last night? What a goal in the second half.",
    "My daughter starts piano lessons next week and she is very excited about it.",
    "The museum downtown has a new exhibition on medieval painting and sculpture.",
    "We hiked up the mountain on Sunday; the view over the lake was wonderful.",
    "I am reading a novel about a family of sailors in the nineteenth century.",
    "The weather has been strange, snow in April and then a heat wave.",
    "Have you tried the new noodle restaurant near the station? The broth is great.",
    "My brother adopted a puppy, a small brown one that chews every shoe.",
    "The concert was sold out, so we listened to the orchestra on the radio.",
    "Our neighbours are repainting their house in a bright yellow colour.",
    "The history teacher talked about the ancient temples and their architecture.",
    "I finally fixed my bicycle, the chain had come off twice this week.",
]


def _topic_flags(people: People) -> list[Flag]:
    return [f for f in _flags(people) if (f.details or {}).get("source") == "topic"]


def test_off_topic_flags_a_drift_once_per_episode_and_never_trade_talk(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    a, b = people.client("alice"), people.client("bob")
    trade_conv = _conversation(a, people.ids["bob"])
    for i in range(30):  # trade talk with short replies and one aside
        _send(a if i % 2 else b, trade_conv, f"t{i}", TRADE[i % len(TRADE)] if i % 5 else "ok, thanks")
        if i == 12:
            _send(a, trade_conv, "aside", GENERAL[0])
    assert _topic_flags(people) == []

    carol = people.client("carol")
    drift = _conversation(a, people.ids["bob"], people.ids["carol"], title="Desk")
    for i in range(3):
        _send(a, drift, f"d-open{i}", TRADE[i])
    for i in range(12):  # off topic for twelve messages: one flag, not five
        _send(carol if i % 2 else b, drift, f"d-chat{i}", GENERAL[i])
    flags = _topic_flags(people)
    assert len(flags) == 1
    first = flags[0]
    details = first.details or {}
    assert first.conversation_id == drift and len(details["window"]) == 8
    assert details["mean"] < details["threshold"] == 0.12
    assert all(w["score"] < 0.12 for w in details["window"][-3:])
    assert first.context and all("score" in c for c in first.context)
    with people.db.read() as s:
        rule = s.get(LexiconRule, first.rule_id)
        assert rule is not None and rule.kind == "topic" and first.rule_version == rule.version == 1
        assert rule.pattern == "window=8 threshold=0.12 min_tokens=4"
    page = rev.get(f"/review/flags/{first.id}").text
    assert 'id="topic-window"' in page and str(details["mean"]) in page
    for i in range(8):  # back to trade: the episode ends ...
        _send(a, drift, f"d-back{i}", TRADE[i])
    assert len(_topic_flags(people)) == 1
    for i in range(9):  # ... and a new drift is a new flag
        _send(b, drift, f"d-again{i}", GENERAL[(i + 3) % len(GENERAL)])
    assert [f.conversation_id for f in _topic_flags(people)] == [drift, drift]


def test_off_topic_parameters_come_from_the_settings_and_version_the_rule(people: People) -> None:
    app = make_app(people.app.state.settings, people.db, offtopic_window=4, offtopic_threshold=0.2)
    a = people.client("alice")
    people.client("bob")
    c = TestClient(app, client=("127.0.0.1", 5000), cookies=a.cookies)
    conv = _conversation(c, people.ids["bob"])
    for i in range(4):
        _send(c, conv, f"g{i}", GENERAL[i])
    flags = _topic_flags(people)
    assert len(flags) == 1 and len((flags[0].details or {})["window"]) == 4
    with people.db.read() as s:
        rule = s.get(LexiconRule, flags[0].rule_id)
        assert rule is not None and rule.pattern == "window=4 threshold=0.2 min_tokens=4"
    rev = people.client("rev", "centre", Role.REVIEWER)
    r = rev.post(f"/review/rules/{flags[0].rule_id}/retire", data={"csrf_token": csrf_of(rev)})
    assert r.status_code == 400
    off = make_app(people.app.state.settings, people.db, offtopic_window=0)
    c2 = TestClient(off, client=("127.0.0.1", 5000), cookies=a.cookies)
    conv2 = _conversation(c2, people.ids["bob"], title="Weekend")
    for i in range(6):
        _send(c2, conv2, f"h{i}", GENERAL[4 + i])
    assert len(_topic_flags(people)) == 1  # the rule is off
