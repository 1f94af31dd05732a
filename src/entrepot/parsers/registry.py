"""Registry of parsers by media type, and ``parse_document``: the one entry point for callers."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from entrepot.core.errors import EntrepotError, InvalidInput, TooLarge

from . import model as m
from .detect import detect_media_type

log = logging.getLogger(__name__)

_NOT_INDEXED_NOTES = {
    m.EMPTY: "The file is empty.",
    m.ZIP: "Zip archives are not indexed.",
    m.OLE: "Legacy Office files (.doc, .xls, .ppt) and other OLE files are not indexed.",
    m.UNKNOWN: "The file type is not recognised.",
}


class ParserRegistry:
    def __init__(self, parsers: Iterable[m.Parser] = ()) -> None:
        self._by_type: dict[str, m.Parser] = {}
        for parser in parsers:
            self.register(parser)

    def register(self, parser: m.Parser, media_types: Iterable[str] | None = None) -> None:
        for media_type in media_types or parser.media_types:
            self._by_type[media_type] = parser

    def get(self, media_type: str) -> m.Parser | None:
        return self._by_type.get(media_type)

    def media_types(self) -> list[str]:
        return sorted(self._by_type)


def default_registry() -> ParserRegistry:
    from .eml import EmlParser
    from .html import HtmlParser
    from .hwp import HwpParser
    from .hwpx import HwpxParser
    from .image import ImageParser
    from .odf import OdfParser
    from .ooxml import DocxParser, PptxParser, XlsxParser
    from .pdf import PdfParser
    from .plaintext import CsvParser, MarkdownParser, PlainTextParser

    return ParserRegistry([
        PdfParser(), ImageParser(), DocxParser(), XlsxParser(), PptxParser(), OdfParser(), HwpxParser(),
        HwpParser(), HtmlParser(), PlainTextParser(), MarkdownParser(), CsvParser(), EmlParser(),
    ])


_DEFAULT: ParserRegistry | None = None


def _registry() -> ParserRegistry:
    global _DEFAULT  # noqa: PLW0603 - lazily built, immutable afterwards
    if _DEFAULT is None:
        _DEFAULT = default_registry()
    return _DEFAULT


def parse_document(
    data: bytes,
    ctx: m.ParseContext | None = None,
    *,
    filename: str | None = None,
    registry: ParserRegistry | None = None,
) -> m.ParsedDocument:
    """Detect the type of ``data`` from its content and parse it.

    Returns a document with ``supported=False`` (and a ``note``) for empty, unknown or
    unsupported content: store such files as "not indexed". Raises only ``EntrepotError``
    subclasses (InvalidInput, TooLarge, ParseTimeout) with a message fit for a librarian;
    any unexpected library failure is logged and reported as InvalidInput.

    ``filename`` is only a hint between plain text, Markdown and CSV; it never decides a
    binary type.
    """
    ctx = (ctx or m.ParseContext()).started()
    if len(data) > ctx.max_file_bytes:
        raise TooLarge("The file is larger than %(limit)s MB.", limit=ctx.max_file_bytes // (1024 * 1024))
    media_type = detect_media_type(data, filename)
    parser = (registry or _registry()).get(media_type)
    if parser is None:
        note = _NOT_INDEXED_NOTES.get(media_type, "This file type is not indexed.")
        return m.ParsedDocument(media_type=media_type, supported=False, note=note)
    try:
        return parser.parse(data, ctx)
    except EntrepotError:
        raise
    except MemoryError as exc:
        raise TooLarge("The file needs too much memory to read.") from exc
    except RecursionError as exc:
        raise InvalidInput("The file is nested too deeply to read.") from exc
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a batch
        log.warning("parser for %s failed: %s: %s", media_type, type(exc).__name__, exc)
        raise InvalidInput("The file could not be read; it may be damaged.") from exc
