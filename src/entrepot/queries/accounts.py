"""Users and enterprises as the acting principal may see them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.tables import ApiToken, Enterprise, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class UserFilter:
    status: str | None = None
    enterprise_id: int | None = None
    text: str | None = None
    page: int = 1


def list_users(session: Session, principal: Principal, f: UserFilter) -> tuple[list[User], int]:
    query = select(User).where(policy.visible_users_clause(principal))
    if f.status:
        query = query.where(User.status == f.status)
    if f.enterprise_id:
        query = query.where(User.enterprise_id == f.enterprise_id)
    if f.text:
        like = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.username.ilike(like, escape="\\"), User.display_name.ilike(like, escape="\\")))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(User.username).limit(PAGE_SIZE).offset((max(f.page, 1) - 1) * PAGE_SIZE)
    ).unique().scalars()
    return list(rows), total


def visible_user(session: Session, principal: Principal, user_id: int) -> User | None:
    """The user, or None when missing or hidden: callers answer 404 either way."""
    return session.execute(
        select(User).where(User.id == user_id, policy.visible_users_clause(principal))
    ).unique().scalar_one_or_none()


def list_enterprises(session: Session) -> list[Enterprise]:
    return list(session.execute(select(Enterprise).order_by(Enterprise.name)).scalars())


def user_counts_by_enterprise(session: Session) -> dict[int, int]:
    rows = session.execute(select(User.enterprise_id, func.count()).group_by(User.enterprise_id))
    return {eid: n for eid, n in rows}


def api_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    return list(session.execute(
        select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())).scalars())
