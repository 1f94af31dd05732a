"""Retention and legal hold: the nightly run removes exactly what is past its enterprise's period (archive
records, messages, quotes, attachment files nothing else uses), spares what a legal hold or an unfinished
review covers, is audited record by record, and leaves every chain verifiable from its checkpoint, with
tampering still found. Reviewers cannot change records, and everything is refused outside their scope."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, or_, select, update

from entrepot.actions import library
from entrepot.audit import verify_all
from entrepot.audit.chain import PRUNE_ACTION
from entrepot.blobs import BlobStore
from entrepot.cli import main
from entrepot.compliance import retention
from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db.messaging import Message, PriceQuote
from entrepot.db.retention import ExportJob, LegalHold, RetentionPolicy
from entrepot.db.tables import ArchiveRecord, AuditRecord, ChainHead, Job
from entrepot.workers import maintenance
from entrepot.workers.loop import Worker
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture

DAYS = 30
QUOTE = {"product": "Zinc ingot", "quantity": 25, "unit": "t", "price": 2710, "currency": "USD", "incoterm": "CIF",
         "place": "Nampo"}


def _send(c: TestClient, conv: int, cid: str, body: str) -> dict[str, Any]:
    r = c.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": cid, "body": body},
               headers={"x-csrf-token": csrf_of(c)})
    assert r.status_code == 201, r.text
    return r.json()


def _attach(c: TestClient, conv: int, cid: str, name: str, data: bytes) -> dict[str, Any]:
    r = c.post(f"/api/v1/conversations/{conv}/attachments", files={"file": (name, data)}, data={"client_id": cid},
               headers={"x-csrf-token": csrf_of(c)})
    assert r.status_code == 201, r.text
    return r.json()


def _chain(people: People, conv: int) -> list[ArchiveRecord]:
    with people.db.read() as s:
        return list(s.execute(select(ArchiveRecord).where(ArchiveRecord.chain == f"conversation:{conv}")
                              .order_by(ArchiveRecord.seq)).scalars())


def _verify(settings: Settings) -> Any:
    return CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "audit", "verify"],
                              env={"ENTREPOT_DATABASE_URL": settings.db_url})


def _age(blobs: BlobStore, digest: str) -> None:
    """Files are as old as the messages that brought them (the run spares recently stored files)."""
    old = time.time() - 400 * 86400
    os.utime(blobs.path(digest), (old, old))


def _split() -> datetime:
    """An instant strictly between what was sent before and what is sent after."""
    time.sleep(0.05)
    at = datetime.now(UTC)
    time.sleep(0.05)
    return at


class World:
    """Two enterprises' traders, an administrator and a reviewer of the operating centre."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.admin = people.client("root", "centre", Role.ADMIN)
        self.rev = people.client("rev", "centre", Role.REVIEWER)
        self.a, self.b = people.client("alice"), people.client("bob")
        self.c, self.d = people.client("carol", "daedong"), people.client("dave", "daedong")
        for enterprise in ("hanbit", "daedong"):
            self.set_days(enterprise, DAYS)

    def set_days(self, enterprise: str, days: int | str) -> Any:
        eid = self.people.users.enterprises[enterprise]
        return self.admin.post(f"/enterprises/{eid}/retention", data={"days": str(days), "csrf_token": csrf_of(self.admin)})

    def hold(self, kind: str, target: str, reason: str, client: TestClient | None = None) -> Any:
        c = client or self.rev
        return c.post("/review/holds", data={"kind": kind, "target": target, "reason": reason, "csrf_token": csrf_of(c)})


@pytest.fixture
def world(people: People) -> World:
    return World(people)


