"""Repeated kill -9: the server while a client sends, and a worker while it writes page previews, each
CYCLES times in a row, restarting after each.

After all cycles: every acknowledged message and every stored document is there exactly once (a
client's retries with the same client ids included), each document has its pages and index rows once,
`entrepot blobs gc` finds no orphan blob (or finds and removes those a killed worker left, and none
after), no referenced blob is missing, and `entrepot audit verify` passes.

One kill per run is in tests/library/test_worker_safety.py and tests/messaging/test_group_commit.py;
these are the repeated, bounded versions (marked slow; about a minute each here).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets
from sqlalchemy import func, select, text

from entrepot.actions import accounts, messaging
from entrepot.core.config import Settings
from entrepot.core.types import Level, Role
from entrepot.db import Database
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.db.messaging import Message
from entrepot.workers.loop import Worker
from tests.browser.conftest import _free_port
from tests.conftest import BACKEND, Users
from tests.messaging.test_two_instances import _session
from tests.parsers import _parser_samples as samples

pytestmark = pytest.mark.slow
CYCLES = 3
SENDS = 20  # per cycle, within the socket's burst allowance
PAGES = 60  # per long document: previews take long enough to be killed in the middle


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url, "ENTREPOT_DATA_DIR": str(settings.data_dir),
           **extra}
    env.pop("ENTREPOT_REDIS_URL", None)
    return env


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "entrepot", *args], env=_env(settings), capture_output=True,
                          text=True, timeout=300, check=False)


def _spawn(settings: Settings, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "entrepot", *args], env=_env(settings, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(15)


def _check_storage(settings: Settings) -> str:
    """Audit chains intact; orphans (if any) removed by gc, none left after; nothing referenced missing."""
    verify = _cli(settings, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    first = _cli(settings, "blobs", "gc", "--grace-hours", "0", "--delete")
    assert first.returncode == 0 and "missing" not in first.stderr, first.stdout + first.stderr
    again = _cli(settings, "blobs", "gc", "--grace-hours", "0")
    assert again.returncode == 0 and again.stdout.startswith("0 orphan file(s)"), again.stdout + again.stderr
    return first.stdout.splitlines()[-2] if "removed" in first.stdout else first.stdout.splitlines()[-1]


# -- the server, killed while a client sends -------------------------------------------------------

async def _send_until_killed(port: int, token: str, conv: int, client_ids: list[str],
                             proc: subprocess.Popen[bytes], kill_after: int) -> set[str]:
    """Send every client id (retries of earlier ones included); kill the server once `kill_after`
    are acknowledged. Returns the client ids acknowledged."""
    acked: set[str] = set()
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?since=1", close_timeout=1,
                                  additional_headers={"Cookie": f"entrepot_session={token}"}) as ws:
        for cid in client_ids:
            await ws.send(json.dumps({"type": "send", "client_id": cid, "conversation_id": conv, "body": cid}))
        deadline = time.monotonic() + 30
        while len(acked) < kill_after and time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "sent":
                acked.add(str(frame["client_id"]))
            assert frame["type"] != "error", frame
        os.killpg(proc.pid, signal.SIGKILL)
    return acked


def _serve(settings: Settings) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = _spawn(settings, ["serve", "--port", str(port), "--no-migrate"])
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
        time.sleep(0.1)


def test_server_killed_while_sending_cycles(settings: Settings, db: Database, users: Users,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    with db.write() as s:
        conv = messaging.start_conversation(s, accounts.principal_of(alice), [bob.id]).id
    token = _session(db, alice.id)
    acked: set[str] = set()
    pending: list[str] = []  # sent, never acknowledged: the client retries them after the restart
    for cycle in range(CYCLES):
        proc, port = _serve(settings)
        try:
            ids = pending[-SENDS // 2:] + [f"c{cycle}-{i}" for i in range(SENDS - len(pending[-SENDS // 2:]))]
            with ThreadPoolExecutor(1) as pool:  # Playwright may hold an event loop in this thread
                got = pool.submit(asyncio.run, _send_until_killed(port, token, conv, ids, proc, SENDS // 2)).result()
        finally:
            _kill(proc)
        assert len(got) >= SENDS // 2
        acked |= got
        pending = [i for i in ids if i not in acked]
    with db.read() as s:
        rows = s.execute(select(Message.client_id, func.count()).where(Message.conversation_id == conv)
                         .group_by(Message.client_id)).all()
    stored = dict(rows)
    assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))}"
    assert all(n == 1 for n in stored.values()), {k: n for k, n in stored.items() if n != 1}
    gc = _check_storage(settings)
    with capsys.disabled():
        print(f"\n[crash] server kill -9 x {CYCLES}: {len(acked)} acknowledged, {len(stored)} stored, each once; "
              f"gc: {gc}; {time.monotonic() - started:.0f} s")


# -- a worker, killed while it writes page previews ------------------------------------------------

def _upload(settings: Settings, db: Database, users: Users, name: str, pages: int) -> int:
    from entrepot.actions import library
    from entrepot.blobs import BlobStore

    with db.read() as s:
        lib = accounts.principal_of(accounts.get_user(s, _librarian(db, users)))
    data = samples.make_text_pdf([f"{name} page {i}: tariff line {i * 7}." for i in range(pages)])
    new = library.NewFile(blob=BlobStore(settings.blob_dir).put_bytes(data), filename=f"{name}.pdf", size=len(data))
    with db.write() as s:
        doc, _ = library.add_document(s, lib, new, category="trade_news", level="OPEN")
        return int(doc.id)


def _librarian(db: Database, users: Users) -> int:
    with db.read() as s:
        found = s.execute(select(accounts.User.id).where(accounts.User.username == "crash-lib")).scalar_one_or_none()
    return found if found is not None else users.make("crash-lib", Role.LIBRARIAN, clearance=Level.SECRET).id


def _progress(db: Database, doc: int) -> tuple[str, int]:
    with db.read() as s:
        v = s.execute(select(DocumentVersion).where(DocumentVersion.document_id == doc)).scalar_one()
        return v.state, v.progress


def test_worker_killed_mid_ingest_cycles(settings: Settings, db: Database, users: Users,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    docs: list[int] = []
    for cycle in range(CYCLES):
        docs.append(_upload(settings, db, users, f"long-{cycle}", PAGES))
        proc = _spawn(settings, ["worker", "--processes", "1"], ENTREPOT_JOB_LEASE_SECONDS="2")
        try:
            deadline = time.monotonic() + 180
            while (now := _progress(db, docs[-1]))[0] != "processing" or now[1] < 72:
                assert time.monotonic() < deadline, f"cycle {cycle}: the worker never reached the previews"
                assert now[0] != "ready", "finished before the kill: raise PAGES"
                time.sleep(0.05)
        finally:
            _kill(proc)  # in the middle of writing page previews
        assert _progress(db, docs[-1])[0] == "processing"
        time.sleep(2.5)  # the dead worker's lease runs out; the next one takes the job again
    Worker(db, settings).run_until_idle()
    with db.read() as s:
        versions = s.execute(select(DocumentVersion.id, DocumentVersion.state, DocumentVersion.document_id)
                             .where(DocumentVersion.document_id.in_(docs))).all()
        pages = dict(s.execute(select(Page.version_id, func.count()).group_by(Page.version_id)).all())
        table, key = ("page_search", "page_id") if BACKEND == "postgresql" else ("page_fts", "rowid")
        index = s.execute(text(f"SELECT count(*), count(DISTINCT {key}) FROM {table}")).one()  # noqa: S608
        documents = s.execute(select(func.count()).select_from(Document)).scalar_one()
    assert documents == CYCLES and len(versions) == CYCLES
    assert {state for _, state, _ in versions} == {"ready"}, versions
    assert all(pages.get(vid) == PAGES for vid, _, _ in versions), pages
    assert index[0] == index[1] == CYCLES * PAGES, index
    gc = _check_storage(settings)
    with capsys.disabled():
        print(f"\n[crash] worker kill -9 x {CYCLES} mid-previews: {CYCLES} documents x {PAGES} pages, each once; "
              f"gc: {gc}; {time.monotonic() - started:.0f} s")
