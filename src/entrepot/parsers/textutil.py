"""Text hygiene shared by every parser: NFC, no control characters, charset detection."""

from __future__ import annotations

import codecs
import re
import unicodedata

# C0 and C1 controls except TAB and LF, DEL, bidi embeddings/overrides/isolates, BOM,
# interlinear annotation marks, noncharacters and lone surrogates are dropped.
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff"
    "\ud800-\udfff]"
)
_BREAKS = re.compile("\r\n?|[\x0b\x0c\u2028\u2029]")  # CR, CRLF, VT, FF, LS, PS -> LF
_TRAILING_WS = re.compile(r"[ \t\u3000]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC-normalise and strip control characters; keep TAB and newlines (CRLF/CR become LF)."""
    if not text:
        return ""
    text = _BREAKS.sub("\n", text)
    text = _DROP.sub("", text).replace("\xa0", " ")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _TRAILING_WS.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def meaningful_chars(text: str) -> int:
    """Letters and digits, any script (CJK ideographs, Hangul and kana count)."""
    return sum(1 for ch in text if ch.isalnum())


# --------------------------------------------------------------------------------------------
# Charset detection
# --------------------------------------------------------------------------------------------
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # must precede UTF-16 LE (same first two bytes)
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What the library's staff write in, plus Western European for English documents.
_CANDIDATES = ["cp949", "gb18030", "big5", "cp932", "euc_jp", "cp1252"]
_SAMPLE = 64 * 1024


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def guess_utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without BOM: mostly-ASCII text has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    zero_even = even.count(0) / len(even)
    zero_odd = odd.count(0) / len(odd)
    if zero_odd > 0.3 and zero_even < 0.05:
        return "utf-16-le"
    if zero_even > 0.3 and zero_odd < 0.05:
        return "utf-16-be"
    return None


def _penalty(encoding: str, text: str) -> float:
    """How implausible a decoding is: characters real text in that encoding rarely contains.

    Short CJK samples are ambiguous between legacy encodings (charset-normalizer, for
    instance, takes Shift_JIS bytes for CP949); mis-decodings fill the text with characters
    outside the everyday repertoire of the encoding.
    """
    non_ascii = [ch for ch in text[:16384] if ord(ch) > 0x7F][:4096]
    if not non_ascii:
        return 0.0
    odd = 0
    enc = codecs.lookup(encoding).name
    for ch in non_ascii:
        cat = unicodedata.category(ch)
        if cat in ("Co", "Cn", "Cc"):
            odd += 1
        elif enc in ("cp949", "euc_kr") and "\uac00" <= ch <= "\ud7a3":
            # UHC-extension syllables (outside the 2,350 of KS X 1001) are rare in real text
            b = ch.encode("cp949")
            if not (0xB0 <= b[0] <= 0xC8 and b[1] >= 0xA1):
                odd += 1
        elif enc in ("cp932", "shift_jis", "euc_jp") and "\uff61" <= ch <= "\uff9f":
            odd += 1  # half-width katakana: the classic sign of Korean/Chinese read as Shift_JIS
        elif enc == "gb18030":
            try:
                ch.encode("gbk")
            except UnicodeEncodeError:
                odd += 1
    return odd / len(non_ascii)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown charset. Returns (text, encoding name). Never raises."""
    bom = bom_encoding(data)
    if bom:
        enc, skip = bom
        return data[skip:].decode(enc, errors="replace"), enc
    utf16 = guess_utf16_without_bom(data)
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a character at the end is still UTF-8.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data.decode("utf-8", errors="replace"), "utf-8"

    import charset_normalizer

    sample = data[:_SAMPLE]
    best: tuple[float, int, str] | None = None
    results = charset_normalizer.from_bytes(sample, cp_isolation=_CANDIDATES)
    for index, match in enumerate(results):
        text = str(match)
        score = _penalty(match.encoding, text) + match.chaos
        if best is None or (score, index) < best[:2]:
            best = (score, index, match.encoding)
    # Encodings charset-normalizer dismissed but which decode strictly still get a chance.
    tried = {codecs.lookup(m.encoding).name for m in results}
    for index, enc in enumerate(_CANDIDATES[:-1], start=100):
        if codecs.lookup(enc).name in tried:
            continue
        try:
            text = sample.decode(enc)
        except UnicodeDecodeError:
            continue
        score = _penalty(enc, text) + 0.5  # unranked by charset-normalizer: only wins clearly
        if best is None or (score, index) < best[:2]:
            best = (score, index, enc)
    encoding = best[2] if best else "cp1252"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        if best is None:
            return data.decode("latin-1"), "latin-1"
        return data.decode(encoding, errors="replace"), encoding


def looks_binary(data: bytes) -> bool:
    """NULs or many C0 controls in the head: not text (UTF-16/32 handled by the caller)."""
    head = data[:8192]
    if not head:
        return False
    if b"\x00" in head:
        return True
    allowed = (0x09, 0x0A, 0x0C, 0x0D, 0x1B)
    controls = sum(head.count(bytes([c])) for c in range(0x01, 0x20) if c not in allowed)
    return controls > max(3, len(head) // 100)
