"""The scanners' drop folder: a file is taken once it has stopped changing, stored and queued like an
upload, then moved to done/ (or to failed/ with a note saying why)."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from entrepot.core.config import Settings
from entrepot.core.errors import EntrepotError
from entrepot.db import Database
from entrepot.imports import import_file

log = logging.getLogger(__name__)


@dataclass
class DropFolder:
    db: Database
    settings: Settings
    #: Seconds a file must stay unchanged (size and time) before it counts as complete.
    settle_s: float = 2.0
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.settings.drop_dir or self.settings.data_dir / "drop"

    def scan(self) -> int:
        """Take every complete file; returns how many were taken. Only one process scans at a time."""
        for sub in ("", "done", "failed"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            return sum(self._take(p) for p in sorted(self.root.iterdir()) if self._complete(p))

    def _complete(self, path: Path) -> bool:
        if not path.is_file() or path.is_symlink() or path.name.startswith("."):
            return False
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns)
        stable = self._seen.get(path) == key and time.time() - st.st_mtime >= self.settle_s
        self._seen[path] = key
        return stable

    def _take(self, path: Path) -> bool:
        self._seen.pop(path, None)
        try:
            import_file(self.db, self.settings, path, category="trade_news", level="OPEN", collection_id=None)
        except (EntrepotError, OSError) as exc:
            reason = exc.message % exc.params if isinstance(exc, EntrepotError) and exc.params else str(
                getattr(exc, "message", exc))
            target = _move(path, self.root / "failed")
            target.with_name(target.name + ".error.txt").write_text(reason + "\n", encoding="utf-8")
            log.warning("drop folder: %s failed: %s", path.name, reason)
            return True
        _move(path, self.root / "done")
        return True


def _move(path: Path, folder: Path) -> Path:
    target = folder / path.name
    if target.exists():
        target = folder / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{os.getpid()}-{path.name}"
    shutil.move(str(path), target)
    return target
