"""Schemathesis against the app's own OpenAPI document (/api/openapi.json), signed in with an API token
as a trader, a librarian, a reviewer and an administrator: whatever the generated input, no answer is a
500, and every answer fits the status codes, content types and schemas the document declares.

Bounded and repeatable: FUZZ_EXAMPLES valid and FUZZ_EXAMPLES // 2 invalid cases per operation and role,
derandomised, so a CI run sees the same cases each time and the file stays within a few minutes. For a
longer hunt: ENTREPOT_FUZZ_EXAMPLES=500 ENTREPOT_FUZZ_RANDOM=1.

Each operation gets its own Hypothesis run (schemathesis's operation strategy under @given) rather than
schemathesis's pytest loader, whose fixture support does not work with the pytest this suite runs on.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from entrepot.actions import accounts, auth
from entrepot.core.types import Level, Role
from entrepot.db import Database
from tests.conftest import Users

FUZZ_EXAMPLES = int(os.environ.get("ENTREPOT_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("ENTREPOT_FUZZ_RANDOM") == "1"
ROLES = (Role.TRADER, Role.LIBRARIAN, Role.REVIEWER, Role.ADMIN)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, ignored_auth]
#: Requests sent per role, summed up by the last test of this file.
SENT: dict[str, int] = {}
TIMES: dict[str, float] = {}
#: Answers by class (200, 400, 500...), to see the fuzzer got past the refusals too.
STATUSES: Counter[int] = Counter()

pytestmark = pytest.mark.slow


def _token(db: Database, users: Users, role: Role) -> str:
    """An API token of a user holding `role`. A bystander's tokens come first, so the caller's own token
    is not one of the small ids the fuzzer tries most (revoking it would sign the rest of the run out)."""
    bystander = users.make("fuzz-bystander", enterprise="hanbit")
    with db.write() as s:
        other = accounts.principal_of(accounts.get_user(s, bystander.id))
        for i in range(40):
            auth.create_api_token(s, other, f"spare {i}", 30)
    user = users.make(f"fuzz-{role.value}", role, clearance=Level.CONFIDENTIAL,
                      enterprise="hanbit" if role is Role.TRADER else "centre")
    with db.write() as s:
        _, secret = auth.create_api_token(s, accounts.principal_of(accounts.get_user(s, user.id)), "fuzz", 30)
    return secret


def _fuzz(operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str]) -> int:
    sent = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM,
              suppress_health_check=list(HealthCheck), print_blob=True)
    # The token is a fixed part of every case, so invalid cases never count its absence as their fault.
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        STATUSES[case.call_and_validate(checks=CHECKS).status_code // 100 * 100] += 1

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation can be made invalid (no parameters, no body).
    return sent


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_api_answers_within_its_schema(role: Role, app: Any, db: Database, users: Users,
                                       enterprises: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {_token(db, users, role)}"}
    # Generous timeouts: the first request builds the routes and loads the analysers (seconds when busy).
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers, timeout=120)
    schema.config.update(request_timeout=120)
    # An oversized body is refused before it is read (413): as good a rejection of invalid data as a 422.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    failures, sent, operations = [], 0, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, examples in ((GenerationMode.POSITIVE, FUZZ_EXAMPLES),
                               (GenerationMode.NEGATIVE, max(1, FUZZ_EXAMPLES // 2))):
            try:
                t0 = time.time()
                sent += _fuzz(operation, mode, examples, headers)
                TIMES[f"{role.value} {operation.label} {mode.value}"] = time.time() - t0
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, then report them
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    SENT[role.value] = sent
    assert operations >= 25
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_fuzz_ran_enough() -> None:
    """Runs after the fuzz runs in this file (same session): each role sent a fair number of requests."""
    if len(SENT) < len(ROLES):
        pytest.skip("the fuzz runs were not all part of this session")
    print(f"\nfuzz requests per role: {SENT}, total {sum(SENT.values())}; answers {dict(STATUSES)}")
    for k, v in sorted(TIMES.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {v:6.1f}s {k}")
    assert all(n >= 100 for n in SENT.values())
    assert STATUSES[200] >= 100 and 500 not in STATUSES


def test_what_the_fuzzer_found_stays_fixed(app: Any, db: Database, users: Users, enterprises: dict[str, int]) -> None:
    """Each of these answered 500 or broke the document before: now a clear 4xx in the documented shape."""
    from fastapi.testclient import TestClient

    headers = {"Authorization": f"Bearer {_token(db, users, Role.ADMIN)}"}
    client = TestClient(app, client=("127.0.0.1", 5000))
    # SQLite's lower() folds ASCII only: a repeated non-ASCII name slipped past the duplicate check.
    assert client.post("/api/v1/enterprises", json={"name": "DÞÜ筟"}, headers=headers).status_code == 201
    again = client.post("/api/v1/enterprises", json={"name": "DÞÜ筟"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["field"] == "name"
    # An id past 64 bits could not be bound by SQLite.
    huge = client.get(f"/api/v1/users/{2 ** 70}", headers=headers)
    assert huge.status_code in (400, 404) and "error" in huge.json()
    # A bare number is not an ISO 8601 date and time, though pydantic would read it as one.
    assert client.get("/api/v1/audit", params={"until": "447542"}, headers=headers).status_code == 422
    assert client.get("/api/v1/audit", params={"until": "2026-01-01T00:00:00Z"}, headers=headers).status_code == 200
    # The body limit answered API callers in plain text.
    big = client.post("/api/v1/enterprises", content=b"x" * 70_000,
                      headers={**headers, "content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["status"] == 413
    # Errors are documented as they are sent.
    doc = client.get("/api/openapi.json", headers=headers).json()
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == [{"token": []}]
