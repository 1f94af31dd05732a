"""`entrepot blobs gc`: orphan blobs (no table names them) older than the grace period go, and only with
--delete; everything a document, page, message or archive record names stays, and so does a recent file
whose row may still be on its way."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import JSON, String, delete, select, text

from entrepot import audit
from entrepot.blobs import BlobStore
from entrepot.blobs.gc import find_orphans
from entrepot.blobs.references import ATTACHMENT_COLUMNS, DIGEST_COLUMNS, referenced
from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db import Base, Database
from entrepot.db.messaging import Message
from tests.conftest import Users, csrf_of
from tests.library.conftest import Library
from tests.parsers import _parser_samples as samples

DAY = 24 * 3600

#: String(64) and JSON columns that never name a blob. A new such column must be put either here or in
#: entrepot.blobs.references, or the orphan cleanup could delete what it names.
NOT_BLOBS = {
    "archive_records": {"chain", "actor_name", "action", "target_id", "ip", "prev_hash", "hash"},
    "audit_records": {"chain", "actor_name", "action", "target_id", "ip", "prev_hash", "hash",
                      "details"},  # "sha256" in a document's audit details is history, not a holding
    "chain_heads": {"chain", "hash", "base_hash"},
    "jobs": {"kind", "payload"},
    "login_attempts": {"username", "ip"},
    "users": {"username", "totp_secret", "feed_token_hash"},
    "api_tokens": {"token_hash"},
    "documents": {"languages", "suggestions"},
    "export_jobs": {"sha256"},  # the digest of an export ZIP in the exports folder, not a blob
    "lexicon_rules": {"key"},
    "recovery_codes": {"code_hash"},
    "saved_searches": {"filters"},
    # Event payloads copy messages for replay; the file is served through the message, not the event.
    "user_events": {"payload"},
    "web_sessions": {"id", "csrf_token", "ip"},
    "document_tags": {"tag"},
    "flags": {"span", "context", "details"},  # context copies bodies of earlier messages, no files
    "messages": {"client_id", "quote"},
}


def _aged(path: Path, seconds: float = 2 * DAY) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _gc(settings: Settings, *args: str) -> Result:
    env = {"ENTREPOT_DATABASE_URL": settings.database_url} if settings.database_url else {}
    return CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "blobs", "gc", *args], env=env)


@pytest.fixture
def held(app: Any, db: Database, settings: Settings, users: Users, enterprises: dict[str, int]) -> dict[str, Any]:
    """A processed PDF (original, page previews, thumbnails) and a picture sent in a conversation."""
    lib = Library(app, db, settings.model_copy(update={"reference_dir": None}), users)
    lib.upload("specs.pdf", samples.make_text_pdf(["Copper cathodes, grade A", "Packing list"]))
    lib.process()
    alice = lib.client("alice", Role.TRADER)
    lib.client("bob", Role.TRADER)
    with db.read() as s:
        bob = s.execute(text("SELECT id FROM users WHERE username = 'bob'")).scalar_one()
    conv = alice.post("/api/v1/conversations", json={"user_ids": [bob]}, headers={"x-csrf-token": csrf_of(alice)})
    sent = alice.post(f"/api/v1/conversations/{conv.json()['id']}/attachments", files={"file": ("lot.png", _png())},
                      data={"client_id": "pic-1"}, headers={"x-csrf-token": csrf_of(alice)})
    assert sent.status_code == 201, sent.text
    return {"attachment": sent.json()["attachment"], "message_id": sent.json()["id"]}


def test_every_digest_column_is_known() -> None:
    """Each String(64) or JSON column either names blobs (listed in entrepot.blobs.references) or not."""
    naming = {(c.class_.__table__.name, c.key) for c in DIGEST_COLUMNS}
    naming |= {(c.class_.__table__.name, c.key) for c, _path in ATTACHMENT_COLUMNS}
    unknown = []
    for table in Base.metadata.sorted_tables:
        for col in table.columns:
            if not (isinstance(col.type, JSON) or (isinstance(col.type, String) and col.type.length == 64)):
                continue
            if (table.name, col.name) not in naming and col.name not in NOT_BLOBS.get(table.name, set()):
                unknown.append(f"{table.name}.{col.name}")
    assert not unknown, f"say whether these name blobs (entrepot.blobs.references) or not (NOT_BLOBS): {unknown}"
    assert {("document_versions", "blob"), ("document_versions", "searchable_pdf"), ("pages", "image"),
            ("pages", "thumb"), ("messages", "attachment"), ("archive_records", "details")} <= naming


def test_gc_lists_then_removes_only_old_orphans(held: dict[str, Any], db: Database, settings: Settings) -> None:
    store = BlobStore(settings.blob_dir)
    with db.read() as s:
        named = referenced(s)
    assert {held["attachment"]["blob"], held["attachment"]["thumb"]} <= named and len(named) >= 5
    for p in settings.blob_dir.glob("??/??/*"):
        _aged(p)  # everything is old: only the references protect the held files
    old_orphan = store.put_bytes(b"stored, then the upload's transaction failed")
    _aged(store.path(old_orphan))
    fresh_orphan = store.put_bytes(b"an upload whose row is still being written")
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    stale_tmp = store.tmp_dir / "upload-crashed"
    stale_tmp.write_bytes(b"half a file")
    _aged(stale_tmp)

    dry = _gc(settings)
    assert dry.exit_code == 0, dry.output
    assert f"orphan {old_orphan}" in dry.output and "upload-crashed" in dry.output
    assert fresh_orphan not in dry.output and "2 orphan file(s)" in dry.output and "dry run" in dry.output
    assert store.exists(old_orphan) and stale_tmp.exists()

    done = _gc(settings, "--delete")
    assert done.exit_code == 0 and "removed 2 file(s)" in done.output, done.output
    assert not store.exists(old_orphan) and not stale_tmp.exists()
    assert store.exists(fresh_orphan)
    assert all(store.exists(d) for d in named)
    shorter = _gc(settings, "--delete", "--grace-hours", "0")
    assert "removed 1 file(s)" in shorter.output and not store.exists(fresh_orphan)
    assert all(store.exists(d) for d in named)
    with db.read() as s:
        assert all(r.ok for r in audit.verify_all(s))


def test_storing_an_old_orphan_again_makes_it_fresh(db: Database, settings: Settings) -> None:
    """An upload of content already held (as an orphan) touches the file, so the cleanup spares it while
    the row that will name it is being written."""
    store = BlobStore(settings.blob_dir)
    digest = store.put_bytes(b"same bytes twice")
    _aged(store.path(digest))
    with db.read() as s:
        assert find_orphans(store, s, DAY).digests == [digest]
    assert store.put_bytes(b"same bytes twice") == digest
    with db.read() as s:
        assert find_orphans(store, s, DAY).digests == []


def test_archive_keeps_attachments_of_removed_messages(held: dict[str, Any], db: Database,
                                                       settings: Settings) -> None:
    """Once the message row is gone, the compliance archive still names the file: it stays."""
    with db.write() as s:
        s.execute(delete(Message).where(Message.id == held["message_id"]))
        assert s.execute(select(Message.id).where(Message.id == held["message_id"])).first() is None
    for p in settings.blob_dir.glob("??/??/*"):
        _aged(p)
    with db.read() as s:
        orphans = find_orphans(BlobStore(settings.blob_dir), s, DAY)
    assert held["attachment"]["blob"] not in orphans.digests and held["attachment"]["thumb"] not in orphans.digests
    assert orphans.digests == [] and orphans.missing == []


def test_gc_rejects_a_negative_grace_period(settings: Settings, db: Database) -> None:
    bad = _gc(settings, "--grace-hours", "-1")
    assert bad.exit_code == 2 and "--grace-hours" in bad.output
