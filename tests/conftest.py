"""Fixtures shared by the whole suite.

The backend comes from ENTREPOT_TEST_DB: "sqlite" (default) or "postgresql". On PostgreSQL a fresh
database is created for the session (from ENTREPOT_TEST_PG_URL, default the `test` database on
127.0.0.1:5432) and emptied between tests; on SQLite each test copies a migrated template file.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from entrepot.actions import accounts
from entrepot.core.config import Settings, load_settings
from entrepot.core.types import Level, Role, UserKind
from entrepot.db import Base, Database
from entrepot.db.migrate import upgrade
from entrepot.db.tables import Enterprise, User
from entrepot.web.app import create_app
from entrepot.web.routes.messenger import close_writer

BACKEND = os.environ.get("ENTREPOT_TEST_DB", "sqlite")
PG_URL = os.environ.get("ENTREPOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery staple"


def pytest_report_header() -> str:
    return f"entrepot database backend: {BACKEND}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgresql":
        name = f"entrepot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        template = tmp_path_factory.mktemp("template") / "entrepot.db"
        engine = Database(f"sqlite:///{template}").engine
        upgrade(engine)
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield str(template)


def _empty_postgres(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as c:
        c.execute(text(f"TRUNCATE {names}, page_search RESTART IDENTITY CASCADE"))
        c.execute(text("UPDATE search_stats SET rows = 0, tokens = 0"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    if BACKEND == "postgresql":
        url = database_url
    else:
        shutil.copy(database_url, tmp_path / "entrepot.db")
        url = f"sqlite:///{tmp_path / 'entrepot.db'}"
    return load_settings(data_dir=tmp_path, database_url=url, allowed_networks=["127.0.0.0/8", "::1/128"])


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.db_url)
    if BACKEND == "postgresql":
        _empty_postgres(database)
    yield database
    database.dispose()


def make_app(settings: Settings, db: Database, **overrides: Any) -> Any:
    s = settings.model_copy(update=overrides) if overrides else settings
    return create_app(s, db)


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[Any]:
    application = make_app(settings, db)
    yield application
    # Test clients often run without the app's lifespan: stop its writer here, so no send of this
    # test is still being committed while the next one empties the database.
    close_writer(application)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 5000)) as c:
        yield c


@pytest.fixture
def enterprises(db: Database) -> dict[str, int]:
    with db.write() as s:
        return {
            "centre": accounts.create_enterprise(s, None, "Centre", None, is_operator=True).id,
            "hanbit": accounts.create_enterprise(s, None, "Hanbit Trading", "KR").id,
            "daedong": accounts.create_enterprise(s, None, "Daedong Trading", "KR").id,
        }


class Users:
    """Creates users straight through the actions (bootstrap), for tests that need them active."""

    def __init__(self, db: Database, settings: Settings, enterprises: dict[str, int]) -> None:
        self.db, self.settings, self.enterprises = db, settings, enterprises

    def make(self, username: str, *roles: Role, enterprise: str = "centre", clearance: Level = Level.OPEN,
             kind: UserKind = UserKind.STAFF, active: bool = True, totp: bool = True) -> User:
        with self.db.write() as s:
            user = accounts.create_user(s, self.settings, None, enterprise_id=self.enterprises[enterprise],
                                        username=username, display_name=username.title(), password=PASSWORD,
                                        kind=kind, roles=roles or (Role.TRADER,), clearance=clearance,
                                        bootstrap=active)
            if totp:
                user.totp_secret = pyotp.random_base32()
            return user


@pytest.fixture
def users(db: Database, settings: Settings, enterprises: dict[str, int]) -> Users:
    return Users(db, settings, enterprises)


def next_code(secret: str, last_step: int | None) -> str:
    """A code the server will accept: within its window and later than the last step used."""
    now = int(time.time() // 30)
    # The current step, not the previous one: the server accepts one step either side of its own
    # clock, and a 30-second boundary may pass while the request travels.
    step = now if last_step is None else max(now, last_step + 1)
    if step > now + 1:
        time.sleep((step - 1) * 30 - time.time() + 0.5)
    return pyotp.TOTP(secret).at(step * 30)


def csrf_of(client: TestClient) -> str:
    """The CSRF token the pages embed for this client (session-bound once signed in)."""
    import re

    page = client.get("/login" if "entrepot_session" not in client.cookies else "/account")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, db: Database, username: str, password: str = PASSWORD) -> None:
    """The real two-step sign-in through the pages."""
    token = csrf_of(client)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    with db.read() as s:
        from sqlalchemy import select

        user = s.execute(select(User).where(User.username == username)).unique().scalar_one()
        secret, last = user.totp_secret, user.totp_last_step
    assert secret, "test users are created with an enrolled entry card"
    page = client.get("/login/second-factor")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login/second-factor", data={"code": next_code(secret, last), "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def enterprise_id(db: Database, name: str) -> int:
    with db.read() as s:
        from sqlalchemy import select

        return s.execute(select(Enterprise.id).where(Enterprise.name == name)).scalar_one()
