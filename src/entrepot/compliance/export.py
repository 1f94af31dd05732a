"""Exports for reviewers: archive records as JSON Lines and as EML (one RFC 5322 message per chat
message, attachments attached), with a manifest of SHA-256 hashes, in a ZIP written to a file record
by record (streamed from the database in batches), so huge ranges never sit in memory. The worker
runs it (`workers.exports`) and reports progress through the callback."""

from __future__ import annotations

import hashlib
import itertools
import json
import quopri
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import encoders
from email.charset import QP, Charset
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.orm import Session

from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.blobs import BlobStore
from entrepot.compliance.zipstream import ZipWriter
from entrepot.db.messaging import Conversation
from entrepot.db.tables import ArchiveRecord, User

BATCH = 1000


@dataclass(frozen=True)
class Scope:
    kind: str  # conversation | user | enterprise
    id: int
    since: datetime | None = None
    until: datetime | None = None


def _where(scope: Scope) -> list[ColumnElement[bool]]:
    """The scope as SQL: a conversation's chain, every record a user made, or every chain of an
    enterprise's conversations (a subquery, however many there are)."""
    if scope.kind == "conversation":
        clauses = [ArchiveRecord.chain == f"{ARCHIVE_PREFIX}{scope.id}"]
    elif scope.kind == "user":
        clauses = [ArchiveRecord.actor_id == scope.id, ArchiveRecord.chain.startswith(ARCHIVE_PREFIX)]
    else:
        chains = select(literal(ARCHIVE_PREFIX) + cast(Conversation.id, String)).where(
            Conversation.enterprise_id == scope.id)
        clauses = [ArchiveRecord.chain.in_(chains)]
    if scope.since:
        clauses.append(ArchiveRecord.at >= scope.since)
    if scope.until:
        clauses.append(ArchiveRecord.at < scope.until)
    return clauses


def count(session: Session, scope: Scope) -> int:
    return int(session.execute(select(func.count()).select_from(ArchiveRecord).where(*_where(scope))).scalar_one())


def records(session: Session, scope: Scope) -> Iterator[ArchiveRecord]:
    query = select(ArchiveRecord).where(*_where(scope)).order_by(ArchiveRecord.chain, ArchiveRecord.seq)
    for rec in session.execute(query.execution_options(yield_per=BATCH)).scalars():
        yield rec
        session.expunge(rec)  # keep the identity map from growing with the export


#: Quoted-printable keeps mostly-Latin text readable in the raw file; any script survives it.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
#: One header per line (RFC 5322 allows 998 characters), so the record hash is never folded.
_POLICY = compat32.clone(max_line_length=998)


def _attachment_part(data: bytes, media_type: str, name: str) -> MIMEBase:
    maintype, _, subtype = media_type.partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment",
                    filename=name if name.isascii() else ("utf-8", "", name))  # RFC 2231 for other scripts
    return part


def _headers(rec: ArchiveRecord, sender: str, domain: str) -> list[tuple[str, str]]:
    mid = (rec.details or {}).get("message_id", rec.seq)
    return [("From", f"{sender} <{sender}@{domain}>"), ("To", f"{rec.chain.replace(':', '-')}@{domain}"),
            ("Date", format_datetime(rec.at)), ("Subject", f"[{rec.chain}] {rec.action} #{mid}"),
            ("Message-ID", f"<{rec.chain.replace(':', '-')}.{rec.seq}.{rec.hash[:16]}@{domain}>"),
            ("X-Entrepot-Record-Hash", rec.hash)]


def _text(rec: ArchiveRecord) -> str:
    d: dict[str, Any] = rec.details or {}
    if rec.action == "message.edit":
        return f"Edited.\nBefore: {d.get('before')}\nAfter: {d.get('after')}"
    if rec.action == "message.quote" and d.get("quote"):
        return json.dumps(d["quote"], ensure_ascii=False, indent=1)
    return str(d.get("body") or d.get("after") or "") or "(no text)"


