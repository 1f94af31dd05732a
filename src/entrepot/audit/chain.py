"""Hash chains of audit records.

Each record stores the hash of its predecessor and a hash over its own fields, so editing a row breaks
its own hash and deleting one breaks the link of the next. `chain_heads` keeps the newest seq and hash
per chain, which catches a deleted tail, and is the row appenders lock so two writers never fork a chain.

Only the retention job removes records, and only a chain's oldest ones (`cut_prefix`): the chain head
keeps the seq and hash of the last record removed, verification starts from that checkpoint, and the
audit trail gets a record naming the removed seq range and hashes. A checkpoint that does not match the
audit trail's newest record for its chain is reported like any other break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from entrepot.core.types import Principal
from entrepot.db.bulk import insert_ids
from entrepot.db.claims import claim_rows
from entrepot.db.tables import ArchiveRecord, AuditRecord, ChainedRecord, ChainHead

GENESIS = "0" * 64
MAIN_CHAIN = "main"
ARCHIVE_PREFIX = "conversation:"
#: The audit trail's record of a cut: details name the chain's removed seq range and hashes.
PRUNE_ACTION = "archive.prune"


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


def _claim_heads(session: Session, chains: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Each chain's newest (seq, hash), held until commit (a chain's first record makes its head)."""
    heads = cast(Table, ChainHead.__table__)
    found = claim_rows(session, heads, heads.c.chain, [heads.c.seq, heads.c.hash], chains,
                       lambda chain: {"chain": chain, "seq": 0, "hash": GENESIS})
    return {str(chain): (int(seq), str(hash_)) for chain, (seq, hash_) in found.items()}


def _lock_head(session: Session, chain: str) -> ChainHead:
    """The chain's head row as an object (retention moves its checkpoint), claimed as appends claim
    it: created if missing and held until commit."""
    _claim_heads(session, [chain])
    head = session.get(ChainHead, chain, populate_existing=True)
    assert head is not None  # just claimed
    return head


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
) -> int:
    """Add a record to `chain` inside the caller's transaction, so it commits or rolls back with the
    change. Returns the record's id."""
    entry = Entry(action, target_type, target_id, details, actor, ip)
    return append_chained(session, [(chain, entry)], model=model)[0]


@dataclass(frozen=True)
class Entry:
    """One record for `append_many` and `append_chained` (the same fields `append` takes)."""

    action: str
    target_type: str | None = None
    target_id: str | int | None = None
    details: dict[str, Any] | None = None
    actor: Principal | None = None
    ip: str | None = None


def append_many(session: Session, entries: list[Entry], *, chain: str = MAIN_CHAIN,
                model: type[ChainedRecord] = AuditRecord) -> None:
    """Records in order on one chain: what a worker writes for a batch of results."""
    append_chained(session, [(chain, e) for e in entries], model=model)


def append_chained(session: Session, entries: list[tuple[str, Entry]], *,
                   model: type[ChainedRecord] = AuditRecord) -> list[int]:
    """Records in order, each on its chain, in three statements whatever their number: the heads of
    all their chains claimed at once, the records inserted at once, the heads moved at once (a batch
    of messenger sends appends to as many conversations' chains). The same records, hashes and links
    as one by one. Returns the records' ids in order."""
    if not entries:
        return []
    session.flush()  # the caller's pending rows first, as an ORM statement here would have done
    heads = _claim_heads(session, (chain for chain, _e in entries))
    rows = []
    for chain, e in entries:
        seq, prev = heads[chain]
        row = _row(chain, seq + 1, prev, e)
        heads[chain] = (row["seq"], row["hash"])
        rows.append(row)
    records = cast(Table, model.__table__)  # type: ignore[attr-defined]  # a mapped subclass
    record_ids = insert_ids(session, records, rows, key=("chain", "seq"))
    table = cast(Table, ChainHead.__table__)
    moved = {chain: heads[chain] for chain, _e in entries}
    move = update(table).where(table.c.chain == bindparam("c")).values(seq=bindparam("s"), hash=bindparam("h"))
    session.execute(move, [{"c": chain, "s": seq, "h": hash_} for chain, (seq, hash_) in moved.items()])
    return record_ids


def _row(chain: str, seq: int, prev_hash: str, e: Entry) -> dict[str, Any]:
    """The columns of the record after `prev_hash`, its own hash included."""
    at = datetime.now(UTC)
    row = {"chain": chain, "seq": seq, "at": at, "actor_id": e.actor.user_id if e.actor else None,
           "actor_name": e.actor.username if e.actor else None, "action": e.action,
           "target_type": e.target_type, "target_id": None if e.target_id is None else str(e.target_id),
           "ip": e.ip, "details": e.details or {}, "prev_hash": prev_hash}
    row["hash"] = record_hash({**row, "at": at.isoformat(timespec="microseconds")})
    return row


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


