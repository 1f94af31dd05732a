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
CATEGORIES = {
    "trade_news": N_("Latest trade information"),
    "success_cases": N_("Success cases"),
    "trends": N_("Development trends"),
    "regulations": N_("Regulations and procedures"),
    "price_reports": N_("Price reports"),
    "contracts": N_("Contracts and forms"),
}
DOC_STATUSES = {
    "queued": N_("Waiting"),
    "processing": N_("Working"),
    "ready": N_("Ready"),
    "failed": N_("Failed"),
    "not_indexed": N_("Not indexed"),
    "unsupported": N_("Not indexed"),
}
LANGUAGES = {"ko": N_("Korean"), "zh-Hans": N_("Chinese (simplified)"), "zh-Hant": N_("Chinese (traditional)"),
             "ja": N_("Japanese"), "en": N_("English")}
REQUEST_KINDS["declassify"] = N_("Lower a classification")
