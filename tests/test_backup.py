"""`entrepot backup` and `entrepot restore` on the test's backend: a round trip that compares every table
row by row and every blob file, refusals of damaged backups and occupied targets, and a backup taken while
another thread keeps writing whose copy is still consistent."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from entrepot import audit
from entrepot.actions import library
from entrepot.backup import BackupError, Manifest, create_backup, restore_backup
from entrepot.blobs import BlobStore
from entrepot.blobs.references import referenced
from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.core.types import Level, Role
from entrepot.db import Database
from entrepot.db.library import Document
from tests.conftest import BACKEND, PG_URL, Users, csrf_of
from tests.library.conftest import Library
from tests.parsers import _parser_samples as samples


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def filled(app: Any, db: Database, settings: Settings, users: Users, enterprises: dict[str, int]) -> Settings:
    """Documents with pages, previews and thumbnails; a conversation with a text and a picture."""
    lib = Library(app, db, settings.model_copy(update={"reference_dir": None}), users)
    lib.upload("notice.txt", "Zinc ingot price notice for March; 아연 가격 공지.".encode())
    lib.upload("specs.pdf", samples.make_text_pdf(["Specification of the copper cathodes", "Page two: packing"]),
               level="RESTRICTED")
    assert lib.process() >= 2
    alice = lib.client("alice", Role.TRADER, clearance=Level.OPEN)
    lib.client("bob", Role.TRADER)  # the counterpart must exist
    with db.read() as s:
        bob_id = s.execute(text("SELECT id FROM users WHERE username = 'bob'")).scalar_one()
    conv = alice.post("/api/v1/conversations", json={"user_ids": [bob_id], "title": None},
                      headers={"x-csrf-token": csrf_of(alice)})
    assert conv.status_code == 201, conv.text
    cid = conv.json()["id"]
    r = alice.post(f"/api/v1/conversations/{cid}/messages", json={"client_id": "m1", "body": "Zinc at 2,710?"},
                   headers={"x-csrf-token": csrf_of(alice)})
    assert r.status_code == 201, r.text
    r = alice.post(f"/api/v1/conversations/{cid}/attachments", files={"file": ("lot.png", _png())},
                   data={"client_id": "m2"}, headers={"x-csrf-token": csrf_of(alice)})
    assert r.status_code == 201, r.text
    return settings


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Settings]:
    """An empty place to restore into: a new data folder (and, on PostgreSQL, a new empty database)."""
    data = tmp_path / "restored"
    if BACKEND != "postgresql":
        yield Settings(data_dir=data)
        return
    name = f"entrepot_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield Settings(data_dir=data, database_url=url)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cli(settings: Settings, *args: str) -> Result:
    env = {"ENTREPOT_DATABASE_URL": settings.database_url} if settings.database_url else {}
    return CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), *args], env=env)


def _tables(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every table's rows (values as text, sorted): compares whole databases across copies."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            out = {}
            for name in sorted(inspect(c).get_table_names()):
                rows = c.execute(text(f'SELECT * FROM "{name}"')).all()  # noqa: S608 - names from the catalog
                out[name] = sorted(tuple(repr(v) for v in row) for row in rows)
            return out
    finally:
        engine.dispose()


def _blob_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.glob("??/??/*")}


def test_round_trip_restores_every_row_and_blob(filled: Settings, target: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    done = _cli(filled, "backup", str(dest))
    assert done.exit_code == 0, done.output
    manifest = Manifest.read(dest)
    assert manifest.backend == BACKEND and manifest.schema_revision
    assert all(len(e["sha256"]) == 64 for e in manifest.files.values())
    restored = _cli(target, "restore", str(dest))
    assert restored.exit_code == 0, restored.output

    before, after = _tables(filled.db_url), _tables(target.db_url)
    assert set(before) == set(after)
    counts = {name: len(rows) for name, rows in before.items()}
    assert counts["documents"] == 2 and counts["pages"] >= 3 and counts["messages"] == 2
    assert counts["audit_records"] > 5 and counts["archive_records"] >= 2
    for name in before:
        assert before[name] == after[name], f"table {name} differs after the round trip"

    source_blobs = _blob_files(filled.blob_dir)
    assert source_blobs and source_blobs == _blob_files(target.blob_dir)
    with Database(target.db_url).read() as s:
        named = referenced(s)
    assert len(named) >= 6 and all(BlobStore(target.blob_dir).exists(d) for d in named)  # previews, thumbs...
    verified = _cli(target, "audit", "verify")
    assert verified.exit_code == 0 and "intact" in verified.output and "BROKEN" not in verified.output


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(filled: Settings, target: Settings,
                                                                   tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    create_backup(filled, dest)
    blob = next((dest / "blobs").glob("??/??/*"))
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    refused = _cli(target, "restore", str(dest))
    assert refused.exit_code == 1 and "does not match its manifest" in refused.output
    blob.write_bytes(original)
    (dest / "blobs" / "stray.txt").write_text("not listed")
    with pytest.raises(BackupError, match="not listed"):
        restore_backup(target, dest)
    (dest / "blobs" / "stray.txt").unlink()
    db_file = dest / Manifest.read(dest).database
    db_file.write_bytes(db_file.read_bytes() + b"\0")
    with pytest.raises(BackupError, match="altered or damaged"):
        restore_backup(target, dest)
    # Nothing was written to the target by any of the refusals.
    assert not any(target.blob_dir.glob("??/??/*"))
    if BACKEND == "postgresql":
        assert _tables(target.db_url) == {}
    else:
        assert not (target.data_dir / "entrepot.db").exists()


def test_restore_refuses_a_target_with_data_unless_forced(filled: Settings, target: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    assert _cli(filled, "backup", str(dest)).exit_code == 0
    again = _cli(filled, "backup", str(dest))
    assert again.exit_code == 1 and "not empty" in again.output
    assert _cli(target, "restore", str(dest)).exit_code == 0
    refused = _cli(target, "restore", str(dest))
    assert refused.exit_code == 1 and "--force" in refused.output
    extra = BlobStore(target.blob_dir).put_bytes(b"a file the backup does not hold")
    forced = _cli(target, "restore", str(dest), "--force")
    assert forced.exit_code == 0, forced.output
    assert "1 blob(s) already here are not in the backup" in forced.output
    assert BlobStore(target.blob_dir).exists(extra)
    assert _tables(filled.db_url) == _tables(target.db_url)


def test_backup_while_another_thread_writes_is_consistent(filled: Settings, db: Database, target: Settings,
                                                          tmp_path: Path) -> None:
    store = BlobStore(filled.blob_dir)
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                data = f"concurrent document {i} {uuid.uuid4()}".encode()
                with db.write() as s:  # blob first, then the row naming it, as the product does
                    doc, _ = library.add_document(s, None, library.NewFile(store.put_bytes(data), f"c{i}.txt",
                                                                           len(data)), category="trade_news")
                    audit.append(s, "test.concurrent", target_type="document", target_id=doc.id)
                written.append(i)
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    def slow(_phase: str, _done: int, _total: int | None) -> None:
        time.sleep(0.02)  # stretch the backup so writes land in the middle of it

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3:
            time.sleep(0.01)
        at_start = len(written)
        create_backup(filled, tmp_path / "backup", slow)
        during = len(written) - at_start
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
    assert during >= 3, "the writer made no progress while the backup ran"
    restore_backup(target, tmp_path / "backup")
    with Database(target.db_url).read() as s:
        docs = s.execute(select(func.count()).select_from(Document)).scalar_one()
        reports = audit.verify_all(s)
        named = referenced(s)
    # A snapshot from some instant in the run: more than at the start, at most everything written.
    assert 2 + at_start <= docs <= 2 + len(written)
    assert reports and all(r.ok for r in reports), reports
    assert named and all(BlobStore(target.blob_dir).exists(d) for d in named)


@pytest.mark.skipif(BACKEND != "postgresql", reason="pg_dump is used on PostgreSQL only")
def test_backup_says_what_to_install_when_pg_dump_is_missing(filled: Settings, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BackupError, match="postgresql-client"):
        create_backup(filled, tmp_path / "backup")
    assert not (tmp_path / "backup").exists()  # no half backup left behind
