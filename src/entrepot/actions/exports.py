"""Reviewers' exports of the archive: asked for here (checked against the reviewer's scope, audited),
written by the worker (`workers.exports`), downloaded by the reviewer who asked (audited again)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import audit, jobs, policy
from entrepot.actions.retention import TARGET_KINDS, resolve_target
from entrepot.core.config import Settings
from entrepot.core.errors import Forbidden, InvalidInput, NotFound
from entrepot.core.types import Principal
from entrepot.db.retention import ExportJob

EXPORT_JOB = "compliance.export"
#: Finished exports stay this long for download, then the housekeeping job removes them.
KEEP_DAYS = 7


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports"


def request_export(session: Session, actor: Principal, scope: str, target: str | int,
                   since: datetime | None, until: datetime | None, *, ip: str | None = None) -> ExportJob:
    """Queue an export of a conversation's, a user's or an enterprise's records for a date range."""
    if not policy.allows(actor, policy.Action.REVIEW):
        raise Forbidden("Only compliance reviewers can do this.")
    if scope not in TARGET_KINDS:
        raise InvalidInput("Export a conversation, a user or an enterprise.", field="scope")
    if since and until and since >= until:
        raise InvalidInput("The end of the range must come after its start.", field="until")
    scope_id, enterprise_id = resolve_target(session, actor, scope, target)
    export = ExportJob(requested_by_id=actor.user_id, scope=scope, scope_id=scope_id, enterprise_id=enterprise_id,
                       since=since, until=until, state="queued", total=0, done=0)
    session.add(export)
    session.flush()
    jobs.enqueue(session, EXPORT_JOB, {"export_id": export.id}, max_attempts=2)
    audit.append(session, "archive.export", actor=actor, target_type=scope, target_id=scope_id, ip=ip,
                 details={"export_id": export.id, "since": since.isoformat() if since else None,
                          "until": until.isoformat() if until else None})
    return export


def export_of(session: Session, actor: Principal, export_id: int) -> ExportJob:
    """One of the actor's own exports, still within their scope; anything else is a 404."""
    export = session.execute(select(ExportJob).where(ExportJob.id == export_id,
                                                     ExportJob.requested_by_id == actor.user_id)).scalar_one_or_none()
    if export is None or not policy.may_review_enterprise(session, actor, export.enterprise_id):
        raise NotFound("No such export.")
    return export


def download(session: Session, settings: Settings, actor: Principal, export_id: int,
             *, ip: str | None = None) -> tuple[ExportJob, Path]:
    export = export_of(session, actor, export_id)
    path = exports_dir(settings) / (export.file or "")
    if export.state != "done" or not export.file or not path.is_file():
        raise NotFound("This export is not ready, or has expired.")
    audit.append(session, "archive.export.download", actor=actor, target_type=export.scope,
                 target_id=export.scope_id, ip=ip,
                 details={"export_id": export.id, "records": export.done, "sha256": export.sha256})
    return export, path

