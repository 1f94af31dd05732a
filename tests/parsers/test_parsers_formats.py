"""Each supported format: detected from content, text extracted in order, metadata read."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from _parser_samples import (
    cjk_font,
    hwp_para_text,
    hwp_section,
    hwpx_section,
    make_docx,
    make_eml,
    make_hwp,
    make_hwpx,
    make_jpeg_with_orientation,
    make_odt,
    make_pptx,
    make_scanned_pdf,
    make_text_pdf,
    make_tiff,
    make_xlsx,
    property_set,
    text_image,
    zip_bytes,
)

from entrepot.parsers import ParseContext, detect_media_type, parse_document
from entrepot.parsers import model as m

needs_cjk_font = pytest.mark.skipif(cjk_font() is None, reason="no CJK font (fonts-noto-cjk) installed")


# ------------------------------------------------------------------------------------ PDF
def test_text_pdf_pages_and_metadata():
    data = make_text_pdf(["Bill of lading number 4711 for the cargo.",
                          "Commercial invoice and packing list."],
                         title="Shipment 4711", author="Kim")
    doc = parse_document(data)
    assert doc.media_type == m.PDF and doc.supported
    assert [p.number for p in doc.pages] == [1, 2]
    assert "Bill of lading number 4711" in doc.pages[0].text
    assert "Commercial invoice" in doc.pages[1].text
    assert doc.needs_ocr == []
    assert doc.title == "Shipment 4711" and doc.author == "Kim"
    assert doc.created is not None and doc.created.year >= 2024
    assert doc.page_count == 2 and not doc.truncated


@needs_cjk_font
def test_cjk_pdf_text_is_nfc():
    data = make_text_pdf(["선하증권 번호 4711 무역 서류", "提单 商业发票 提單 船荷証券 インボイス"], cjk=True,
                         title="무역 서류")
    doc = parse_document(data)
    assert "선하증권 번호 4711" in doc.pages[0].text
    assert "商业发票" in doc.pages[1].text and "船荷証券" in doc.pages[1].text
    assert doc.title == "무역 서류"
    import unicodedata

    assert unicodedata.is_normalized("NFC", doc.text)


def test_scanned_pdf_needs_ocr_and_renders():
    doc = parse_document(make_scanned_pdf(2))
    assert doc.media_type == m.PDF
    assert doc.needs_ocr == [1, 2]
    image = doc.render_page(1, dpi=72)
    assert image.mode == "RGB"
    assert abs(image.width - 210 * 72 / 25.4) < 3  # A4 width at 72 dpi
    # the scanned picture is there: the page is not blank
    assert image.convert("L").getextrema()[0] < 100
    big = doc.render_page(2, dpi=150)
    assert abs(big.width - image.width * 150 / 72) < 4


def test_pdf_render_respects_pixel_limit():
    from entrepot.core.errors import InvalidInput, TooLarge

    doc = parse_document(make_text_pdf(["x"]), ParseContext(max_image_pixels=1_000_000))
    with pytest.raises(TooLarge):
        doc.render_page(1, dpi=300)
    with pytest.raises(InvalidInput):
        doc.render_page(2)


def test_pdf_embedded_file_becomes_attachment():
    data = make_text_pdf(["Cover letter with an embedded file."],
                         embed=("../../certificate.txt", b"origin cert"))
    doc = parse_document(data)
    assert [(a.filename, a.data) for a in doc.attachments] == [("certificate.txt", b"origin cert")]


def test_pdf_over_max_pages_is_truncated_and_flagged():
    data = make_text_pdf([f"Page number {i} of the long catalogue." for i in range(1, 31)])
    doc = parse_document(data, ParseContext(max_pages=10))
    assert doc.truncated and doc.page_count == 30 and len(doc.pages) == 10
    assert "Page number 10" in doc.pages[-1].text


# ---------------------------------------------------------------------------------- images
def test_png_is_one_page_needing_ocr():
    buf = io.BytesIO()
    text_image().save(buf, format="PNG")
    doc = parse_document(buf.getvalue())
    assert doc.media_type == m.PNG and doc.pages[0].text == "" and doc.needs_ocr == [1]
    assert doc.render_page(1).size == (600, 200)


def test_multipage_tiff_frames():
    doc = parse_document(make_tiff(3))
    assert doc.media_type == m.TIFF
    assert doc.needs_ocr == [1, 2, 3] and doc.page_count == 3
    assert [doc.render_page(n).width for n in (1, 2, 3)] == [300, 310, 320]


def test_tiff_frames_truncated_by_max_pages():
    doc = parse_document(make_tiff(4), ParseContext(max_pages=2))
    assert doc.truncated and doc.page_count == 4 and doc.needs_ocr == [1, 2]


def test_jpeg_exif_orientation_applied_on_render():
    doc = parse_document(make_jpeg_with_orientation(6))  # rotate 90 degrees clockwise
    assert doc.media_type == m.JPEG
    assert doc.author == "Park"
    assert doc.render_page(1).size == (100, 400)


def test_rgba_png_renders_on_white():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(buf, format="PNG")
    image = parse_document(buf.getvalue()).render_page(1)
    assert image.mode == "RGB" and image.getpixel((5, 5)) == (255, 255, 255)


# ---------------------------------------------------------------------------------- office
def test_docx_paragraphs_and_table_in_order():
    data = make_docx(["무역 계약서 Trade contract", "第二段 提单"], [["Item", "Qty"], ["Steel coil", "12"]],
                     title="Contract 7", author="이영희")
    doc = parse_document(data, filename="contract.pdf")  # the name lies; the content decides
    assert doc.media_type == m.DOCX
    text = doc.pages[0].text
    positions = [text.index(s) for s in ("무역 계약서", "第二段", "Item\tQty", "After the table")]
    assert positions == sorted(positions)
    assert "Steel coil\t12" in text
    assert doc.title == "Contract 7" and doc.author == "이영희"
    assert isinstance(doc.created, dt.datetime)
    assert not doc.can_render


def test_xlsx_one_page_per_sheet_with_shared_strings():
    data = make_xlsx({"Prices": [["Product", "Price"], ["철강", 1200.5], ["銅", 99]],
                      "Notes": [["Incoterms FOB Busan"]]})
    doc = parse_document(data)
    assert doc.media_type == m.XLSX
    assert [p.label for p in doc.pages] == ["Prices", "Notes"]
    assert doc.pages[0].text.splitlines() == ["Product\tPrice", "철강\t1200.5", "銅\t99"]
    assert "Incoterms FOB Busan" in doc.pages[1].text
    assert doc.title == "Price list"


def test_pptx_one_page_per_slide():
    data = make_pptx([("Quarterly exports", "Korea → Vietnam"), ("輸出実績", "船荷証券の確認")])
    doc = parse_document(data)
    assert doc.media_type == m.PPTX
    assert len(doc.pages) == 2
    assert "Quarterly exports" in doc.pages[0].text and "Korea → Vietnam" in doc.pages[0].text
    assert "船荷証券の確認" in doc.pages[1].text


def test_odt_text_tables_and_meta():
    doc = parse_document(make_odt(["원산지 증명서 Certificate of origin"], title="Origin"))
    assert doc.media_type == m.ODT
    text = doc.pages[0].text
    assert text.startswith("Heading")
    assert "원산지 증명서" in text
    assert "Tab\tand   spaces\nnext line" in text
    assert "Cell A\tCell B" in text
    assert doc.title == "Origin" and doc.author == "Lee" and doc.created == dt.datetime(2024, 3, 1, 9, 30)


def test_hwpx_sections_tables_and_meta():
    data = make_hwpx([hwpx_section(["수출 신고서", "물품 목록"], [["품명", "수량"], ["강판", "10"]]),
                      hwpx_section(["두 번째 구역"])], title="수출 서류", creator="박지성")
    doc = parse_document(data)
    assert doc.media_type == m.HWPX
    assert len(doc.pages) == 2
    first = doc.pages[0].text
    assert first.index("수출 신고서") < first.index("물품 목록") < first.index("품명\t수량")
    assert "강판\t10" in first
    assert "탭\t뒤\n다음 줄" in first
    assert "두 번째 구역" in doc.pages[1].text
    assert doc.title == "수출 서류" and doc.author == "박지성"
    assert doc.created == dt.datetime(2024, 5, 2, 1, 2, 3, tzinfo=dt.UTC)


def test_hwpx_without_package_falls_back_to_section_files():
    data = zip_bytes({"mimetype": "application/hwp+zip",
                      "Contents/section1.xml": hwpx_section(["둘째"]),
                      "Contents/section0.xml": hwpx_section(["첫째"])})
    doc = parse_document(data)
    assert "첫째" in doc.pages[0].text and "둘째" in doc.pages[1].text


# ----------------------------------------------------------------------------------- HWP 5
def test_hwp5_synthetic_ole_compressed_sections():
    sec0 = hwp_section([hwp_para_text("무역 서류 ", 11, "보관소", 9, "탭 뒤", 13),
                        hwp_para_text("선하증권 Bill of lading", 13)])
    sec1 = hwp_section([hwp_para_text("표 안의 글 " + "가" * 2500, 13)], level=1)  # record > 4095 bytes
    data = make_hwp([sec0, sec1], summary=property_set({2: "무역 문서", 4: "홍길동"}))
    assert detect_media_type(data) == m.HWP
    doc = parse_document(data)
    assert doc.media_type == m.HWP and len(doc.pages) == 2
    assert doc.pages[0].text == "무역 서류 보관소\t탭 뒤\n선하증권 Bill of lading"
    assert doc.pages[1].text.startswith("표 안의 글 가가") and doc.pages[1].text.count("가") == 2500
    assert doc.title == "무역 문서" and doc.author == "홍길동"
    assert doc.metadata["hwp_version"] == "5.0.3.0"


def test_hwp5_uncompressed_sections():
    data = make_hwp([hwp_section([hwp_para_text("압축 없음", 13)])], flags=0, compressed=False)
    assert parse_document(data).pages[0].text == "압축 없음"


# ------------------------------------------------------------------------------ HTML / mail
def test_html_without_scripts_and_styles():
    html = ("<!DOCTYPE html><html><head><title>선적 안내 &amp; Notice</title><style>p{color:red}</style>"
            "<meta name='author' content='Choi'></head><body><h1>Shipping notice</h1>"
            "<script>alert('x')</script><p>Vessel departs <b>Busan</b>&nbsp;on Monday.</p>"
            "<table><tr><td>Port</td><td>부산</td></tr></table></body></html>")
    doc = parse_document(html.encode("utf-8"))
    assert doc.media_type == m.HTML
    assert doc.title == "선적 안내 & Notice" and doc.author == "Choi"
    assert "Vessel departs Busan on Monday." in doc.text
    assert "alert" not in doc.text and "color" not in doc.text
    assert "Port" in doc.text and "부산" in doc.text


def test_html_declared_euc_kr_charset():
    html = ('<html><head><meta charset="euc-kr"><title>신용장</title></head>'
            "<body>신용장 개설 요청</body></html>")
    doc = parse_document(html.encode("cp949"))
    assert doc.title == "신용장" and "신용장 개설 요청" in doc.text


def test_eml_body_and_attachment_children():
    pdf = make_text_pdf(["Attached invoice"])
    data = make_eml(attachment=("../../송장 invoice.pdf", pdf, "application/pdf"), html=True)
    doc = parse_document(data, filename="mail.txt")
    assert doc.media_type == m.EML
    assert doc.title == "선적 서류 / Shipping documents"
    assert doc.author and "minsu@example.kr" in doc.author
    assert doc.created == dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert "선하증권을 첨부합니다." in doc.text and "Subject: 선적 서류" in doc.text
    assert "HTML version" not in doc.text  # the plain alternative wins; html is not an attachment
    assert len(doc.attachments) == 1
    child = doc.attachments[0]
    assert child.filename == "송장 invoice.pdf" and child.data == pdf
    assert parse_document(child.data).pages[0].text == "Attached invoice"


def test_eml_html_only_body():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "HTML only"
    msg.set_content("<html><body><p>Payment <i>received</i></p><style>x{}</style></body></html>",
                    subtype="html")
    doc = parse_document(bytes(msg))
    assert doc.media_type == m.EML and "Payment received" in doc.text and "x{}" not in doc.text


def test_eml_attached_message_is_a_child_eml():
    from email.message import EmailMessage

    inner = EmailMessage()
    inner["From"] = "c@example.com"
    inner["Subject"] = "Original offer"
    inner.set_content("offer text")
    outer = EmailMessage()
    outer["From"] = "a@example.com"
    outer["To"] = "b@example.com"
    outer["Subject"] = "Fwd: Original offer"
    outer.set_content("see below")
    outer.add_attachment(inner)
    doc = parse_document(bytes(outer))
    assert [a.filename for a in doc.attachments] == ["Original offer.eml"]
    child = parse_document(doc.attachments[0].data)
    assert child.media_type == m.EML and child.title == "Original offer" and "offer text" in child.text


# ------------------------------------------------------------------------------ plain text
def test_csv_rows_as_text():
    data = "품명,수량,단가\n강판,10,\"1,200\"\n銅線,5,300\n".encode()
    doc = parse_document(data)
    assert doc.media_type == m.CSV
    assert doc.text.splitlines() == ["품명\t수량\t단가", "강판\t10\t1,200", "銅線\t5\t300"]


def test_markdown_title_and_text():
    doc = parse_document("# 수출 절차\n\n- 선적\n- 통관\n".encode())
    assert doc.media_type == m.MARKDOWN and doc.title == "수출 절차" and "통관" in doc.text


def test_plain_text_form_feed_pages_and_controls_stripped():
    data = "Page one\x07 text\r\nline two\fPage two \u202eevil\u202c".encode()
    doc = parse_document(data, filename="report.txt")
    assert doc.media_type == m.TEXT
    assert [p.text for p in doc.pages] == ["Page one text\nline two", "Page two evil"]
