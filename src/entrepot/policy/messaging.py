"""Who may talk to whom: only users of one's own enterprise, checked at creation, at each member
added, at each message sent and again at each delivery."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, select

from entrepot.core.types import Principal, Role
from entrepot.db.messaging import Conversation, Member, PriceQuote
from entrepot.policy.rules import ALLOW, Decision

#: Compliance reviewers read the archive; they never take part in conversations.
NON_PARTICIPANTS = frozenset({Role.REVIEWER})


def may_participate(principal: Principal | None) -> bool:
    return principal is not None and principal.active and not (principal.roles & NON_PARTICIPANTS)


def conversation_clause(principal: Principal | None) -> ColumnElement[bool]:
    """Conversations of the principal's enterprise in which the principal is a current member."""
    if not may_participate(principal):
        return false()
    assert principal is not None
    mine = select(Member.conversation_id).where(Member.user_id == principal.user_id, Member.left_at.is_(None))
    return and_(Conversation.enterprise_id == principal.enterprise_id, Conversation.id.in_(mine))


def may_use_conversation(principal: Principal | None, conversation: Conversation, member: Member | None) -> Decision:
    if not may_participate(principal):
        return Decision(False, "Your account cannot use the messenger.")
    assert principal is not None
    if conversation.enterprise_id != principal.enterprise_id or member is None or member.left_at is not None:
        return Decision(False, "You are not a member of this conversation.")
    return ALLOW


def price_board_clause(principal: Principal | None) -> ColumnElement[bool]:
    """Quotes on the price board: those sent in the principal's own enterprise."""
    if not may_participate(principal):
        return false()
    assert principal is not None
    return PriceQuote.enterprise_id == principal.enterprise_id


def may_manage_members(principal: Principal, conversation: Conversation) -> Decision:
    if conversation.kind != "group" or conversation.owner_id != principal.user_id:
        return Decision(False, "Only the owner of a group can change its members.")
    return ALLOW
