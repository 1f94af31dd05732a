"""Access rules for accounts, approvals, administration and the audit trail."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, false, or_, select, true

from entrepot.core.types import AUTHORITY_ROLE, Authority, Level, Principal, RequestStatus, Role, UserStatus
from entrepot.db.library import Document
from entrepot.db.tables import ApprovalRequest, AuditRecord, User


class Action(enum.StrEnum):
    """What a route does, at the granularity the policy decides before looking at any object."""

    PUBLIC = "public"  # login page, registration, static assets, health
    SECOND_FACTOR = "second_factor"  # password accepted, TOTP still owed
    SIGNED_IN = "signed_in"  # any active user with both factors
    DIRECTORY = "directory.view"  # colleagues of one's own enterprise
    USERS_ADMIN = "users.admin"
    ENTERPRISES_ADMIN = "enterprises.admin"
    APPROVALS = "approvals.decide"
    AUDIT_VIEW = "audit.view"
    LIBRARY = "library.read"  # browse and read, within clearance (per document: documents.py)
    LIBRARY_MANAGE = "library.manage"  # upload, describe, publish, the ingest board
    MESSAGING = "messaging"  # the messenger; per conversation: messaging.py
    REVIEW = "compliance.review"  # the review queue, lexicon rules, the archive (scope: compliance.py)


_ROLE_ACTIONS: dict[Action, frozenset[Role]] = {
    Action.USERS_ADMIN: frozenset({Role.ADMIN}),
    Action.ENTERPRISES_ADMIN: frozenset({Role.ADMIN}),
    Action.APPROVALS: frozenset({Role.TRADE_APPROVER, Role.SECURITY_APPROVER}),
    Action.AUDIT_VIEW: frozenset({Role.ADMIN, Role.AUDITOR}),
    Action.LIBRARY_MANAGE: frozenset({Role.LIBRARIAN, Role.CUSTODIAN}),
    Action.REVIEW: frozenset({Role.REVIEWER}),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def allows(principal: Principal | None, action: Action) -> bool:
    """Route-level gate; `principal` is None for anonymous callers."""
    if action is Action.PUBLIC:
        return True
    if principal is None:
        return False
    if action is Action.SECOND_FACTOR:
        return principal.second_factor_owed and principal.status is UserStatus.ACTIVE
    if not principal.active:
        return False
    if action in (Action.SIGNED_IN, Action.DIRECTORY, Action.LIBRARY):
        return True
    if action is Action.MESSAGING:
        return Role.REVIEWER not in principal.roles
    return bool(principal.roles & _ROLE_ACTIONS[action])


def approval_authorities(principal: Principal) -> list[Authority]:
    return [a for a, role in AUTHORITY_ROLE.items() if principal.active and principal.has(role)]


def may_decide(principal: Principal, request: ApprovalRequest, authority: Authority) -> Decision:
    """One trade and one security approval, by two different people, neither of them the applicant."""
    if not principal.active or not principal.has(AUTHORITY_ROLE[authority]):
        return Decision(False, "You cannot decide for this authority.")
    if request.status != RequestStatus.PENDING:
        return Decision(False, "This request has already been decided.")
    if request.subject_user_id == principal.user_id:
        return Decision(False, "You cannot decide on your own request.")
    if request.kind == "declassify" and request.requested_by_id == principal.user_id:
        return Decision(False, "You cannot decide on your own request.")
    for d in request.decisions:
        if d.approver_id == principal.user_id:
            return Decision(False, "You have already decided on this request; a second person must.")
        if d.authority == authority:
            return Decision(False, "This authority has already decided on this request.")
    return ALLOW


def may_manage_user(principal: Principal, user: User) -> Decision:
    """Administrators manage accounts, never their own: nobody raises or frees themselves."""
    if not principal.active or not principal.has(Role.ADMIN):
        return Decision(False, "Only administrators can change accounts.")
    if user.id == principal.user_id:
        return Decision(False, "You cannot change your own account's roles, clearance or status.")
    return ALLOW


def may_request_clearance(principal: Principal, user: User, level: Level) -> Decision:
    decision = may_manage_user(principal, user)
    if not decision:
        return decision
    if user.status != UserStatus.ACTIVE:
        return Decision(False, "Only active accounts can be given a higher clearance.")
    if level <= user.clearance:
        return Decision(False, "The new clearance must be higher than the current one.")
    return ALLOW


def may_see_user(principal: Principal, user: User) -> bool:
    if not principal.active:
        return False
    if principal.roles & {Role.ADMIN, Role.TRADE_APPROVER, Role.SECURITY_APPROVER, Role.AUDITOR}:
        return True
    return user.enterprise_id == principal.enterprise_id


def visible_users_clause(principal: Principal) -> ColumnElement[bool]:
    """`may_see_user` as SQL, for lists and counts."""
    if not principal.active:
        return false()
    if principal.roles & {Role.ADMIN, Role.TRADE_APPROVER, Role.SECURITY_APPROVER, Role.AUDITOR}:
        return true()
    return User.enterprise_id == principal.enterprise_id


def may_message(principal: Principal, other: User) -> Decision:
    """Messages stay inside one enterprise: colleagues and that enterprise's registered counterparts."""
    if not principal.active:
        return Decision(False, "Your account is not active.")
    # The enterprise first: whether another enterprise's user is active is not the principal's to learn.
    if other.enterprise_id != principal.enterprise_id:
        return Decision(False, "You can only message users of your own enterprise.")
    if other.status != UserStatus.ACTIVE:
        return Decision(False, "This user cannot receive messages.")
    if Role.REVIEWER.value in other.roles:  # they read the archive and never take part (messaging.py)
        return Decision(False, "Compliance reviewers do not take part in conversations.")
    return ALLOW


def audit_clause(principal: Principal) -> ColumnElement[bool]:
    """Every record, except those about documents above the viewer's clearance: their details name the
    document (its file name), and the clearance bounds what anyone sees, auditors included."""
    if not (principal.active and principal.roles & {Role.ADMIN, Role.AUDITOR}):
        return false()
    above = select(cast(Document.id, String)).where(Document.level > int(principal.clearance))
    return or_(AuditRecord.target_type.is_(None), AuditRecord.target_type != "document",
               AuditRecord.target_id.not_in(above))
