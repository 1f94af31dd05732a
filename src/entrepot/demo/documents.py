"""Demo documents in Korean, Chinese (both scripts), Japanese and English, plus a scanned page."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from entrepot.actions import library
from entrepot.blobs import BlobStore
from entrepot.core.config import Settings
from entrepot.db import Database


@dataclass(frozen=True)
class DemoDocument:
    filename: str
    text: str
    category: str
    level: str = "OPEN"
    published: bool = True
    summary: str = ""


DOCUMENTS = [
    DemoDocument("2025-1분기-대중국-수출동향.md", """# 2025년 1분기 대중국 수출 동향

2025년 4월 10일 발표. 1분기 대중국 수출은 전년 동기 대비 6.2% 증가하였다.
반도체(HS 8542.31)와 합성수지(HS 3901.10) 품목이 증가를 이끌었으며, 단가는 USD 1,250 수준을 유지하였다.
대련항과 천진항을 통한 물동량이 늘었고, 중국 측 수입 수요는 하반기에도 견조할 것으로 보인다.
""", "trends", summary="1분기 대중국 수출은 반도체와 합성수지를 중심으로 6.2% 늘었다."),
    DemoDocument("大连港钢材价格周报.txt", """大连港钢材价格周报（2025年3月第2周）

热轧卷板（HS 7208.51）本周成交均价为每吨3,850元，环比上涨1.8%。
螺纹钢需求回暖，日本和韩国买家询价增加。预计下周价格保持稳定。
""", "price_reports", summary="热轧卷板均价每吨3,850元，环比上涨1.8%。"),
    DemoDocument("臺灣農產品出口成功案例.html", """<html><head><title>臺灣農產品出口成功案例</title></head><body>
<h1>臺灣農產品出口成功案例</h1>
<p>2024年，一家臺南的水果合作社透過冷鏈物流將芒果出口至日本與韓國，出口額達新臺幣1.2億元。</p>
<p>成功關鍵在於檢疫程序的標準化與長期合約的簽訂。</p></body></html>""", "success_cases"),
    DemoDocument("輸入規制の改正について.txt", """輸入規制の改正について（2025年2月1日施行）

日本政府は、食品の輸入手続きに関する規則を改正しました。
対象となるのは水産物（HS 0303.89）と加工食品で、事前届出の期限が十日前に変更されます。
輸出者は最新の様式を使用してください。
""", "regulations"),
    DemoDocument("incoterms-quick-guide.md", """# Incoterms 2020: a quick guide for traders

FOB, CIF and DAP are the terms our counterparts use most. Under FOB the seller delivers the goods on
board the vessel at the named port of shipment; under CIF the seller also pays freight and insurance
to the named port of destination. Quote prices with the incoterm and the place, for example
USD 420 per tonne FOB Nampo, valid until 2025-06-30.
""", "contracts"),
    DemoDocument("port-crane-tender-terms.txt", """Tender terms: port cranes (confidential)

Two gantry cranes (HS 8426.12) for the eastern terminal. Reserve price EUR 4,100,000.
Bids close on 2025-05-20. Do not share outside the bidding committee.
""", "contracts", level="CONFIDENTIAL"),
    DemoDocument("전략물자-장기계약-조건.txt", """전략 물자 장기 계약 조건 (극비)

계약 기간 5년, 연간 물량 12,000톤, 기준 단가 USD 2,710.
가격 조정 조항과 인도 조건(CIF 남포)을 포함한다.
""", "contracts", level="SECRET"),
    DemoDocument("draft-market-notes.txt", "Draft notes on the zinc market, not yet reviewed.\n", "trade_news",
                 published=False),
]

SCAN_TEXT = ["수입 가격 공지", "2025년 5월 2일", "아연괴 25톤 단가 USD 2,710", "인도 조건: CIF 남포"]
KOREAN_FONTS = [Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
                Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")]


def scanned_notice() -> bytes | None:
    """A Korean price notice as a scanner would deliver it (an image in a PDF), to show OCR at work."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = next((p for p in KOREAN_FONTS if p.exists()), None)
    if font_path is None:
        return None
    font = ImageFont.truetype(str(font_path), 44, index=1 if font_path.suffix == ".ttc" else 0)
    page = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(SCAN_TEXT):
        draw.text((160, 260 + i * 90), line, font=font, fill=0)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=200)
    return out.getvalue()


def seed_documents(db: Database, settings: Settings) -> int:
    blobs = BlobStore(settings.blob_dir)
    files = [(d, d.text.encode("utf-8")) for d in DOCUMENTS]
    scan = scanned_notice()
    if scan is not None:
        files.append((DemoDocument("수입가격공지-스캔.pdf", "", "price_reports"), scan))
    with db.write() as s:
        for d, data in files:
            doc, created = library.add_document(s, None, library.NewFile(blobs.put_bytes(data), d.filename, len(data)),
                                                category=d.category, level=d.level)
            if created:
                doc.published = d.published
                doc.summary = d.summary or None
    return len(files)
