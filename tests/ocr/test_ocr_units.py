"""Pure-Python parts of the OCR module (no tesseract needed)."""

from __future__ import annotations

import pytest

from entrepot.ocr import OcrContext, OcrError, cer
from entrepot.ocr.pdf import _groups
from entrepot.ocr.scripts import (
    count_scripts,
    normalize_text,
    traditional_share,
    variant_counts,
    variant_votes,
)
from entrepot.ocr.tesseract import STRIP_PHASES, _summarize, pick_lines


def test_count_scripts() -> None:
    c = count_scripts("한국어 日本語です abc")
    assert (c.hangul, c.han, c.kana, c.latin) == (3, 3, 2, 3)


def test_traditional_share() -> None:
    assert traditional_share("這是說明")[1] >= 2
    assert traditional_share("这是说明")[2] >= 2


def test_variant_counts() -> None:
    # 這/說 traditional-only, 说 simplified-only, 是 shared; kana and Latin are not Han;
    # a symbol below the confidence bound counts as unsure
    symbols = [("這", 95.0), ("是", 99.0), ("說", 40.0), ("说", 91.0), ("か", 99.0), ("a", 99.0)]
    assert variant_counts(symbols, 90) == (1, 1, 1, 0, 4)


def test_strip_phases_take_different_lines() -> None:
    boxes = [(100, 100 + 60 * i, 2000, 140 + 60 * i) for i in range(40)]
    picked = [tuple(pick_lines(boxes, 2, phase)) for phase in STRIP_PHASES]
    lines = [b for p in picked for b in p]
    assert all(len(p) == 2 for p in picked)
    assert len(set(lines)) == len(lines)  # no line is read twice
    assert pick_lines(boxes[:1], 2, 0.75) == boxes[:1]


def test_variant_votes() -> None:
    sim = [("这", 95.0), ("是", 90.0), ("说", 60.0)]
    tra = [("這", 80.0), ("是", 90.0), ("說", 90.0)]
    assert variant_votes(sim, tra) == (1, 1)


def test_normalize_text_drops_spaces_between_cjk_only_for_zh_ja() -> None:
    assert normalize_text("根据 本 合同 ABC  x\n\n\n\nend", "zh-Hans") == "根据本合同 ABC x\n\nend"
    assert normalize_text("본 계약에", "ko") == "본 계약에"


def test_cer() -> None:
    assert cer("ab c", "abc") == 0
    assert cer("abcd", "abxd") == 0.25
    assert cer("", "") == 0


def test_summarize_reading() -> None:
    # confidence weighted by word length; blank lines are not lines; "x" is a short line
    conf, chars, words, lines, short = _summarize("ab c\n\nx\n", [(2, 90.0), (1, 60.0), (1, 30.0)])
    assert (chars, words, lines, short) == (4, 3, 2, 1)
    assert conf == pytest.approx(67.5)
    assert _summarize("", []) == (0.0, 0, 0, 0, 0)


def test_context_validation() -> None:
    with pytest.raises(ValueError):
        OcrContext(languages=frozenset({"fr"}))
    with pytest.raises(ValueError):
        OcrContext(page_timeout_s=0)


def test_page_language_groups() -> None:
    assert _groups("ko", 2) == [("ko", [1, 2])]
    assert _groups(["en", "ko", None, "en"], 4) == [("en", [1, 4]), ("ko", [2])]
    with pytest.raises(OcrError):
        _groups(["en"], 2)