def test_the_run_removes_exactly_what_expired_and_spares_holds_and_reviews(world: World, settings: Settings) -> None:
    people, a = world.people, world.a
    blobs = BlobStore(settings.blob_dir)
    _rule = world.rev.post("/review/rules", data={"name": "bribe", "kind": "word", "pattern": "bribe", "severity": "high",
                                                  "action": "flag", "csrf_token": csrf_of(world.rev)})
    main_conv = _conversation(a, people.ids["bob"])
    held_conv = _conversation(a, people.ids["bob"], title="Held desk")
    flagged_conv = _conversation(a, people.ids["bob"], title="Flagged desk")
    carol_conv = _conversation(world.c, people.ids["dave"])

    old = _send(a, main_conv, "m1", "Offer 2,700 CIF Nampo")
    gone = _attach(a, main_conv, "m2", "terms.txt", b"Payment by irrevocable L/C at sight.")
    shared = _attach(a, main_conv, "m3", "catalogue.txt", b"Zinc catalogue 2026, also in the library.")
    quote = a.post(f"/api/v1/conversations/{main_conv}/quotes", json={"client_id": "m4", **QUOTE},
                   headers={"x-csrf-token": csrf_of(a)})
    assert quote.status_code == 201, quote.text
    a.patch(f"/api/v1/messages/{old['id']}", json={"body": "Offer 2,750 CIF Nampo"}, headers={"x-csrf-token": csrf_of(a)})
    _send(a, held_conv, "h1", "Kept by the hold on this conversation")
    _send(world.c, carol_conv, "c1", "Kept by the hold on Carol")
    _send(a, flagged_conv, "f1", "No bribe needed")  # an open flag keeps the conversation whole
    with people.db.write() as s:  # the library holds the same file as one attachment: it must stay
        library.add_document(s, None, library.NewFile(shared["attachment"]["blob"], "catalogue.txt", 41))
    for digest in (gone["attachment"]["blob"], shared["attachment"]["blob"]):
        _age(blobs, digest)
    split = _split()
    new = _send(a, main_conv, "m5", "Fresh offer 2,800")
    a.patch(f"/api/v1/messages/{old['id']}", json={"body": "Offer 2,760 CIF Nampo"}, headers={"x-csrf-token": csrf_of(a)})

    assert world.hold("conversation", str(held_conv), "Dispute with the buyer").status_code == 200
    assert world.hold("user", "carol", "Regulator's request 2026-17").status_code == 200
    before = {c: _chain(people, c) for c in (main_conv, held_conv, flagged_conv, carol_conv)}
    expired = [r for r in before[main_conv] if r.at < split]
    assert [r.action for r in expired] == ["conversation.create", "message.text", "message.file", "message.file",
                                           "message.quote", "message.edit"]

    report = retention.run(people.db, blobs, now=split + timedelta(days=DAYS))

    kept = _chain(people, main_conv)
    assert [r.hash for r in kept] == [r.hash for r in before[main_conv] if r.at >= split]
    assert [r.action for r in kept] == ["message.text", "message.edit"]
    for conv in (held_conv, flagged_conv, carol_conv):
        assert [r.hash for r in _chain(people, conv)] == [r.hash for r in before[conv]]
    assert report.records == len(expired) and report.messages == 4
    assert sorted(report.held) == sorted([held_conv, carol_conv]) and report.under_review == [flagged_conv]
    with people.db.read() as s:
        left = set(s.execute(select(Message.id).where(Message.conversation_id == main_conv)).scalars())
        assert left == {new["id"]}
        assert s.execute(select(func.count()).select_from(PriceQuote)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Message)
                         .where(Message.conversation_id != main_conv)).scalar_one() == 3
        head = s.get(ChainHead, f"conversation:{main_conv}")
        assert (head.base_seq, head.base_hash) == (expired[-1].seq, expired[-1].hash)  # type: ignore[union-attr]
        cut = s.execute(select(AuditRecord).where(AuditRecord.action == PRUNE_ACTION)).scalar_one()
        run = s.execute(select(AuditRecord).where(AuditRecord.action == "retention.run")).scalar_one()
    assert cut.target_id == f"conversation:{main_conv}" and cut.details["hashes"] == [r.hash for r in expired]
    assert (cut.details["from_seq"], cut.details["to_seq"]) == (1, expired[-1].seq)
    assert run.details["records"] == len(expired) and run.details["messages"] == 4 and run.details["blobs"] == 1
    assert not blobs.exists(gone["attachment"]["blob"]) and blobs.exists(shared["attachment"]["blob"])

    ok = _verify(settings)
    assert ok.exit_code == 0, ok.output
    assert f"chain conversation:{main_conv}: intact (2 records)" in ok.output
    page = world.rev.get(f"/review/conversations/{main_conv}").text
    assert "Fresh offer 2,800" in page and "Offer 2,760 CIF Nampo" in page and "were removed" in page
    assert "Offer 2,700" not in page  # the original went with its record

    again = retention.run(people.db, blobs, now=split + timedelta(days=DAYS))  # nothing more to do, still audited
    assert again.records == 0 and again.messages == 0
    with people.db.read() as s:
        assert s.execute(select(func.count()).where(AuditRecord.action == "retention.run")).scalar_one() == 2


