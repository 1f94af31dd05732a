"""The backup's manifest: what it holds (backend, schema revision) and the sha256 and size of every file.

A restore reads nothing before the whole folder matched it: no file missing, none extra, none altered.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def copy_hashed(src: Path, dst: Path) -> str:
    """Copy while hashing what was read, so the digest is of the bytes that were written."""
    h = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
    shutil.copystat(src, dst)
    return h.hexdigest()


@dataclass
class Manifest:
    backend: str  # "sqlite" | "postgresql"
    database: str  # the file holding the database, relative to the backup folder
    schema_revision: str | None
    created_at: str
    version: str
    #: relative path -> {"sha256": ..., "size": ...}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, root: Path, rel: str, digest: str | None = None) -> None:
        path = root / rel
        self.files[rel] = {"sha256": digest or sha256_file(path), "size": path.stat().st_size}

    def write(self, root: Path) -> None:
        body = {"format": FORMAT, "backend": self.backend, "database": self.database,
                "schema_revision": self.schema_revision, "created_at": self.created_at, "version": self.version,
                "info": self.info, "files": dict(sorted(self.files.items()))}
        tmp = root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        tmp.replace(root / MANIFEST)

    @classmethod
    def read(cls, root: Path) -> Manifest:
        try:
            body = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BackupError(f"{root} is not a backup: it has no {MANIFEST}") from exc
        except ValueError as exc:
            raise BackupError(f"the manifest of {root} is damaged: {exc}") from exc
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise BackupError(f"unknown backup format in {root / MANIFEST}")
        try:
            return cls(backend=body["backend"], database=body["database"], schema_revision=body["schema_revision"],
                       created_at=body["created_at"], version=body["version"], files=dict(body["files"]),
                       info=dict(body.get("info") or {}))
        except (KeyError, TypeError) as exc:
            raise BackupError(f"the manifest of {root} lacks {exc}") from exc


def listed_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST}


def verify(root: Path, manifest: Manifest, advance: Callable[[int], None] | None = None) -> None:
    """Raise BackupError unless every file is there, unaltered, and nothing else is."""
    present = listed_files(root)
    missing = sorted(set(manifest.files) - present)
    extra = sorted(present - set(manifest.files))
    if missing or extra:
        raise BackupError(f"the backup does not match its manifest: {len(missing)} file(s) missing "
                          f"{missing[:3]}, {len(extra)} not listed {extra[:3]}")
    if manifest.database not in manifest.files:
        raise BackupError("the manifest does not list the database file")
    for rel, entry in sorted(manifest.files.items()):
        path = root / rel
        if path.stat().st_size != entry.get("size") or sha256_file(path) != entry.get("sha256"):
            raise BackupError(f"the backup does not match its manifest: {rel} was altered or damaged")
        if advance:
            advance(entry["size"])
