"""Dual approval: one trade and one security approver, two different people, neither the applicant."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from entrepot.actions import accounts, approvals
from entrepot.core.config import Settings
from entrepot.core.errors import Conflict, Forbidden, InvalidInput
from entrepot.core.types import Level, RequestStatus, Role, UserStatus
from entrepot.db import Database
from entrepot.db.tables import ApprovalRequest, AuditRecord, User
from tests.conftest import PASSWORD, Users


def _p(db: Database, user_id: int) -> accounts.Principal:
    with db.read() as s:
        return accounts.principal_of(accounts.get_user(s, user_id))


@pytest.fixture
def cast(users: Users) -> dict[str, int]:
    return {
        "admin": users.make("admin1", Role.ADMIN).id,
        "trade": users.make("trade1", Role.TRADE_APPROVER).id,
        "trade2": users.make("trade2", Role.TRADE_APPROVER).id,
        "security": users.make("sec1", Role.SECURITY_APPROVER).id,
        "both": users.make("both1", Role.TRADE_APPROVER, Role.SECURITY_APPROVER).id,
    }


def _new_account(db: Database, settings: Settings, enterprises: dict[str, int], admin_id: int | None) -> int:
    with db.write() as s:
        actor = accounts.principal_of(accounts.get_user(s, admin_id)) if admin_id else None
        user = accounts.create_user(s, settings, actor, enterprise_id=enterprises["hanbit"], username="newbie",
                                    display_name="New Trader", password=PASSWORD)
        assert user.status == UserStatus.PENDING
        return s.execute(select(ApprovalRequest.id).where(ApprovalRequest.subject_user_id == user.id)).scalar_one()


def _decide(db: Database, who: int, req: int, authority: str, approve: bool = True, reason: str | None = None) -> None:
    with db.write() as s:
        approvals.decide(s, _p(db, who), req, authority, approve, reason)


def _status(db: Database, username: str) -> str:
    with db.read() as s:
        return s.execute(select(User.status).where(User.username == username)).scalar_one()


def test_account_needs_both_authorities(db: Database, settings: Settings, enterprises: dict[str, int],
                                        cast: dict[str, int]) -> None:
    req = _new_account(db, settings, enterprises, cast["admin"])
    _decide(db, cast["trade"], req, "trade")
    assert _status(db, "newbie") == "pending"
    _decide(db, cast["security"], req, "security")
    assert _status(db, "newbie") == "active"
    with db.read() as s:
        actions = [a for (a,) in s.execute(select(AuditRecord.action).order_by(AuditRecord.seq))]
    assert actions[-4:] == ["user.create", "approval.approve", "approval.approve", "user.activate"]


def test_same_person_cannot_approve_twice(db: Database, settings: Settings, enterprises: dict[str, int],
                                          cast: dict[str, int]) -> None:
    req = _new_account(db, settings, enterprises, None)
    _decide(db, cast["both"], req, "trade")
    with pytest.raises(Forbidden, match="second person"):
        _decide(db, cast["both"], req, "security")
    assert _status(db, "newbie") == "pending"


def test_one_authority_decides_once(db: Database, settings: Settings, enterprises: dict[str, int],
                                    cast: dict[str, int]) -> None:
    req = _new_account(db, settings, enterprises, None)
    _decide(db, cast["trade"], req, "trade")
    with pytest.raises(Forbidden, match="already decided"):
        _decide(db, cast["trade2"], req, "trade")


def test_approver_cannot_act_for_the_other_authority(db: Database, settings: Settings,
                                                     enterprises: dict[str, int], cast: dict[str, int]) -> None:
    req = _new_account(db, settings, enterprises, None)
    with pytest.raises(Forbidden, match="this authority"):
        _decide(db, cast["trade"], req, "security")
    with pytest.raises(InvalidInput):
        _decide(db, cast["trade"], req, "finance")


def test_nobody_approves_their_own_request(db: Database, settings: Settings, users: Users,
                                           cast: dict[str, int]) -> None:
    approver = users.make("climber", Role.TRADE_APPROVER)
    with db.write() as s:
        accounts.request_clearance(s, _p(db, cast["admin"]), approver.id, Level.SECRET, "new duties")
        req = s.execute(select(ApprovalRequest.id).where(ApprovalRequest.subject_user_id == approver.id)).scalar_one()
    with pytest.raises(Forbidden, match="your own"):
        _decide(db, approver.id, req, "trade")


def test_rejection_needs_a_reason_and_ends_the_request(db: Database, settings: Settings,
                                                       enterprises: dict[str, int], cast: dict[str, int]) -> None:
    req = _new_account(db, settings, enterprises, None)
    with pytest.raises(InvalidInput):
        _decide(db, cast["security"], req, "security", approve=False, reason="  ")
    _decide(db, cast["security"], req, "security", approve=False, reason="Unknown to the enterprise")
    assert _status(db, "newbie") == "rejected"
    with pytest.raises(Forbidden, match="already been decided"):
        _decide(db, cast["trade"], req, "trade")


def test_clearance_raise_takes_two_approvals(db: Database, users: Users, cast: dict[str, int]) -> None:
    trader = users.make("dealer", enterprise="hanbit")
    with db.write() as s:
        req = accounts.request_clearance(s, _p(db, cast["admin"]), trader.id, "CONFIDENTIAL", "price reports").id
    with pytest.raises(Conflict):
        with db.write() as s:
            accounts.request_clearance(s, _p(db, cast["admin"]), trader.id, "SECRET", "again")
    _decide(db, cast["trade"], req, "trade")
    assert _p(db, trader.id).clearance is Level.OPEN
    _decide(db, cast["security"], req, "security")
    assert _p(db, trader.id).clearance is Level.CONFIDENTIAL
    with db.read() as s:
        assert s.get(ApprovalRequest, req).status == RequestStatus.APPROVED


def test_administrators_cannot_change_themselves(db: Database, cast: dict[str, int]) -> None:
    admin = _p(db, cast["admin"])
    with pytest.raises(Forbidden):
        with db.write() as s:
            accounts.request_clearance(s, admin, admin.user_id, "SECRET", "me")
    with pytest.raises(Forbidden):
        with db.write() as s:
            accounts.set_roles(s, admin, admin.user_id, ["admin", "trade_approver"])


def test_self_registration_cannot_ask_for_power(db: Database, settings: Settings, enterprises: dict[str, int]) -> None:
    with pytest.raises(Forbidden):
        with db.write() as s:
            accounts.create_user(s, settings, None, enterprise_id=enterprises["hanbit"], username="sneaky",
                                 display_name="S", password=PASSWORD, roles=["admin"])
    with pytest.raises(Forbidden):
        with db.write() as s:
            accounts.create_user(s, settings, None, enterprise_id=enterprises["hanbit"], username="sneaky",
                                 display_name="S", password=PASSWORD, clearance="SECRET")
    with db.read() as s:
        assert s.execute(select(User).where(User.username == "sneaky")).first() is None


def test_active_principals_match_principal_of_and_leave_out_inactive_accounts(db: Database, users: Users) -> None:
    approver = users.make("both2", Role.TRADE_APPROVER, Role.SECURITY_APPROVER, clearance=Level.SECRET)
    trader = users.make("plain1")
    gone = users.make("gone1")
    with db.write() as s:
        s.get(User, gone.id).status = UserStatus.SUSPENDED  # type: ignore[union-attr]
    with db.read() as s:
        found = accounts.active_principals(s, [approver.id, trader.id, gone.id, 10**9])
        expected = {uid: accounts.principal_of(accounts.get_user(s, uid)) for uid in (approver.id, trader.id)}
    assert found == expected
    assert found[approver.id].roles == {Role.TRADE_APPROVER, Role.SECURITY_APPROVER}
