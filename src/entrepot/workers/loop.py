"""The worker loop: claim a job, run its handler in its own transaction, record the outcome."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from entrepot import jobs
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import Job
from entrepot.workers import maintenance

log = logging.getLogger(__name__)
Handler = Callable[[Session, Settings, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {"maintenance.cleanup": maintenance.cleanup}
MAINTENANCE_EVERY_S = 600


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_one(db: Database, settings: Settings, name: str) -> Job | None:
    """Claim and run one job; None when the queue is empty."""
    with db.write() as s:
        jobs.requeue_expired(s)
        job = jobs.claim(s, name, list(HANDLERS))
        if job is None:
            return None
        job_id, kind, payload = job.id, job.kind, dict(job.payload)
    error = None
    try:
        with db.write() as s:
            result = HANDLERS[kind](s, settings, payload)
        log.info("job %s (%s) done: %s", job_id, kind, result)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job, the loop goes on
        error = f"{type(exc).__name__}: {exc}"
        log.warning("job %s (%s) failed: %s", job_id, kind, error)
    with db.write() as s:
        jobs.finish(s, job_id, error)
        return s.get(Job, job_id)


def run_forever(db: Database, settings: Settings, *, poll_s: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    name = worker_name()
    next_maintenance = 0.0
    log.info("worker %s started", name)
    while not stop():
        if time.monotonic() >= next_maintenance:
            with db.write() as s:
                jobs.enqueue(s, "maintenance.cleanup", max_attempts=1)
            next_maintenance = time.monotonic() + MAINTENANCE_EVERY_S
        if run_one(db, settings, name) is None:
            time.sleep(poll_s)
