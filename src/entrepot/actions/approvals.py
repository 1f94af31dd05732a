"""Decisions on pending accounts and clearance raises: one trade and one security approval."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import validate
from entrepot.core.errors import Forbidden, InvalidInput, NotFound
from entrepot.core.types import Authority, Level, Principal, RequestKind, RequestStatus, UserStatus
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
    decision = policy.may_decide(actor, req, auth)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    why = validate.clean_text(reason, "reason", max_len=1000, required=not approve)
    session.add(Approval(request_id=req.id, approver_id=actor.user_id, authority=auth,
                         decision="approve" if approve else "reject", reason=why or None))
    session.flush()
    session.refresh(req, ["decisions"])
    details = {"request_id": req.id, "kind": req.kind, "authority": auth.value, "reason": why or None}
    audit.append(session, "approval.approve" if approve else "approval.reject", actor=actor,
                 target_type="user", target_id=req.subject_user_id, ip=ip, details=details)
    if not approve:
        _close(req, RequestStatus.REJECTED)
        if req.kind == RequestKind.ACCOUNT:
            req.subject.status, req.subject.status_reason = UserStatus.REJECTED, why
    elif {d.authority for d in req.decisions if d.decision == "approve"} == set(Authority):
        _close(req, RequestStatus.APPROVED)
        _apply(session, actor, req, ip)
    return req


def _close(req: ApprovalRequest, status: RequestStatus) -> None:
    req.status, req.decided_at = status, datetime.now(UTC)


def _apply(session: Session, actor: Principal, req: ApprovalRequest, ip: str | None) -> None:
    user = req.subject
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


def pending_for(session: Session, actor: Principal) -> list[ApprovalRequest]:
    """Requests waiting on an authority the actor holds, oldest first."""
    if not policy.allows(actor, policy.Action.APPROVALS):
        return []
    rows = session.execute(
        select(ApprovalRequest).where(ApprovalRequest.status == RequestStatus.PENDING)
        .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
    ).unique().scalars()
    return list(rows)
