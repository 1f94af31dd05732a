"""Housekeeping: expired sessions, old login attempts and old exports leave; fragmented search indexes
are merged; the nightly retention run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Delete, delete, exists, or_, select, text
from sqlalchemy.orm import Session

from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import Job, LoginAttempt, WebSession

RETENTION_JOB = "compliance.retention"
#: The retention run starts once a day, at the first worker pass after this hour (UTC).
RETENTION_HOUR_UTC = 2


def cleanup(db: Database, settings: Settings, _payload: dict[str, Any]) -> dict[str, Any]:
    from entrepot.search.compact import compact_fragmented
    from entrepot.workers.exports import expire_exports

    with db.write() as session:
        done = _cleanup(session, settings)
    return {**done, "exports": expire_exports(db, settings), "compacted": compact_fragmented(db)}


def retention(db: Database, settings: Settings, job_id: int | None = None) -> dict[str, Any]:
    import time

    from entrepot import jobs
    from entrepot.blobs import BlobStore
    from entrepot.compliance import retention as run

    renewed = time.monotonic()

    def heartbeat() -> None:  # a long run keeps its job: no other worker starts a second one
        nonlocal renewed
        if job_id is not None and time.monotonic() - renewed > 30:
            with db.write() as s:
                jobs.renew(s, job_id, settings.job_lease_seconds)
            renewed = time.monotonic()

    report = run.run(db, BlobStore(settings.blob_dir), heartbeat=heartbeat)
    return {"records": report.records, "messages": report.messages, "blobs": report.blobs,
            "held": len(report.held), "broken": report.broken}


def schedule_retention(session: Session, now: datetime | None = None) -> bool:
    """Queue tonight's retention run unless one was queued since the last scheduled time. Every
    worker calls this: SQLite's write transaction, or an advisory lock on PostgreSQL, keeps it to one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7007)"))
    now = now or datetime.now(UTC)
    slot = now.replace(hour=RETENTION_HOUR_UTC, minute=0, second=0, microsecond=0)
    if slot > now:
        slot -= timedelta(days=1)
    from entrepot import jobs

    if session.execute(select(exists().where(Job.kind == RETENTION_JOB, Job.created_at >= slot))).scalar():
        return False
    jobs.enqueue(session, RETENTION_JOB, max_attempts=1)
    return True


def _cleanup(session: Session, settings: Settings) -> dict[str, int]:
    now = datetime.now(UTC)
    idle = max(settings.session_idle_minutes, settings.shared_terminal_idle_minutes)
    sessions = _deleted(session, delete(WebSession).where(or_(
        WebSession.last_seen_at < now - timedelta(minutes=idle),
        WebSession.created_at < now - timedelta(hours=settings.session_absolute_hours),
    )))
    # Keep a day of attempts: enough for the rate limits and for investigating an attack.
    attempts = _deleted(session, delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))
    return {"sessions": sessions, "login_attempts": attempts}


def _deleted(session: Session, statement: Delete) -> int:
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)  # a DELETE gives a CursorResult


def search_alerts(db: Database) -> dict[str, int]:
    from entrepot.actions.saved_searches import check_alerts

    with db.write() as session:
        return {"alerts": check_alerts(session)}
