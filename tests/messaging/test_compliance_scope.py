"""Lexicon rules and off-topic settings scoped per enterprise, and edits screened again.

A rule applies to everyone (set by the compliance authority, the operating centre's reviewers) or to
one enterprise's conversations (managed by the reviewers who cover it); a reviewer sees and manages
rules within their scope only. An edit that brings in a flagged word raises a flag naming the edit's
archive record."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from entrepot.core.types import Role
from entrepot.db.compliance import Flag, LexiconRule, TopicScore, TopicSetting
from entrepot.db.tables import ArchiveRecord, AuditRecord
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture
from tests.messaging.test_screening import GENERAL


def _rule(rev: TestClient, scope: str = "", **fields: str) -> Any:
    data = {"severity": "high", "action": "flag", "language": "", "description": "", "scope": scope, **fields,
            "csrf_token": csrf_of(rev)}
    return rev.post("/review/rules", data=data)


def _send(c: TestClient, conv: int, cid: str, body: str) -> Any:
    return c.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": cid, "body": body},
                  headers={"x-csrf-token": csrf_of(c)})


def _flags(people: People) -> list[Flag]:
    with people.db.read() as s:
        return list(s.execute(select(Flag).order_by(Flag.id)).scalars())


def _rule_names(rev: TestClient) -> str:
    page = rev.get("/review/rules")
    assert page.status_code == 200
    return page.text


def test_an_enterprise_rule_screens_its_own_conversations_only(people: People) -> None:
    ent = people.users.enterprises
    officer = people.client("officer", "hanbit", Role.REVIEWER)  # Hanbit's own compliance officer
    centre = people.client("rev", "centre", Role.REVIEWER)
    other = people.client("other", "daedong", Role.REVIEWER)
    assert _rule(officer, str(ent["hanbit"]), name="hanbit-only", kind="word", pattern="밀수").status_code == 200
    assert _rule(centre, name="for-everyone", kind="word", pattern="contraband").status_code == 200

    a, _b = people.client("alice"), people.client("bob")
    d1, _d2 = people.client("dora", "daedong"), people.client("dan", "daedong")
    hanbit_conv = _conversation(a, people.ids["bob"])
    daedong_conv = _conversation(d1, people.ids["dan"])
    _send(a, hanbit_conv, "h1", "이번 선적은 밀수를 하자는 건 아니지요?")
    _send(d1, daedong_conv, "d1", "이번 선적은 밀수를 하자는 건 아니지요?")  # not Daedong's rule
    _send(d1, daedong_conv, "d2", "No contraband in this lot")  # everyone's rule
    flags = _flags(people)
    assert [(f.conversation_id, f.matched) for f in flags] == [(hanbit_conv, "밀수"), (daedong_conv, "contraband")]

    # Who sees which rule: the centre all, each enterprise its own and everyone's.
    assert "hanbit-only" in _rule_names(centre) and "hanbit-only" in _rule_names(officer)
    assert "hanbit-only" not in _rule_names(other) and "for-everyone" in _rule_names(other)
    assert "밀수" not in other.get("/review").text  # nor its flags


def test_reviewers_manage_rules_within_their_scope_only(people: People) -> None:
    ent = people.users.enterprises
    officer = people.client("officer", "hanbit", Role.REVIEWER)
    centre = people.client("rev", "centre", Role.REVIEWER)
    assert _rule(centre, name="global", kind="word", pattern="bribe").status_code == 200
    assert _rule(centre, str(ent["daedong"]), name="daedong", kind="word", pattern="rebate").status_code == 200
    with people.db.read() as s:
        ids = {r.name: r.id for r in s.execute(select(LexiconRule)).scalars()}
        before = s.execute(select(LexiconRule.id)).scalars().all()

    everyone = _rule(officer, name="mine-for-all", kind="word", pattern="kickback")
    assert everyone.status_code == 403 and "compliance authority" in everyone.text
    elsewhere = _rule(officer, str(ent["daedong"]), name="theirs", kind="word", pattern="kickback")
    assert elsewhere.status_code == 403
    unknown = _rule(centre, "999999", name="nowhere", kind="word", pattern="kickback")
    assert unknown.status_code == 400
    retire = officer.post(f"/review/rules/{ids['global']}/retire", data={"csrf_token": csrf_of(officer)})
    assert retire.status_code == 403  # visible, not theirs to retire
    hidden = officer.post(f"/review/rules/{ids['daedong']}/retire", data={"csrf_token": csrf_of(officer)})
    assert hidden.status_code == 404  # outside their scope: not there for them
    version = _rule(officer, name="global", kind="word", pattern="bribes", replaces=str(ids["global"]))
    assert version.status_code == 403
    with people.db.read() as s:
        assert s.execute(select(LexiconRule.id)).scalars().all() == before
        assert all(r.active for r in s.execute(select(LexiconRule)).scalars())
    page = _rule_names(officer)
    assert f'action="/review/rules/{ids["global"]}/retire"' not in page  # no button they cannot use
    assert '<option value="">' not in page.split('id="rule-form"')[1].split("</select>")[0]  # no "Everyone"

    mine = _rule(officer, str(ent["hanbit"]), name="mine", kind="word", pattern="kickback")
    assert mine.status_code == 200
    with people.db.read() as s:
        rule = s.execute(select(LexiconRule).where(LexiconRule.name == "mine")).scalar_one()
        assert rule.enterprise_id == ent["hanbit"]
        saved = s.execute(select(AuditRecord).where(AuditRecord.action == "lexicon.save")
                          .order_by(AuditRecord.seq.desc())).scalars().first()
        assert saved is not None and saved.details["enterprise_id"] == ent["hanbit"]
    nxt = _rule(officer, name="mine", kind="word", pattern="kickbacks", replaces=str(rule.id))
    assert nxt.status_code == 200  # a new version keeps the rule's enterprise
    with people.db.read() as s:
        versions = s.execute(select(LexiconRule).where(LexiconRule.key == rule.key)
                             .order_by(LexiconRule.version)).scalars().all()
    assert [(v.version, v.active, v.enterprise_id) for v in versions] == [
        (1, False, ent["hanbit"]), (2, True, ent["hanbit"])]
    assert officer.post(f"/review/rules/{versions[1].id}/retire",
                        data={"csrf_token": csrf_of(officer)}).status_code == 200


def test_off_topic_settings_per_enterprise(people: People) -> None:
    ent = people.users.enterprises
    officer = people.client("officer", "hanbit", Role.REVIEWER)
    other = people.client("other", "daedong", Role.REVIEWER)

    def save(rev: TestClient, enterprise: int, **form: str) -> int:
        r = rev.post(f"/review/offtopic/{enterprise}", data={**form, "csrf_token": csrf_of(rev)})
        return r.status_code

    assert save(other, ent["hanbit"], enabled="on", threshold="0.5") == 403  # not their enterprise
    assert save(officer, ent["hanbit"], enabled="on", threshold="2") == 400
    assert save(officer, ent["hanbit"]) == 200  # off for Hanbit
    assert save(other, ent["daedong"], enabled="on", threshold="0.3") == 200  # Daedong's own threshold
    with people.db.read() as s:
        rows = {t.enterprise_id: (t.enabled, t.threshold) for t in s.execute(select(TopicSetting)).scalars()}
        audited = s.execute(select(AuditRecord.action).where(AuditRecord.action == "offtopic.settings")).all()
    assert rows == {ent["hanbit"]: (False, None), ent["daedong"]: (True, 0.3)} and len(audited) == 2
    page = officer.get("/review/rules").text
    assert f'data-enterprise="{ent["hanbit"]}"' in page and f'data-enterprise="{ent["daedong"]}"' not in page

    a, _b = people.client("alice"), people.client("bob")
    d1, _d2 = people.client("dora", "daedong"), people.client("dan", "daedong")
    hanbit_conv = _conversation(a, people.ids["bob"])
    daedong_conv = _conversation(d1, people.ids["dan"])
    for i in range(9):
        _send(a, hanbit_conv, f"h{i}", GENERAL[i])
        _send(d1, daedong_conv, f"d{i}", GENERAL[i])
    with people.db.read() as s:
        scored = {c for (c,) in s.execute(select(TopicScore.conversation_id).distinct())}
    assert scored == {daedong_conv}  # the rule is off for Hanbit
    topic = [f for f in _flags(people) if (f.details or {}).get("source") == "topic"]
    assert [f.conversation_id for f in topic] == [daedong_conv]
    assert topic[0].details is not None and topic[0].details["threshold"] == 0.3
    with people.db.read() as s:
        rule = s.get(LexiconRule, topic[0].rule_id)
        assert rule is not None and rule.enterprise_id == ent["daedong"] and "threshold=0.3" in rule.pattern
    assert "off-topic" not in officer.get("/review").text.lower() or not topic  # Hanbit sees no Daedong flag


def test_an_edit_that_brings_in_a_flagged_word_is_flagged_with_its_record(people: People) -> None:
    centre = people.client("rev", "centre", Role.REVIEWER)
    _rule(centre, name="contraband", kind="word", pattern="contraband")
    _rule(centre, name="no weapons", kind="word", pattern="weapons", action="block",
          description="Weapons are not traded through Entrepot.")
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    _send(a, conv, "e0", "Zinc ingots are ready for loading")
    msg = _send(a, conv, "e1", "The cargo is ready").json()
    h = {"x-csrf-token": csrf_of(a)}
    assert _flags(people) == []
    r = a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "The contraband is ready"}, headers=h)
    assert r.status_code == 200
    flags = _flags(people)
    assert len(flags) == 1 and flags[0].message_id == msg["id"] and flags[0].matched == "contraband"
    details = flags[0].details or {}
    with people.db.read() as s:
        record = s.execute(select(ArchiveRecord).where(ArchiveRecord.action == "message.edit")).scalar_one()
    assert details["source"] == "edit" and details["record_id"] == record.id
    assert details["before"] == "The cargo is ready" and details["after"] == "The contraband is ready"
    assert flags[0].context[0]["body"] == "Zinc ingots are ready for loading"
    page = centre.get(f"/review/flags/{flags[0].id}").text
    assert "The cargo is ready" in page and "<mark>contraband</mark>" in page

    a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "The contraband is really ready"}, headers=h)
    assert len(_flags(people)) == 1  # the same rule flags a message once
    blocked = a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "Weapons are ready"}, headers=h)
    assert blocked.status_code == 403 and "Weapons are not traded" in blocked.json()["error"]["message"]
    bodies = [m["body"] for m in a.get(f"/api/v1/conversations/{conv}/messages").json()]
    assert "The contraband is really ready" in bodies and "Weapons are ready" not in bodies
