"""The callers of the WebSocket, feed and export matrices: every role, every clearance level, own and
other enterprise, pending, suspended, second factor owed and anonymous.

Sessions are written straight into the database (the real two-step sign-in is covered by
tests/test_authorization_matrix.py), so that a pending or half-signed-in account holds a session cookie
too and the refusal comes from the policy, not from a failed sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from entrepot.accounts import tokens
from entrepot.actions import accounts, saved_searches
from entrepot.core.types import Level, Principal, Role
from entrepot.db import Database
from entrepot.db.tables import User, WebSession
from entrepot.web.context import SESSION_COOKIE
from tests.conftest import Users

HOME, OTHER = "hanbit", "daedong"


@dataclass
class Caller:
    name: str
    client: TestClient
    principal: Principal | None  # as the server sees it now (None: anonymous)
    enterprise: str | None
    user_id: int | None = None
    csrf: str | None = None
    feed_token: str | None = None


def _session(db: Database, user_id: int, mfa_passed: bool = True) -> tuple[str, str]:
    token, csrf = tokens.new_token(), tokens.new_token()
    with db.write() as s:
        s.add(WebSession(id=tokens.digest(token), user_id=user_id, csrf_token=csrf, mfa_passed=mfa_passed))
    return token, csrf


def _client(app: Any, token: str | None) -> TestClient:
    c = TestClient(app, client=("127.0.0.1", 5000))
    if token:
        c.cookies.set(SESSION_COOKIE, token)
    return c


def make_callers(app: Any, db: Database, users: Users) -> list[Caller]:
    """Active callers get a feed token too; the pending and suspended ones get one while still active
    (a token must stop working when the account does)."""
    specs: list[tuple[str, tuple[Role, ...], Level, str, str]] = []  # name, roles, clearance, enterprise, state
    for role in Role:
        specs.append((f"role-{role.value}", (role,), Level.OPEN, HOME, "active"))
    for level in Level:
        specs.append((f"trader-{level.name.lower()}", (Role.TRADER,), level, HOME, "active"))
    specs += [("librarian-secret", (Role.LIBRARIAN, Role.CUSTODIAN), Level.SECRET, "centre", "active"),
              ("librarian-restricted", (Role.LIBRARIAN,), Level.RESTRICTED, "centre", "active"),
              ("reviewer-centre", (Role.REVIEWER,), Level.OPEN, "centre", "active"),
              ("reviewer-other", (Role.REVIEWER,), Level.OPEN, OTHER, "active"),
              ("trader-other", (Role.TRADER,), Level.SECRET, OTHER, "active"),
              ("pending", (Role.TRADER, Role.LIBRARIAN), Level.SECRET, HOME, "pending"),
              ("suspended", (Role.TRADER, Role.LIBRARIAN, Role.REVIEWER), Level.SECRET, HOME, "suspended"),
              ("second-factor-owed", (Role.TRADER, Role.ADMIN), Level.SECRET, HOME, "half")]
    root = users.make("authz-root", Role.ADMIN)
    with db.read() as s:
        admin = accounts.principal_of(accounts.get_user(s, root.id))
    out = [Caller("anonymous", _client(app, None), None, None)]
    for name, roles, level, enterprise, state in specs:
        user = users.make(name, *roles, enterprise=enterprise, clearance=level)
        token, csrf = _session(db, user.id, mfa_passed=state != "half")
        feed = None
        with db.write() as s:
            if state != "half":
                feed = saved_searches.new_feed_token(s, accounts.principal_of(accounts.get_user(s, user.id)))
            if state == "suspended":
                accounts.change_status(s, admin, user.id, "suspend", "matrix")
            if state == "pending":
                s.get(User, user.id).status = "pending"  # type: ignore[union-attr] # never approved
        with db.read() as s:
            principal = accounts.principal_of(accounts.get_user(s, user.id), second_factor_owed=state == "half")
        out.append(Caller(name, _client(app, token), principal, enterprise, user.id, csrf, feed))
    return out
