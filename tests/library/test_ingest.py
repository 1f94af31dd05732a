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


def _index_rows(lib: Library) -> int:
    """Rows in the page index, whichever backend holds it."""
    from sqlalchemy import text

    with lib.db.read() as s:
        table = "page_search" if s.get_bind().dialect.name == "postgresql" else "page_fts"
        return int(s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - our names


def _audit_ok(lib: Library) -> bool:
    from entrepot import audit

    with lib.db.read() as s:
        return all(r.ok for r in audit.verify_all(s))


def test_a_batch_is_recorded_together_and_rerunning_it_changes_nothing(lib: Library,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from entrepot import jobs
    from entrepot.actions.library import INGEST_JOB

    monkeypatch.setattr("entrepot.workers.ingest.RECORD_EVERY_S", 600.0)  # a loaded machine must not split it

    texts = [f"Zinc shipment {i} cleared customs in Busan under HS 7901.11." for i in range(12)]
    ids = [lib.upload(f"note-{i}.txt", t.encode())["document_id"] for i, t in enumerate(texts)]
    assert lib.process() == len(ids)
    versions = [_version(lib, i) for i in ids]
    assert {v.state for v in versions} == {"ready"}
    assert len({v.processed_at for v in versions}) == 1  # one transaction recorded them all
    pages, rows = sum(len(_pages(lib, v.id)) for v in versions), _index_rows(lib)
    assert pages == rows == len(ids)
    with lib.db.write() as s:  # the same versions again, as after a retry
        for v in versions:
            jobs.enqueue(s, INGEST_JOB, {"version_id": v.id})
    assert lib.process() == len(ids)
    assert sum(len(_pages(lib, v.id)) for v in versions) == pages and _index_rows(lib) == rows
    body = lib.librarian.get("/api/v1/search", params={"q": "Busan zinc"}).json()
    assert body["total"] == len(ids) and {h["document_id"] for h in body["hits"]} <= set(ids)
    assert _audit_ok(lib)


def test_a_result_that_cannot_be_recorded_fails_alone(lib: Library) -> None:
    """One result the database refuses (two pages numbered alike) fails its own job; the rest of its
    batch is recorded, and the failed job goes back to the queue."""
    from entrepot import jobs
    from entrepot.actions.library import INGEST_JOB
    from entrepot.db.tables import Job
    from entrepot.ingest import run_pipeline
    from entrepot.workers.ingest import IngestRunner, _Parsed
    from entrepot.workers.loop import Worker

    ids = [lib.upload(f"batch-{i}.txt", f"Urea FOB price report number {i}.".encode())["document_id"] for i in range(3)]
    worker = Worker(lib.db, lib.settings)
    claimed = worker._claim()
    assert [j.kind for j in claimed] == [INGEST_JOB] * 3
    runner: IngestRunner = worker.ingest
    ctx = runner.context()
    pending = []
    for pos, job in enumerate(claimed):
        v = _version(lib, ids[pos])
        result = run_pipeline(ctx.blobs.read_bytes(v.blob), v.filename, ctx)
        if pos == 1:
            result.pages = result.pages + result.pages  # the same page number twice: refused
        pending.append(_Parsed(pos, v.id, job.id, False, result))
    held = [j.id for j in claimed]
    outcomes = runner._record(pending, held)
    assert isinstance(outcomes[1], Exception) and outcomes[0]["pages"] == outcomes[2]["pages"] == 1
    assert held == []
    states = [_version(lib, i) for i in ids]
    assert [v.state for v in states] == ["ready", "queued", "ready"]
    assert "IntegrityError" in (states[1].error or "") and _pages(lib, states[1].id) == []
    with lib.db.read() as s:
        job_states = [(s.get(Job, j.id).state, s.get(Job, j.id).error is None) for j in claimed]
    assert job_states == [("done", True), ("queued", False), ("done", True)]
    assert _index_rows(lib) == 2 and _audit_ok(lib)
    with lib.db.write() as s:  # the retry is due now, and this time the file's own result is recorded
        s.execute(Job.__table__.update().values(run_at=jobs.queue._now()))
    assert lib.process() == 1
    assert _version(lib, ids[1]).state == "ready" and _index_rows(lib) == 3 and _audit_ok(lib)


def test_two_versions_in_one_batch_leave_the_newest_current_and_indexed(lib: Library) -> None:
    from tests.conftest import csrf_of

    doc = lib.upload("tariff.txt", b"Tariff on nickel: 5 percent")["document_id"]
    c = lib.librarian
    r = c.post(f"/library/upload/{doc}/version", files={"file": ("tariff-v2.txt", b"Tariff on cobalt: 3 percent")},
               data={"csrf_token": csrf_of(c)})
    assert r.status_code == 200
    assert lib.process() == 2  # both versions' jobs in one batch
    with lib.db.read() as s:
        d = s.get(Document, doc)
        newest = _version(lib, doc)
        assert newest.number == 2 and d.current_version_id == newest.id and d.status == "ready"
    assert _index_rows(lib) == 1
    found = lib.librarian.get("/api/v1/search", params={"q": "cobalt"}).json()["hits"]
    gone = lib.librarian.get("/api/v1/search", params={"q": "nickel"}).json()["hits"]
    assert [h["document_id"] for h in found] == [doc] and gone == []
    assert _audit_ok(lib)


def test_a_slow_batch_gives_its_unstarted_jobs_back(lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the time limit the rest of a batch returns to the queue for any worker, with its attempt
    given back; after slow documents the worker claims one at a time."""
    from entrepot.db.tables import Job
    from entrepot.workers import loop

    monkeypatch.setattr("entrepot.workers.ingest.RECORD_EVERY_S", 0.0)  # every document is "slow"
    ids = [lib.upload(f"slow-{i}.txt", f"Ferrosilicon quote {i}.".encode())["document_id"] for i in range(4)]
    worker = loop.Worker(lib.db, lib.settings)
    monkeypatch.setattr(loop, "SLOW_DOCUMENT_S", -1.0)
    ran = worker.run_one()
    assert len(ran) == 1 and worker._ingest_batch == 1
    with lib.db.read() as s:
        rows = s.query(Job).filter(Job.kind == "ingest.version").order_by(Job.id).all()
        assert [(j.state, j.attempts) for j in rows] == [("done", 1)] + [("queued", 0)] * 3
        assert all(j.worker is None and j.lease_until is None for j in rows[1:])
    assert len(worker._claim()) == 1  # one at a time now
    with lib.db.write() as s:  # put that claim back as a dead worker's would be
        s.query(Job).filter(Job.state == "running").update({"state": "queued", "attempts": 0})
    assert worker.run_until_idle() == 3
    assert {_version(lib, i).state for i in ids} == {"ready"}
    with lib.db.read() as s:
        assert {j.attempts for j in s.query(Job).filter(Job.kind == "ingest.version")} == {1}
    assert _audit_ok(lib)
