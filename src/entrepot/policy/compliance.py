"""What a compliance reviewer covers.

A reviewer of the operating centre reviews every enterprise; a reviewer who belongs to a trading
enterprise (its own compliance officer) reviews that enterprise only. The same answer drives the queue,
the archive, legal holds and exports, as SQL for lists and as a `Decision` for one object.

Lexicon rules belong to everyone (enterprise None: set by the compliance authority, the operating
centre's reviewers) or to one enterprise. A reviewer sees the rules for everyone and those of the
enterprises they cover; they manage the latter, and the authority also manages the former.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from entrepot.core.types import Principal, Role
from entrepot.db.tables import Enterprise
from entrepot.policy.rules import ALLOW, Decision


def _is_reviewer(principal: Principal | None) -> bool:
    return principal is not None and principal.active and principal.has(Role.REVIEWER)


def _of_operator(principal: Principal) -> ColumnElement[bool]:
    # Never correlated: queries that carry this clause often select or join enterprises themselves.
    own = aliased(Enterprise)
    return exists(select(own.id).where(own.id == principal.enterprise_id, own.is_operator.is_(True)).correlate(None))


def review_clause(
    principal: Principal | None, enterprise_column: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """Rows whose `enterprise_column` the reviewer covers."""
    if not _is_reviewer(principal):
        return false()
    assert principal is not None
    return or_(_of_operator(principal), enterprise_column == principal.enterprise_id)


def may_review_enterprise(session: Session, principal: Principal | None, enterprise_id: int) -> Decision:
    if not _is_reviewer(principal):
        return Decision(False, "Only compliance reviewers can do this.")
    assert principal is not None
    if enterprise_id == principal.enterprise_id:
        return ALLOW
    own = session.get(Enterprise, principal.enterprise_id)
    if own is not None and own.is_operator:
        return ALLOW
    return Decision(False, "This is outside your review scope: you review your own enterprise only.")


def rule_clause(
    principal: Principal | None, enterprise_column: InstrumentedAttribute[int | None]
) -> ColumnElement[bool]:
    """Lexicon rules the reviewer sees: those for everyone and those of the enterprises they cover."""
    if not _is_reviewer(principal):
        return false()
    return or_(enterprise_column.is_(None), review_clause(principal, enterprise_column))  # type: ignore[arg-type]


def may_manage_rules(session: Session, principal: Principal | None, enterprise_id: int | None) -> Decision:
    """May the reviewer add, version or retire rules (or off-topic settings) of this scope?"""
    if enterprise_id is not None:
        return may_review_enterprise(session, principal, enterprise_id)
    if not _is_reviewer(principal):
        return Decision(False, "Only compliance reviewers can do this.")
    assert principal is not None
    own = session.get(Enterprise, principal.enterprise_id)
    if own is not None and own.is_operator:
        return ALLOW
    return Decision(False, "Only the compliance authority sets rules for everyone; choose your enterprise.")
