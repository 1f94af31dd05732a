"""A corpus of hostile files, generated here, pushed through the real upload and worker: each one ends in
a clear state (failed with a readable error, stored as not indexed, or indexed - cut short and saying
so), within a time and a memory limit, and the same worker then processes an ordinary document.

Families: self-referencing PDFs (page tree, parent chain, object, xref /Prev and object-stream loops, a
lying page count), polyglots (PDF+DOCX both ways, HTML+PDF, PNG+ZIP, GIF+JAR, JPEG carrying HTML/JS),
a 10,000-page PDF, and one of each family covered in depth elsewhere (tests/parsers/test_parsers_hostile.py,
tests/library/test_ingest.py): zip-bomb DOCX, decompression-bomb PNG, truncated PDF, a name with ../ and
control characters. Nothing binary is committed: every file is built in memory.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from entrepot.workers.loop import Worker
from tests.library.conftest import Library, lib  # noqa: F401 - the fixture
from tests.parsers import _parser_samples as samples

#: Per file: wall time of its processing, and growth of the peak resident memory of the processes doing it.
TIME_LIMIT_S = 60.0
MEMORY_LIMIT = 1024 * 1024 * 1024
LEAKS = ("Traceback", "site-packages", "/tmp", "/home", "/srv", "Error:", "PdfiumError", "zlib", "File \"")

# ---------------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------------
HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
PAGE_A4 = b"/MediaBox [0 0 595 842]"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _obj(num: int, body: bytes) -> bytes:
    return b"%d 0 obj\n%s\nendobj\n" % (num, body)


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(content), extra, content)


def _xref_table(offsets: dict[int, int], size: int) -> bytes:
    rows = [b"0000000000 65535 f \n"]
    rows += [b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n" for n in range(1, size)]
    return b"xref\n0 %d\n" % size + b"".join(rows)


def raw_pdf(objects: list[bytes], *, trailer: bytes = b"") -> bytes:
    """Objects numbered from 1 in order (object 1 the catalog), a classic xref table and trailer."""
    out = bytearray(HEADER)
    offsets = {}
    for num, body in enumerate(objects, 1):
        offsets[num] = len(out)
        out += _obj(num, body)
    start = len(out)
    size = len(objects) + 1
    out += _xref_table(offsets, size)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, start)
    return bytes(out)


def page_text(word: str) -> bytes:
    return b"BT /F1 12 Tf 72 770 Td (%s) Tj ET" % word.encode("ascii")


def many_pages_pdf(count: int) -> bytes:
    """``count`` A4 pages under one /Pages node, one short word on even pages and nothing on odd ones,
    written as raw objects (well under a second; a PDF library takes minutes)."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d %s >>" % (kids, count, PAGE_A4),
               FONT]
    for i in range(count):
        content = page_text(f"p{i + 1}") if i % 2 else b""
        objects.append(b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
                       % (first_page + 2 * i + 1))
        objects.append(_stream(content))
    return raw_pdf(objects)


def _page(parent: int, contents: int) -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R %s /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (parent, PAGE_A4, contents))


TEXT = page_text("Loop test page with enough words to need no OCR")


def pages_kids_self() -> bytes:
    """The /Pages node lists itself among its kids."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [4 0 R 2 0 R] /Count 2 >>", FONT, _page(2, 5), _stream(TEXT)])


def pages_kids_ancestor() -> bytes:
    """A child /Pages node lists the root (its own parent) among its kids: a cycle two levels deep."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [6 0 R] /Count 3 >>", FONT, _page(6, 5), _stream(TEXT),
                    b"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 2 0 R] /Count 3 >>"])


def parent_chain_loop() -> bytes:
    """A page without its own MediaBox/Resources whose /Parent chain loops: inherited keys never resolve."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [4 0 R] /Count 1 /Parent 6 0 R >>", FONT,
                    b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>", _stream(TEXT),
                    b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>"])


def self_reference_object() -> bytes:
    """An object that is a reference to itself, used as a stream length and as a page's contents."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
                    b"<< /Type /Page /Parent 2 0 R %s /Contents [5 0 R 6 0 R] >>" % PAGE_A4,
                    b"<< /Length 6 0 R >>\nstream\n%s\nendstream" % TEXT,
                    b"6 0 R"])


