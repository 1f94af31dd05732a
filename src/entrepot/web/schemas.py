"""JSON shapes of the API (pydantic), described in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from entrepot.core.types import Level
from entrepot.db.tables import ApprovalRequest, AuditRecord, Enterprise, User


def _iso_only(value: Any) -> Any:
    """Pydantic would also read a bare number ("447542") as seconds since 1970: refuse that."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date and time")
    return value


#: A date and time given as ISO 8601 text, as the OpenAPI document says (format: date-time).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    enterprise_id: int
    kind: str
    status: str
    clearance: str
    roles: list[str]

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, username=u.username, display_name=u.display_name, enterprise_id=u.enterprise_id,
                   kind=u.kind, status=u.status, clearance=Level(u.clearance).name, roles=u.roles)


class UserList(BaseModel):
    total: int
    users: list[UserOut]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: int
    username: str = Field(max_length=200)
    display_name: str = Field(max_length=500)
    password: str = Field(max_length=1000)
    kind: str = Field("staff", max_length=20)
    roles: list[str] = Field(default_factory=lambda: ["trader"], max_length=20)
    clearance: str = Field("OPEN", max_length=20)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: int
    username: str = Field(max_length=200)
    display_name: str = Field(max_length=500)
    password: str = Field(max_length=1000)
    kind: str = Field("staff", max_length=20)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    change: str = Field(max_length=20, description="suspend, reinstate or revoke")
    reason: str = Field(max_length=2000)


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(max_length=20)


class ClearanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str = Field(max_length=20)
    reason: str = Field("", max_length=2000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authority: str = Field(max_length=20, description="trade or security")
    approve: bool
    reason: str | None = Field(None, max_length=2000)


class DecisionOut(BaseModel):
    approver: str
    authority: str
    decision: str
    reason: str | None
    at: datetime


class RequestOut(BaseModel):
    id: int
    kind: str
    status: str
    subject: UserOut | None
    document_id: int | None
    clearance: str
    reason: str | None
    created_at: datetime
    decisions: list[DecisionOut]

    @classmethod
    def of(cls, r: ApprovalRequest) -> RequestOut:
        return cls(id=r.id, kind=r.kind, status=r.status, subject=UserOut.of(r.subject) if r.subject else None,
                   document_id=r.document_id,
                   clearance=Level(r.clearance).name, reason=r.reason, created_at=r.created_at,
                   decisions=[DecisionOut(approver=d.approver.username, authority=d.authority, decision=d.decision,
                                          reason=d.reason, at=d.created_at) for d in r.decisions])


class EnterpriseOut(BaseModel):
    id: int
    name: str
    country: str | None
    is_operator: bool

    @classmethod
    def of(cls, e: Enterprise) -> EnterpriseOut:
        return cls(id=e.id, name=e.name, country=e.country, is_operator=e.is_operator)


class EnterpriseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=500)
    country: str | None = Field(None, max_length=10)


class AuditOut(BaseModel):
    id: int
    seq: int
    at: datetime
    actor: str | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, a: AuditRecord) -> AuditOut:
        return cls(id=a.id, seq=a.seq, at=a.at, actor=a.actor_name, action=a.action, target_type=a.target_type,
                   target_id=a.target_id, ip=a.ip, details=a.details or {}, hash=a.hash)


class AuditPage(BaseModel):
    total: int
    records: list[AuditOut]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    days: int | None = Field(None, ge=1, le=366)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="Shown once; only its digest is stored.")


class Me(BaseModel):
    user: UserOut
    enterprise: str
    language: str
