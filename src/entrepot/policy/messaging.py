"""Who may talk to whom: only users of one's own enterprise, checked at creation, at each member
added, at each message sent and again at each delivery (typing notices included)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, false, select

from entrepot.core.types import Principal, Role
from entrepot.db.messaging import Conversation, Member, PriceQuote
from entrepot.db.tables import User
from entrepot.policy.rules import ALLOW, Decision, may_message

#: Compliance reviewers read the archive; they never take part in conversations.
NON_PARTICIPANTS = frozenset({Role.REVIEWER})


class OfEnterprise(Protocol):
    """What the policy reads of a conversation to let someone use it (a Conversation, or a row)."""

    @property
    def enterprise_id(self) -> int: ...


class Membership(Protocol):
    """What the policy reads of a membership (a Member, or a row)."""

    @property
    def left_at(self) -> datetime | None: ...


def may_participate(principal: Principal | None) -> bool:
    return principal is not None and principal.active and not (principal.roles & NON_PARTICIPANTS)


def conversation_clause(principal: Principal | None) -> ColumnElement[bool]:
    """Conversations of the principal's enterprise in which the principal is a current member."""
    if not may_participate(principal):
        return false()
    assert principal is not None
    mine = select(Member.conversation_id).where(Member.user_id == principal.user_id, Member.left_at.is_(None))
    return and_(Conversation.enterprise_id == principal.enterprise_id, Conversation.id.in_(mine))


def may_use_conversation(principal: Principal | None, conversation: OfEnterprise, member: Membership | None
                         ) -> Decision:
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


def has_left(principal: Principal | None, conversation: OfEnterprise, member: Membership | None) -> bool:
    """A former member of a conversation of their own enterprise: told so, rather than "no such"."""
    return (may_participate(principal) and principal is not None and member is not None
            and member.left_at is not None and conversation.enterprise_id == principal.enterprise_id)


def may_manage_members(principal: Principal, conversation: Conversation) -> Decision:
    if conversation.kind != "group" or conversation.owner_id != principal.user_id:
        return Decision(False, "Only the owner of a group can change its members.")
    return ALLOW


def may_add_member(principal: Principal, conversation: Conversation, other: User) -> Decision:
    """The group's owner adds people who could be messaged directly: active, of the same enterprise."""
    decision = may_manage_members(principal, conversation)
    if not decision:
        return decision
    if other.enterprise_id != conversation.enterprise_id:
        return Decision(False, "You can only message users of your own enterprise.")
    return may_message(principal, other)


def may_remove_member(principal: Principal, conversation: Conversation, user_id: int) -> Decision:
    """The owner removes others; any other member of a group may leave it; the owner cannot leave."""
    if user_id == principal.user_id:
        if conversation.kind != "group":
            return Decision(False, "Only group conversations can be left.")
        if conversation.owner_id == principal.user_id:
            return Decision(False, "As the owner of this group you cannot remove yourself.")
        return ALLOW
    return may_manage_members(principal, conversation)
