"""Signing in: password, rate limits and lockout, the TOTP second factor, sessions and API tokens."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.accounts import passwords, tokens, totp
from entrepot.actions import validate
from entrepot.actions.accounts import active_principals, principal_of
from entrepot.core.config import Settings
from entrepot.core.errors import Forbidden, InvalidInput, NotAuthenticated, RateLimited
from entrepot.core.messages import N_
from entrepot.core.types import Principal, UserStatus
from entrepot.db.tables import ApiToken, LoginAttempt, RecoveryCode, User, WebSession

#: Seconds between writes of a session's last-seen time: reads should not all become writes.
TOUCH_INTERVAL = 60
_STATUS_MESSAGES = {
    UserStatus.PENDING: N_("Your account is waiting for approval."),
    UserStatus.REJECTED: N_("Your account request was rejected."),
    UserStatus.SUSPENDED: N_("Your account is suspended."),
    UserStatus.REVOKED: N_("Your account has been revoked."),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _check_rate(session: Session, settings: Settings, username: str, ip: str) -> None:
    since = _now() - timedelta(minutes=settings.login_window_minutes)
    failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    by_ip = session.execute(failures.where(LoginAttempt.ip == ip)).scalar_one()
    if by_ip >= settings.login_max_failures_per_ip:
        raise RateLimited("Too many failed sign-ins from this address. Try again later.",
                          retry_after=settings.login_lockout_minutes * 60)
    by_user = session.execute(failures.where(LoginAttempt.username == username)).scalar_one()
    if by_user >= settings.login_max_failures:
        raise RateLimited("Too many failed sign-ins for this account. Try again in %(n)s minutes.",
                          retry_after=settings.login_lockout_minutes * 60, n=settings.login_lockout_minutes)


def _record_attempt(session: Session, username: str, ip: str, success: bool) -> None:
    session.add(LoginAttempt(username=username, ip=ip, success=success))


@dataclass(frozen=True)
class SignIn:
    """A session that owes its second factor: `enrolled` says whether to ask for a code or to enrol."""

    token: str
    user_id: int
    enrolled: bool


def login_password(session: Session, settings: Settings, username: str, password: str,
                   *, ip: str, user_agent: str | None = None) -> SignIn:
    """First factor. Failures are committed by the caller even though this raises (see web.auth)."""
    try:
        name = validate.username(username)
    except InvalidInput:
        name = (username or "")[:64].lower()
    _check_rate(session, settings, name, ip)
    user = session.execute(select(User).where(User.username == name)).unique().scalar_one_or_none()
    if user is None:
        passwords.burn_verification_time(password)
    if user is None or not passwords.verify_password(user.password_hash, password):
        _record_attempt(session, name, ip, False)
        audit.append(session, "login.failure", target_type="user", target_id=user.id if user else None,
                     ip=ip, details={"username": name, "reason": "password"})
        raise NotAuthenticated("Wrong username or password.")
    if user.status != UserStatus.ACTIVE:
        audit.append(session, "login.refused", target_type="user", target_id=user.id, ip=ip,
                     details={"status": user.status})
        raise Forbidden(_STATUS_MESSAGES[UserStatus(user.status)])
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    token = _open_session(session, user, ip, user_agent, mfa_passed=False)
    return SignIn(token, user.id, enrolled=user.totp_secret is not None)


def _open_session(session: Session, user: User, ip: str | None, ua: str | None, *, mfa_passed: bool) -> str:
    token = tokens.new_token()
    session.add(WebSession(id=tokens.digest(token), user_id=user.id, csrf_token=tokens.new_token(),
                           mfa_passed=mfa_passed, ip=ip, user_agent=(ua or "")[:300]))
    return token


def _rotate(session: Session, ws: WebSession, user: User, ip: str | None) -> str:
    """A fresh session id once both factors pass, so a planted pre-login id is worth nothing."""
    session.delete(ws)
    return _open_session(session, user, ip, ws.user_agent, mfa_passed=True)


def enrolment_secret(ws: WebSession, user: User) -> str:
    """The secret offered at enrolment, derived from the half-open session so a reload shows the same QR."""
    if user.totp_secret is not None:
        raise Forbidden("Your entry card is already enrolled.")
    raw = hashlib.sha256(("totp-enrol:" + ws.id + ws.csrf_token).encode()).digest()[:20]
    return base64.b32encode(raw).decode()


def confirm_enrolment(session: Session, settings: Settings, ws: WebSession, user: User, code: str,
                      *, ip: str) -> tuple[str, list[str]]:
    """Store the secret once the user proves their card shows it; returns a new session and recovery codes."""
    secret = enrolment_secret(ws, user)
    _check_rate(session, settings, user.username, ip)
    step = totp.matching_step(secret, code)
    if step is None:
        _record_attempt(session, user.username, ip, False)
        raise InvalidInput("That code is not right. Check the time on your device and try again.", field="code")
    user.totp_secret, user.totp_last_step = secret, step
    codes = totp.new_recovery_codes()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c)) for c in codes)
    _record_attempt(session, user.username, ip, True)
    audit.append(session, "totp.enrol", actor=principal_of(user), target_type="user", target_id=user.id, ip=ip)
    audit.append(session, "login.success", actor=principal_of(user), target_type="user", target_id=user.id,
                 ip=ip)
    return _rotate(session, ws, user, ip), codes


def verify_second_factor(session: Session, settings: Settings, ws: WebSession, user: User, code: str,
                         *, ip: str) -> str:
    """A TOTP code for a later step than any accepted before, or an unused recovery code."""
    if user.totp_secret is None:
        raise Forbidden("Enrol your entry card first.")
    _check_rate(session, settings, user.username, ip)
    method = "totp"
    step = totp.matching_step(user.totp_secret, code)
    if step is not None and user.totp_last_step is not None and step <= user.totp_last_step:
        step, method = None, "replay"
    if step is not None:
        user.totp_last_step = step
    elif not _use_recovery_code(session, user, code):
        _record_attempt(session, user.username, ip, False)
        audit.append(session, "login.failure", target_type="user", target_id=user.id, ip=ip,
                     details={"username": user.username, "reason": method})
        raise InvalidInput("That code is not valid or was already used.", field="code")
    else:
        method = "recovery"
    _record_attempt(session, user.username, ip, True)
    audit.append(session, "login.success", actor=principal_of(user), target_type="user", target_id=user.id,
                 ip=ip, details={"method": method})
    return _rotate(session, ws, user, ip)


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    row = session.execute(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == totp.hash_recovery_code(code),
        RecoveryCode.used_at.is_(None))).scalar_one_or_none()
    if row is None:
        return False
    row.used_at = _now()
    return True


@dataclass(frozen=True)
class Resolved:
    ws: WebSession
    user: User
    principal: Principal
    needs_touch: bool


def resolve_session(session: Session, settings: Settings, token: str | None) -> Resolved | None:
    """The session behind a cookie, or None if unknown, expired, or its user is no longer active."""
    session_id = session_id_of(token)
    ws = session.get(WebSession, session_id) if session_id else None
    now = _now()
    if ws is None or _expired(settings, ws.created_at, ws.last_seen_at, now):
        return None
    user = session.get(User, ws.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    principal = principal_of(user, second_factor_owed=not ws.mfa_passed)
    return Resolved(ws, user, principal, (now - ws.last_seen_at).total_seconds() > TOUCH_INTERVAL)


def session_id_of(token: str | None) -> str | None:
    """The stored id of a session cookie (its digest); None for no cookie or an oversized one."""
    return tokens.digest(token) if token and len(token) <= 128 else None


def _expired(settings: Settings, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    idle = settings.shared_terminal_idle_minutes if settings.shared_terminal else settings.session_idle_minutes
    return (now - last_seen_at > timedelta(minutes=idle)
            or now - created_at > timedelta(hours=settings.session_absolute_hours))


def session_principals(session: Session, settings: Settings, session_ids: Iterable[str]) -> dict[str, Principal]:
    """What `resolve_session` finds for each of many sessions (by their stored ids, the tokens'
    digests), from a few Core statements whatever their number: the messenger's fan-out asks it for
    every connection a batch of events reaches. Unknown, expired and inactive users' sessions are
    left out."""
    sessions = cast(Table, WebSession.__table__)
    ids, now = sorted(set(session_ids)), _now()
    valid: dict[str, tuple[int, bool]] = {}  # session id -> (user id, second factor passed)
    for start in range(0, len(ids), 500):
        rows = session.execute(select(sessions.c.id, sessions.c.user_id, sessions.c.mfa_passed, sessions.c.created_at,
                                      sessions.c.last_seen_at).where(sessions.c.id.in_(ids[start:start + 500])))
        valid.update((sid, (uid, bool(mfa))) for sid, uid, mfa, created, seen in rows
                     if not _expired(settings, created, seen, now))
    principals = active_principals(session, {uid for uid, _mfa in valid.values()})
    return {sid: replace(principals[uid], second_factor_owed=not mfa) for sid, (uid, mfa) in valid.items()
            if uid in principals}


def touch_session(session: Session, session_id: str) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=_now()))


def logout(session: Session, token: str | None, actor: Principal | None, *, ip: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.id == tokens.digest(token)))
    if actor:
        audit.append(session, "logout", actor=actor, target_type="user", target_id=actor.user_id, ip=ip)


def create_api_token(session: Session, actor: Principal, name: str, days: int | None,
                     *, ip: str | None = None) -> tuple[ApiToken, str]:
    label = validate.clean_text(name, "name", max_len=100)
    if days is not None and not 1 <= days <= 366:
        raise InvalidInput("A token lives between 1 and 366 days.", field="days")
    secret = tokens.new_api_token()
    row = ApiToken(user_id=actor.user_id, name=label, token_hash=tokens.digest(secret),
                   expires_at=_now() + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    audit.append(session, "token.create", actor=actor, target_type="api_token", target_id=row.id, ip=ip,
                 details={"name": label, "days": days})
    return row, secret


def revoke_api_token(session: Session, actor: Principal, token_id: int, *, ip: str | None = None) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != actor.user_id or row.revoked_at is not None:
        raise InvalidInput("No such token.", field="token_id")
    row.revoked_at = _now()
    audit.append(session, "token.revoke", actor=actor, target_type="api_token", target_id=row.id, ip=ip)


def resolve_api_token(session: Session, secret: str) -> Principal | None:
    if not secret.startswith(tokens.API_TOKEN_PREFIX) or len(secret) > 128:
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == tokens.digest(secret))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at < _now()):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    return principal_of(user)
