"""Document parsing for the trade-document library.

    doc = parse_document(data, ParseContext(max_pages=500))
    if not doc.supported:            # empty / unknown / not indexable: store as "not indexed"
        ...
    for page in doc.pages: ...       # PageText(number, text, label)
    for n in doc.needs_ocr: img = doc.render_page(n, dpi=300)
    for child in doc.attachments: ... # ingest each as a separate file

Types are detected from the content (``detect_media_type``); errors are always
``entrepot.core.errors`` exceptions with readable messages (see ``registry.parse_document``).
"""

from __future__ import annotations

from .detect import detect_media_type
from .filenames import safe_filename
from .model import (
    Attachment,
    PageText,
    ParseContext,
    ParsedDocument,
    Parser,
    ParseTimeout,
)
from .registry import ParserRegistry, default_registry, parse_document

__all__ = [
    "Attachment",
    "PageText",
    "ParseContext",
    "ParseTimeout",
    "ParsedDocument",
    "Parser",
    "ParserRegistry",
    "default_registry",
    "detect_media_type",
    "parse_document",
    "safe_filename",
]
