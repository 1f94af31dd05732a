"""THE access module. Every page, API route, feed, export and WebSocket event asks it.

`allows(principal, action)` answers the route-level question; the `may_*` functions answer questions
about one object; the `*_clause` functions express the same answers as SQL so lists and counts
filter inside the query.
"""

from entrepot.policy.compliance import may_manage_rules, may_review_enterprise, review_clause, rule_clause
from entrepot.policy.documents import (
    audited,
    document_clause,
    is_library_staff,
    may_classify,
    may_download_original,
    may_edit_document,
    may_read_document,
)
from entrepot.policy.messaging import (
    Membership,
    OfEnterprise,
    conversation_clause,
    has_left,
    may_add_member,
    may_manage_members,
    may_participate,
    may_remove_member,
    may_use_conversation,
    price_board_clause,
)
from entrepot.policy.rules import (
    Action,
    Decision,
    allows,
    approval_authorities,
    audit_clause,
    may_decide,
    may_manage_user,
    may_message,
    may_request_clearance,
    may_see_user,
    visible_users_clause,
)

__all__ = [
    "Action",
    "may_manage_rules",
    "may_review_enterprise",
    "review_clause",
    "rule_clause",
    "audited",
    "conversation_clause",
    "has_left",
    "Membership",
    "OfEnterprise",
    "may_add_member",
    "may_manage_members",
    "may_remove_member",
    "may_participate",
    "may_use_conversation",
    "price_board_clause",
    "document_clause",
    "is_library_staff",
    "may_classify",
    "may_download_original",
    "may_edit_document",
    "may_read_document",
    "Decision",
    "allows",
    "approval_authorities",
    "audit_clause",
    "may_decide",
    "may_manage_user",
    "may_message",
    "may_request_clearance",
    "may_see_user",
    "visible_users_clause",
]
