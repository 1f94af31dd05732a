"""Bad input gets a clear message in the user's language and a 4xx, never a 500, and changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.tables import AuditRecord, User
from tests.conftest import PASSWORD, Users, csrf_of, sign_in


def _count(db: Database, table: type) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def _register(client: TestClient, enterprise: int, **fields: str) -> object:
    data = {"enterprise_id": str(enterprise), "username": "applicant", "display_name": "Applicant",
            "password": PASSWORD, "password2": PASSWORD, "csrf_token": csrf_of(client)}
    data.update(fields)
    return client.post("/register", data=data)


@pytest.mark.parametrize(("fields", "message"), [
    ({"password": "short", "password2": "short"}, "at least 12 characters"),
    ({"password": "password1234", "password2": "password1234"}, "too common"),
    ({"password": "aaaaaaaaaaaaaaaa", "password2": "aaaaaaaaaaaaaaaa"}, "too common or too simple"),
    ({"password": "my-applicant-pw!", "password2": "my-applicant-pw!"}, "must not contain the username"),
    ({"password2": "something else entirely"}, "passwords differ"),
    ({"username": "../etc/passwd"}, "Usernames have 3 to 64 characters"),
    ({"username": "ab"}, "Usernames have 3 to 64 characters"),
    ({"display_name": "   "}, "This field is required"),
    ({"display_name": "x" * 300}, "too long"),
])
def test_registration_rejects_bad_fields(client: TestClient, db: Database, enterprises: dict[str, int],
                                         fields: dict[str, str], message: str) -> None:
    before = _count(db, User)
    r = _register(client, enterprises["hanbit"], **fields)
    assert 400 <= r.status_code < 500 and message in r.text
    assert _count(db, User) == before


def test_duplicate_username_is_a_conflict(client: TestClient, db: Database, enterprises: dict[str, int]) -> None:
    assert _register(client, enterprises["hanbit"]).status_code == 200
    audit_before = _count(db, AuditRecord)
    again = _register(client, enterprises["hanbit"], username="Applicant")
    assert again.status_code == 409 and "already taken" in again.text
    assert _count(db, AuditRecord) == audit_before


def test_messages_follow_the_users_language(client: TestClient, enterprises: dict[str, int]) -> None:
    client.cookies.set("entrepot_lang", "ko")
    r = _register(client, enterprises["hanbit"], password="short", password2="short")
    assert r.status_code == 400 and '<html lang="ko">' in r.text
    assert "at least 12 characters" not in r.text  # translated


def test_script_in_names_is_escaped(app: object, client: TestClient, db: Database, users: Users,
                                    enterprises: dict[str, int]) -> None:
    evil = '<script>alert("x")</script>'
    assert _register(client, enterprises["hanbit"], display_name=evil).status_code == 200
    users.make("gatekeeper", Role.TRADE_APPROVER)
    approver = TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    sign_in(approver, db, "gatekeeper")
    page = approver.get("/approvals").text
    assert evil not in page and "&lt;script&gt;" in page


def test_missing_and_malformed_fields_are_422_not_500(app: object, db: Database, users: Users) -> None:
    users.make("formadmin", Role.ADMIN)
    c = TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    sign_in(c, db, "formadmin")
    token = csrf_of(c)
    r = c.post("/users", data={"csrf_token": token, "enterprise_id": "not-a-number"})
    assert r.status_code == 422 and "missing or invalid" in r.text
    r = c.post("/api/v1/users", json={"enterprise_id": "x"}, headers={"x-csrf-token": token})
    assert r.status_code == 422 and r.json()["error"]["status"] == 422
    r = c.post("/api/v1/users", content=b"{not json", headers={"x-csrf-token": token, "content-type": "application/json"})
    assert r.status_code == 422
    r = c.get("/audit?since=yesterday")
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    r = c.post("/users/999999/roles", data={"csrf_token": token, "roles": "emperor"})
    assert r.status_code == 404


def test_oversized_bodies_are_refused(client: TestClient, db: Database, enterprises: dict[str, int]) -> None:
    before = _count(db, User)
    r = client.post("/register", data={"display_name": "x" * 200_000, "csrf_token": csrf_of(client)})
    assert r.status_code == 413
    assert _count(db, User) == before


def test_unknown_roles_and_levels_are_refused(app: object, db: Database, users: Users) -> None:
    users.make("roleadmin", Role.ADMIN)
    target = users.make("roletarget", enterprise="hanbit")
    c = TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    sign_in(c, db, "roleadmin")
    h = {"x-csrf-token": csrf_of(c)}
    assert c.put(f"/api/v1/users/{target.id}/roles", json={"roles": ["emperor"]}, headers=h).status_code == 400
    r = c.post(f"/api/v1/users/{target.id}/clearance-requests", json={"level": "TOP"}, headers=h)
    assert r.status_code == 400 and "Unknown clearance" in r.json()["error"]["message"]
    r = c.post(f"/users/{target.id}/clearance", data={"clearance": "COSMIC", "csrf_token": h["x-csrf-token"]})
    assert r.status_code == 400


def test_open_redirects_are_not_followed(client: TestClient, db: Database, users: Users) -> None:
    users.make("redirected")
    page = client.get("/login?next=//evil.example/x")
    assert re.search(r'name="next" value="/"', page.text)
