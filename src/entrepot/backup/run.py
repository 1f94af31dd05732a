"""`entrepot backup DEST` and `entrepot restore SRC`: the database and the blobs, while the service runs.

Consistency: the database copy is one snapshot (SQLite's backup API inside one read transaction, or
pg_dump on an exported snapshot). Blobs are copied after it. A blob is stored before the row naming it
commits and is never altered, so every blob the snapshot names already exists; the backup checks that
each one was copied. Blobs stored after the snapshot come along too and are harmless (orphans).

Layout of a backup folder:
    manifest.json          backend, schema revision, sha256 and size of every other file
    entrepot.db            SQLite: a self-contained copy      | database.dump  PostgreSQL: pg_dump -Fc
    blobs/ab/cd/<sha256>   the blob files, as in the data folder
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.orm import Session

from entrepot import __version__
from entrepot.backup import postgres, sqlite
from entrepot.backup.manifest import BackupError, Manifest, copy_hashed, sha256_file, verify
from entrepot.blobs import BlobStore
from entrepot.blobs.references import referenced
from entrepot.core.config import Settings

#: (phase, done, total) with total None while unknown; phases: database, blobs, verify.
Report = Callable[[str, int, int | None], None]
SQLITE_FILE = "entrepot.db"
PG_FILE = "database.dump"
BLOBS = "blobs"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Summary:
    backend: str
    blobs: int = 0
    bytes: int = 0
    #: Blobs the database names that the data folder does not have (damage found, not made, by the backup).
    missing: list[str] = field(default_factory=list)
    #: Blobs already in the target that the backup does not hold (after --force): `entrepot blobs gc` removes them.
    leftover: int = 0
    note: str = ""


def _quiet(_phase: str, _done: int, _total: int | None) -> None:
    return None


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):  # a database never migrated
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def _empty_folder(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


# ---- backup -------------------------------------------------------------------------------------


def _snapshot_sqlite(url: str, dest: Path, report: Report) -> tuple[set[str], str | None, str]:
    sqlite.snapshot(sqlite.database_path(url), dest / SQLITE_FILE, lambda d, t: report("database", d, t))
    engine = create_engine(f"sqlite:///{dest / SQLITE_FILE}")
    try:
        with engine.connect() as conn, Session(bind=conn) as session:
            return referenced(session), _revision(conn), "SQLite online backup"
    finally:
        engine.dispose()


def _snapshot_postgres(url: str, dest: Path, report: Report) -> tuple[set[str], str | None, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as raw:
            conn = raw.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                report("database", 0, None)
                note = postgres.dump(conn, url, dest / PG_FILE)
                # Same transaction, same snapshot as the dump.
                with Session(bind=conn) as session:
                    refs = referenced(session)
                revision = _revision(conn)
                report("database", 1, 1)
        return refs, revision, note
    finally:
        engine.dispose()


def _copy_blobs(store: BlobStore, dest: Path, needed: set[str], report: Report) -> tuple[dict[str, int], int]:
    """Copy every blob, checking each file against its name; returns {digest: size} and bytes copied."""
    digests = sorted(store.digests())
    copied: dict[str, int] = {}
    total_bytes = 0
    report("blobs", 0, len(digests))
    for i, digest in enumerate(digests, 1):
        target = dest / BLOBS / digest[:2] / digest[2:4] / digest
        try:
            actual = copy_hashed(store.path(digest), target)
        except FileNotFoundError:
            if digest in needed:
                raise BackupError(f"blob {digest} vanished during the backup although the database names it") \
                    from None
            continue  # an orphan removed meanwhile
        if actual != digest:
            raise BackupError(f"blob {digest} in the data folder is damaged (its content hashes to {actual})")
        size = target.stat().st_size
        copied[digest] = size
        total_bytes += size
        report("blobs", i, len(digests))
    return copied, total_bytes


def create_backup(settings: Settings, dest: Path, report: Report = _quiet) -> Summary:
    """Write a backup of the service described by `settings` into the new or empty folder `dest`."""
    dest = Path(dest)
    if not _empty_folder(dest):
        raise BackupError(f"{dest} is not empty: choose a new folder for each backup")
    url = settings.db_url
    backend = _backend(url)
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # password hashes and every document: readable by the service's user only
    snap = _snapshot_sqlite if backend == "sqlite" else _snapshot_postgres
    try:
        needed, revision, note = snap(url, dest, report)
        copied, nbytes = _copy_blobs(BlobStore(settings.blob_dir), dest, needed, report)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # it was empty: leave no half backup behind
        raise
    summary = Summary(backend, blobs=len(copied), bytes=nbytes, missing=sorted(needed - set(copied)), note=note)
    db_file = SQLITE_FILE if backend == "sqlite" else PG_FILE
    manifest = Manifest(backend=backend, database=db_file, schema_revision=revision,
                        created_at=datetime.now(UTC).isoformat(timespec="seconds"), version=__version__,
                        info={"tool": note, "blobs": len(copied), "missing_blobs": summary.missing})
    manifest.add(dest, db_file)
    for digest, size in copied.items():
        manifest.files[f"{BLOBS}/{digest[:2]}/{digest[2:4]}/{digest}"] = {"sha256": digest, "size": size}
    manifest.write(dest)
    return summary


# ---- restore ------------------------------------------------------------------------------------


def _target_empty(settings: Settings, backend: str, engine: Engine) -> bool:
    store = BlobStore(settings.blob_dir)
    no_blobs = next(iter(store.digests()), None) is None
    if backend == "sqlite":
        return no_blobs and sqlite.is_empty(sqlite.database_path(settings.db_url))
    return no_blobs and postgres.is_empty(engine)


def _blob_names(manifest: Manifest) -> list[str]:
    """The manifest's blob files, each checked to be blobs/ab/cd/<its sha256>."""
    names = sorted(rel for rel in manifest.files if rel != manifest.database)
    for rel in names:
        digest = rel.rsplit("/", 1)[-1]
        if rel != f"{BLOBS}/{digest[:2]}/{digest[2:4]}/{digest}" or not _HEX64.match(digest) \
                or manifest.files[rel].get("sha256") != digest:
            raise BackupError(f"unexpected file in the backup: {rel}")
    return names