def _eml(rec: ArchiveRecord, sender: str, domain: str, blobs: BlobStore) -> bytes:
    """One RFC 5322 message. A text message (most records) is written directly: its headers are
    ASCII we make ourselves (usernames, chain names, hashes), so no folding or encoding is needed,
    and that is some twenty times faster than the email package's generator over millions of records.
    Attachments go through the MIME classes."""
    headers = [(k, v.replace("\r", " ").replace("\n", " ")) for k, v in _headers(rec, sender, domain)]
    attachment = (rec.details or {}).get("attachment") or {}
    blob = attachment.get("blob")
    if not (blob and blobs.exists(blob)):
        head = "".join(f"{k}: {v}\n" for k, v in headers)
        return (head + 'MIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\n'
                "Content-Transfer-Encoding: quoted-printable\n\n").encode() + \
            quopri.encodestring(_text(rec).encode()) + b"\n"
    msg = MIMEMultipart()
    for k, v in headers:
        msg[k] = v
    msg.attach(MIMEText(_text(rec), "plain", _UTF8))  # type: ignore[arg-type]  # the email package takes a Charset
    msg.attach(_attachment_part(blobs.read_bytes(blob), str(attachment.get("type") or "application/octet-stream"),
                                str(attachment.get("name") or "attachment")))
    return msg.as_bytes(policy=_POLICY)


def write_export(session: Session, scope: Scope, blobs: BlobStore, dest: Path,
                 progress: Callable[[int], None] | None = None, domain: str = "archive.entrepot") -> int:
    """Write the ZIP to `dest`; returns the number of records in it. `progress(n)` is called as
    records are written. Memory stays flat however many records: records and manifest lines are
    spooled to files, and the ZIP's own directory too (`ZipWriter`)."""
    names: dict[int, str] = {uid: name for uid, name in session.execute(select(User.id, User.username))}
    n = 0
    digest = hashlib.sha256()
    with ZipWriter(dest, dest.parent) as z, \
            tempfile.TemporaryFile(prefix="entrepot-records-", dir=dest.parent) as jsonl, \
            tempfile.TemporaryFile(prefix="entrepot-manifest-", dir=dest.parent) as sums:
        # Records go to a spool file, EMLs straight into the ZIP: a ZIP takes one member at a time.
        for rec in records(session, scope):
            line = json.dumps({"chain": rec.chain, "seq": rec.seq, "at": rec.at.isoformat(), "actor": rec.actor_name,
                               "action": rec.action, "details": rec.details, "prev_hash": rec.prev_hash,
                               "hash": rec.hash}, ensure_ascii=False).encode() + b"\n"
            jsonl.write(line)
            digest.update(line)
            n += 1
            if rec.action.startswith("message.") and rec.action != "message.delete":
                name = f"eml/{rec.chain.replace(':', '-')}-{rec.seq:08d}.eml"
                data = _eml(rec, names.get(rec.actor_id or 0, "unknown"), domain, blobs)
                z.write(name, data)
                sums.write(f",\n  {json.dumps(name)}: {json.dumps(hashlib.sha256(data).hexdigest())}".encode())
            if progress is not None:
                progress(n)
        z.write_stream("records.jsonl", _chunks(jsonl))
        sums.write(f",\n  \"records.jsonl\": {json.dumps(digest.hexdigest())}".encode())
        head = {"scope": scope.kind, "id": scope.id, "since": scope.since.isoformat() if scope.since else None,
                "until": scope.until.isoformat() if scope.until else None, "records": n}
        sums.seek(0)
        sums.read(1)  # the leading comma
        z.write_stream("manifest.json", itertools.chain(
            [json.dumps(head, indent=1)[:-2].encode() + b',\n "sha256": {'], _chunks(sums, rewind=False),
            [b"\n }\n}\n"]))
    return n


def _chunks(spool: IO[bytes], rewind: bool = True) -> Iterator[bytes]:
    if rewind:
        spool.seek(0)
    while chunk := spool.read(1 << 20):
        yield chunk
