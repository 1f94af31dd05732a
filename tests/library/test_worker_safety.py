"""The drop folder takes only complete files; a worker killed with kill -9 mid-document leaves nothing
half-visible, and the document completes on the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from entrepot import audit
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.workers.dropfolder import DropFolder
from entrepot.workers.loop import Worker
from tests.library.conftest import Library
from tests.parsers import _parser_samples as samples


def test_drop_folder_waits_for_complete_files(lib: Library, tmp_path: Path) -> None:
    settings = lib.settings.model_copy(update={"drop_dir": tmp_path / "drop"})
    drop = DropFolder(lib.db, settings, settle_s=0)
    assert drop.scan() == 0
    (tmp_path / "drop" / "scan1.txt").write_text("Price list, March.", encoding="utf-8")
    (tmp_path / "drop" / "huge.txt").write_bytes(b"x" * 2000)
    tight = DropFolder(lib.db, settings.model_copy(update={"max_upload_bytes": 1000}), settle_s=0)
    assert tight.scan() == 0  # first sight: not known to be complete yet
    with (tmp_path / "drop" / "scan1.txt").open("a") as fh:
        fh.write(" More lines.")  # still being written
    assert tight.scan() == 1  # huge.txt was stable; scan1.txt changed
    assert tight.scan() == 1
    assert sorted(p.name for p in (tmp_path / "drop" / "done").iterdir()) == ["scan1.txt"]
    failed = sorted(p.name for p in (tmp_path / "drop" / "failed").iterdir())
    assert failed == ["huge.txt", "huge.txt.error.txt"]
    assert "larger than the limit" in (tmp_path / "drop" / "failed" / "huge.txt.error.txt").read_text()
    with lib.db.read() as s:
        assert s.execute(select(func.count()).select_from(Document)).scalar_one() == 1


def _state(lib: Library, document_id: int) -> tuple[str, int, int]:
    with lib.db.read() as s:
        v = s.execute(select(DocumentVersion).where(DocumentVersion.document_id == document_id)).scalar_one()
        pages = s.execute(select(func.count()).select_from(Page).where(Page.version_id == v.id)).scalar_one()
        return v.state, v.progress, pages


def test_kill_9_mid_document_then_the_next_run_completes(lib: Library) -> None:
    pages = 160
    doc = lib.upload("long.pdf", samples.make_text_pdf([f"Page {i} of the long tariff schedule." for i in range(pages)]))
    env = {**os.environ, "ENTREPOT_DATABASE_URL": lib.settings.db_url, "ENTREPOT_DATA_DIR": str(lib.settings.data_dir),
           "ENTREPOT_JOB_LEASE_SECONDS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "entrepot", "worker", "--processes", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            state, progress, _ = _state(lib, doc["document_id"])
            if state == "processing" and progress >= 72:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the worker never got into the document")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    state, _, written = _state(lib, doc["document_id"])
    assert state == "processing" and written == 0  # nothing half-visible
    reader = lib.client("reader-after-crash")
    assert f'id="doc-{doc["document_id"]}"' in reader.get("/library").text
    assert "still being processed" in reader.get(f"/documents/{doc['document_id']}").text
    time.sleep(2.5)  # the dead worker's lease runs out
    Worker(lib.db, lib.settings).run_until_idle()
    assert _state(lib, doc["document_id"])[::2] == ("ready", pages)
    with lib.db.read() as s:
        assert all(r.ok for r in audit.verify_all(s))


def test_kill_9_mid_batch_leaves_each_document_whole_or_untouched(lib: Library) -> None:
    """Killed while recording batches of short documents: each is either ready with its pages, index
    rows and finished job, or has none of them and runs again once its lease ends."""
    from sqlalchemy import text

    from entrepot.db.tables import Job

    count = 120
    ids = [lib.upload(f"n-{i}.txt", f"Copper cathode lot {i} shipped from Incheon.".encode(), publish=False)
           ["document_id"] for i in range(count)]
    env = {**os.environ, "ENTREPOT_DATABASE_URL": lib.settings.db_url, "ENTREPOT_DATA_DIR": str(lib.settings.data_dir),
           "ENTREPOT_JOB_LEASE_SECONDS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "entrepot", "worker", "--processes", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def ready() -> int:
        with lib.db.read() as s:
            return s.execute(select(func.count()).select_from(DocumentVersion)
                             .where(DocumentVersion.state == "ready")).scalar_one()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and ready() == 0:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    done_before = ready()
    assert 0 < done_before < count, "the worker was not killed between batches"
    with lib.db.read() as s:
        table = "page_search" if s.get_bind().dialect.name == "postgresql" else "page_fts"
        for v in s.execute(select(DocumentVersion)).scalars():
            pages = s.execute(select(func.count()).select_from(Page).where(Page.version_id == v.id)).scalar_one()
            job = s.execute(select(Job).where(Job.payload["version_id"].as_integer() == v.id)).scalar_one()
            assert (v.state == "ready") == (pages == 1) == (job.state == "done"), (v.state, pages, job.state)
        indexed = s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - our names
        assert indexed == done_before
    time.sleep(2.5)  # the dead worker's leases run out
    Worker(lib.db, lib.settings).run_until_idle()
    assert ready() == count
    with lib.db.read() as s:
        assert all(r.ok for r in audit.verify_all(s))
        docs = s.execute(select(Document).where(Document.id.in_(ids))).unique().scalars()
        assert {d.status for d in docs} == {"ready"}
