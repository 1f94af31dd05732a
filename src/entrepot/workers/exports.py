"""The export job: stream the archive records of a reviewer's export into a ZIP in the data folder,
writing progress (and renewing the job's lease) about once a second, so the reviewer's page can show
how far it got however large the range is."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from entrepot import jobs
from entrepot.actions.exports import KEEP_DAYS, exports_dir
from entrepot.blobs import BlobStore
from entrepot.compliance import export
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.retention import ExportJob

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(db: Database, settings: Settings, export_id: int, job_id: int | None) -> Any:
    next_write = time.monotonic() + PROGRESS_EVERY_S

    def report(n: int) -> None:
        nonlocal next_write
        if time.monotonic() < next_write:
            return
        next_write = time.monotonic() + PROGRESS_EVERY_S
        with db.write() as s:
            row = s.get(ExportJob, export_id)
            if row is not None:
                row.done = n
            if job_id is not None:
                jobs.renew(s, job_id, settings.job_lease_seconds)
    return report


def run_export(db: Database, settings: Settings, export_id: int, job_id: int | None = None) -> dict[str, Any]:
    with db.write() as s:
        row = s.get(ExportJob, export_id)
        if row is None or row.state in ("done", "expired"):
            return {"skipped": export_id}
        row.state, row.done, row.error = "running", 0, None
        scope = export.Scope(row.scope, row.scope_id, row.since, row.until)
    folder = exports_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{export_id}-{secrets.token_hex(8)}.zip"
    part = folder / f".{name}.part"
    try:
        with db.read() as s:
            total = export.count(s, scope)
        with db.write() as s:
            s.get(ExportJob, export_id).total = total  # type: ignore[union-attr]
        with db.read() as s:
            n = export.write_export(s, scope, BlobStore(settings.blob_dir), part,
                                    _progress(db, settings, export_id, job_id))
        size, digest = part.stat().st_size, _sha256(part)
        part.rename(folder / name)
    except Exception as exc:
        part.unlink(missing_ok=True)
        with db.write() as s:
            row = s.get(ExportJob, export_id)
            if row is not None:
                row.state, row.error = "failed", f"{type(exc).__name__}: {str(exc)[:300]}"
        raise
    with db.write() as s:
        row = s.get(ExportJob, export_id)
        assert row is not None
        row.state, row.file, row.size, row.sha256 = "done", name, size, digest
        row.done, row.total, row.finished_at = n, max(total, n), datetime.now(UTC)
    return {"export": export_id, "records": n, "bytes": size}


def expire_exports(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Exports older than KEEP_DAYS leave the disk; their rows stay (the audit trail names them)."""
    limit = (now or datetime.now(UTC)) - timedelta(days=KEEP_DAYS)
    with db.write() as s:
        rows = s.execute(select(ExportJob).where(ExportJob.state.in_(("done", "failed")),
                                                 ExportJob.created_at < limit)).scalars().all()
        for row in rows:
            if row.file:
                (exports_dir(settings) / row.file).unlink(missing_ok=True)
            row.state, row.file = "expired", None
    return len(rows)
