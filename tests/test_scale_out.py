"""The scale-out deployment, as processes: two `entrepot serve` and two `entrepot worker` on one PostgreSQL
and one Redis, sharing one data (blob) folder.

Uploads go to both instances; the two workers share the job table (claimed with SKIP LOCKED, woken
through Redis): every ingest job runs once, every document gets its pages and index rows once, the audit
chain written by four processes at once still verifies, and a message posted through one instance
reaches a WebSocket client of the other while the workers are busy. (The two-instance messaging
details — typing, receipts — are in tests/messaging/test_two_instances.py.)

Runs in the PostgreSQL pass of scripts/test.sh; skipped on SQLite, and without Redis outside CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
import websockets
from sqlalchemy import func, select, text

from entrepot.actions import accounts, auth, messaging
from entrepot.actions.library import INGEST_JOB
from entrepot.core.config import Settings
from entrepot.core.types import Level, Role
from entrepot.db import Database
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.db.tables import Job
from tests._processes import require_redis, start_entrepot, stop_all, wait_healthy
from tests.browser.conftest import _free_port
from tests.conftest import BACKEND, Users
from tests.messaging.test_two_instances import _session
from tests.parsers import _parser_samples as samples

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(BACKEND != "postgresql", reason="scale-out runs on PostgreSQL")]
REDIS = "redis://127.0.0.1:6379/13"
DOCUMENTS = 20


@pytest.fixture
def cluster(settings: Settings, db: Database, tmp_path: Path) -> Iterator[list[int]]:
    require_redis(REDIS)
    redis.Redis.from_url(REDIS).delete("entrepot:jobs:wakeup")
    env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url, "ENTREPOT_DATA_DIR": str(settings.data_dir),
           "ENTREPOT_REDIS_URL": REDIS, "OMP_THREAD_LIMIT": "1"}
    ports = [_free_port(), _free_port()]
    procs = [start_entrepot(["serve", "--port", str(p)], env, tmp_path / f"serve-{p}.log") for p in ports]
    procs += [start_entrepot(["worker", "--processes", "1"], env, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    try:
        for port in ports:
            wait_healthy(port, tmp_path / f"serve-{port}.log")
        yield ports
    finally:
        stop_all(procs)


def _token(db: Database, user_id: int) -> str:
    with db.write() as s:
        _row, secret = auth.create_api_token(s, accounts.principal_of(accounts.get_user(s, user_id)), "scale", 1)
    return secret


def _upload_all(ports: list[int], token: str) -> list[int]:
    """DOCUMENTS distinct PDFs, alternately through each instance, four at a time."""
    def one(i: int) -> int:
        pdf = samples.make_text_pdf([f"Scale-out lot {i}: marker{i:03d}zz nickel cathodes, 25 t."])
        r = httpx.post(f"http://127.0.0.1:{ports[i % 2]}/api/v1/documents", timeout=60,
                       headers={"authorization": f"Bearer {token}"},
                       files={"file": (f"lot-{i}.pdf", pdf)}, data={"category": "trade_news", "level": "OPEN"})
        assert r.status_code == 201, r.text
        return int(r.json()["document_id"])

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(DOCUMENTS)))


def _wait_ready(db: Database, ids: list[int], seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        with db.read() as s:
            states = Counter(s.execute(select(Document.status).where(Document.id.in_(ids))).scalars())
        if states.get("ready", 0) == len(ids) or time.monotonic() > deadline:
            return dict(states)
        time.sleep(0.5)


def test_two_servers_two_workers_share_the_work(cluster: list[int], db: Database, users: Users,
                                                  settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    lib = users.make("scale-lib", Role.LIBRARIAN, Role.CUSTODIAN, clearance=Level.SECRET)
    ids = _upload_all(cluster, _token(db, lib.id))
    assert len(set(ids)) == DOCUMENTS
    states = _wait_ready(db, ids, 240)
    assert states == {"ready": DOCUMENTS}, states
    with db.read() as s:
        ingest = s.execute(select(Job).where(Job.kind == INGEST_JOB)).scalars().all()
        versions = s.execute(select(DocumentVersion.id).where(DocumentVersion.document_id.in_(ids))).scalars().all()
        pages = s.execute(select(Page.version_id, Page.number).where(Page.version_id.in_(versions))).all()
        index_rows = s.execute(text("SELECT page_id, count(*) FROM page_search GROUP BY page_id")).all()
        page_ids = set(s.execute(select(Page.id).where(Page.version_id.in_(versions))).scalars())
        stats_rows = s.execute(text("SELECT rows FROM search_stats WHERE id = 1")).scalar_one()
        blobs_per_version = s.execute(select(func.count(func.distinct(DocumentVersion.blob)))
                                      .where(DocumentVersion.id.in_(versions))).scalar_one()
    assert len(ingest) == DOCUMENTS and len(versions) == DOCUMENTS
    assert {j.state for j in ingest} == {"done"}, Counter(j.state for j in ingest)
    assert [j.attempts for j in ingest] == [1] * DOCUMENTS, "an ingest job ran more than once"
    assert sorted(v for v, _ in pages) == sorted(versions), "each one-page document has exactly one page"
    assert {pid for pid, _ in index_rows} == page_ids and all(n == 1 for _, n in index_rows), index_rows
    assert stats_rows == DOCUMENTS and blobs_per_version == DOCUMENTS
    by_worker = Counter(j.worker for j in ingest)
    # The instance it was not uploaded through ranks the document first for its own marker, and lists
    # every document once (a doubly indexed page would show twice).
    bearer = {"authorization": f"Bearer {_token(db, lib.id)}"}
    for i in (0, 1, DOCUMENTS - 1):
        found = httpx.get(f"http://127.0.0.1:{cluster[(i + 1) % 2]}/api/v1/search",
                          params={"q": f"marker{i:03d}zz"}, headers=bearer, timeout=10).json()
        hits = [h["document_id"] for h in found["hits"]]
        assert hits[0] == ids[i] and len(hits) == len(set(hits)), found
    verify = subprocess.run([sys.executable, "-m", "entrepot", "audit", "verify"], capture_output=True, text=True,
                            env={**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url,
                                 "ENTREPOT_DATA_DIR": str(settings.data_dir)}, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _message_crosses_instances(cluster, db, users)
    with capsys.disabled():
        print(f"\n[scale-out] {DOCUMENTS} documents through 2 servers, ingest jobs by worker: "
              f"{dict(by_worker)}; {time.monotonic() - started:.1f} s")


def _message_crosses_instances(cluster: list[int], db: Database, users: Users) -> None:
    """Posted through instance A's HTTP API (not its socket), delivered on a socket of instance B.
    Part of the test above: starting four processes costs more than the checks themselves."""
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    with db.write() as s:
        conv = messaging.start_conversation(s, accounts.principal_of(alice), [bob.id]).id
    token_a, cookie_b = _token(db, alice.id), _session(db, bob.id)

    async def run() -> tuple[dict, float]:
        url = f"ws://127.0.0.1:{cluster[1]}/ws?since=1"
        async with websockets.connect(url, additional_headers={"Cookie": f"entrepot_session={cookie_b}"}) as wb:
            await asyncio.sleep(0.3)
            started = time.monotonic()
            async with httpx.AsyncClient() as http:
                r = await http.post(f"http://127.0.0.1:{cluster[0]}/api/v1/conversations/{conv}/messages",
                                    json={"client_id": "x-1", "body": "across"},
                                    headers={"authorization": f"Bearer {token_a}"})
                assert r.status_code == 201, r.text
            while True:
                frame = json.loads(await asyncio.wait_for(wb.recv(), 10))
                if frame["type"] == "event" and frame["event"] == "message":
                    return frame, time.monotonic() - started

    with ThreadPoolExecutor(1) as pool:  # the browser tests' Playwright keeps an event loop in this thread
        frame, seconds = pool.submit(lambda: asyncio.run(run())).result()
    assert frame["payload"]["body"] == "across" and seconds < 2.0
