"""The data model of the parsing layer: limits in, parsed document out.

Every parser gets a frozen :class:`ParseContext` and returns a :class:`ParsedDocument`.
Failures are always one of the service's exceptions (``entrepot.core.errors``) with a
message a librarian can read; nothing here carries a server path or a stack trace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from entrepot.core.errors import InvalidInput, TooLarge

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image


# ---------------------------------------------------------------------------------------------
# Media types the layer knows. Detection returns one of these (or UNKNOWN).
# ---------------------------------------------------------------------------------------------
PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
WEBP = "image/webp"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
HWPX = "application/hwp+zip"
HWP = "application/x-hwp"
HTML = "text/html"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
CSV = "text/csv"
EML = "message/rfc822"
# Recognised containers we do not index (reported, never raised).
ZIP = "application/zip"
OLE = "application/x-ole-storage"
EMPTY = "application/x-empty"
UNKNOWN = "application/octet-stream"


class ParseTimeout(TooLarge):
    """The document took longer than the context's time budget."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """Limits and scratch space for one parse. Frozen: share it freely between parses.

    ``deadline`` is set by :meth:`started` (``parse_document`` does it); parsers call
    :meth:`check_time` between pages / members so a hostile file cannot run for ever.
    """

    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 2000
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_zip_members: int = 10_000
    max_compression_ratio: float = 200.0
    max_image_pixels: int = 80_000_000
    max_attachments: int = 200
    time_budget_s: float = 120.0
    #: pages with fewer "meaningful" characters (letters, digits, CJK) are flagged for OCR
    min_text_chars: int = 16
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    deadline: float | None = None

    def started(self) -> ParseContext:
        """A copy whose deadline runs from now."""
        return dataclasses.replace(self, deadline=time.monotonic() + self.time_budget_s)

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ParseTimeout(
                "The document took too long to read (over %(seconds)s seconds).",
                seconds=int(self.time_budget_s),
            )


@dataclass(frozen=True, slots=True)
class PageText:
    """Text of one page (PDF, image frame, slide), sheet or section. ``number`` starts at 1."""

    number: int
    text: str
    label: str | None = None  # sheet name, section name, ... when the format has one


@dataclass(frozen=True, slots=True)
class Attachment:
    """A child file (e-mail attachment, PDF embedded file) for the caller to ingest separately."""

    filename: str  # already passed through safe_filename
    data: bytes
    declared_type: str | None = None  # what the container claimed; detect again before trusting


PageRenderer = Callable[[int, int], "Image"]


@dataclass(slots=True)
class ParsedDocument:
    media_type: str
    pages: list[PageText] = field(default_factory=list)
    title: str | None = None
    author: str | None = None
    created: dt.datetime | None = None
    #: page numbers (1-based) with no usable text layer: scanned PDF pages, image frames
    needs_ocr: list[int] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    #: total pages in the source (may exceed len(pages) when truncated)
    page_count: int = 0
    #: True when max_pages cut the document short; the first max_pages pages are kept
    truncated: bool = False
    #: False for recognised-but-unsupported or unknown content: store it as "not indexed"
    supported: bool = True
    #: why the file is not indexed (when ``supported`` is False), for the librarian
    note: str | None = None
    _renderer: PageRenderer | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages if p.text)

    @property
    def can_render(self) -> bool:
        return self._renderer is not None

    def render_page(self, number: int, dpi: int = 150) -> Image:
        """Image of page ``number`` (1-based) for OCR or preview; PDFs and images only.

        The pixel limit of the parse context applies; raises TooLarge / InvalidInput.
        """
        if self._renderer is None:
            raise InvalidInput("This kind of document has no page images.")
        if not 1 <= number <= len(self.pages):
            raise InvalidInput("No such page: %(n)s.", n=number)
        if not 1 <= dpi <= 1200:
            raise InvalidInput("Resolution must be between 1 and 1200 dpi.")
        return self._renderer(number, dpi)


@runtime_checkable
class Parser(Protocol):
    """A parser handles one or more media types. It must not keep state between calls."""

    @property
    def media_types(self) -> tuple[str, ...]: ...

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedDocument: ...
