# ruff: noqa
"""Timings of the parsing layer (not a test): .venv/bin/python tests/parsers/bench_parsers.py"""
import sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _parser_samples import *
from entrepot.parsers import parse_document, ParseContext

def t(label, fn, n=1):
    fn()
    start = time.perf_counter()
    for _ in range(n): r = fn()
    el = (time.perf_counter() - start) / n
    print(f"{label}: {el*1000:.1f} ms", flush=True)
    return el, r

para = "Bill of lading 4711 for 12 steel coils shipped FOB Busan to Ho Chi Minh City. " * 12
pdf = make_text_pdf([para] * 200)
el, doc = t("text PDF, 200 pages", lambda: parse_document(pdf), 3)
print(f"  -> {200/el:.0f} pages/s, needs_ocr={len(doc.needs_ocr)}")
if cjk_font():
    cpdf = make_text_pdf(["선하증권 번호 4711 무역 서류 提单 商业发票 船荷証券 " * 20] * 100, cjk=True)
    el, _ = t("CJK PDF, 100 pages", lambda: parse_document(cpdf), 3)
    print(f"  -> {100/el:.0f} pages/s")
el, _ = t("render 1 A4 page at 150 dpi", lambda: doc.render_page(1, 150), 10)
el, _ = t("render 1 A4 page at 300 dpi", lambda: doc.render_page(1, 300), 5)
docx = make_docx([para] * 500, [["cell a", "cell b", "cell c"]] * 100)
print(f"DOCX size {len(docx)//1024} KB")
t("DOCX 500 paragraphs + 100-row table", lambda: parse_document(docx), 10)
xlsx = make_xlsx({"S1": [[f"item {i}", i, i * 1.5, "무역"] for i in range(10000)]})
t("XLSX 10,000 rows x 4 cols", lambda: parse_document(xlsx), 3)
pptx = make_pptx([("Slide", para)] * 50)
t("PPTX 50 slides", lambda: parse_document(pptx), 5)
hwp = make_hwp([hwp_section([hwp_para_text("무역 서류 보관소 " * 20, 13)] * 2000)])
t("HWP 5 2,000 paragraphs", lambda: parse_document(hwp), 5)
hwpx = make_hwpx([hwpx_section(["수출 신고서 물품 목록 " * 10] * 2000)])
t("HWPX 2,000 paragraphs", lambda: parse_document(hwpx), 5)
txt = ("무역 서류 보관소에 오신 것을 환영합니다.\n" * 50000).encode("cp949")
t(f"CP949 text {len(txt)//1024} KB", lambda: parse_document(txt), 3)
tiff = make_tiff(20)
t("TIFF 20 frames (parse)", lambda: parse_document(tiff), 5)