def _problem(rec: ChainedRecord, expected_seq: int, expected_prev: str) -> str | None:
    if rec.seq != expected_seq:
        return f"record {expected_seq} is missing"
    if rec.prev_hash != expected_prev:
        return "link to the previous record is broken"
    if record_hash(_hashed_fields(rec)) != rec.hash:
        return "record content does not match its hash"
    return None


Checkpoint = tuple[int, str]  # (seq, hash) of the last record removed from a chain
_NO_CUT: Checkpoint = (0, GENESIS)


def _trail_checkpoints(session: Session, chain: str | None = None) -> dict[str, Checkpoint]:
    """The newest cut of each chain (or of one) as the audit trail records it."""
    query = (select(AuditRecord.target_id, AuditRecord.details["to_seq"].as_integer(),
                    AuditRecord.details["last_hash"].as_string())
             .where(AuditRecord.chain == MAIN_CHAIN, AuditRecord.action == PRUNE_ACTION).order_by(AuditRecord.seq))
    if chain is not None:
        query = query.where(AuditRecord.target_id == chain)
    return {str(c): (int(seq), str(h)) for c, seq, h in session.execute(query.execution_options(yield_per=2000))}


def verify_chain(session: Session, chain: str = MAIN_CHAIN, checkpoint: Checkpoint | None = None) -> ChainReport:
    """Walk one chain in order from its checkpoint and report the first record that does not fit.
    `checkpoint` is the audit trail's newest cut of this chain; looked up when not given."""
    head = session.get(ChainHead, chain)
    base: Checkpoint = (head.base_seq, head.base_hash) if head is not None else _NO_CUT
    trail = checkpoint if checkpoint is not None else _trail_checkpoints(session, chain).get(chain, _NO_CUT)
    if base != trail:
        return ChainReport(chain, 0, False, base[0] + 1, None,
                           "the retention checkpoint does not match the audit trail")
    expected_seq, expected_prev, checked = base[0] + 1, base[1], 0
    model = model_for(chain)
    rows: Iterable[ChainedRecord] = session.execute(
        select(model).where(model.chain == chain).order_by(model.seq).execution_options(yield_per=2000)
    ).scalars()
    for rec in rows:
        problem = _problem(rec, expected_seq, expected_prev)
        if problem:
            return ChainReport(chain, checked, False, rec.seq, rec.id, problem)
        expected_prev, expected_seq, checked = rec.hash, rec.seq + 1, checked + 1
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        return ChainReport(chain, checked, False, expected_seq, None, "records after the last one were removed")
    return ChainReport(chain, checked, True)


def verify_all(session: Session) -> list[ChainReport]:
    """The audit trail and every conversation's archive chain, including chains cut to nothing."""
    trail = _trail_checkpoints(session)
    chains = set(session.execute(select(ChainHead.chain)).scalars()) | set(trail)
    chains |= set(session.execute(select(AuditRecord.chain).distinct()).scalars())
    chains |= set(session.execute(select(ArchiveRecord.chain).distinct()).scalars())
    return [verify_chain(session, c, trail.get(c, _NO_CUT)) for c in sorted(chains)]


class BrokenChain(Exception):
    """Records about to be cut do not verify: cutting them would destroy the evidence."""


@dataclass(frozen=True)
class Cut:
    chain: str
    from_seq: int
    to_seq: int
    last_hash: str
    hashes: list[str]
    #: The removed records' details, for the caller to release what they referenced.
    details: list[dict[str, Any]]


def cut_prefix(session: Session, chain: str, before: datetime, limit: int) -> Cut | None:
    """Remove up to `limit` of the chain's oldest records made before `before`, in the caller's
    transaction, and move the chain's checkpoint past them. Records are checked before they go, so a
    tampered record is never cut away; the caller writes the audit record (`PRUNE_ACTION`)."""
    head = _lock_head(session, chain)
    if (head.base_seq, head.base_hash) != _trail_checkpoints(session, chain).get(chain, _NO_CUT):
        # A moved checkpoint hides removed records: cutting on from it would make it agree again.
        raise BrokenChain(f"{chain}: the retention checkpoint does not match the audit trail")
    model = model_for(chain)
    rows = session.execute(select(model).where(model.chain == chain, model.seq > head.base_seq)
                           .order_by(model.seq).limit(limit)).scalars().all()
    expected_seq, expected_prev = head.base_seq + 1, head.base_hash
    cut: list[ChainedRecord] = []
    for rec in rows:
        if rec.at >= before:
            break  # a prefix only: a record still kept stops the cut
        problem = _problem(rec, expected_seq, expected_prev)
        if problem:
            raise BrokenChain(f"{chain}: {problem} at record {rec.seq}")
        cut.append(rec)
        expected_seq, expected_prev = rec.seq + 1, rec.hash
    if not cut:
        return None
    result = Cut(chain, cut[0].seq, cut[-1].seq, cut[-1].hash, [r.hash for r in cut], [r.details for r in cut])
    session.execute(delete(model).where(model.id.in_([r.id for r in cut])))
    head.base_seq, head.base_hash = result.to_seq, result.last_hash
    session.flush()
    return result
