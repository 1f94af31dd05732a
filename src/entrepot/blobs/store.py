"""Files by sha256 under `root/ab/cd/<hash>`.

A write goes to a temporary file in the same folder tree, is fsynced, then renamed into place, so a
crash leaves either the whole blob or no blob (plus, at worst, a temporary file the cleanup removes).
Several app instances may share the folder: the same content always lands on the same name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from entrepot.core.errors import TooLarge

CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} B"


class BlobWriter:
    """Streams data into a temporary file while hashing it; `commit()` moves it to its address."""

    def __init__(self, store: BlobStore, max_bytes: int | None = None) -> None:
        self.store, self.max_bytes = store, max_bytes
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise TooLarge("The file is larger than the limit of %(size)s.", size=human_size(self.max_bytes))
        self._hash.update(data)
        self._file.write(data)

    def commit(self) -> str:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        target = self.store.path(digest)
        try:
            # Already held: touch it, so the retention job's blob cleanup (which spares recently
            # touched files) cannot remove it while the row that will use it is being written.
            os.utime(target)
            self._path.unlink()
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path, target)
            _fsync_dir(target.parent)
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"

    def path(self, digest: str) -> Path:
        if not _HEX64.match(digest):
            raise ValueError("not a sha256 digest")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        writer = BlobWriter(self)
        writer.write(data)
        return writer.commit()

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        writer = BlobWriter(self, max_bytes)
        try:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit(), writer.size

    def put_file(self, path: Path, max_bytes: int | None = None) -> tuple[str, int]:
        with path.open("rb") as fh:
            return self.put_stream(fh, max_bytes)

    def read_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def open(self, digest: str) -> BinaryIO:
        return self.path(digest).open("rb")

    def digests(self) -> Iterator[str]:
        """Every stored blob, for the orphan cleanup."""
        for p in self.root.glob("??/??/*"):
            if _HEX64.match(p.name):
                yield p.name

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def remove_if_idle(self, digest: str, idle_s: float) -> bool:
        """Remove a blob nobody wrote or re-stored for `idle_s` seconds. The file is first moved
        aside, then its time checked: a writer that stored the same content meanwhile either touched
        it before the move (it is put back) or found it gone and wrote its own copy."""
        target = self.path(digest)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        aside = self.tmp_dir / f"removing-{digest}-{os.getpid()}"
        try:
            os.replace(target, aside)
        except FileNotFoundError:
            return False
        if aside.stat().st_mtime > time.time() - idle_s:
            os.replace(aside, target)
            return False
        aside.unlink()
        return True
