"""Library fixtures: signed-in clients per role, uploads through the pages, a worker to process them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from entrepot.core.config import Settings
from entrepot.core.types import Level, Role
from entrepot.db import Database
from entrepot.workers.loop import Worker
from tests.conftest import Users, csrf_of, sign_in


class Library:
    def __init__(self, app: Any, db: Database, settings: Settings, users: Users) -> None:
        self.app, self.db, self.settings, self.users = app, db, settings, users
        self.clients: dict[str, TestClient] = {}

    def client(self, username: str, *roles: Role, clearance: Level = Level.OPEN, enterprise: str = "hanbit"
               ) -> TestClient:
        if username not in self.clients:
            self.users.make(username, *(roles or (Role.TRADER,)), clearance=clearance, enterprise=enterprise)
            c = TestClient(self.app, client=("127.0.0.1", 5000))
            sign_in(c, self.db, username)
            self.clients[username] = c
        return self.clients[username]

    @property
    def librarian(self) -> TestClient:
        return self.client("lib", Role.LIBRARIAN, Role.CUSTODIAN, clearance=Level.SECRET, enterprise="centre")

    def upload(self, name: str, data: bytes, *, level: str = "OPEN", category: str = "trade_news",
               publish: bool = True, client: TestClient | None = None) -> dict[str, Any]:
        c = client or self.librarian
        r = c.post("/library/upload", files={"file": (name, data)}, headers={"accept": "application/json"},
                   data={"level": level, "category": category, "csrf_token": csrf_of(c)})
        assert r.status_code in (200, 201), r.text
        body = r.json()
        if publish:
            assert c.post(f"/documents/{body['document_id']}/publish",
                          data={"published": "true", "csrf_token": csrf_of(c)}).status_code in (200, 303)
        return body

    def process(self) -> int:
        return Worker(self.db, self.settings).run_until_idle()


@pytest.fixture
def lib(app: Any, db: Database, settings: Settings, users: Users, enterprises: dict[str, int]) -> Library:
    return Library(app, db, settings.model_copy(update={"reference_dir": None}), users)
