"""The vocabulary every layer shares: levels, roles, account states and the acting principal."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Level(enum.IntEnum):
    """Classification of a document and clearance of a user; higher sees more."""

    OPEN = 0
    RESTRICTED = 1
    CONFIDENTIAL = 2
    SECRET = 3

    @classmethod
    def parse(cls, value: str | int | Level) -> Level:
        if isinstance(value, Level):
            return value
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return cls(int(value))
        return cls[value.strip().upper()]


class Role(enum.StrEnum):
    TRADER = "trader"
    LIBRARIAN = "librarian"
    CUSTODIAN = "custodian"
    REVIEWER = "reviewer"
    TRADE_APPROVER = "trade_approver"
    SECURITY_APPROVER = "security_approver"
    ADMIN = "admin"
    AUDITOR = "auditor"


class UserKind(enum.StrEnum):
    STAFF = "staff"
    COUNTERPART = "counterpart"


class UserStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Authority(enum.StrEnum):
    """The two separate authorities whose approvals an account or a clearance raise needs."""

    TRADE = "trade"
    SECURITY = "security"


AUTHORITY_ROLE: dict[Authority, Role] = {
    Authority.TRADE: Role.TRADE_APPROVER,
    Authority.SECURITY: Role.SECURITY_APPROVER,
}


class RequestKind(enum.StrEnum):
    ACCOUNT = "account"
    CLEARANCE = "clearance"
    DECLASSIFY = "declassify"  # lowering a document's classification


class Category(enum.StrEnum):
    TRADE_NEWS = "trade_news"
    SUCCESS_CASES = "success_cases"
    TRENDS = "trends"
    REGULATIONS = "regulations"
    PRICE_REPORTS = "price_reports"
    CONTRACTS = "contracts"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting. Built from the database on every request, so a suspension takes effect at once."""

    user_id: int
    username: str
    display_name: str
    enterprise_id: int
    kind: UserKind
    status: UserStatus
    clearance: Level
    roles: frozenset[Role] = field(default_factory=frozenset)
    #: Password accepted, TOTP not yet: such a principal may only complete the second factor.
    second_factor_owed: bool = False

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def active(self) -> bool:
        """Fully signed in with an active account."""
        return self.status is UserStatus.ACTIVE and not self.second_factor_owed