def count_lie() -> bytes:
    """One page, but the tree claims two billion."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [4 0 R] /Count 2000000000 >>", FONT, _page(2, 5), _stream(TEXT)])


def prev_xref_loop() -> bytes:
    """Two classic xref sections whose trailers' /Prev point at each other."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
               _page(2, 5), _stream(TEXT)]
    out = bytearray(HEADER)
    offsets = {}
    for num, body in enumerate(objects, 1):
        offsets[num] = len(out)
        out += _obj(num, body)
    size = len(objects) + 1
    first = len(out)
    table = _xref_table(offsets, size)
    trailer_1 = b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n" % (size, 0)
    second = first + len(table) + len(trailer_1)
    out += table + b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n" % (size, second)
    out += b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n" % (size, first)
    out += b"startxref\n%d\n%%%%EOF\n" % second
    return bytes(out)


def xref_stream_loop() -> bytes:
    """A cross-reference stream whose /Prev is itself, and an object stream that holds itself: the page
    tree lives in object stream 6, and the xref stream says object 6 is inside object stream 6."""
    out = bytearray(HEADER)
    offsets = {}
    for num, body in enumerate([b"<< /Type /Catalog /Pages 2 0 R >>", None, FONT, _page(2, 5), _stream(TEXT)], 1):
        if body is None:
            continue
        offsets[num] = len(out)
        out += _obj(num, body)
    inner = b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>"
    index = b"2 0 6 0 "
    objstm = _stream(index + inner, b"/Type /ObjStm /N 2 /First %d /Extends 6 0 R " % len(index))
    offsets[6] = len(out)
    out += _obj(6, objstm)
    xref_at = len(out)
    entries = [(0, 0, 65535), (1, offsets[1], 0), (2, 6, 0), (1, offsets[3], 0), (1, offsets[4], 0),
               (1, offsets[5], 0), (2, 6, 1), (1, xref_at, 0)]
    data = b"".join(struct.pack(">BIH", *e) for e in entries)
    out += _obj(7, _stream(data, b"/Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Prev %d " % xref_at))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def pdf_zip_polyglot() -> bytes:
    """A readable PDF with a whole DOCX appended: PDF readers and zip readers both accept it."""
    return samples.make_text_pdf(["Polyglot PDF page about zinc tariffs."]) + samples.make_docx(["Hidden docx body"])


def zip_pdf_polyglot() -> bytes:
    """A DOCX whose first member (stored) is a PDF: the PDF signature sits in the first kilobyte."""
    pdf = samples.make_text_pdf(["PDF inside a DOCX member."])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("a.pdf"), pdf, compress_type=zipfile.ZIP_STORED)
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="x"><w:body><w:p><w:r>'
                                         "<w:t>Docx side of the polyglot</w:t></w:r></w:p></w:body></w:document>")
    return buf.getvalue()


def _jar() -> bytes:
    return samples.zip_bytes({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nMain-Class: Evil\n",
                              "Evil.class": b"\xca\xfe\xba\xbe" + b"\x00" * 60,
                              "index.html": "<script>alert(document.cookie)</script>"})


def png_with_zip() -> bytes:
    out = io.BytesIO()
    samples.text_image("INVOICE 42 PNG ZIP").save(out, "PNG")
    return out.getvalue() + _jar()


def gifar() -> bytes:
    out = io.BytesIO()
    samples.text_image("GIFAR 77").convert("P").save(out, "GIF")
    return out.getvalue() + _jar()


PAYLOAD = "<script>alert('jpeg')</script><img src=x onerror=alert(1)>"


def jpeg_html_comment() -> bytes:
    """A JPEG whose comment segment and EXIF description carry an HTML/JS payload."""
    from PIL import Image

    img = samples.text_image("JPEG COMMENT 9")
    exif = Image.Exif()
    exif[0x010E] = PAYLOAD  # ImageDescription becomes the title
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", exif=exif.tobytes(), comment=("<html><body>" + PAYLOAD).encode())
    return out.getvalue()


def html_pdf_polyglot() -> bytes:
    """An HTML page whose first kilobyte also holds a PDF."""
    pdf = samples.make_text_pdf(["HTML and PDF at once."])
    return b"<html><body><script>alert(1)</script><!--\n" + pdf + b"\n--></body></html>"