def test_a_released_hold_lets_the_next_run_remove(world: World, settings: Settings) -> None:
    people = world.people
    conv = _conversation(world.a, people.ids["bob"])
    _send(world.a, conv, "x1", "Old news")
    split = _split()
    assert world.hold("user", "bob", "Internal inquiry").status_code == 200
    first = retention.run(people.db, BlobStore(settings.blob_dir), now=split + timedelta(days=DAYS))
    assert first.held == [conv] and len(_chain(people, conv)) == 2
    with people.db.read() as s:
        hold_id = s.execute(select(LegalHold.id)).scalar_one()
    no_reason = world.rev.post(f"/review/holds/{hold_id}/release", data={"reason": " ", "csrf_token": csrf_of(world.rev)})
    assert no_reason.status_code == 400
    released = world.rev.post(f"/review/holds/{hold_id}/release",
                              data={"reason": "Inquiry closed", "csrf_token": csrf_of(world.rev)})
    assert released.status_code == 200 and "Inquiry closed" in released.text
    again = world.rev.post(f"/review/holds/{hold_id}/release", data={"reason": "x", "csrf_token": csrf_of(world.rev)})
    assert again.status_code == 409
    second = retention.run(people.db, BlobStore(settings.blob_dir), now=split + timedelta(days=DAYS))
    assert second.records == 2 and _chain(people, conv) == []
    with people.db.read() as s:
        actions = list(s.execute(select(AuditRecord.action).where(or_(AuditRecord.action.startswith("hold."),
                                                                     AuditRecord.action.startswith("retention.")))
                                 .order_by(AuditRecord.seq)).scalars())
    assert actions == ["retention.set", "retention.set", "hold.place", "retention.run", "hold.release", "retention.run"]
    periods = world.admin.get("/enterprises/retention").text
    assert f'value="{DAYS}"' in periods and "2 records, 1 messages, 0 files removed; 0 conversations held" in periods
    holds = world.rev.get("/review/holds").text
    assert "@bob" in holds and "Internal inquiry" in holds and "Inquiry closed" in holds
    # The chain was cut to nothing; it still verifies, and goes on from its checkpoint.
    _send(world.a, conv, "x2", "A new message after the cut")
    result = _verify(settings)
    assert result.exit_code == 0 and f"chain conversation:{conv}: intact (1 records)" in result.output


