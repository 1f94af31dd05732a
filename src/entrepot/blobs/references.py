"""Every place the database names a blob, and the set of digests it names.

The orphan cleanup deletes what is not in `referenced()`, and the backup checks that every digest in its
database snapshot was copied; so a new column that holds a digest must be listed here (a test compares
this list with the models and fails on a String(64) column it does not know).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from entrepot.db.library import DocumentVersion, Page
from entrepot.db.messaging import Message
from entrepot.db.tables import ArchiveRecord

#: Columns that hold one digest (or NULL).
DIGEST_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    DocumentVersion.blob,  # the uploaded original
    DocumentVersion.searchable_pdf,  # derived: the OCRed PDF/A
    Page.image,  # derived: page preview
    Page.thumb,  # derived: page thumbnail
)
#: JSON columns holding an attachment description {"blob": ..., "thumb": ...}; `path` leads to it.
ATTACHMENT_COLUMNS: tuple[tuple[InstrumentedAttribute[Any], tuple[str, ...]], ...] = (
    (Message.attachment, ()),  # pictures, files and voice notes sent in the messenger
    # The compliance archive keeps the attachment of every archived message, also after the message
    # was deleted: exports include the file.
    (ArchiveRecord.details, ("attachment",)),
)
ATTACHMENT_KEYS = ("blob", "thumb")
BATCH = 2000


def _digests_in(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    for key in path:
        if not isinstance(value, dict):
            return
        value = value.get(key)
    if isinstance(value, dict):
        for key in ATTACHMENT_KEYS:
            digest = value.get(key)
            if isinstance(digest, str) and digest:
                yield digest


def iter_referenced(session: Session) -> Iterator[str]:
    """Each digest the database names (with repeats), streamed in batches."""
    for column in DIGEST_COLUMNS:
        rows = session.execute(select(column).where(column.is_not(None)).execution_options(yield_per=BATCH))
        yield from (digest for (digest,) in rows if digest)
    for column, path in ATTACHMENT_COLUMNS:
        rows = session.execute(select(column).where(column.is_not(None)).execution_options(yield_per=BATCH))
        for (value,) in rows:
            yield from _digests_in(value, path)


def referenced(session: Session) -> set[str]:
    return set(iter_referenced(session))
