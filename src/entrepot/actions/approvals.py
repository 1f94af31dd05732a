"""Decisions on pending accounts and clearance raises: one trade and one security approval."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import validate
from entrepot.core.errors import Forbidden, InvalidInput, NotFound
from entrepot.core.types import Authority, Level, Principal, RequestKind, RequestStatus, UserStatus
from entrepot.db.library import Document
from entrepot.db.tables import Approval, ApprovalRequest


def _locked_request(session: Session, request_id: int) -> ApprovalRequest:
    req = session.execute(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update(of=ApprovalRequest)
    ).unique().scalar_one_or_none()
    if req is None:
        raise NotFound("No such request.")
    return req


def decide(session: Session, actor: Principal, request_id: int, authority: str, approve: bool,
           reason: str | None = None, *, ip: str | None = None) -> ApprovalRequest:
    """Record one authority's decision; a rejection ends the request, the second approval applies it."""
    try:
        auth = Authority(authority)
    except ValueError as exc:
        raise InvalidInput("Unknown approval authority.", field="authority") from exc
    req = _locked_request(session, request_id)
    if not _visible(session, actor, req):
        raise NotFound("No such request.")
    decision = policy.may_decide(actor, req, auth)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    why = validate.clean_text(reason, "reason", max_len=1000, required=not approve)
    session.add(Approval(request_id=req.id, approver_id=actor.user_id, authority=auth,
                         decision="approve" if approve else "reject", reason=why or None))
    session.flush()
    session.refresh(req, ["decisions"])
    details = {"request_id": req.id, "kind": req.kind, "authority": auth.value, "reason": why or None}
    target = ("document", req.document_id) if req.kind == RequestKind.DECLASSIFY else ("user", req.subject_user_id)
    audit.append(session, "approval.approve" if approve else "approval.reject", actor=actor,
                 target_type=target[0], target_id=target[1], ip=ip, details=details)
    if not approve:
        _close(req, RequestStatus.REJECTED)
        if req.kind == RequestKind.ACCOUNT and req.subject is not None:
            req.subject.status, req.subject.status_reason = UserStatus.REJECTED, why
    elif {d.authority for d in req.decisions if d.decision == "approve"} == set(Authority):
        _close(req, RequestStatus.APPROVED)
        _apply(session, actor, req, ip)
    return req


def _close(req: ApprovalRequest, status: RequestStatus) -> None:
    req.status, req.decided_at = status, datetime.now(UTC)


def _apply(session: Session, actor: Principal, req: ApprovalRequest, ip: str | None) -> None:
    if req.kind == RequestKind.DECLASSIFY:
        doc = session.get(Document, req.document_id)
        assert doc is not None
        before = Level(doc.level)
        doc.level = min(doc.level, req.clearance)
        audit.append(session, "document.declassify", actor=actor, target_type="document", target_id=doc.id, ip=ip,
                     details={"request_id": req.id, "from": before.name, "to": Level(doc.level).name})
        return
    user = req.subject
    assert user is not None
    details: dict[str, object]
    if req.kind == RequestKind.ACCOUNT:
        if user.status == UserStatus.PENDING:
            user.status = UserStatus.ACTIVE
        action, details = "user.activate", {"request_id": req.id}
    else:
        before = Level(user.clearance)
        user.clearance = max(user.clearance, req.clearance)
        action = "clearance.raise"
        details = {"request_id": req.id, "from": before.name, "to": Level(user.clearance).name}
    audit.append(session, action, actor=actor, target_type="user", target_id=user.id, ip=ip, details=details)


def _visible(session: Session, actor: Principal, req: ApprovalRequest) -> bool:
    """A declassification request names a document: only approvers cleared for it may see it."""
    if req.document_id is None:
        return True
    doc = session.get(Document, req.document_id)
    return doc is not None and doc.level <= actor.clearance


def pending_for(session: Session, actor: Principal) -> list[ApprovalRequest]:
    """Requests waiting on an authority the actor holds, oldest first."""
    if not policy.allows(actor, policy.Action.APPROVALS):
        return []
    visible_documents = select(Document.id).where(Document.level <= int(actor.clearance))
    rows = session.execute(
        select(ApprovalRequest).where(ApprovalRequest.status == RequestStatus.PENDING,
                                      (ApprovalRequest.document_id.is_(None))
                                      | ApprovalRequest.document_id.in_(visible_documents))
        .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
    ).unique().scalars()
    return list(rows)


def documents_of(session: Session, requests: list[ApprovalRequest]) -> dict[int, Document]:
    ids = [r.document_id for r in requests if r.document_id is not None]
    if not ids:
        return {}
    return {d.id: d for d in session.execute(select(Document).where(Document.id.in_(ids))).unique().scalars()}