def bomb_png(width: int = 12_000, height: int = 10_000) -> bytes:
    """A real 1-bit PNG of 120 million white pixels: about 15 MB of scanlines deflated to ~15 KB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def truncated_pdf() -> bytes:
    data = samples.make_text_pdf(["Some text to be cut off."] * 3)
    return data[: len(data) // 2]



#: Sent as raw bytes in the multipart header (httpx would percent-encode them): NUL, BEL, ESC, TAB,
#: bidi override, zero-width space, and a way up the tree. CR/LF cannot be in a header line at all.
CONTROL_NAME = "../../etc/pass\x00wd\x07\x1b[31m\tx\u202e\u200b.txt"


@dataclass(frozen=True)
class Case:
    """A hostile file and what must become of it: ``states`` the version states allowed (failed with a
    readable error, unsupported = stored as not indexed, ready = indexed), ``says`` a phrase its error
    must hold, ``media_type`` what it must be read as when it is indexed."""

    filename: str
    make: Callable[[], bytes]
    states: tuple[str, ...]
    says: str | None = None
    media_type: str | None = None


PDF, PNG, GIF, JPEG = "application/pdf", "image/png", "image/gif", "image/jpeg"
LOOP = ("ready", "failed")  # PDFium may read round a loop or refuse the file; either way, quickly and clearly
CORPUS: dict[str, Case] = {
    "pdf-kids-self": Case("kids-self.pdf", pages_kids_self, LOOP),
    "pdf-kids-ancestor": Case("kids-ancestor.pdf", pages_kids_ancestor, LOOP),
    "pdf-parent-loop": Case("parent-loop.pdf", parent_chain_loop, LOOP),
    "pdf-self-reference": Case("self-ref.pdf", self_reference_object, LOOP),
    "pdf-count-lie": Case("count-lie.pdf", count_lie, LOOP),
    "pdf-prev-xref-loop": Case("prev-loop.pdf", prev_xref_loop, LOOP),
    "pdf-xref-objstm-loop": Case("objstm-loop.pdf", xref_stream_loop, LOOP),
    "polyglot-pdf-docx": Case("both.docx", pdf_zip_polyglot, ("ready",), media_type=PDF),
    "polyglot-docx-pdf": Case("both.pdf", zip_pdf_polyglot, ("ready",), media_type=PDF),
    "polyglot-html-pdf": Case("both.html", html_pdf_polyglot, ("ready",), media_type=PDF),
    "polyglot-png-zip": Case("invoice.png", png_with_zip, ("ready",), media_type=PNG),
    "polyglot-gifar": Case("photo.gif", gifar, ("ready",), media_type=GIF),
    "polyglot-jpeg-html": Case("photo.jpg", jpeg_html_comment, ("ready",), media_type=JPEG),
    "pdf-10000-pages": Case("catalogue.pdf", lambda: many_pages_pdf(10_000), ("ready",),
                            says="Only the first 2000 of 10000 pages were read.", media_type=PDF),
    "zip-bomb-docx": Case("report.docx", samples.bomb_docx, ("failed",), says="zip bomb"),
    "bomb-png": Case("scan.png", bomb_png, ("failed",), says="too large"),
    "truncated-pdf": Case("cut.pdf", truncated_pdf, ("failed",), says="damaged"),
    "name-traversal-control": Case(CONTROL_NAME, lambda: b"Plain text under a hostile name.", ("ready",)),
}
SLOW = {"pdf-10000-pages"}


# ---------------------------------------------------------------------------------------------------
# Measuring a worker run: wall time, and peak resident memory of this process and of the OCR processes
# it starts (the kernel's high-water mark, reset before the run through /proc/self/clear_refs).
# ---------------------------------------------------------------------------------------------------
def _status(pid: int | str, key: str) -> int:
    """A memory figure of /proc/<pid>/status in bytes (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children() -> set[str]:
    found: set[str] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found.update((task / "children").read_text().split())
        except OSError:
            continue
    return found


@dataclass
class Run:
    seconds: float
    memory: int  # growth of this process's peak RSS, plus the peak RSS of the processes it started


def measured(work: Callable[[], object]) -> Run:
    """Run ``work`` in a thread; fail if it outlives the time limit (a hang must not hang the suite)."""
    before = _children()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = _status("self", "VmRSS")
    peaks: dict[str, int] = {}
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    start = time.monotonic()
    thread.start()
    while thread.is_alive() and time.monotonic() - start < TIME_LIMIT_S:
        for pid in _children() - before:  # sampled while alive: an OCR process may end with the work
            peaks[pid] = max(peaks.get(pid, 0), _status(pid, "VmHWM"))
        thread.join(0.05)
    seconds = time.monotonic() - start
    if thread.is_alive():
        pytest.fail(f"processing did not finish within {TIME_LIMIT_S:.0f} s")
    if errors:
        raise errors[0]
    return Run(seconds, max(0, _status("self", "VmHWM") - base) + sum(peaks.values()))


# ---------------------------------------------------------------------------------------------------
# The test: one id per file
# ---------------------------------------------------------------------------------------------------
NORMAL = "Zinc ingots from Onsan cleared customs at Busan harbour under HS 7901.11."


def test_corpus_is_complete_and_small() -> None:
    sizes = {name: len(case.make()) for name, case in CORPUS.items() if name not in SLOW}
    print(f"\nhostile corpus: {len(CORPUS)} files; " + ", ".join(f"{n} {s:,} B" for n, s in sizes.items()))
    assert len(CORPUS) >= 18 and all(s > 0 for s in sizes.values())


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in CORPUS])
def test_hostile_file_is_contained_and_the_worker_goes_on(lib: Library, name: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    case = CORPUS[name]
    data = case.make()
    hostile = (_upload_raw_name(lib, case.filename, data) if name == "name-traversal-control"
               else lib.upload(case.filename, data)["document_id"])
    worker = Worker(lib.db, lib.settings)  # the same worker then serves the ordinary document
    run = measured(worker.run_until_idle)

    r = lib.librarian.get(f"/api/v1/documents/{hostile}")
    assert r.status_code == 200, r.text
    body = r.json()
    version = body["versions"][-1]
    state, error = version["state"], version["error"]
    with capsys.disabled():
        print(f"\n  {name} {version['filename']!r}: {len(data):,} B -> {state} ({version['media_type']},"
              f" {version['page_count']} pages)"
              f" in {run.seconds:.2f} s, peak memory +{run.memory / 2**20:.0f} MiB; {error or ''}")
    assert state in case.states, (state, error)
    assert run.seconds < TIME_LIMIT_S and run.memory < MEMORY_LIMIT
    if state == "failed":
        assert error and not any(leak in error for leak in LEAKS) and str(lib.settings.data_dir) not in error
    if case.says:
        assert case.says in (error or "")
    if state == "ready" and case.media_type:
        assert version["media_type"] == case.media_type
    page = lib.librarian.get(f"/documents/{hostile}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and PAYLOAD not in page.text
    _check_specifics(lib, name, body, version)

    normal = lib.upload("onsan-zinc.txt", NORMAL.encode())["document_id"]
    assert measured(worker.run_until_idle).seconds < TIME_LIMIT_S
    ready = lib.librarian.get(f"/api/v1/documents/{normal}").json()
    assert ready["versions"][-1]["state"] == "ready" and ready["status"] == "ready"
    hits = lib.librarian.get("/api/v1/search", params={"q": "Onsan zinc Busan"}).json()["hits"]
    assert normal in [h["document_id"] for h in hits]


def _upload_raw_name(lib: Library, filename: str, data: bytes) -> int:
    """The upload form, written by hand so the file name reaches the server byte for byte."""
    from tests.conftest import csrf_of

    c, boundary = lib.librarian, "hostile-corpus-boundary"
    fields = {"csrf_token": csrf_of(c), "level": "OPEN", "category": "trade_news"}
    body = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary.encode(), k.encode(), v.encode()) for k, v in fields.items())
    body += (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             b"Content-Type: text/plain\r\n\r\n%s\r\n--%s--\r\n"
             % (boundary.encode(), filename.encode(), data, boundary.encode()))
    r = c.post("/library/upload", content=body, headers={"accept": "application/json",
                                                         "content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code in (200, 201), r.text
    document_id = int(r.json()["document_id"])
    assert c.post(f"/documents/{document_id}/publish",
                  data={"published": "true", "csrf_token": csrf_of(c)}).status_code in (200, 303)
    return document_id


def _check_specifics(lib: Library, name: str, body: dict, version: dict) -> None:
    """What a family must show beyond its state."""
    if name == "pdf-10000-pages":  # cut at the page limit, read to there, and not rendered in full
        assert version["page_count"] == 2000 and len(body["pages"]) == 2000
        assert body["pages"][1]["text"] == "p2" and body["pages"][0]["source"] == "none"
        with lib.db.read() as s:
            from sqlalchemy import func, select

            from entrepot.db.library import Page

            previews = s.execute(select(func.count()).select_from(Page).where(Page.image.is_not(None))).scalar_one()
        assert previews < 2000
    elif name == "name-traversal-control":
        stored = version["filename"]
        assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
        assert not any(ord(c) < 32 or c in "\u202e\u200b" for c in stored), stored
    elif name == "pdf-count-lie" and version["state"] == "ready":
        assert version["page_count"] == 1
    elif name == "polyglot-jpeg-html":  # the payload is kept as text (a title), never as markup
        assert body["title"] == PAYLOAD
