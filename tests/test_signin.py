"""Sign-in through the pages: password, entry card (TOTP) enrolment and replay protection,
recovery codes, lockout, CSRF, session expiry, suspension, network allowlist, API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from entrepot.accounts import tokens
from entrepot.actions import auth
from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.tables import AuditRecord, User, WebSession
from tests.conftest import PASSWORD, Users, csrf_of, make_app, next_code, sign_in


def _login_password(client: TestClient, username: str, password: str = PASSWORD) -> object:
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(client)},
                       follow_redirects=False)


def _form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_first_sign_in_enrols_the_entry_card(client: TestClient, db: Database, users: Users) -> None:
    users.make("newcomer", totp=False)
    assert _login_password(client, "newcomer").status_code == 303
    page = client.get("/login/second-factor")
    assert "<svg" in page.text and 'id="totp-secret"' in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    bad = client.post("/login/enrol", data={"code": "000000", "csrf_token": _form_token(page.text)})
    assert bad.status_code == 400 and "not right" in bad.text
    done = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _form_token(page.text)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.text)
    assert len(codes) == 10
    assert client.get("/").status_code == 200
    with db.read() as s:
        assert s.execute(select(User.totp_secret).where(User.username == "newcomer")).scalar_one() == secret


def test_totp_code_cannot_be_replayed_but_recovery_code_works_once(app: object, db: Database, users: Users) -> None:
    user = users.make("replayer")
    code = next_code(user.totp_secret, None)  # type: ignore[arg-type]
    a, b, c = (TestClient(app, client=("127.0.0.1", 5000)) for _ in range(3))  # type: ignore[arg-type]
    assert _login_password(a, "replayer").status_code == 303
    ok = a.post("/login/second-factor", data={"code": code, "csrf_token": _form_token(a.get("/login/second-factor").text)},
                follow_redirects=False)
    assert ok.status_code == 303
    assert _login_password(b, "replayer").status_code == 303
    replay = b.post("/login/second-factor", data={"code": code, "csrf_token": _form_token(b.get("/login/second-factor").text)})
    assert replay.status_code == 400 and "already used" in replay.text
    assert b.get("/", follow_redirects=False).headers["location"] == "/login/second-factor"
    with db.read() as s:
        reasons = [r.details.get("reason") for r in s.execute(select(AuditRecord).where(
            AuditRecord.action == "login.failure")).scalars()]
    assert "replay" in reasons
    # A recovery code: enrol through the page to get real ones.
    users.make("recoverer", totp=False)
    assert _login_password(c, "recoverer").status_code == 303
    page = c.get("/login/second-factor").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)  # type: ignore[union-attr]
    codes = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", c.post(
        "/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _form_token(page)}).text)
    for attempt, expected in ((1, 303), (2, 400)):
        d = TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
        assert _login_password(d, "recoverer").status_code == 303
        r = d.post("/login/second-factor", data={"code": codes[0], "csrf_token": _form_token(
            d.get("/login/second-factor").text)}, follow_redirects=False)
        assert r.status_code == expected, attempt


def test_wrong_password_then_lockout(settings: Settings, db: Database, users: Users) -> None:
    users.make("target")
    app = make_app(settings, db, login_max_failures=3)
    client = TestClient(app, client=("127.0.0.1", 5000))
    for _ in range(3):
        r = _login_password(client, "target", "wrong password!!")
        assert r.status_code == 401 and "Wrong username or password" in r.text
    locked = _login_password(client, "target")  # even the right password waits now
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    unknown = _login_password(client, "nobody-here", "whatever password")
    assert unknown.status_code == 401 and "Wrong username or password" in unknown.text


def test_forms_need_the_csrf_token(client: TestClient, users: Users) -> None:
    users.make("csrfuser")
    csrf_of(client)  # sets the pre-session cookie
    missing = client.post("/login", data={"username": "csrfuser", "password": PASSWORD})
    assert missing.status_code == 403 and "did not come from this site" in missing.text
    wrong = client.post("/login", data={"username": "csrfuser", "password": PASSWORD, "csrf_token": "forged"})
    assert wrong.status_code == 403
    fresh = TestClient(client.app)  # no cookie yet: a token from elsewhere cannot match
    assert fresh.post("/login", data={"username": "csrfuser", "password": PASSWORD, "csrf_token": "x"}).status_code == 403


def test_signed_in_posts_need_the_session_token(client: TestClient, db: Database, users: Users) -> None:
    users.make("poster")
    sign_in(client, db, "poster")
    r = client.post("/account/tokens", data={"name": "t", "csrf_token": "stale"})
    assert r.status_code == 403
    ok = client.post("/account/tokens", data={"name": "t", "days": "5", "csrf_token": csrf_of(client)})
    assert ok.status_code == 200 and 'id="new-token"' in ok.text


def test_idle_and_absolute_expiry(client: TestClient, db: Database, users: Users) -> None:
    users.make("sleeper")
    sign_in(client, db, "sleeper")
    assert client.get("/", follow_redirects=False).status_code == 200
    with db.write() as s:
        s.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    sign_in(client, db, "sleeper")
    with db.write() as s:
        s.execute(update(WebSession).values(created_at=datetime.now(UTC) - timedelta(hours=13)))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_suspension_ends_open_sessions_and_api_tokens(app: object, client: TestClient, db: Database,
                                                       users: Users) -> None:
    users.make("boss", Role.ADMIN)
    victim = users.make("victim", enterprise="hanbit")
    v = TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    sign_in(v, db, "victim")
    token = v.post("/api/v1/tokens", json={"name": "script"}, headers={"x-csrf-token": csrf_of(v)}).json()["token"]
    assert v.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
    sign_in(client, db, "boss")
    r = client.post(f"/users/{victim.id}/status", data={"change": "suspend", "reason": "investigation",
                                                        "csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert v.get("/api/v1/me").status_code == 401
    anon = TestClient(client.app)
    assert anon.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert _login_password(TestClient(client.app), "victim").status_code == 403


def test_network_allowlist(settings: Settings, db: Database) -> None:
    app = make_app(settings, db, allowed_networks=["10.0.0.0/8"])
    outside = TestClient(app, client=("192.0.2.7", 4000))
    r = outside.get("/login")
    assert r.status_code == 403 and "not allowed" in r.text
    inside = TestClient(app, client=("10.1.2.3", 4000))
    assert inside.get("/login").status_code == 200


def test_security_headers_and_cookie_flags(settings: Settings, db: Database, users: Users) -> None:
    users.make("cookie")
    app = make_app(settings, db)
    https = TestClient(app, base_url="https://entrepot.example", client=("127.0.0.1", 5000))
    page = https.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    r = https.post("/login", data={"username": "cookie", "password": PASSWORD, "csrf_token": _form_token(page.text)},
                   follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "entrepot_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_api_token_lifecycle(client: TestClient, db: Database, users: Users) -> None:
    users.make("scripter")
    sign_in(client, db, "scripter")
    csrf = {"x-csrf-token": csrf_of(client)}
    created = client.post("/api/v1/tokens", json={"name": "nightly", "days": 30}, headers=csrf)
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    api = TestClient(client.app)
    me = api.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["user"]["username"] == "scripter"
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=csrf).status_code == 204
    assert api.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"}).status_code == 401
    assert api.get("/api/v1/me", headers={"authorization": "Bearer ent_forged"}).status_code == 401


def test_logout_ends_the_session(client: TestClient, db: Database, users: Users) -> None:
    users.make("leaver")
    sign_in(client, db, "leaver")
    r = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        assert s.execute(select(WebSession)).first() is None
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_principals_decide_as_resolve_session(settings: Settings, db: Database, users: Users) -> None:
    """The fan-out's check of many sessions at once finds what the sign-in path finds for each one."""
    now = datetime.now(UTC)
    owners = {name: users.make(name, *roles) for name, roles in
              (("fresh", (Role.TRADER,)), ("idle", (Role.TRADER,)), ("old", (Role.TRADER,)),
               ("halfway", (Role.TRADER, Role.LIBRARIAN)), ("gone", (Role.TRADER,)))}
    cookies = {name: tokens.new_token() for name in owners}
    ages = {"idle": (now - timedelta(minutes=31), now - timedelta(minutes=31)),
            "old": (now - timedelta(hours=13), now)}
    with db.write() as s:
        for name, user in owners.items():
            created, seen = ages.get(name, (now, now))
            s.add(WebSession(id=tokens.digest(cookies[name]), user_id=user.id, csrf_token=tokens.new_token(),
                             mfa_passed=name != "halfway", created_at=created, last_seen_at=seen))
        s.execute(update(User).where(User.username == "gone").values(status="suspended"))
    with db.read() as s:
        one_by_one = {}
        for cookie in [*cookies.values(), tokens.new_token()]:
            resolved = auth.resolve_session(s, settings, cookie)
            if resolved is not None:
                one_by_one[tokens.digest(cookie)] = resolved.principal
        at_once = auth.session_principals(s, settings, {tokens.digest(c) for c in cookies.values()})
    assert at_once == one_by_one
    assert set(at_once) == {tokens.digest(cookies["fresh"]), tokens.digest(cookies["halfway"])}
    assert at_once[tokens.digest(cookies["halfway"])].second_factor_owed
