"""Jobs in the database, claimed under a lease.

A worker that dies (even by kill -9) simply stops renewing; once its lease ends the job is queued
again, up to its attempt limit. Claiming uses SKIP LOCKED on PostgreSQL; on SQLite the write
transaction (BEGIN IMMEDIATE) already serialises claims.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from entrepot.db.tables import Job

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def _now() -> datetime:
    return datetime.now(UTC)


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *, max_attempts: int = 3,
            delay_s: float = 0) -> Job:
    job = Job(kind=kind, payload=payload or {}, state=QUEUED, max_attempts=max_attempts,
              run_at=_now() + timedelta(seconds=delay_s))
    session.add(job)
    session.flush()
    wakeup = session.info.get("wakeup")
    if wakeup is not None:
        session.info.setdefault("after_commit", []).append(wakeup.notify)
    return job


def claim(session: Session, worker: str, kinds: list[str], lease_s: float = 300) -> Job | None:
    query = (select(Job).where(Job.state == QUEUED, Job.run_at <= _now(), Job.kind.in_(kinds))
             .order_by(Job.run_at, Job.id).limit(1).with_for_update(skip_locked=True))
    job = session.execute(query).scalar_one_or_none()
    if job is None:
        return None
    job.state, job.worker = RUNNING, worker
    job.attempts += 1
    job.lease_until = _now() + timedelta(seconds=lease_s)
    return job


def claim_many(session: Session, worker: str, kinds: list[str], limit: int, lease_s: float = 300) -> list[Job]:
    """Up to `limit` due jobs in queue order, claimed with two statements whatever their number.
    Returns detached copies (never added to the session) showing the claimed state."""
    now = _now()
    rows = session.execute(
        select(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.run_at)
        .where(Job.state == QUEUED, Job.run_at <= now, Job.kind.in_(kinds))
        .order_by(Job.run_at, Job.id).limit(limit).with_for_update(skip_locked=True)).all()
    if not rows:
        return []
    lease_until = now + timedelta(seconds=lease_s)
    session.execute(update(Job).where(Job.id.in_([r.id for r in rows]))
                    .values(state=RUNNING, worker=worker, attempts=Job.attempts + 1, lease_until=lease_until)
                    .execution_options(synchronize_session=False))
    return [Job(id=r.id, kind=r.kind, payload=r.payload, attempts=r.attempts + 1, max_attempts=r.max_attempts,
                run_at=r.run_at, state=RUNNING, worker=worker, lease_until=lease_until) for r in rows]


def renew(session: Session, job_id: int, lease_s: float) -> None:
    renew_many(session, [job_id], lease_s)


def renew_many(session: Session, job_ids: list[int], lease_s: float) -> None:
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids), Job.state == RUNNING)
                        .values(lease_until=_now() + timedelta(seconds=lease_s))
                        .execution_options(synchronize_session=False))


def release(session: Session, job_ids: list[int]) -> None:
    """Give claimed jobs that were never started back to the queue as they were (the attempt they
    took is returned), for another worker to take now."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids), Job.state == RUNNING)
                        .values(state=QUEUED, attempts=Job.attempts - 1, worker=None, lease_until=None)
                        .execution_options(synchronize_session=False))


def finish_done(session: Session, job_ids: list[int]) -> None:
    """Mark jobs done with one statement (a batch whose results were recorded in this transaction)."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids))
                        .values(state=DONE, error=None, finished_at=_now(), lease_until=None)
                        .execution_options(synchronize_session=False))


def finish(session: Session, job_id: int, error: str | None = None, retry_delay_s: float = 30) -> None:
    """Done, or on error back to the queue until the attempts run out."""
    job = session.get(Job, job_id)
    if job is None:
        return
    job.lease_until = None
    if error is None:
        job.state, job.error, job.finished_at = DONE, None, _now()
    elif job.attempts >= job.max_attempts:
        job.state, job.error, job.finished_at = FAILED, error[:4000], _now()
    else:
        job.state, job.error = QUEUED, error[:4000]
        job.run_at = _now() + timedelta(seconds=retry_delay_s * job.attempts)


def requeue_expired(session: Session) -> int:
    """Jobs whose worker vanished go back to the queue (or fail once out of attempts)."""
    now = _now()
    expired = (Job.state == RUNNING) & (Job.lease_until < now)
    failed = _changed(session, update(Job).where(expired, Job.attempts >= Job.max_attempts).values(
        state=FAILED, error="the worker stopped while running this job", finished_at=now))
    queued = _changed(session, update(Job).where(expired).values(state=QUEUED, lease_until=None))
    return failed + queued


def _changed(session: Session, statement: Update) -> int:
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)  # an UPDATE gives a CursorResult
