"""Exports as the worker writes them: streamed record by record with progress, a date range that cuts
exactly, user and enterprise scopes, every EML parseable, a manifest whose hashes match, and the files
removed after their keeping time."""

from __future__ import annotations

import email
import hashlib
import io
import json
import shutil
import subprocess
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from entrepot import audit
from entrepot.actions import accounts
from entrepot.actions.exports import exports_dir
from entrepot.blobs import BlobStore
from entrepot.compliance import export
from entrepot.compliance.zipstream import ZipWriter
from entrepot.core.config import Settings
from entrepot.core.types import Principal, Role
from entrepot.db.retention import ExportJob
from entrepot.db.tables import ArchiveRecord, User
from entrepot.workers.exports import expire_exports
from entrepot.workers.loop import Worker
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture

MESSAGES = 1200


def _principal(people: People, name: str) -> Principal:
    with people.db.read() as s:
        return accounts.principal_of(s.execute(select(User).where(User.username == name)).unique().scalar_one())


def _ask(rev: TestClient, **fields: str) -> str:
    r = rev.post("/review/exports", data={**fields, "csrf_token": csrf_of(rev)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_a_large_export_streams_with_progress_and_verifies(people: People, settings: Settings) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    alice = _principal(people, "alice")
    with people.db.write() as s:  # straight into the archive: the messenger's own path is tested elsewhere
        for i in range(MESSAGES):
            audit.append(s, "message.text", actor=alice, target_type="message", target_id=10_000 + i,
                         details={"message_id": 10_000 + i, "kind": "text",
                                  "body": f"Lot {i}: zinc ingots, 25 t, 27{i % 10}0 USD"},
                         chain=f"conversation:{conv}", model=ArchiveRecord)
    location = _ask(rev, scope="enterprise", target="Hanbit Trading")
    waiting = rev.get(location).text
    assert 'data-state="queued"' in waiting and 'hx-trigger="every 1s"' in waiting  # the page polls

    seen: list[int] = []
    with people.db.read() as s:
        scope = export.Scope("enterprise", people.users.enterprises["hanbit"])
        total = export.count(s, scope)
        n = export.write_export(s, scope, BlobStore(settings.blob_dir), settings.data_dir / "direct.zip", seen.append)
    assert total == n == MESSAGES + 1 and seen == list(range(1, n + 1))  # progress for every record, in order

    Worker(people.db, settings).run_until_idle()
    done = rev.get(location + "?progress_only=1").text
    assert 'data-state="done"' in done and "hx-trigger" not in done and f"{n} records exported" in done
    with people.db.read() as s:
        job = s.execute(select(ExportJob)).scalar_one()
    assert (job.total, job.done, job.state) == (n, n, "done")
    r = rev.get(location + "/download")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == job.sha256
    z = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(z.read("manifest.json"))
    assert manifest["records"] == n and manifest["scope"] == "enterprise"
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(z.read(name)).hexdigest() == digest
    lines = z.read("records.jsonl").decode().splitlines()
    assert len(lines) == n and json.loads(lines[0])["action"] == "conversation.create"
    emls = [name for name in z.namelist() if name.endswith(".eml")]
    assert len(emls) == MESSAGES
    for name in emls[:: MESSAGES // 10]:
        msg = email.message_from_bytes(z.read(name), policy=email_policy.default)
        assert msg["From"].addresses[0].username == "alice" and "zinc ingots" in msg.get_content()


def test_ranges_and_user_scope_select_exactly(people: People, settings: Settings) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    a, b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    h_a, h_b = {"x-csrf-token": csrf_of(a)}, {"x-csrf-token": csrf_of(b)}
    url = f"/api/v1/conversations/{conv}/messages"
    for i in range(3):
        a.post(url, json={"client_id": f"a{i}", "body": f"from alice {i}"}, headers=h_a)
        b.post(url, json={"client_id": f"b{i}", "body": f"from bob {i}"}, headers=h_b)
    with people.db.write() as s:  # the first half is dated last year: moved in time, so its hashes no longer fit
        rows = s.execute(select(ArchiveRecord).where(ArchiveRecord.chain == f"conversation:{conv}")
                         .order_by(ArchiveRecord.seq)).scalars().all()
        for rec in rows[:4]:
            s.execute(update(ArchiveRecord).where(ArchiveRecord.id == rec.id)
                      .values(at=rec.at - timedelta(days=365)))
    today = datetime.now(UTC).date()
    user_loc = _ask(rev, scope="user", target="bob")
    range_loc = _ask(rev, scope="conversation", target=str(conv), since=(today - timedelta(days=30)).isoformat(),
                     until=(today + timedelta(days=1)).isoformat())
    Worker(people.db, settings).run_until_idle()
    by_user = zipfile.ZipFile(io.BytesIO(rev.get(user_loc + "/download").content))
    actors = {json.loads(line)["actor"] for line in by_user.read("records.jsonl").decode().splitlines()}
    assert actors == {"bob"} and json.loads(by_user.read("manifest.json"))["records"] == 3
    ranged = zipfile.ZipFile(io.BytesIO(rev.get(range_loc + "/download").content))
    seqs = [json.loads(line)["seq"] for line in ranged.read("records.jsonl").decode().splitlines()]
    assert seqs == [r.seq for r in rows[4:]]


def test_finished_exports_expire(people: People, settings: Settings) -> None:
    rev = people.client("rev", "centre", Role.REVIEWER)
    location = _ask(rev, scope="enterprise", target="Hanbit Trading")
    Worker(people.db, settings).run_until_idle()
    with people.db.read() as s:
        job = s.execute(select(ExportJob)).scalar_one()
    path = exports_dir(settings) / str(job.file)
    assert path.is_file()
    assert expire_exports(people.db, settings) == 0  # still within its keeping time
    assert expire_exports(people.db, settings, now=datetime.now(UTC) + timedelta(days=8)) == 1
    assert not path.exists()
    gone = rev.get(location + "/download")
    assert gone.status_code == 404 and "expired" in gone.text


def test_the_zip_writer_needs_no_memory_per_member_and_reads_everywhere(tmp_path: Path) -> None:
    """More members than a plain ZIP can count (ZIP64 end records), a streamed member, and both
    Python's reader and Info-ZIP's `unzip -t` check every CRC."""
    path = tmp_path / "many.zip"
    count = 70_000
    with ZipWriter(path, tmp_path) as z:
        tracemalloc.start()
        for i in range(count):
            z.write(f"eml/m-{i:08d}.eml", f"Subject: {i}\n\nbody {i}\n".encode())
            if i == 20_000:
                _now, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert peak < 2_000_000  # Python's zipfile holds about 10 MB here, and 35 MB at the end
        z.write_stream("records.jsonl", (f'{{"seq": {i}}}\n'.encode() for i in range(200_000)))
    with zipfile.ZipFile(path) as read:
        assert len(read.infolist()) == count + 1 and read.testzip() is None
        assert read.read("eml/m-00012345.eml") == b"Subject: 12345\n\nbody 12345\n"
        assert read.read("records.jsonl").decode().splitlines()[-1] == '{"seq": 199999}'
    if shutil.which("unzip"):
        checked = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
