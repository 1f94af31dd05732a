"""The ordered ingest steps and their runner.

extract   parse the original (type sniffed from content); unknown types stop here as "not indexed"
ocr       pages without a text layer: detect the script, OCR with the one right model
previews  page images (WebP) for the viewer and a small thumbnail for slow links
pdf       a searchable PDF (OCRmyPDF) when pages were OCRed
describe  languages and suggested metadata
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from entrepot.blobs import BlobStore
from entrepot.core.errors import EntrepotError
from entrepot.core.messages import N_
from entrepot.core.reference import Reference
from entrepot.ingest import describe
from entrepot.ingest.language import detect_language
from entrepot.parsers import Attachment, ParseContext, ParsedDocument, parse_document

log = logging.getLogger(__name__)
Progress = Callable[[str, int], None]
PREVIEW_DPI = 110
OCR_DPI = 300
PREVIEW_WIDTH = 1100
THUMB_WIDTH = 240
MAX_PREVIEW_PAGES = 2000
#: Previews stop after this much time (about 400 A4 pages): a file of thousands of pages must not hold
#: a worker for minutes; the pages past it are still read and indexed, shown as text.
PREVIEW_BUDGET_S = 30.0


@dataclass
class PageResult:
    number: int
    text: str
    language: str | None
    source: str = "text"  # text | ocr | none
    confidence: float | None = None
    needs_review: bool = False
    image: str | None = None
    thumb: str | None = None
    #: The page's analysed text for the search index (terms and single-character grams).
    analysed: Any = None


@dataclass
class IngestResult:
    media_type: str
    supported: bool = True
    note: str | None = None
    title: str | None = None
    page_count: int = 0
    truncated: bool = False
    pages: list[PageResult] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    suggestions: dict[str, Any] = field(default_factory=dict)
    searchable_pdf: str | None = None
    children: list[Attachment] = field(default_factory=list)


class StopIngest(Exception):
    """A typed stop: the result so far is final (for example an unknown type, stored as not indexed)."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__(result.note or "stopped")
        self.result = result


@dataclass(frozen=True)
class IngestContext:
    blobs: BlobStore
    reference: Reference
    ocr: Callable[[], Any]  # returns the OCR engine, made on first use and kept by the worker
    parse: ParseContext = field(default_factory=ParseContext)
    review_confidence: float = 70.0
    make_searchable_pdf: bool = True


def _webp(img: Image.Image, width: int, quality: int) -> bytes:
    img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


def _extract(data: bytes, filename: str, ctx: IngestContext) -> tuple[ParsedDocument, IngestResult]:
    parsed = parse_document(data, ctx.parse, filename=filename)
    result = IngestResult(media_type=parsed.media_type, supported=parsed.supported, note=parsed.note,
                          title=parsed.title, page_count=parsed.page_count, truncated=parsed.truncated,
                          children=list(parsed.attachments))
    if not parsed.supported:
        raise StopIngest(result)
    if parsed.truncated:  # kept with the version, so the librarian sees the file was cut short
        # Stored in English; pages show it in the reader's language (Translations.stored).
        result.note = N_("Only the first %(read)s of %(total)s pages were read.") % {
            "read": len(parsed.pages), "total": parsed.page_count}
    result.pages = [PageResult(p.number, p.text, detect_language(p.text), "text" if p.text.strip() else "none")
                    for p in parsed.pages]
    return parsed, result


def _ocr(parsed: ParsedDocument, result: IngestResult, ctx: IngestContext, progress: Progress) -> None:
    todo = [p for p in result.pages if p.number in set(parsed.needs_ocr)]
    if not todo:
        return
    engine = ctx.ocr()
    for i, page in enumerate(todo):
        progress("ocr", 10 + int(60 * i / len(todo)))
        image = parsed.render_page(page.number, dpi=OCR_DPI)
        ocr = engine.ocr_image(image)
        if ocr.text.strip() and len(ocr.text.strip()) >= len(page.text.strip()):
            page.text, page.language, page.source = ocr.text, ocr.language, "ocr"
        page.confidence = round(float(ocr.confidence), 1)
        page.needs_review = ocr.needs_review or page.confidence < ctx.review_confidence


def _previews(parsed: ParsedDocument, result: IngestResult, ctx: IngestContext, progress: Progress) -> None:
    if not parsed.can_render:
        return
    pages = result.pages[:MAX_PREVIEW_PAGES]
    deadline = time.monotonic() + PREVIEW_BUDGET_S
    for i, page in enumerate(pages):
        if time.monotonic() > deadline:
            log.info("previews stopped after %d of %d pages (time budget)", i, len(pages))
            return
        if i % 10 == 0:
            progress("previews", 70 + int(20 * i / max(1, len(pages))))
        image = parsed.render_page(page.number, dpi=PREVIEW_DPI)
        page.image = ctx.blobs.put_bytes(_webp(image, PREVIEW_WIDTH, 72))
        page.thumb = ctx.blobs.put_bytes(_webp(image, THUMB_WIDTH, 55))


def _searchable_pdf(data: bytes, parsed: ParsedDocument, result: IngestResult, ctx: IngestContext) -> None:
    """OCRmyPDF over scans, for a download whose text can be selected and searched."""
    ocred = [p for p in result.pages if p.source == "ocr"]
    if not ctx.make_searchable_pdf or not ocred or parsed.media_type != "application/pdf":
        return
    if result.truncated:  # OCRmyPDF would read every page of the file, past the pages kept
        return
    languages = [p.language or "en" for p in result.pages]
    with tempfile.TemporaryDirectory(prefix="entrepot-pdf-") as tmp:
        src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        src.write_bytes(data)
        try:
            ctx.ocr().make_searchable_pdf(src, dst, languages)
        except EntrepotError as exc:  # the text is already kept; the PDF is a convenience
            log.warning("searchable PDF not made: %s", exc.message)
            return
        result.searchable_pdf, _ = ctx.blobs.put_file(dst)


def _analyse(result: IngestResult) -> None:
    """Tokens for the search index, made here in the worker so the final transaction stays short."""
    from entrepot.search.service import index_rows

    rows = index_rows([(p.number, p.text) for p in result.pages])
    for page, (_, analysed) in zip(result.pages, rows, strict=True):
        page.analysed = analysed


def _first_line(pages: list[PageResult]) -> str | None:
    """A plain-text file has no title field; its first short line usually is the title."""
    for page in pages[:1]:
        for line in page.text.splitlines():
            line = line.strip().lstrip("#").strip()
            if line:
                return line if len(line) <= 150 else None
    return None


def run_pipeline(data: bytes, filename: str, ctx: IngestContext,
                 progress: Progress = lambda step, pct: None) -> IngestResult:
    """Run every step; a StopIngest ends early with a final result, other errors propagate."""
    progress("extract", 5)
    try:
        parsed, result = _extract(data, filename, ctx)
    except StopIngest as stop:
        return stop.result
    _ocr(parsed, result, ctx, progress)
    _previews(parsed, result, ctx, progress)
    progress("pdf", 90)
    _searchable_pdf(data, parsed, result, ctx)
    progress("index", 93)
    _analyse(result)
    progress("describe", 97)
    text = "\n".join(p.text for p in result.pages)
    result.languages = sorted({p.language for p in result.pages if p.language})
    result.title = result.title or _first_line(result.pages)
    result.suggestions = describe.suggest(text, ctx.reference)
    return result
