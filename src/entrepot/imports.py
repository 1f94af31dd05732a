"""`entrepot import`: store every file under the given paths and queue it for ingest.

Re-running is safe: files already held (same sha256) are skipped, so an interrupted import resumes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from entrepot.actions import library
from entrepot.blobs import BlobStore
from entrepot.core.config import Settings
from entrepot.core.errors import EntrepotError
from entrepot.db import Database


@dataclass
class ImportSummary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def walk(paths: list[Path]) -> Iterator[Path]:
    """Regular files under the paths, in a stable order; hidden files and symlinks are left out."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        for p in sorted(root.rglob("*")):
            hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
            if p.is_file() and not p.is_symlink() and not hidden:
                yield p


def import_file(db: Database, settings: Settings, path: Path, *, category: str, level: str,
                collection_id: int | None) -> bool:
    """Store one file and queue it; False when the library already held it."""
    digest, size = BlobStore(settings.blob_dir).put_file(path, settings.max_upload_bytes)
    with db.write() as s:
        _doc, created = library.add_document(s, None, library.NewFile(digest, path.name, size), category=category,
                                             level=level, collection_id=collection_id)
    return created


def import_paths(db: Database, settings: Settings, files: list[Path], *, category: str, level: str,
                 collection_id: int | None, advance: object = None) -> ImportSummary:
    summary = ImportSummary()
    for path in files:
        try:
            if import_file(db, settings, path, category=category, level=level, collection_id=collection_id):
                summary.done += 1
            else:
                summary.skipped += 1
        except EntrepotError as exc:
            summary.failed.append((str(path), exc.message % exc.params if exc.params else exc.message))
        except OSError as exc:
            summary.failed.append((str(path), exc.strerror or str(exc)))
        if callable(advance):
            advance()
    return summary
