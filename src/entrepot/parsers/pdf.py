"""PDF through pypdfium2: text layer per page, OCR flags, page rendering, embedded files.

Decisions:
* A page whose text layer has fewer than ``ctx.min_text_chars`` letters/digits is listed in
  ``needs_ocr`` (scanned pages, pages that are pictures of text).
* Encrypted PDFs are opened with the empty password (owner-password-only PDFs read fine);
  otherwise InvalidInput "encrypted". Damaged/truncated PDFs: InvalidInput "damaged".
* More than ``ctx.max_pages`` pages: the first ``max_pages`` are read and the result is
  flagged ``truncated=True`` with the real ``page_count`` - a long catalogue is still worth
  indexing, and the caller can tell the librarian.
* PDFium is not thread-safe: every call into it holds one process-wide lock.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import TYPE_CHECKING

from entrepot.core.errors import InvalidInput, TooLarge

from . import model as m
from .filenames import safe_filename
from .textutil import clean_text, meaningful_chars

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image

PDFIUM_LOCK = threading.RLock()
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?")


def parse_pdf_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, tz = match.groups()
    try:
        tzinfo: dt.tzinfo | None = None
        if tz == "Z":
            tzinfo = dt.UTC
        elif tz:
            digits = tz.replace("'", "")
            offset = dt.timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5] or 0))
            tzinfo = dt.timezone(offset if digits[0] == "+" else -offset)
        return dt.datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=tzinfo,
        )
    except ValueError:
        return None


def _open(data: bytes):  # noqa: ANN202 - pypdfium2 type
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data, password="")  # nosec B106 # opens PDFs without a password only
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium.raw.FPDF_ERR_PASSWORD, pdfium.raw.FPDF_ERR_SECURITY):
            raise InvalidInput(
                "The PDF is encrypted with a password; remove the password and upload it again."
            ) from exc
        raise InvalidInput("The PDF is damaged or incomplete and cannot be read.") from exc


def _ocr_could_add(pdf, index: int, text: str) -> bool:  # noqa: ANN001 - pypdfium2 type
    """Whether OCR could read more than the text layer. A blank page (nothing drawn) or a page drawing
    only text that the layer reads has nothing more to give, however short: OCR there only costs time
    (thousands of such pages in one file kept a worker busy for hours). Images (scans), paths (outlined
    text), forms and text the layer cannot decode still go to OCR."""
    import pypdfium2 as pdfium

    raw = pdfium.raw
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        return True
    try:
        count = raw.FPDFPage_CountObjects(page.raw)
        for i in range(count):
            if raw.FPDFPageObj_GetType(raw.FPDFPage_GetObject(page.raw, i)) != raw.FPDF_PAGEOBJ_TEXT:
                return True
        return count > 0 and meaningful_chars(text) == 0
    finally:
        page.close()


class PdfParser:
    media_types = (m.PDF,)

    def parse(self, data: bytes, ctx: m.ParseContext) -> m.ParsedDocument:
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            pdf = _open(data)
            try:
                total = len(pdf)
                keep = min(total, ctx.max_pages)
                doc = m.ParsedDocument(media_type=m.PDF, page_count=total, truncated=total > keep)
                for index in range(keep):
                    ctx.check_time()
                    try:
                        page = pdf[index]
                        try:
                            textpage = page.get_textpage()
                            try:
                                raw = textpage.get_text_range()
                            finally:
                                textpage.close()
                        finally:
                            page.close()
                    except pdfium.PdfiumError:
                        raw = ""  # one unreadable page: keep the others, OCR may still help
                    text = clean_text(raw)
                    doc.pages.append(m.PageText(number=index + 1, text=text))
                    if meaningful_chars(text) < ctx.min_text_chars and _ocr_could_add(pdf, index, text):
                        doc.needs_ocr.append(index + 1)
                self._metadata(pdf, doc)
                self._attachments(pdf, doc, ctx)
            finally:
                pdf.close()
        doc._renderer = _PdfRenderer(data, ctx)
        return doc

    @staticmethod
    def _metadata(pdf, doc: m.ParsedDocument) -> None:  # noqa: ANN001
        try:
            meta = pdf.get_metadata_dict(skip_empty=True)
        except Exception:  # noqa: BLE001 - broken Info dictionary: metadata is optional
            return
        doc.title = clean_text(meta.get("Title", "")) or None
        doc.author = clean_text(meta.get("Author", "")) or None
        doc.created = parse_pdf_date(meta.get("CreationDate"))
        for key in ("Subject", "Keywords", "Creator", "Producer"):
            value = clean_text(meta.get(key, ""))
            if value:
                doc.metadata[key.lower()] = value[:1000]

    @staticmethod
    def _attachments(pdf, doc: m.ParsedDocument, ctx: m.ParseContext) -> None:  # noqa: ANN001
        import pypdfium2 as pdfium

        try:
            count = pdf.count_attachments()
        except pdfium.PdfiumError:
            return
        total = 0
        for index in range(min(count, ctx.max_attachments)):
            ctx.check_time()
            try:
                att = pdf.get_attachment(index)
                name = att.get_name()
                payload = bytes(att.get_data())
            except pdfium.PdfiumError:
                continue
            total += len(payload)
            if total > ctx.max_uncompressed_bytes:
                raise TooLarge(
                    "The PDF's embedded files add up to more than %(limit)s MB.",
                    limit=ctx.max_uncompressed_bytes // (1024 * 1024),
                )
            doc.attachments.append(m.Attachment(filename=safe_filename(name, default=f"embedded-{index + 1}"),
                                                data=payload))


class _PdfRenderer:
    def __init__(self, data: bytes, ctx: m.ParseContext) -> None:
        self._data = data
        self._ctx = ctx

    def __call__(self, number: int, dpi: int) -> Image:
        import pypdfium2 as pdfium

        scale = dpi / 72.0
        with PDFIUM_LOCK:
            pdf = _open(self._data)
            try:
                page = pdf[number - 1]
                try:
                    width, height = page.get_size()
                    pixels = (width * scale) * (height * scale)
                    if pixels > self._ctx.max_image_pixels:
                        raise TooLarge(
                            "The page is too large to render at %(dpi)s dpi.", dpi=dpi,
                        )
                    bitmap = page.render(scale=scale, may_draw_forms=False)
                    try:
                        image = bitmap.to_pil()
                        image = image.convert("RGB") if image.mode != "RGB" else image.copy()
                    finally:
                        bitmap.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise InvalidInput("This PDF page cannot be rendered.") from exc
            finally:
                pdf.close()
        return image
