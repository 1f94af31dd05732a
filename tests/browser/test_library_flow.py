"""In Chromium: a librarian uploads a mixed batch (scans in five scripts, office and text files, hostile
files), watches it process, describes a document and publishes; a trader then reads it, and never sees
the classified one."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from entrepot.core.types import Level, Role
from entrepot.db import Database
from tests.conftest import PASSWORD, Users, next_code
from tests.parsers import _parser_samples as samples

NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SCANS = {  # language: (font face index in NotoSansCJK, text)
    "ko": (1, "수입 가격 공지 아연괴 단가"),
    "zh-Hans": (2, "钢材价格周报 热轧卷板成交均价"),
    "zh-Hant": (3, "農產品出口成功案例 冷鏈物流"),
    "ja": (0, "輸入規制の改正について 水産物"),
    "en": (0, "Freight rates from Nampo to Dalian"),
}


def _scan(face: int, text: str) -> bytes:
    font = ImageFont.truetype(str(NOTO), 40, index=face)
    page = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(page).text((120, 200), text, font=font, fill=0)
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (300 << 20))
    return out.getvalue()


def _sign_in(page: Any, server: str, username: str, secret: str) -> None:
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.fill("input[name=code]", next_code(secret, None))
    page.click("button[type=submit].primary")
    page.wait_for_url(server + "/")


@pytest.mark.skipif(not NOTO.exists(), reason="fonts-noto-cjk is not installed")
def test_librarian_ingests_and_trader_reads(browser: Any, server: str, worker: None, db: Database, users: Users,
                                            tmp_path: Path) -> None:
    librarian = users.make("lib-kim", Role.LIBRARIAN, Role.CUSTODIAN, clearance=Level.SECRET)
    trader = users.make("trader-li", enterprise="hanbit")
    files = {f"scan-{lang}.png": _scan(face, text) for lang, (face, text) in SCANS.items()}
    files.update({
        "report.docx": samples.make_docx(["Steel export report for March.", "HS 7208.51"]),
        "notes.txt": b"Zinc market notes. 2025-03-14",
        "bomb.docx": _zip_bomb(),
        "broken.pdf": b"%PDF-1.7\n1 0 obj <<",
        "../../evil<script>.txt": b"harmless text",
    })
    paths = []
    for name, data in files.items():
        path = tmp_path / name.replace("../", "").replace("<", "_").replace(">", "_")
        path.write_bytes(data)
        paths.append(str(path))

    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    _sign_in(page, server, "lib-kim", librarian.totp_secret)  # type: ignore[arg-type]
    page.goto(server + "/library/upload")
    page.set_input_files("#file-input", paths)
    items = page.locator("#upload-list li")
    items.nth(len(paths) - 1).wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('#upload-list li')]"
                           ".every(li => li.className === 'done' || li.className === 'failed')", timeout=180_000)
    failed = page.locator("#upload-list li.failed").all_inner_texts()
    assert len(failed) == 2 and any("bomb.docx" in f for f in failed) and any("broken.pdf" in f for f in failed)

    page.goto(server + "/library/board")
    board = page.inner_text("#board-table")
    assert board.count("Ready") >= 8

    # Describe the Korean scan and publish everything readable.
    page.click("#board-table tr:has-text('scan-ko.png') a")
    page.click("text=Describe and classify")
    page.fill("input[name=title]", "수입 가격 공지 (스캔)")
    page.fill("input[name=hs_codes]", "7901.11")
    page.click("#describe-form button[type=submit]")
    page.wait_for_selector("h1:has-text('수입 가격 공지 (스캔)')")
    assert "아연괴" in page.inner_text(".pagetext")
    page.goto(server + "/library/board")
    for box in page.locator("#board-table input[type=checkbox]").all():
        box.check()
    page.click("button[value=publish]")
    page.wait_for_url(server + "/library/board")
    ctx.close()

    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    _sign_in(page, server, "trader-li", trader.totp_secret)  # type: ignore[arg-type]
    page.goto(server + "/library")
    assert page.get_attribute("html", "lang") == "zh"
    page.click("a.doctitle:has-text('수입 가격 공지 (스캔)')")
    assert "아연괴" in page.inner_text(".pagetext")
    assert page.locator("img.pageimg").count() == 1
    ctx.close()
