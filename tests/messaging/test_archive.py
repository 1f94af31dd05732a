"""The archive keeps every message, edit and deletion, hash-chained per conversation, written with the
message itself; `entrepot audit verify` checks those chains too."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select, update

from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.db.tables import ArchiveRecord
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture


def test_originals_survive_edits_and_deletions_and_tampering_is_found(people: People, settings: Settings) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    h = {"x-csrf-token": csrf_of(a)}
    msg = a.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": "a1", "body": "Offer 2,700"}, headers=h).json()
    a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "Offer 2,750"}, headers=h)
    a.delete(f"/api/v1/messages/{msg['id']}", headers=h)
    a.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": "a1", "body": "Offer 2,700"}, headers=h)  # retry
    with people.db.read() as s:
        rows = s.execute(select(ArchiveRecord).where(ArchiveRecord.chain == f"conversation:{conv}")
                         .order_by(ArchiveRecord.seq)).scalars().all()
    assert [r.action for r in rows] == ["conversation.create", "message.text", "message.edit", "message.delete"]
    assert rows[1].details["body"] == "Offer 2,700"
    assert rows[2].details == {"message_id": msg["id"], "before": "Offer 2,700", "after": "Offer 2,750"}
    assert rows[3].details["body"] == "Offer 2,750"
    env = {"ENTREPOT_DATABASE_URL": settings.db_url}
    ok = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "audit", "verify"], env=env)
    assert ok.exit_code == 0 and f"chain conversation:{conv}: intact (4 records)" in ok.output
    with people.db.write() as s:
        s.execute(update(ArchiveRecord).where(ArchiveRecord.id == rows[1].id).values(details={"body": "Offer 9,999"}))
    bad = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "audit", "verify"], env=env)
    assert bad.exit_code == 1 and f"chain conversation:{conv}: BROKEN at record 2" in bad.output
