"""SQLite: a consistent copy while the service writes, with SQLite's online backup API.

The source connection holds one read transaction for the whole copy, so every step reads the same
snapshot (WAL lets writers go on meanwhile) and the copy never restarts because of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from entrepot.backup.manifest import BackupError

PAGES_PER_STEP = 256
#: A step waits this long (seconds) when the source is locked, then tries again.
BUSY_SLEEP_S = 0.05


def database_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def snapshot(src: Path, dst: Path, progress: Callable[[int, int], None] | None = None) -> None:
    """Copy the database at `src` to a new self-contained file `dst` (no -wal file beside it)."""
    if not src.is_file():
        raise BackupError(f"no database at {src}")
    # Not read-only: a reader of a WAL database may have to create the -shm file when the service is down.
    source = sqlite3.connect(src, isolation_level=None, timeout=30)
    target = sqlite3.connect(dst, isolation_level=None)
    try:
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the read snapshot

        def step(_status: int, remaining: int, total: int) -> None:
            if progress:
                progress(total - remaining, total)

        source.backup(target, pages=PAGES_PER_STEP, progress=step, sleep=BUSY_SLEEP_S)
        source.execute("COMMIT")
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copied database failed its integrity check: {check}")
    finally:
        source.close()
        target.close()


def is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
    finally:
        conn.close()


def restore(src: Path, dst: Path) -> None:
    """Put the backed-up file in place of `dst` (and drop the old WAL files, which belong to the old one)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    tmp = dst.with_name(dst.name + ".restoring")
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    tmp.replace(dst)
