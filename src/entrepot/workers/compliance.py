"""The attachment screening job: read a sent file's or picture's text (its text layer, or OCR for scans
and pictures) and flag what the lexicon finds in it. Runs after the send committed: a message is
never held back by a slow file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from entrepot.actions import screening
from entrepot.blobs import BlobStore
from entrepot.core.config import Settings
from entrepot.core.errors import EntrepotError
from entrepot.db import Database
from entrepot.db.messaging import Message
from entrepot.parsers import ParseContext, parse_document

log = logging.getLogger(__name__)
OCR_DPI = 300
MAX_OCR_PAGES = 20  # a long scanned file is read up to here; its text layer (if any) is read whole


def attachment_text(
    data: bytes, filename: str, ocr: Callable[[], Any], max_bytes: int
) -> list[tuple[int, str]]:
    """(page number, text) of a file: the parser's text, replaced by OCR where a page has no text layer
    and OCR reads more. Unknown, damaged or encrypted files have no text (and are not an error)."""
    try:
        parsed = parse_document(data, ParseContext(max_file_bytes=max_bytes), filename=filename)
    except EntrepotError as exc:
        log.info("attachment %s not readable: %s", filename, exc.message)
        return []
    if not parsed.supported:
        return []
    pages = {p.number: p.text for p in parsed.pages}
    for number in parsed.needs_ocr[:MAX_OCR_PAGES]:
        result = ocr().ocr_image(parsed.render_page(number, dpi=OCR_DPI))
        if len(result.text.strip()) > len(pages.get(number, "").strip()):
            pages[number] = result.text
    return sorted(pages.items())


def scan_attachment(
    db: Database, settings: Settings, message_id: int, ocr: Callable[[], Any]
) -> dict[str, Any]:
    with db.read() as s:
        msg = s.get(Message, message_id)
        info = dict(msg.attachment or {}) if msg is not None and msg.deleted_at is None else {}
    if not info.get("blob"):
        return {"skipped": "no attachment"}
    name = str(info.get("name") or "attachment")
    pages = attachment_text(
        BlobStore(settings.blob_dir).read_bytes(str(info["blob"])), name, ocr, settings.max_attachment_bytes
    )
    with db.write() as s:
        flags = screening.screen_attachment(s, message_id, pages, name)
    return {"pages": len(pages), "flags": flags}
