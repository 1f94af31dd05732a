"""Hash chains of audit records.

Each record stores the hash of its predecessor and a hash over its own fields, so editing a row breaks
its own hash and deleting one breaks the link of the next. `chain_heads` keeps the newest seq and hash
per chain, which catches a deleted tail, and is the row appenders lock so two writers never fork a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from entrepot.core.types import Principal
from entrepot.db.tables import ArchiveRecord, AuditRecord, ChainedRecord, ChainHead

GENESIS = "0" * 64
MAIN_CHAIN = "main"
ARCHIVE_PREFIX = "conversation:"


def record_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hashed_fields(rec: ChainedRecord) -> dict[str, Any]:
    return {
        "chain": rec.chain,
        "seq": rec.seq,
        "at": rec.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": rec.actor_id,
        "actor_name": rec.actor_name,
        "action": rec.action,
        "target_type": rec.target_type,
        "target_id": rec.target_id,
        "ip": rec.ip,
        "details": rec.details or {},
        "prev_hash": rec.prev_hash,
    }


def _lock_head(session: Session, chain: str) -> ChainHead:
    """The chain's head row, locked. Created first if missing, without racing another creator."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(ChainHead).values(chain=chain, seq=0, hash=GENESIS).on_conflict_do_nothing())
    # FOR UPDATE on PostgreSQL; SQLite write transactions already hold the database lock (BEGIN IMMEDIATE).
    return session.execute(
        select(ChainHead).where(ChainHead.chain == chain).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def append(
    session: Session,
    action: str,
    *,
    actor: Principal | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    chain: str = MAIN_CHAIN,
    model: type[ChainedRecord] = AuditRecord,
) -> ChainedRecord:
    """Add a record to `chain` inside the caller's transaction, so it commits or rolls back with the change."""
    head = _lock_head(session, chain)
    rec = model(
        chain=chain,
        seq=head.seq + 1,
        at=datetime.now(UTC),
        actor_id=actor.user_id if actor else None,
        actor_name=actor.username if actor else None,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=ip,
        details=details or {},
        prev_hash=head.hash,
    )
    rec.hash = record_hash(_hashed_fields(rec))
    session.add(rec)
    head.seq, head.hash = rec.seq, rec.hash
    session.flush()
    return rec


@dataclass(frozen=True)
class ChainReport:
    chain: str
    checked: int
    ok: bool
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None


def model_for(chain: str) -> type[ChainedRecord]:
    return ArchiveRecord if chain.startswith(ARCHIVE_PREFIX) else AuditRecord


def verify_chain(session: Session, chain: str = MAIN_CHAIN) -> ChainReport:
    """Walk one chain in order and report the first record that does not fit."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    model = model_for(chain)
    rows: Iterable[ChainedRecord] = session.execute(
        select(model).where(model.chain == chain).order_by(model.seq).execution_options(yield_per=2000)
    ).scalars()
    for rec in rows:
        problem = None
        if rec.seq != expected_seq:
            problem = f"record {expected_seq} is missing"
        elif rec.prev_hash != expected_prev:
            problem = "link to the previous record is broken"
        elif record_hash(_hashed_fields(rec)) != rec.hash:
            problem = "record content does not match its hash"
        if problem:
            return ChainReport(chain, checked, False, rec.seq, rec.id, problem)
        expected_prev, expected_seq, checked = rec.hash, rec.seq + 1, checked + 1
    head = session.get(ChainHead, chain)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        return ChainReport(chain, checked, False, expected_seq, None, "records after the last one were removed")
    return ChainReport(chain, checked, True)


def verify_all(session: Session) -> list[ChainReport]:
    """The audit trail and every conversation's archive chain."""
    chains = set(session.execute(select(ChainHead.chain)).scalars())
    chains |= set(session.execute(select(AuditRecord.chain).distinct()).scalars())
    chains |= set(session.execute(select(ArchiveRecord.chain).distinct()).scalars())
    return [verify_chain(session, c) for c in sorted(chains)]