def test_tampering_is_still_found_after_a_cut_and_never_cut_away(world: World, settings: Settings) -> None:
    people = world.people
    conv, other = _conversation(world.a, people.ids["bob"]), _conversation(world.a, people.ids["bob"], title="B")
    _send(world.a, conv, "t1", "Expired soon")
    _send(world.a, other, "o1", "Tampered before its time")
    split = _split()
    _send(world.a, conv, "t2", "Still kept")
    victim = _chain(people, other)[1]
    with people.db.write() as s:  # someone edits a record that is about to expire
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == victim.id).values(details={"body": "harmless"}))
    report = retention.run(people.db, BlobStore(settings.blob_dir), now=split + timedelta(days=DAYS))
    assert report.broken == [f"conversation:{other}"] and len(_chain(people, other)) == 2  # evidence kept
    assert report.records == 2  # conversation.create and the first message of `conv`
    with people.db.read() as s:
        assert s.execute(select(func.count()).select_from(Message)
                         .where(Message.conversation_id == other)).scalar_one() == 1
    bad = _verify(settings)
    assert bad.exit_code == 1 and f"chain conversation:{other}: BROKEN at record 2" in bad.output
    assert f"chain conversation:{conv}: intact (1 records)" in bad.output
    # A kept record edited after the cut is found as before.
    kept = _chain(people, conv)[0]
    with people.db.write() as s:
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == kept.id).values(details={"body": "Still kept!"}))
    assert f"chain conversation:{conv}: BROKEN at record {kept.seq}" in _verify(settings).output
    with people.db.write() as s:
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == kept.id).values(details=kept.details))
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == victim.id).values(details=victim.details))
    assert _verify(settings).exit_code == 0
    # Moving the checkpoint to hide more deletions does not match the audit trail.
    with people.db.write() as s:
        s.execute(update(ChainHead).where(ChainHead.chain == f"conversation:{conv}")
                  .values(base_seq=kept.seq, base_hash=kept.hash))
        s.execute(ArchiveRecord.__table__.delete().where(ArchiveRecord.id == kept.id))
    moved = _verify(settings)
    assert moved.exit_code == 1 and "checkpoint does not match the audit trail" in moved.output
    # ... and the next run does not cut on from it (which would make it agree again).
    _send(world.a, conv, "t3", "Sent after the forgery")
    later = retention.run(people.db, BlobStore(settings.blob_dir), now=datetime.now(UTC) + timedelta(days=DAYS + 1))
    assert f"conversation:{conv}" in later.broken and len(_chain(people, conv)) == 1
    assert "checkpoint does not match the audit trail" in _verify(settings).output


def test_reviewers_cannot_alter_records_and_bad_input_changes_nothing(world: World) -> None:
    people, rev = world.people, world.rev
    conv = _conversation(world.a, people.ids["bob"])
    msg = _send(world.a, conv, "r1", "Original wording")
    before = [r.hash for r in _chain(people, conv)]
    h = {"x-csrf-token": csrf_of(rev)}
    assert rev.patch(f"/api/v1/messages/{msg['id']}", json={"body": "Reworded"}, headers=h).status_code == 403
    assert rev.delete(f"/api/v1/messages/{msg['id']}", headers=h).status_code == 403
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert rev.request(method, f"/review/conversations/{conv}", headers=h).status_code == 405
    assert rev.post(f"/enterprises/{people.users.enterprises['hanbit']}/retention",
                    data={"days": "1", "csrf_token": csrf_of(rev)}).status_code == 403
    assert world.hold("user", "alice", "x", client=world.admin).status_code == 403  # administrators do not hold
    for days, status in (("0", 400), ("abc", 400), ("36501", 400)):
        r = world.set_days("hanbit", days)
        assert r.status_code == status and "between 1 and 36500 days" in r.text
    assert world.admin.post("/enterprises/999999/retention", data={"days": "10", "csrf_token": csrf_of(world.admin)}
                            ).status_code == 404
    for kind, target, reason, status in (("user", "alice", "  ", 400), ("user", "nobody", "why", 404),
                                         ("conversation", "999999", "why", 404), ("room", "1", "why", 400)):
        assert world.hold(kind, target, reason).status_code == status
    assert world.hold("user", "alice", "Inquiry").status_code == 200
    dup = world.hold("user", "alice", "Again")
    assert dup.status_code == 409 and "already under a legal hold" in dup.text
    bad_range = rev.post("/review/exports", data={"scope": "conversation", "target": str(conv), "since": "2026-05-01",
                                                  "until": "2026-04-01", "csrf_token": csrf_of(rev)})
    assert bad_range.status_code == 400 and "must come after its start" in bad_range.text
    bad_date = rev.post("/review/exports", data={"scope": "user", "target": "alice", "since": "May 1st",
                                                 "csrf_token": csrf_of(rev)})
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.text
    with people.db.read() as s:
        assert s.execute(select(RetentionPolicy.days).where(
            RetentionPolicy.enterprise_id == people.users.enterprises["hanbit"])).scalar_one() == DAYS
        assert s.execute(select(func.count()).select_from(LegalHold)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(ExportJob)).scalar_one() == 0
    assert [r.hash for r in _chain(people, conv)] == before


