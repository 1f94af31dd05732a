"""Seed demo content through the same actions the product uses, so it is audited like real work."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from entrepot.actions import accounts
from entrepot.core.config import Settings
from entrepot.core.types import Level, Role, UserKind
from entrepot.db import Database
from entrepot.db.tables import Enterprise, User
from entrepot.demo.documents import seed_documents

DEMO_PASSWORD = "Demo-Entrepot-2026"  # nosec B105 # the published password of the demo accounts
CENTRE = "Entrepot Centre"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    enterprise: str
    roles: tuple[Role, ...]
    clearance: Level
    kind: UserKind = UserKind.STAFF
    active: bool = True


ENTERPRISES = [(CENTRE, None, True), ("Hanbit Trading Co.", "KR", False), ("Daedong Trading Corp.", "KR", False)]
USERS = [
    DemoUser("admin", "Administrator Kim", CENTRE, (Role.ADMIN,), Level.CONFIDENTIAL),
    DemoUser("tapprover", "Trade approver Lee", CENTRE, (Role.TRADE_APPROVER,), Level.CONFIDENTIAL),
    DemoUser("sapprover", "Security approver Park", CENTRE, (Role.SECURITY_APPROVER,), Level.SECRET),
    DemoUser("auditor", "Auditor Choi", CENTRE, (Role.AUDITOR,), Level.CONFIDENTIAL),
    DemoUser("librarian", "Librarian Jung", CENTRE, (Role.LIBRARIAN,), Level.CONFIDENTIAL),
    DemoUser("custodian", "Custodian Han", CENTRE, (Role.CUSTODIAN,), Level.SECRET),
    DemoUser("reviewer", "Reviewer Yoon", CENTRE, (Role.REVIEWER,), Level.CONFIDENTIAL),
    DemoUser("trader1", "김민준 (Kim Min-jun)", "Hanbit Trading Co.", (Role.TRADER,), Level.RESTRICTED),
    DemoUser("trader2", "李华 (Li Hua)", "Hanbit Trading Co.", (Role.TRADER,), Level.OPEN),
    DemoUser("partner", "王芳 (Wang Fang, Dalian)", "Hanbit Trading Co.", (Role.TRADER,), Level.OPEN,
             UserKind.COUNTERPART),
    DemoUser("trader3", "박서연 (Park Seo-yeon)", "Daedong Trading Corp.", (Role.TRADER,), Level.CONFIDENTIAL),
    DemoUser("applicant", "Applicant Song", "Daedong Trading Corp.", (Role.TRADER,), Level.OPEN, active=False),
]


def seed(db: Database, settings: Settings) -> tuple[list[DemoUser], bool]:
    """Create the demo content unless it is there already; returns the users and whether anything was made."""
    with db.write() as s:
        if s.execute(select(Enterprise.id).where(Enterprise.name == CENTRE)).first():
            return USERS, False
        ids = {name: accounts.create_enterprise(s, None, name, country, is_operator=op).id
               for name, country, op in ENTERPRISES}
        users: dict[str, User] = {}
        for u in USERS:
            users[u.username] = accounts.create_user(
                s, settings, None, enterprise_id=ids[u.enterprise], username=u.username,
                display_name=u.display_name, password=DEMO_PASSWORD, kind=u.kind, roles=u.roles,
                clearance=u.clearance, bootstrap=u.active)
        admin = accounts.principal_of(users["admin"])
        accounts.request_clearance(s, admin, users["trader2"].id, Level.RESTRICTED,
                                   "Needs the restricted price reports for the Dalian contract.")
    seed_documents(db, settings)
    return USERS, True
