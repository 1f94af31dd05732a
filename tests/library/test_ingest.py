"""Upload, process, read: text and office formats, scans through OCR, unknown and hostile files."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from entrepot.cli import main
from entrepot.db.library import Document, DocumentVersion, Page
from tests.library.conftest import Library
from tests.parsers import _parser_samples as samples


def scanned_pdf(text: str) -> bytes:
    """A page as a scanner makes it: an A4 image of printed lines, no text layer."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (1240, 1754), 255)
    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_path), 36) if font_path.exists() else ImageFont.load_default(36)
    for i, line in enumerate(text.splitlines()):
        ImageDraw.Draw(page).text((120, 200 + i * 70), line, font=font, fill=0)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=150)
    return out.getvalue()


def _version(lib: Library, document_id: int) -> DocumentVersion:
    with lib.db.read() as s:
        return s.execute(select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                         .order_by(DocumentVersion.number.desc())).scalars().first()


def _pages(lib: Library, version_id: int) -> list[Page]:
    with lib.db.read() as s:
        return list(s.execute(select(Page).where(Page.version_id == version_id).order_by(Page.number)).scalars())


def test_mixed_batch_each_file_gets_its_own_verdict(lib: Library) -> None:
    files = {
        "수출동향.txt": "2025년 3월 대한민국 반도체 수출은 HS 8542.31 품목에서 크게 늘었다.".encode("cp949"),
        "report.docx": samples.make_docx(["Steel prices in Dalian rose 4% in March.", "HS 7208.51 hot-rolled"]),
        "slides.pptx": samples.make_pptx([("Price report", "Urea FOB 320 USD per tonne")]),
        "table.xlsx": samples.make_xlsx({"Prices": [["Product", "Price"], ["Zinc", 2710]]}),
        "text.pdf": samples.make_text_pdf(["Regulations on export licences, page one.", "Page two text."]),
        "blob.bin": bytes(range(256)) * 40,
        "broken.pdf": samples.make_text_pdf(["truncated"])[:200],
        "empty.txt": b"",
    }
    ids = {name: lib.upload(name, data)["document_id"] for name, data in files.items()}
    assert lib.process() >= len(files)
    states = {name: _version(lib, i).state for name, i in ids.items()}
    assert states == {"수출동향.txt": "ready", "report.docx": "ready", "slides.pptx": "ready", "table.xlsx": "ready",
                      "text.pdf": "ready", "blob.bin": "unsupported", "broken.pdf": "failed", "empty.txt": "unsupported"}
    assert "damaged" in (_version(lib, ids["broken.pdf"]).error or "")
    korean = _pages(lib, _version(lib, ids["수출동향.txt"]).id)
    assert "반도체" in korean[0].text and korean[0].language == "ko"
    pdf = _pages(lib, _version(lib, ids["text.pdf"]).id)
    assert [p.number for p in pdf] == [1, 2] and pdf[0].image and pdf[0].thumb
    with lib.db.read() as s:
        doc = s.get(Document, ids["수출동향.txt"])
        assert doc.status == "ready" and doc.suggestions["hs_codes"] == ["854231"]
        assert s.get(Document, ids["blob.bin"]).status == "not_indexed"


def test_same_content_twice_is_one_document(lib: Library) -> None:
    first = lib.upload("a.txt", b"Same bytes, whatever the name.")
    again = lib.upload("b.txt", b"Same bytes, whatever the name.", publish=False)
    assert first["created"] is True and again["created"] is False
    assert again["document_id"] == first["document_id"]


def test_names_are_made_safe(lib: Library) -> None:
    body = lib.upload("../../etc/<script>x</script>\u202e.txt", b"plain text")
    v = _version(lib, body["document_id"])
    assert "/" not in v.filename and "\u202e" not in v.filename
    page = lib.librarian.get(f"/documents/{body['document_id']}").text
    assert "<script>x</script>" not in page


def test_oversized_upload_is_refused_and_nothing_is_stored(lib: Library) -> None:
    from fastapi.testclient import TestClient

    from entrepot.blobs import BlobStore
    from entrepot.core.types import Role
    from entrepot.web.app import create_app
    from tests.conftest import csrf_of, sign_in

    app = create_app(lib.settings.model_copy(update={"max_upload_bytes": 1000}), lib.db)
    lib.users.make("lib2", Role.LIBRARIAN)
    c = TestClient(app, client=("127.0.0.1", 5000))
    sign_in(c, lib.db, "lib2")
    r = c.post("/library/upload", files={"file": ("big.txt", b"x" * 5000)}, data={"csrf_token": csrf_of(c)},
               headers={"accept": "application/json"})
    assert r.status_code == 413 and "larger than the limit" in r.json()["error"]["message"]
    assert list(BlobStore(lib.settings.blob_dir).digests()) == []
    with lib.db.read() as s:
        assert s.execute(select(DocumentVersion)).first() is None


@pytest.mark.slow
def test_scanned_pages_are_read_with_ocr(lib: Library) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    body = lib.upload("scan.pdf", scanned_pdf("Commercial invoice 2025-04-01\nZinc ingots 25 tonnes USD 2,710"))
    lib.process()
    v = _version(lib, body["document_id"])
    assert v.state == "ready" and v.ocr_pages == 1
    page = _pages(lib, v.id)[0]
    assert page.source == "ocr" and "invoice" in page.text.lower() and page.language == "en"
    assert page.confidence is not None and page.confidence > 50
    assert v.searchable_pdf is not None  # OCRmyPDF's text layer for the download


def test_import_command_is_resumable(lib: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("第一份文件：大连钢材价格。", encoding="utf-8")
    (folder / "sub" / "two.md").write_text("# Trade news\nZinc prices fell.", encoding="utf-8")
    (folder / ".hidden").write_text("skip me")
    env = {"ENTREPOT_DATABASE_URL": lib.settings.db_url}
    args = ["--data-dir", str(lib.settings.data_dir), "import", str(folder), "--category", "price_reports"]
    first = CliRunner().invoke(main, [*args, "--process"], env=env)
    assert first.exit_code == 0, first.output
    assert "done 2, skipped 0" in first.output and "processed" in first.output
    second = CliRunner().invoke(main, args, env=env)
    assert "done 0, skipped 2" in second.output
    with lib.db.read() as s:
        docs = s.execute(select(Document)).unique().scalars().all()
    assert {d.category for d in docs} == {"price_reports"} and {d.status for d in docs} == {"ready"}
