"""Send-time screening with lexicon rules that match like search does, blocking rules, the review
queue's workflow (audited), and the archive view with edits and deletions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from entrepot.core.types import Role
from entrepot.db.compliance import Flag
from entrepot.db.tables import AuditRecord
from entrepot.workers.loop import Worker
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture


def _rule(rev: TestClient, **fields: str) -> object:
    data = {"severity": "high", "action": "flag", "language": "", "description": "", **fields,
            "csrf_token": csrf_of(rev)}
    return rev.post("/review/rules", data=data)


def _send(c: TestClient, conv: int, cid: str, body: str) -> object:
    return c.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": cid, "body": body},
                  headers={"x-csrf-token": csrf_of(c)})


def test_rules_match_like_search_and_flags_reach_the_queue(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    assert _rule(rev, name="smuggling", kind="word", pattern="밀수").status_code == 200
    assert _rule(rev, name="sanctions", kind="phrase", pattern="绕过制裁").status_code == 200
    assert _rule(rev, name="card numbers", kind="regex", pattern=r"\b\d{4}-\d{4}-\d{4}-\d{4}\b",
                 severity="medium").status_code == 200
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    _send(a, conv, "m1", "이번 선적은 밀수를 하자는 건 아니지요?")   # particle attached
    _send(a, conv, "m2", "我們不能繞過制裁。")                      # traditional text, simplified rule
    _send(a, conv, "m3", "Card 1234-5678-9012-3456 for the deposit")
    _send(a, conv, "m4", "Zinc ingots, 25 t, CIF Nampo")           # clean
    queue = rev.get("/review").text
    for expected in ("밀수", "繞過制裁", "1234-5678-9012-3456"):
        assert f"<mark>{expected}</mark>" in queue
    assert "Zinc ingots" not in queue
    with people.db.read() as s:
        flags = s.execute(select(Flag).order_by(Flag.id)).scalars().all()
    assert len(flags) == 3 and flags[0].context == []
    assert flags[1].context[0]["body"].startswith("이번 선적은")


def test_blocking_rule_stops_the_message(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    _rule(rev, name="no weapons", kind="word", pattern="weapons", action="block",
          description="Weapons are not traded through Entrepot.")
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    r = _send(a, conv, "w1", "Can you source Weapons?")
    assert r.status_code == 403 and "Weapons are not traded" in r.json()["error"]["message"]
    assert a.get(f"/api/v1/conversations/{conv}/messages").json() == []


def test_bad_and_catastrophic_patterns_are_refused_at_save(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    bad = _rule(rev, name="broken", kind="regex", pattern="([a-z")
    assert bad.status_code == 400 and "not valid" in bad.text
    slow = _rule(rev, name="slow", kind="regex", pattern=r"(a|aa)+$")
    assert slow.status_code == 400 and "too long" in slow.text


def test_review_workflow_is_audited_and_archive_keeps_originals(people: People) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    _rule(rev, name="bribe", kind="word", pattern="bribe")
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    msg = _send(a, conv, "b1", "No bribe needed for the permit").json()
    h = {"x-csrf-token": csrf_of(a)}
    a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "No fee needed for the permit"}, headers=h)
    a.delete(f"/api/v1/messages/{msg['id']}", headers=h)
    with people.db.read() as s:
        flag_id = s.execute(select(Flag.id)).scalar_one()
    for action, note in (("claim", ""), ("escalate", ""), ("note", "asked the desk"), ("clear", "joke, no case"),
                         ("reopen", "")):
        r = rev.post(f"/review/flags/{flag_id}/act", data={"action": action, "note": note, "csrf_token": csrf_of(rev)})
        assert r.status_code == 200, (action, r.text)
    bad = rev.post(f"/review/flags/{flag_id}/act", data={"action": "clear", "note": "", "csrf_token": csrf_of(rev)})
    assert bad.status_code == 400
    with people.db.read() as s:
        actions = [a for (a,) in s.execute(select(AuditRecord.action).where(
            AuditRecord.action.startswith("flag.")).order_by(AuditRecord.seq))]
    assert actions == ["flag.claim", "flag.escalate", "flag.note", "flag.clear", "flag.reopen"]
    archive = rev.get(f"/review/conversations/{conv}").text
    assert "No bribe needed for the permit" in archive and "No fee needed for the permit" in archive
    assert "deleted" in archive
    assert a.get("/review").status_code == 403 and a.get(f"/review/conversations/{conv}").status_code == 403
    with pytest.raises(WebSocketDisconnect), rev.websocket_connect("/ws") as ws:  # reviewers read, never take part
        ws.receive_json()


def test_export_is_valid_eml_with_attachments_and_a_manifest(people: People) -> None:
    import email
    import hashlib
    import io
    import json
    import zipfile

    rev = people.client("rev", "centre", Role.REVIEWER)
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    _send(a, conv, "x1", "Offer: zinc 2,710 USD")
    a.post(f"/api/v1/conversations/{conv}/attachments", files={"file": ("terms.txt", b"Payment by L/C.")},
           data={"client_id": "x2"}, headers={"x-csrf-token": csrf_of(a)})
    asked = rev.post("/review/exports", data={"scope": "conversation", "target": str(conv), "csrf_token": csrf_of(rev)},
                     follow_redirects=False)
    assert asked.status_code == 303, asked.text
    Worker(people.db, people.app.state.settings).run_until_idle()
    page = rev.get(asked.headers["location"] + "?progress_only=1").text
    assert 'data-state="done"' in page and "3 records exported" in page
    r = rev.get(asked.headers["location"] + "/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(z.read("manifest.json"))
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(z.read(name)).hexdigest() == digest
    emls = sorted(n for n in z.namelist() if n.endswith(".eml"))
    assert len(emls) == 2
    first = email.message_from_bytes(z.read(emls[0]))
    assert first["From"].startswith("alice") and "Offer: zinc 2,710 USD" in first.get_payload()
    second = email.message_from_bytes(z.read(emls[1]))
    parts = [p for p in second.walk() if p.get_filename() == "terms.txt"]
    assert parts and parts[0].get_payload(decode=True) == b"Payment by L/C."
    assert manifest["records"] == 3  # conversation, text, file
    assert a.post("/review/exports", data={"scope": "conversation", "target": str(conv),
                                           "csrf_token": csrf_of(a)}).status_code == 403
    assert a.get(asked.headers["location"] + "/download").status_code == 403
    with people.db.read() as s:
        actions = set(s.execute(select(AuditRecord.action).where(AuditRecord.action.startswith("archive.export")))
                      .scalars())
    assert actions == {"archive.export", "archive.export.download"}