def _restore_blobs(src: Path, names: list[str], manifest: Manifest, store: BlobStore, report: Report
                   ) -> tuple[int, int]:
    report("blobs", 0, len(names))
    restored = 0
    for i, rel in enumerate(names, 1):
        digest = rel.rsplit("/", 1)[-1]
        target = store.path(digest)
        if not (target.is_file() and sha256_file(target) == digest):
            tmp = target.with_name(f".{digest}.restoring")
            if copy_hashed(src / rel, tmp) != digest:
                tmp.unlink()
                raise BackupError(f"{rel} changed while it was being restored")
            os.replace(tmp, target)
        restored += 1
        report("blobs", i, len(names))
    leftover = sum(1 for d in store.digests() if f"{BLOBS}/{d[:2]}/{d[2:4]}/{d}" not in manifest.files)
    return restored, leftover


def restore_backup(settings: Settings, src: Path, force: bool = False, report: Report = _quiet) -> Summary:
    """Rebuild the data folder (and, on PostgreSQL, the database) of `settings` from the backup in `src`.
    Stop the service first. Refuses a backup that does not match its manifest, a backup of the other
    backend, and a target that holds data unless `force`."""
    src = Path(src)
    manifest = Manifest.read(src)
    total = sum(int(e.get("size", 0)) for e in manifest.files.values())
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report("verify", done, total)

    verify(src, manifest, advance)
    names = _blob_names(manifest)
    url = settings.db_url
    backend = _backend(url)
    if manifest.backend != backend:
        raise BackupError(f"this is a backup of a {manifest.backend} database; the target is {backend}")
    engine = create_engine(url)
    try:
        if not _target_empty(settings, backend, engine) and not force:
            raise BackupError("the target already holds data (database or blobs): pass --force to replace it")
        report("database", 0, None)
        if backend == "sqlite":
            sqlite.restore(src / manifest.database, sqlite.database_path(url))
            note = "SQLite file"
        else:
            note = postgres.restore(engine, url, src / manifest.database, wipe=not postgres.is_empty(engine))
        report("database", 1, 1)
    finally:
        engine.dispose()
    restored, leftover = _restore_blobs(src, names, manifest, BlobStore(settings.blob_dir), report)
    return Summary(backend, blobs=restored, bytes=total, leftover=leftover, note=note)
