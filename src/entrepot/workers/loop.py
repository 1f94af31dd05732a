"""The worker loop: claim a job, run its handler, record the outcome. Handlers open their own
transactions, so a long ingest never holds the database's write lock."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from entrepot import jobs
from entrepot.actions.exports import EXPORT_JOB
from entrepot.actions.library import INGEST_JOB
from entrepot.actions.screening import ATTACHMENT_JOB
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import Job
from entrepot.jobs.wakeup import Polling
from entrepot.workers import maintenance
from entrepot.workers.compliance import scan_attachment
from entrepot.workers.dropfolder import DropFolder
from entrepot.workers.exports import run_export
from entrepot.workers.ingest import RELEASED, IngestRunner

log = logging.getLogger(__name__)
MAINTENANCE_EVERY_S = 600
DROP_SCAN_EVERY_S = 2
SWEEP_EVERY_S = 5
#: Ingest jobs claimed together; their results are recorded together (see IngestRunner.run_batch).
INGEST_BATCH = 32
#: After documents this slow (OCR), claim one at a time, so the other workers share the queue.
SLOW_DOCUMENT_S = 0.2
ALERTS_JOB = "search.alerts"
ALERTS_EVERY_S = 60


class Worker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.ingest = IngestRunner(db, settings)
        self._next_sweep = 0.0
        self._ingest_batch = INGEST_BATCH
        self.handlers: dict[str, Callable[[Job], Any]] = {
            "maintenance.cleanup": lambda job: maintenance.cleanup(db, settings, job.payload),
            ALERTS_JOB: lambda job: maintenance.search_alerts(db),
            ATTACHMENT_JOB: lambda job: scan_attachment(db, settings, int(job.payload["message_id"]),
                                                        self.ingest.ocr_engine),
            maintenance.RETENTION_JOB: lambda job: maintenance.retention(db, settings, job.id),
            EXPORT_JOB: lambda job: run_export(db, settings, int(job.payload["export_id"]), job.id),
            # Claimed ingest jobs go to run_batch (see run_one); this entry names the kind for claiming.
            INGEST_JOB: lambda job: self.ingest.run(int(job.payload["version_id"]),
                                                    job.attempts >= job.max_attempts),
        }

    def _claim(self) -> list[Job]:
        """One job, or a batch of ingest jobs (short documents are recorded together), in one short
        write transaction."""
        lease = self.settings.job_lease_seconds
        with self.db.write() as s:
            if time.monotonic() >= self._next_sweep:  # a dead worker's jobs return within seconds
                jobs.requeue_expired(s)
                self._next_sweep = time.monotonic() + SWEEP_EVERY_S
            batch = jobs.claim_many(s, self.name, list(self.handlers), 1, lease_s=lease)
            if batch and batch[0].kind == INGEST_JOB:
                batch += jobs.claim_many(s, self.name, [INGEST_JOB], self._ingest_batch - 1, lease_s=lease)
        return batch

    def run_one(self) -> list[Job]:
        """Claim and run the next job (or batch of ingest jobs); returns them, empty when none is due."""
        batch = self._claim()
        if not batch:
            return []
        if batch[0].kind == INGEST_JOB:
            return self._run_ingest(batch)
        outcome = self._run_handler(batch[0])
        error = f"{type(outcome).__name__}: {outcome}" if isinstance(outcome, Exception) else None
        if error:
            log.warning("job %s (%s) failed: %s", batch[0].id, batch[0].kind, error)
        with self.db.write() as s:
            jobs.finish(s, batch[0].id, error)
        return batch

    def _run_ingest(self, batch: list[Job]) -> list[Job]:
        """The runner finishes each ingest job in the transaction that records its outcome, and gives
        back the jobs it did not start in time; the next claim is sized by how long documents took."""
        started = time.monotonic()
        outcomes = self.ingest.run_batch([(int(j.payload["version_id"]), j.attempts >= j.max_attempts, j.id)
                                          for j in batch])
        ran = [job for job, outcome in zip(batch, outcomes, strict=True) if outcome is not RELEASED]
        for job, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.warning("job %s (%s) failed: %s: %s", job.id, job.kind, type(outcome).__name__, outcome)
        per_doc = (time.monotonic() - started) / max(len(ran), 1)
        self._ingest_batch = INGEST_BATCH if per_doc < SLOW_DOCUMENT_S else 1
        return ran

    def _run_handler(self, job: Job) -> Any:
        try:
            result = self.handlers[job.kind](job)
            log.info("job %s (%s) done: %s", job.id, job.kind, result)
            return result
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job; the loop goes on
            return exc

    def run_until_idle(self) -> int:
        count = 0
        while ran := self.run_one():
            count += len(ran)
        return count

    def run_forever(self, poll_s: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
        next_maintenance = next_scan = next_alerts = 0.0
        drop = DropFolder(self.db, self.settings)
        wakeup = self.db.after_commit_context.get("wakeup") or Polling()
        log.info("worker %s started; drop folder %s", self.name, drop.root)
        while not stop():
            now = time.monotonic()
            if now >= next_maintenance:
                with self.db.write() as s:
                    jobs.enqueue(s, "maintenance.cleanup", max_attempts=1)
                with self.db.write() as s:
                    maintenance.schedule_retention(s)
                next_maintenance = now + MAINTENANCE_EVERY_S
            if now >= next_alerts:
                with self.db.write() as s:
                    jobs.enqueue(s, ALERTS_JOB, max_attempts=1)
                next_alerts = now + ALERTS_EVERY_S
            if now >= next_scan:
                drop.scan()
                next_scan = now + DROP_SCAN_EVERY_S
            if not self.run_one():
                wakeup.wait(poll_s)


def _process_main(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s: %(message)s")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract: one thread per process, processes for cores
    db = jobs.open_database(settings)
    try:
        Worker(db, settings).run_forever()
    except KeyboardInterrupt:
        pass


def run_processes(settings: Settings) -> None:
    """One worker process per core (or `worker_processes`), so OCR uses the whole machine."""
    count = settings.worker_processes or os.cpu_count() or 1
    if count == 1:
        _process_main(settings)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_main, args=(settings,), name=f"worker-{i + 1}") for i in range(count)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(10)
