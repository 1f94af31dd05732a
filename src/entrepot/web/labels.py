"""Display names of enumerated values. Wrapped in N_ so the message extractor finds them."""

from __future__ import annotations


from entrepot.core.messages import N_


ROLES = {
    "trader": N_("Trader"),
    "librarian": N_("Librarian"),
    "custodian": N_("Custodian"),
    "reviewer": N_("Compliance reviewer"),
    "trade_approver": N_("Trade approver"),
    "security_approver": N_("Security approver"),
    "admin": N_("Administrator"),
    "auditor": N_("Auditor"),
}
STATUSES = {
    "pending": N_("Pending approval"),
    "active": N_("Active"),
    "rejected": N_("Rejected"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
KINDS = {"staff": N_("Staff member"), "counterpart": N_("Registered counterpart")}
AUTHORITIES = {"trade": N_("Trade authority"), "security": N_("Security authority")}
LEVELS = {
    "OPEN": N_("Open"),
    "RESTRICTED": N_("Restricted"),
    "CONFIDENTIAL": N_("Confidential"),
    "SECRET": N_("Secret"),
}
REQUEST_KINDS = {"account": N_("New account"), "clearance": N_("Clearance raise")}
