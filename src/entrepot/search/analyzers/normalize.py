"""Text normalisation shared by every analyser (documents and queries alike).

NFKC folds full-width/half-width forms (ＡＢＣ１２３ -> abc123, ｶﾀｶﾅ -> カタカナ) and
compatibility characters (① -> 1); casefold is the Unicode-aware lower() (ß -> ss).
Control and format characters are common in OCR output and PDF extraction; format
characters (soft hyphen, zero-width space/joiner, BOM) are dropped so split words join
again, other controls become spaces so words on either side stay apart.
"""

from __future__ import annotations

import re
import sys
import unicodedata

__all__ = ["normalize", "token_pieces", "tokens_from"]


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # BMP scan only (~65k chars, a few ms at import); supplementary planes are handled by _ASTRAL_CF.
    for cp in range(0x10000):
        cat = unicodedata.category(chr(cp))
        if cat == "Cc":
            table[cp] = " "
        elif cat == "Cf":
            table[cp] = None
    table[0x2028] = " "  # line/paragraph separators (Zl/Zp) behave like newlines
    table[0x2029] = " "
    return table


_TABLE = _build_table()
# Tag characters and other astral format characters (e.g. emoji tag sequences).
_ASTRAL_CF = re.compile("[\U000e0000-\U000e007f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a]")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC + casefold + control-character stripping; collapses whitespace runs to one space."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_TABLE)
    if max(text, default="\0") > "\uffff":  # cheap test before the astral regex
        text = _ASTRAL_CF.sub("", text)
    return _SPACES.sub(" ", text).strip()


_WORDISH = re.compile(r"[^\W_]+")


def _marks_and_private_use() -> str:
    # FTS5 unicode61 with categories 'L* N* M* Co' keeps marks and private-use characters in
    # tokens; Python's \w does not, so they are added to the token class explicitly.
    ranges: list[tuple[int, int]] = []
    for cp in range(0x20000):
        cat = unicodedata.category(chr(cp))
        if cat[0] == "M" or cat == "Co":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    ranges += [(0xE0100, 0xE01EF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]
    return "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in ranges)


# A token as FTS5 sees it: letters, numbers, marks, private use.
_TOKEN = re.compile(f"(?:[^\\W_]|[{_marks_and_private_use()}])+")


def tokens_from(words: list[str]) -> list[str]:
    """Analyser output -> index tokens, split exactly where the FTS5 tokenizer would split.

    One regex pass over the joined words is much cheaper than checking 600k tokens one by one.
    """
    return _TOKEN.findall(" ".join(words))


def token_pieces(token: str) -> list[str]:
    """Split a token where the FTS5 tokenizer would (keeps letters, numbers, marks, private use).

    Analysers may emit tokens such as "ヴァン・ダイク"; the index tokenizer (unicode61 with
    categories 'L* N* M* Co') would split them anyway, so splitting here keeps query and
    index token lists identical to what FTS5 stores.
    """
    if _WORDISH.fullmatch(token):
        return [token]
    return _TOKEN.findall(token)


if sys.maxunicode < 0x10FFFF:  # pragma: no cover - narrow builds no longer exist on 3.11
    raise RuntimeError("entrepot.search.analyzers needs a wide-unicode Python build")
