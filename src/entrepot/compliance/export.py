"""Exports for reviewers: archive records as JSON Lines and as EML (one RFC 5322 message per chat
message, attachments attached), with a manifest of SHA-256 hashes, in a ZIP written to a temporary
file so huge ranges never sit in memory."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.blobs import BlobStore
from entrepot.db.messaging import Conversation, Member
from entrepot.db.tables import ArchiveRecord, User

BATCH = 1000


@dataclass(frozen=True)
class Scope:
    kind: str  # conversation | user | enterprise
    id: int
    since: datetime | None = None
    until: datetime | None = None


def _chains(session: Session, scope: Scope) -> list[str]:
    if scope.kind == "conversation":
        ids = [scope.id]
    elif scope.kind == "user":
        ids = list(session.execute(select(Member.conversation_id).where(Member.user_id == scope.id)).scalars())
    else:
        ids = list(session.execute(select(Conversation.id).where(Conversation.enterprise_id == scope.id)).scalars())
    return [f"{ARCHIVE_PREFIX}{i}" for i in sorted(ids)]


def records(session: Session, scope: Scope) -> Iterator[ArchiveRecord]:
    query = select(ArchiveRecord).where(ArchiveRecord.chain.in_(_chains(session, scope)))
    if scope.kind == "user":
        query = query.where(ArchiveRecord.actor_id == scope.id)
    if scope.since:
        query = query.where(ArchiveRecord.at >= scope.since)
    if scope.until:
        query = query.where(ArchiveRecord.at < scope.until)
    yield from session.execute(query.order_by(ArchiveRecord.chain, ArchiveRecord.seq)
                               .execution_options(yield_per=BATCH)).scalars()


def _eml(rec: ArchiveRecord, sender: str, domain: str, blobs: BlobStore) -> bytes:
    d: dict[str, Any] = rec.details or {}
    msg = EmailMessage()
    msg["From"] = f"{sender} <{sender}@{domain}>"
    msg["To"] = f"{rec.chain.replace(':', '-')}@{domain}"
    msg["Date"] = format_datetime(rec.at)
    msg["Subject"] = f"[{rec.chain}] {rec.action} #{d.get('message_id', rec.seq)}"
    msg["Message-ID"] = make_msgid(idstring=f"{rec.chain}.{rec.seq}", domain=domain)
    msg["X-Entrepot-Record-Hash"] = rec.hash
    text = d.get("body") or d.get("after") or ""
    if rec.action == "message.edit":
        text = f"Edited.\nBefore: {d.get('before')}\nAfter: {d.get('after')}"
    elif rec.action == "message.quote" and d.get("quote"):
        text = json.dumps(d["quote"], ensure_ascii=False, indent=1)
    msg.set_content(text or "(no text)")
    attachment = d.get("attachment") or {}
    blob = attachment.get("blob")
    if blob and blobs.exists(blob):
        maintype, _, subtype = str(attachment.get("type") or "application/octet-stream").partition("/")
        msg.add_attachment(blobs.read_bytes(blob), maintype=maintype, subtype=subtype or "octet-stream",
                           filename=str(attachment.get("name") or "attachment"))
    return bytes(msg)


def write_export(session: Session, scope: Scope, blobs: BlobStore, domain: str = "archive.entrepot") -> tuple[Path, int]:
    """The ZIP (a temporary file the caller removes) and the number of records in it."""
    names = {u.id: u.username for u in session.execute(select(User)).unique().scalars()}
    tmp = tempfile.NamedTemporaryFile(prefix="entrepot-export-", suffix=".zip", delete=False)  # noqa: SIM115
    tmp.close()
    manifest: dict[str, str] = {}
    count = 0
    digest = hashlib.sha256()
    with zipfile.ZipFile(tmp.name, "w", zipfile.ZIP_DEFLATED) as z, \
            tempfile.TemporaryFile(prefix="entrepot-records-") as jsonl:
        # Records go to a spool file, EMLs straight into the ZIP: a ZIP takes one open member at a time.
        for rec in records(session, scope):
            line = json.dumps({"chain": rec.chain, "seq": rec.seq, "at": rec.at.isoformat(), "actor": rec.actor_name,
                               "action": rec.action, "details": rec.details, "prev_hash": rec.prev_hash,
                               "hash": rec.hash}, ensure_ascii=False).encode() + b"\n"
            jsonl.write(line)
            digest.update(line)
            count += 1
            if rec.action.startswith("message.") and rec.action != "message.delete":
                name = f"eml/{rec.chain.replace(':', '-')}-{rec.seq:08d}.eml"
                data = _eml(rec, names.get(rec.actor_id or 0, "unknown"), domain, blobs)
                z.writestr(name, data)
                manifest[name] = hashlib.sha256(data).hexdigest()
        jsonl.seek(0)
        with z.open("records.jsonl", "w") as member:
            while chunk := jsonl.read(1 << 20):
                member.write(chunk)
        manifest["records.jsonl"] = digest.hexdigest()
        z.writestr("manifest.json", json.dumps({"scope": scope.kind, "id": scope.id, "records": count,
                                                "sha256": manifest}, indent=1))
    return Path(tmp.name), count