def test_everything_outside_a_reviewers_scope_is_refused(world: World) -> None:
    people = world.people
    han = people.client("hanrev", "hanbit", Role.REVIEWER)  # Hanbit's own compliance officer
    world.rev.post("/review/rules", data={"name": "bribe", "kind": "word", "pattern": "bribe", "severity": "high",
                                          "action": "flag", "csrf_token": csrf_of(world.rev)})
    mine = _conversation(world.a, people.ids["bob"])
    theirs = _conversation(world.c, people.ids["dave"])
    _send(world.a, mine, "s1", "No bribe here")
    _send(world.c, theirs, "s2", "A bribe there")
    queue = han.get("/review").text
    assert "No bribe here" not in queue  # the queue shows matches, not bodies
    assert queue.count("<mark>bribe</mark>") == 1 and "Daedong" not in queue.split('id="flags"')[1]
    assert world.rev.get("/review").text.count("<mark>bribe</mark>") == 2  # the centre covers everyone
    with people.db.read() as s:
        from entrepot.db.compliance import Flag

        their_flag = s.execute(select(Flag.id).where(Flag.conversation_id == theirs)).scalar_one()
    assert han.get(f"/review/flags/{their_flag}").status_code == 404
    act = han.post(f"/review/flags/{their_flag}/act", data={"action": "clear", "note": "x", "csrf_token": csrf_of(han)})
    assert act.status_code == 404
    denied = han.get(f"/review/conversations/{theirs}")  # as if missing: the number tells nothing
    assert denied.status_code == 404 and "No such conversation." in denied.text
    assert han.get("/review/conversations/999999").text.count("No such conversation.") == denied.text.count(
        "No such conversation.")
    assert han.get(f"/review/conversations/{mine}").status_code == 200
    with people.db.read() as s:
        jobs_before = s.execute(select(func.count()).select_from(Job)).scalar_one()
        audit_before = s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    for scope, target, missing in (("conversation", str(theirs), "No such conversation."),
                                   ("user", "carol", "No such user."),
                                   ("enterprise", "Daedong Trading", "No such enterprise.")):
        r = han.post("/review/exports", data={"scope": scope, "target": target, "csrf_token": csrf_of(han)})
        assert r.status_code == 404 and missing in r.text, (scope, r.text)
    held = world.hold("user", "carol", "Not mine to hold", client=han)
    assert held.status_code == 404 and "No such user." in held.text
    with people.db.read() as s:
        assert s.execute(select(func.count()).select_from(ExportJob)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(LegalHold)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Job)).scalar_one() == jobs_before
        assert s.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == audit_before
    ok = han.post("/review/exports", data={"scope": "enterprise", "target": "Hanbit Trading", "csrf_token": csrf_of(han)},
                  follow_redirects=False)
    assert ok.status_code == 303
    # Another reviewer's export is not there for Hanbit's officer, nor Hanbit's for a trader.
    other = world.rev.post("/review/exports", data={"scope": "user", "target": "carol", "csrf_token": csrf_of(world.rev)},
                           follow_redirects=False)
    assert han.get(other.headers["location"]).status_code == 404
    assert world.a.get(ok.headers["location"]).status_code == 403


def test_the_worker_schedules_and_audits_the_nightly_run(world: World, settings: Settings) -> None:
    db = world.people.db
    with db.write() as s:
        assert maintenance.schedule_retention(s)
    with db.write() as s:
        assert not maintenance.schedule_retention(s)  # every worker asks; one run a night
    Worker(db, settings).run_until_idle()
    with db.write() as s:
        assert maintenance.schedule_retention(s, datetime.now(UTC) + timedelta(days=1))  # the next night
    with db.read() as s:
        job = s.execute(select(Job).where(Job.kind == maintenance.RETENTION_JOB).order_by(Job.id)).scalars().first()
        run = s.execute(select(AuditRecord).where(AuditRecord.action == "retention.run")).scalar_one()
    assert job.state == "done" and run.details["records"] == 0  # the default five years: nothing expired yet
    assert set(run.details["cutoffs"]) == {str(e) for e in world.people.users.enterprises.values()}
    with db.read() as s:
        assert all(r.ok for r in verify_all(s))
