"""The audit chain detects an edited, a deleted and a truncated record; `entrepot audit verify` says so."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from entrepot import audit
from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import AuditRecord


def _fill(db: Database, n: int = 5) -> None:
    with db.write() as s:
        for i in range(n):
            audit.append(s, "test.event", target_type="thing", target_id=i, details={"i": i, "name": "수출 报价"})


def _verify(settings: Settings) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "audit", "verify"],
                                env={"ENTREPOT_DATABASE_URL": settings.db_url})
    return result.exit_code, result.output


def test_intact_chain_verifies(db: Database, settings: Settings) -> None:
    _fill(db)
    with db.read() as s:
        report = audit.verify_chain(s)
        records = s.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert report.ok and report.checked == 5
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:], strict=False))
    code, out = _verify(settings)
    assert code == 0 and "intact (5 records)" in out


def test_edited_row_is_found(db: Database, settings: Settings) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(details={"i": 99}))
    with db.read() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 3 and report.checked == 2
    code, out = _verify(settings)
    assert code == 1 and "BROKEN at record 3" in out


def test_edited_row_with_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        rec = s.execute(select(AuditRecord).where(AuditRecord.seq == 2)).scalar_one()
        rec.actor_name = "mallory"
        rec.hash = audit.record_hash(audit.chain._hashed_fields(rec))
    with db.read() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 3


def test_deleted_row_is_found(db: Database) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    with db.read() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 3 and "missing" in (report.reason or "")


def test_deleted_tail_is_found(db: Database, settings: Settings) -> None:
    _fill(db)
    with db.write() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
    with db.read() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.broken_seq == 5
    assert _verify(settings)[0] == 1


def test_appends_from_many_transactions_keep_one_chain(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> None:
        with db.write() as s:
            audit.append(s, "test.concurrent", details={"i": i})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(40)))
    with db.read() as s:
        report = audit.verify_chain(s)
        count = s.execute(text("SELECT count(*) FROM audit_records")).scalar_one()
    assert report.ok and report.checked == count == 40


def test_rolled_back_transaction_leaves_no_record(db: Database) -> None:
    try:
        with db.write() as s:
            audit.append(s, "test.rollback")
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    _fill(db, 1)
    with db.read() as s:
        assert audit.verify_chain(s).ok
        assert [r.action for r in s.execute(select(AuditRecord)).scalars()] == ["test.event"]


def test_records_on_interleaved_chains_link_as_if_appended_one_by_one(db: Database) -> None:
    """One call for records of several chains (a batch of sends to many conversations): each chain
    numbers and links its own records, in the order given, after what it already held."""
    with db.write() as s:
        audit.append(s, "test.first", chain="side")
    order = ["side", "main", "side", "other", "main", "side"]
    with db.write() as s:
        ids = audit.append_chained(s, [(chain, audit.Entry("test.mixed", details={"n": n})) for n, chain in enumerate(order)])
    with db.read() as s:
        by_id = {r.id: r for r in s.execute(select(AuditRecord)).scalars()}
        reports = {chain: audit.verify_chain(s, chain) for chain in ("main", "side", "other")}
    assert [by_id[i].details["n"] for i in ids] == list(range(6))  # ids come back in the order given
    assert [(by_id[i].chain, by_id[i].seq) for i in ids] == [("side", 2), ("main", 1), ("side", 3), ("other", 1),
                                                              ("main", 2), ("side", 4)]
    assert {c: (r.ok, r.checked) for c, r in reports.items()} == {"main": (True, 2), "side": (True, 4),
                                                                  "other": (True, 1)}
