"""Orphan blobs: files no table names any more (a crash between storing a file and committing the row
that names it, a failed upload, a purge). Only files older than a grace period are candidates, so a file
whose row is still being written (an upload, an ingest that renders page previews for minutes) is safe.

Order matters: candidates are listed first, the references are read after, and each file's age is read
again as it goes (`BlobStore.remove_if_idle`). A new upload of content already held refreshes the file's
time (see `BlobWriter.commit`), which takes it out of the candidates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from entrepot.blobs.references import referenced
from entrepot.blobs.store import BlobStore

DEFAULT_GRACE_S = 24 * 3600
#: The name BlobWriter gives its temporary files (tempfile.mkstemp(prefix=...)).
UPLOAD_PREFIX = "upload-"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Orphans:
    digests: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    bytes: int = 0
    #: Blobs the database names whose file is missing: nothing to delete, but worth a loud report.
    missing: list[str] = field(default_factory=list)


def _older(path: Path, cutoff: float) -> int | None:
    """The file's size if it was last written before `cutoff`, else None (also when it is gone)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size if st.st_mtime < cutoff else None


def _candidates(store: BlobStore, cutoff: float) -> Iterator[tuple[str, int]]:
    for digest in store.digests():
        size = _older(store.path(digest), cutoff)
        if size is not None:
            yield digest, size


def find_orphans(store: BlobStore, session: Session, grace_s: float = DEFAULT_GRACE_S) -> Orphans:
    cutoff = time.time() - grace_s
    candidates = dict(_candidates(store, cutoff))
    known = referenced(session)
    out = Orphans()
    for digest, size in sorted(candidates.items()):
        if digest not in known:
            out.digests.append(digest)
            out.bytes += size
    out.missing = sorted(d for d in known if not (_HEX64.match(d) and store.exists(d)))
    if store.tmp_dir.is_dir():
        # Only what an interrupted BlobWriter left; other files in tmp/ belong to running removals.
        for p in sorted(store.tmp_dir.glob(f"{UPLOAD_PREFIX}*")):
            temp_size = _older(p, cutoff) if p.is_file() else None
            if temp_size is not None:
                out.temp_files.append(p)
                out.bytes += temp_size
    return out


def remove_orphans(store: BlobStore, orphans: Orphans, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Delete what `find_orphans` listed, skipping any file written since; returns the number removed."""
    cutoff = time.time() - grace_s
    removed = sum(store.remove_if_idle(digest, grace_s) for digest in orphans.digests)
    for path in orphans.temp_files:
        if _older(path, cutoff) is not None:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
