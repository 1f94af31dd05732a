"""Enterprises, accounts, roles, clearances and statuses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.accounts import passwords
from entrepot.actions import validate
from entrepot.core.config import LANGUAGES, Settings
from entrepot.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from entrepot.core.types import Level, Principal, RequestKind, RequestStatus, Role, UserKind, UserStatus
from entrepot.db.tables import ApprovalRequest, Enterprise, User, UserRole, WebSession

#: What someone registering themselves may ask for; approvers see it and decide.
SELF_SERVICE_ROLES = frozenset({Role.TRADER})


def principal_of(user: User, *, second_factor_owed: bool = False) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        enterprise_id=user.enterprise_id,
        kind=UserKind(user.kind),
        status=UserStatus(user.status),
        clearance=Level(user.clearance),
        roles=frozenset(Role(r) for r in user.roles),
        second_factor_owed=second_factor_owed,
    )


def active_principals(session: Session, user_ids: Iterable[int]) -> dict[int, Principal]:
    """The principals of those users who are active now, from two Core queries whatever their number:
    the paths that act for many users at once (delivery receipts) skip loading the accounts."""
    users, roles = cast(Table, User.__table__), cast(Table, UserRole.__table__)
    ids = sorted(set(user_ids))
    found: dict[int, Principal] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        granted: dict[int, set[Role]] = {}
        for uid, role in session.execute(select(roles.c.user_id, roles.c.role).where(roles.c.user_id.in_(chunk))):
            granted.setdefault(uid, set()).add(Role(role))
        rows = session.execute(select(users.c.id, users.c.username, users.c.display_name, users.c.enterprise_id,
                                      users.c.kind, users.c.clearance)
                               .where(users.c.id.in_(chunk), users.c.status == UserStatus.ACTIVE))
        for uid, username, display_name, enterprise_id, kind, clearance in rows:
            found[uid] = Principal(user_id=uid, username=username, display_name=display_name,
                                   enterprise_id=enterprise_id, kind=UserKind(kind), status=UserStatus.ACTIVE,
                                   clearance=Level(clearance), roles=frozenset(granted.get(uid, ())))
    return found


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def create_enterprise(
    session: Session, actor: Principal | None, name: str, country: str | None, *,
    is_operator: bool = False, ip: str | None = None,
) -> Enterprise:
    if actor is not None and not policy.allows(actor, policy.Action.ENTERPRISES_ADMIN):
        raise Forbidden("Only administrators can create enterprises.")
    name = validate.clean_text(name, "name", max_len=200)
    code = validate.country_code(country)
    # SQLite's lower() folds ASCII only: the exact name is compared too, or "DÜ" would pass the check.
    same = or_(Enterprise.name == name, func.lower(Enterprise.name) == name.lower())
    if session.execute(select(Enterprise.id).where(same)).first():
        raise Conflict("An enterprise with this name already exists.", field="name")
    ent = Enterprise(name=name, country=code, is_operator=is_operator)
    session.add(ent)
    session.flush()
    audit.append(session, "enterprise.create", actor=actor, target_type="enterprise", target_id=ent.id,
                 ip=ip, details={"name": name, "country": code, "operator": is_operator})
    return ent


def _parse_roles(roles: Iterable[str]) -> set[Role]:
    try:
        return {Role(r) for r in roles if r}
    except ValueError as exc:
        raise InvalidInput("Unknown role.", field="roles") from exc


def _parse_level(value: str | int | Level) -> Level:
    try:
        return Level.parse(value)
    except (KeyError, ValueError) as exc:
        raise InvalidInput("Unknown clearance level.", field="clearance") from exc


def create_user(
    session: Session, settings: Settings, actor: Principal | None, *,
    enterprise_id: int, username: str, display_name: str, password: str,
    kind: str = UserKind.STAFF, roles: Iterable[str] = (Role.TRADER,), clearance: str | int = Level.OPEN,
    language: str | None = None, bootstrap: bool = False, ip: str | None = None,
) -> User:
    """A new account, pending until one trade and one security approver approve it.

    `actor` None means self-registration (only the trader role may be asked for). `bootstrap` (the CLI
    only, for the first approvers and administrators) activates at once and says so in the audit trail.
    """
    if actor is not None and not policy.allows(actor, policy.Action.USERS_ADMIN):
        raise Forbidden("Only administrators can create accounts.")
    name = validate.username(username)
    display = validate.clean_text(display_name, "display_name", max_len=200)
    try:
        user_kind = UserKind(kind)
    except ValueError as exc:
        raise InvalidInput("Unknown kind of user.", field="kind") from exc
    role_set = _parse_roles(roles)
    level = _parse_level(clearance)
    if actor is None and not bootstrap and (not role_set <= SELF_SERVICE_ROLES or level > Level.OPEN):
        raise Forbidden("Self-registration can only ask for a trader account at OPEN clearance.")
    if session.get(Enterprise, enterprise_id) is None:
        raise InvalidInput("No such enterprise.", field="enterprise_id")
    passwords.check_policy(password, name, settings.password_min_length)
    if session.execute(select(User.id).where(User.username == name)).first():
        raise Conflict("This username is already taken.", field="username")
    lang = language if language in LANGUAGES else None
    user = User(
        enterprise_id=enterprise_id, username=name, display_name=display, kind=user_kind,
        status=UserStatus.ACTIVE if bootstrap else UserStatus.PENDING, clearance=int(level),
        password_hash=passwords.hash_password(password), language=lang,
    )
    user.role_rows = [UserRole(role=r) for r in sorted(role_set)]
    session.add(user)
    session.flush()
    details = {"username": name, "enterprise_id": enterprise_id, "kind": user_kind.value,
               "roles": sorted(role_set), "clearance": level.name}
    if bootstrap:
        audit.append(session, "user.bootstrap", actor=actor, target_type="user", target_id=user.id,
                     ip=ip, details=details)
        return user
    session.add(ApprovalRequest(kind=RequestKind.ACCOUNT, subject_user_id=user.id,
                                requested_by_id=actor.user_id if actor else None, clearance=int(level),
                                status=RequestStatus.PENDING))
    audit.append(session, "user.register" if actor is None else "user.create", actor=actor,
                 target_type="user", target_id=user.id, ip=ip, details=details)
    return user


def _managed_user(session: Session, actor: Principal, user_id: int) -> User:
    user = get_user(session, user_id)
    decision = policy.may_manage_user(actor, user)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    return user


_TRANSITIONS: dict[str, tuple[set[UserStatus], UserStatus]] = {
    "suspend": ({UserStatus.ACTIVE}, UserStatus.SUSPENDED),
    "reinstate": ({UserStatus.SUSPENDED}, UserStatus.ACTIVE),
    "revoke": ({UserStatus.ACTIVE, UserStatus.SUSPENDED, UserStatus.PENDING}, UserStatus.REVOKED),
}


def change_status(session: Session, actor: Principal, user_id: int, change: str, reason: str,
                  *, ip: str | None = None) -> User:
    """Suspend, reinstate or revoke. Open sessions end too; each request also re-reads the status."""
    if change not in _TRANSITIONS:
        raise InvalidInput("Unknown status change.", field="change")
    user = _managed_user(session, actor, user_id)
    allowed_from, target = _TRANSITIONS[change]
    if UserStatus(user.status) not in allowed_from:
        raise Conflict("This account's status does not allow that change.")
    why = validate.clean_text(reason, "reason", max_len=1000)
    before = user.status
    user.status, user.status_reason = target, why
    if target is not UserStatus.ACTIVE:
        session.query(WebSession).filter(WebSession.user_id == user.id).delete()
    audit.append(session, f"user.{change}", actor=actor, target_type="user", target_id=user.id, ip=ip,
                 details={"from": before, "to": target.value, "reason": why})
    return user


def set_roles(session: Session, actor: Principal, user_id: int, roles: Iterable[str],
              *, ip: str | None = None) -> User:
    user = _managed_user(session, actor, user_id)
    new = _parse_roles(roles)
    old = set(user.roles)
    if new == old:
        return user
    user.role_rows = [UserRole(role=r) for r in sorted(new)]
    session.flush()
    audit.append(session, "user.roles", actor=actor, target_type="user", target_id=user.id, ip=ip,
                 details={"from": sorted(old), "to": sorted(new)})
    return user


def request_clearance(session: Session, actor: Principal, user_id: int, level: str | int, reason: str,
                      *, ip: str | None = None) -> ApprovalRequest:
    """A clearance raise waits for the same two approvals as a new account."""
    user = get_user(session, user_id)
    target = _parse_level(level)
    decision = policy.may_request_clearance(actor, user, target)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    pending = select(ApprovalRequest.id).where(
        ApprovalRequest.subject_user_id == user.id, ApprovalRequest.status == RequestStatus.PENDING)
    if session.execute(pending).first():
        raise Conflict("This user already has a request waiting for approval.")
    why = validate.clean_text(reason, "reason", max_len=1000)
    req = ApprovalRequest(kind=RequestKind.CLEARANCE, subject_user_id=user.id, requested_by_id=actor.user_id,
                          clearance=int(target), status=RequestStatus.PENDING, reason=why)
    session.add(req)
    session.flush()
    audit.append(session, "clearance.request", actor=actor, target_type="user", target_id=user.id, ip=ip,
                 details={"request_id": req.id, "from": Level(user.clearance).name, "to": target.name,
                          "reason": why})
    return req


def lower_clearance(session: Session, actor: Principal, user_id: int, level: str | int,
                    *, ip: str | None = None) -> User:
    """Lowering only tightens access, so one administrator may do it at once."""
    user = _managed_user(session, actor, user_id)
    target = _parse_level(level)
    if target >= user.clearance:
        raise InvalidInput("The new clearance must be lower than the current one; raising takes approvals.",
                           field="clearance")
    before = Level(user.clearance)
    user.clearance = int(target)
    audit.append(session, "clearance.lower", actor=actor, target_type="user", target_id=user.id, ip=ip,
                 details={"from": before.name, "to": target.name})
    return user


def change_password(session: Session, settings: Settings, actor: Principal, current: str, new: str,
                    *, ip: str | None = None) -> None:
    user = get_user(session, actor.user_id)
    if not passwords.verify_password(user.password_hash, current):
        raise InvalidInput("The current password is wrong.", field="current_password")
    passwords.check_policy(new, user.username, settings.password_min_length)
    user.password_hash = passwords.hash_password(new)
    audit.append(session, "user.password", actor=actor, target_type="user", target_id=user.id, ip=ip)


def set_language(session: Session, actor: Principal, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput("Unknown language.", field="language")
    get_user(session, actor.user_id).language = language
