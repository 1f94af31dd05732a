"""New versions keep the old ones readable, with a text diff; classification changes follow the rules:
raise at once, lower only with a trade and a security approval."""

from __future__ import annotations

from sqlalchemy import select

from entrepot.core.types import Level, Role
from entrepot.db.library import Document
from entrepot.db.tables import ApprovalRequest
from tests.conftest import csrf_of
from tests.library.conftest import Library


def test_versions_and_diff(lib: Library) -> None:
    doc = lib.upload("tariff.txt", b"Tariff on zinc: 5%\nValid from 2025-01-01\n")["document_id"]
    lib.process()
    c = lib.librarian
    r = c.post(f"/library/upload/{doc}/version", files={"file": ("tariff-v2.txt", b"Tariff on zinc: 3%\nValid from 2025-07-01\n")},
               data={"csrf_token": csrf_of(c)})
    assert r.status_code == 200  # followed the redirect to the edit page
    lib.process()
    current = c.get(f"/documents/{doc}").text
    assert "3%" in current and "Version 2" in current
    old = c.get(f"/documents/{doc}?version=1").text
    assert "5%" in old
    diff = c.get(f"/documents/{doc}/diff?a=1&b=2").text
    assert '<span class="del">-Tariff on zinc: 5%</span>' in diff and '<span class="add">+Tariff on zinc: 3%</span>' in diff
    assert c.get(f"/documents/{doc}?version=7").status_code == 404


def test_raising_is_immediate_lowering_needs_two_approvals(lib: Library) -> None:
    doc = lib.upload("terms.txt", b"Tender terms for the port crane.")["document_id"]
    lib.process()
    custodian = lib.librarian
    r = custodian.post(f"/documents/{doc}/classify", data={"level": "SECRET", "reason": "tender", "csrf_token": csrf_of(custodian)})
    assert r.status_code == 200
    with lib.db.read() as s:
        assert s.get(Document, doc).level == Level.SECRET
    trader = lib.client("reader", clearance=Level.CONFIDENTIAL)
    assert trader.get(f"/documents/{doc}").status_code == 404
    r = custodian.post(f"/documents/{doc}/classify", data={"level": "OPEN", "reason": "tender closed", "csrf_token": csrf_of(custodian)})
    assert r.status_code == 200 and "request was sent" in r.text
    with lib.db.read() as s:
        assert s.get(Document, doc).level == Level.SECRET
        req = s.execute(select(ApprovalRequest).where(ApprovalRequest.document_id == doc)).unique().scalar_one()
    low = lib.client("low-approver", Role.TRADE_APPROVER, clearance=Level.CONFIDENTIAL, enterprise="centre")
    assert "terms.txt" not in low.get("/approvals").text  # cannot even see a request about a SECRET document
    trade = lib.client("trade-ap", Role.TRADE_APPROVER, clearance=Level.SECRET, enterprise="centre")
    security = lib.client("sec-ap", Role.SECURITY_APPROVER, clearance=Level.SECRET, enterprise="centre")
    for client, authority in ((trade, "trade"), (security, "security")):
        page = client.get("/approvals").text
        assert f'id="request-{req.id}"' in page
        r = client.post(f"/approvals/{req.id}/decide", data={"authority": authority, "decision": "approve",
                                                            "csrf_token": csrf_of(client)})
        assert r.status_code == 200, r.text
    with lib.db.read() as s:
        assert s.get(Document, doc).level == Level.OPEN
    assert trader.get(f"/documents/{doc}").status_code == 200


def test_only_custodians_classify_and_never_above_themselves(lib: Library) -> None:
    doc = lib.upload("memo.txt", b"Memo.")["document_id"]
    librarian = lib.client("plain-lib", Role.LIBRARIAN, clearance=Level.SECRET, enterprise="centre")
    r = librarian.post(f"/documents/{doc}/classify", data={"level": "SECRET", "reason": "x", "csrf_token": csrf_of(librarian)})
    assert r.status_code == 403 and "Only custodians" in r.text
    low = lib.client("low-cust", Role.CUSTODIAN, clearance=Level.CONFIDENTIAL, enterprise="centre")
    r = low.post(f"/documents/{doc}/classify", data={"level": "SECRET", "reason": "x", "csrf_token": csrf_of(low)})
    assert r.status_code == 403 and "above your own clearance" in r.text
