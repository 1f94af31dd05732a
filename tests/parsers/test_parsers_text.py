"""Charset detection, text hygiene, content-based detection and safe_filename."""

from __future__ import annotations

import unicodedata

import pytest
from _parser_samples import make_docx, make_eml, make_odt, make_text_pdf, make_tiff, zip_bytes

from entrepot.parsers import detect_media_type, parse_document, safe_filename
from entrepot.parsers import model as m
from entrepot.parsers.textutil import clean_text, decode_text

SAMPLES = {
    "cp949": "무역 서류 보관소에 오신 것을 환영합니다. 선하증권과 상업송장을 확인하십시오.",
    "euc_kr": "신용장 개설을 요청합니다. 수입 대금은 일람불로 지급됩니다.",
    "gb18030": "欢迎来到贸易文件库。请检查提单和商业发票。",
    "big5": "歡迎來到貿易文件庫。請檢查提單和商業發票。",
    "shift_jis": "貿易書類ライブラリへようこそ。船荷証券と商業送り状を確認してください。",
    "utf-16": "Hello 안녕하세요 世界 — UTF-16 with BOM",
    "utf-16-le": "Mostly ASCII text in UTF-16 without a BOM: 무역",
    "utf-8-sig": "UTF-8 with BOM: 船荷証券",
    "cp1252": "Café crème — résumé of the invoice, naïve façade.",
}


@pytest.mark.parametrize("encoding", sorted(SAMPLES))
def test_legacy_and_unicode_encodings_round_trip(encoding):
    text = SAMPLES[encoding]
    data = text.encode(encoding)
    doc = parse_document(data, filename="note.txt")
    assert doc.media_type == m.TEXT
    assert doc.text == text


def test_cp949_uhc_extension_syllable_still_decodes():
    text = "똠방각하 무역 서류 보관소입니다. 선하증권을 확인하세요."  # 똠 is outside KS X 1001
    assert decode_text(text.encode("cp949"))[0] == text


def test_large_text_decodes_quickly():
    import time

    data = ("무역 서류 보관소에 오신 것을 환영합니다.\n" * 50_000).encode("cp949")
    start = time.monotonic()
    text, encoding = decode_text(data)
    assert encoding == "cp949" and text.startswith("무역 서류")
    assert time.monotonic() - start < 2


def test_clean_text_nfc_and_controls():
    decomposed = unicodedata.normalize("NFD", "한국어 café")
    dirty = f"{decomposed}\x00\x1b[31m\u202eabc\u202c\ufeff\r\n\r\n\r\n\r\nend\x85"
    cleaned = clean_text(dirty)
    assert cleaned == "한국어 café[31mabc\n\nend"
    assert unicodedata.is_normalized("NFC", cleaned)


# ---------------------------------------------------------------------------- detection
def test_detection_ignores_the_name():
    pdf = make_text_pdf(["x"])
    docx = make_docx(["x"])
    assert detect_media_type(pdf, "a.docx") == m.PDF
    assert detect_media_type(docx, "a.pdf") == m.DOCX
    assert detect_media_type(make_odt(["x"]), "a.txt") == m.ODT
    assert detect_media_type(make_tiff(1), "a.png") == m.TIFF
    assert detect_media_type(make_eml(), "a.html") == m.EML


def test_pdf_header_after_junk_bytes():
    assert detect_media_type(b"\r\n\x00junk" + make_text_pdf(["x"])) == m.PDF


def test_text_flavours():
    assert detect_media_type(b"a,b,c\n1,2,3\n4,5,6\n") == m.CSV
    assert detect_media_type(b"a\tb\n1\t2\n3\t4\n") == m.CSV
    assert detect_media_type(b"# Title\n\nSome *text*.\n") == m.MARKDOWN
    assert detect_media_type(b"Just a note, with a comma.\nAnother line.\n") == m.TEXT
    assert detect_media_type(b"  <!DOCTYPE html><p>x</p>") == m.HTML
    assert detect_media_type(b"<!-- c --><html><body>x</body></html>") == m.HTML
    # the name may choose between text flavours, never more
    assert detect_media_type(b"plain words", "notes.md") == m.MARKDOWN
    assert detect_media_type(b"a;b", "x.csv") == m.CSV


def test_a_note_that_mentions_headers_is_not_mail():
    assert detect_media_type(b"Subject: meeting\nplease come\n") == m.TEXT


def test_odf_and_hwpx_detected_by_mimetype_member():
    assert detect_media_type(zip_bytes({"mimetype": m.ODS, "content.xml": "<x/>"})) == m.ODS
    hwpx = zip_bytes({"mimetype": "application/hwp+zip", "Contents/section0.xml": "<x/>"})
    assert detect_media_type(hwpx) == m.HWPX


# -------------------------------------------------------------------------- safe_filename
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/absolute/path/무역 서류.pdf", "무역 서류.pdf"),
        ("C:report.pdf", "report.pdf"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override removed
        ("제품\x00목록\x07.xlsx", "제품목록.xlsx"),
        ("船荷証券 コピー.pdf", "船荷証券 コピー.pdf"),
        ("..", "unnamed"),
        ("", "unnamed"),
        (None, "unnamed"),
        ("   .hidden", "hidden"),
        ("CON.txt", "_CON.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        (b"bytes-\xed\x95\x9c.txt", "bytes-한.txt"),
        ("line\nbreak.txt", "line break.txt"),
    ],
)
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_length_limit_keeps_extension_and_whole_characters():
    name = "가" * 300 + ".pdf"
    result = safe_filename(name, max_bytes=100)
    assert result.endswith(".pdf")
    assert len(result.encode("utf-8")) <= 100
    assert result[:-4] == "가" * 32
    assert safe_filename("x" * 500).count("x") == 200


def test_safe_filename_is_nfc():
    assert safe_filename(unicodedata.normalize("NFD", "한글.txt")) == "한글.txt"
