"""Every route of the running app, for every role and account state, answers what the policy says.

Routes are enumerated from the app itself, so a route added without a Guard fails here. WebSocket frames
and events: tests/test_authorization_events.py; feeds, exports and what every page shows for each
clearance: tests/test_authorization_data.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from entrepot import policy
from entrepot.actions import accounts, saved_searches
from entrepot.core.types import Principal, Role, UserStatus
from entrepot.db import Database
from entrepot.db.tables import ApprovalRequest
from entrepot.web.context import FeedGuard, Guard
from tests.conftest import PASSWORD, Users, csrf_of, sign_in

PUBLIC_MOUNTS = {"/static"}


def guard_of(route: APIRoute) -> Guard | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Guard):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def app_routes(app: Any) -> list[tuple[str, Any]]:
    """(path, route) for every route the app serves, through included routers."""
    return [(rc.path, rc.original_route) for rc in iter_route_contexts(app.routes)]


def test_every_route_has_a_guard(app: Any) -> None:
    unguarded, seen = [], 0
    for path, route in app_routes(app):
        seen += 1
        if isinstance(route, Mount):
            assert path in PUBLIC_MOUNTS, f"unexpected mount {path}"
        elif isinstance(route, APIRoute):
            if guard_of(route) is None:
                unguarded.append(f"{sorted(route.methods)} {path}")
        elif isinstance(route, APIWebSocketRoute):
            # A WebSocket has no Guard dependency; it must name its policy action. Its frames and
            # events are checked for every kind of caller in tests/test_authorization_events.py.
            if not isinstance(getattr(route.endpoint, "policy_action", None), policy.Action):
                unguarded.append(f"WS {path}")
        else:
            unguarded.append(f"{type(route).__name__} {path}")
    assert seen > 20
    assert not unguarded, f"routes without a policy decision: {unguarded}"


@dataclass
class Caller:
    name: str
    client: TestClient
    principal: Principal | None
    csrf: str | None
    feed_token: str | None = None


@pytest.fixture
def callers(app: Any, db: Database, users: Users) -> list[Caller]:
    anon = TestClient(app, client=("127.0.0.1", 5000))
    out = [Caller("anonymous", anon, None, page_csrf(anon))]
    for role in Role:
        user = users.make(f"as-{role.value.replace('_', '-')}", role)
        c = TestClient(app, client=("127.0.0.1", 5000))
        sign_in(c, db, user.username)
        with db.read() as s:
            p = accounts.principal_of(accounts.get_user(s, user.id))
        out.append(Caller(role.value, c, p, csrf_of(c)))
    # Password accepted, entry card still owed.
    half_user = users.make("half-way", Role.ADMIN)
    half = TestClient(app, client=("127.0.0.1", 5000))
    half.post("/login", data={"username": half_user.username, "password": PASSWORD, "csrf_token": csrf_of(half)})
    with db.read() as s:
        hp = accounts.principal_of(accounts.get_user(s, half_user.id), second_factor_owed=True)
    out.append(Caller("second-factor-owed", half, hp, page_csrf(half)))
    # Signed in, then suspended: the open session must stop working at once.
    sus_user = users.make("suspended-admin", Role.ADMIN, Role.AUDITOR)
    sus = TestClient(app, client=("127.0.0.1", 5000))
    sign_in(sus, db, sus_user.username)
    admin = next(c for c in out if c.name == "admin")
    with db.write() as s:
        accounts.change_status(s, admin.principal, sus_user.id, "suspend", "matrix")  # type: ignore[arg-type]
        sp = accounts.principal_of(accounts.get_user(s, sus_user.id))
    assert sp.status is UserStatus.SUSPENDED
    out.append(Caller("suspended", sus, sp, page_csrf(sus)))
    with db.write() as s:  # feed readers identify with a personal token instead of a session
        for caller in out:
            if caller.principal is not None and caller.name != "second-factor-owed":
                caller.feed_token = saved_searches.new_feed_token(s, caller.principal)
    return out


def page_csrf(client: TestClient) -> str:
    """The token a page would give this client now (pre-session or session-bound), so that a
    refusal in the matrix is the policy's and not the CSRF check's."""
    html = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _url(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 999_999)), path)


def _denied(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def test_matrix_matches_policy(app: Any, db: Database, users: Users, callers: list[Caller]) -> None:
    target = users.make("matrix-target", enterprise="hanbit")
    with db.write() as s:
        admin = next(c for c in callers if c.name == "admin").principal
        accounts.request_clearance(s, admin, target.id, "RESTRICTED", "matrix")  # type: ignore[arg-type]
        request_id = s.execute(select(ApprovalRequest.id)).scalars().first()
    ids = {"user_id": target.id, "request_id": request_id}
    checked, mismatches = 0, []
    for path, route in app_routes(app):
        if not isinstance(route, APIRoute):
            continue
        guard = guard_of(route)
        assert guard is not None
        for method in sorted(route.methods - {"HEAD"}):
            for caller in callers:
                expected = policy.allows(caller.principal, guard.action)
                if caller.name == "suspended":
                    expected = policy.allows(replace(caller.principal, status=UserStatus.SUSPENDED),  # type: ignore[arg-type]
                                             guard.action) and guard.action is policy.Action.PUBLIC
                headers = {"x-csrf-token": caller.csrf} if caller.csrf else {}
                params = {"token": caller.feed_token or "none"} if isinstance(guard, FeedGuard) else None
                r = caller.client.request(method, _url(path, ids), headers=headers, params=params,
                                          follow_redirects=False)
                assert r.status_code < 500, f"{method} {path} as {caller.name}: {r.status_code}"
                if _denied(r) == expected:
                    mismatches.append(f"{method} {path} as {caller.name}: expected "
                                      f"{'allowed' if expected else 'denied'}, got {r.status_code}")
                checked += 1
    assert not mismatches, "\n".join(mismatches)
    assert checked >= 40 * len(callers)


def test_lists_are_filtered_in_the_query(app: Any, db: Database, users: Users) -> None:
    """A trader sees colleagues only; counts too. Administrators see everyone."""
    users.make("han-a", enterprise="hanbit")
    users.make("han-b", enterprise="hanbit")
    users.make("dae-a", enterprise="daedong")
    users.make("root", Role.ADMIN)
    trader = TestClient(app, client=("127.0.0.1", 5000))
    sign_in(trader, db, "han-a")
    listed = trader.get("/api/v1/users").json()
    assert {u["username"] for u in listed["users"]} == {"han-a", "han-b"} and listed["total"] == 2
    with db.read() as s:
        dae = s.execute(select(accounts.User.id).where(accounts.User.username == "dae-a")).scalar_one()
    assert trader.get(f"/api/v1/users/{dae}").status_code == 404
    page = trader.get("/directory?q=dae")
    assert "dae-a" not in page.text
    root = TestClient(app, client=("127.0.0.1", 5000))
    sign_in(root, db, "root")
    assert root.get("/api/v1/users").json()["total"] == 4
