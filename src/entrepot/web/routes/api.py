"""The JSON API (/api/v1) for the same actions as the pages. Bearer API tokens or the session cookie
with an X-CSRF-Token header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, JSONResponse

from entrepot.actions import accounts, approvals, auth
from entrepot.core.errors import NotFound
from entrepot.queries import accounts as account_queries
from entrepot.queries import audit as audit_queries
from entrepot.web import schemas
from entrepot.web.render import page
from entrepot.web.routes._forms import (
    Approvals,
    AuditView,
    Directory,
    EnterprisesAdmin,
    Public,
    SignedIn,
    UsersAdmin,
)

router = APIRouter(prefix="/api/v1", tags=["api"])
docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/api/openapi.json")
def openapi(ctx: SignedIn) -> JSONResponse:
    return JSONResponse(ctx.request.app.openapi())


@docs_router.get("/api/docs")
def docs(ctx: SignedIn) -> HTMLResponse:
    """Swagger UI from local files: the network is closed, and the pages forbid inline scripts."""
    return page(ctx, "api_docs.html")


@router.get("/health", tags=["meta"])
def health(ctx: Public) -> dict[str, str]:
    return {"status": "ok"}


@router.get("/me", response_model=schemas.Me)
def me(ctx: SignedIn) -> schemas.Me:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        user = accounts.get_user(s, ctx.principal.user_id)
        return schemas.Me(user=schemas.UserOut.of(user), enterprise=user.enterprise.name, language=ctx.lang)


@router.post("/register", response_model=schemas.UserOut, status_code=201)
def register(ctx: Public, body: schemas.Registration) -> schemas.UserOut:
    with ctx.db.write() as s:
        user = accounts.create_user(s, ctx.settings, None, enterprise_id=body.enterprise_id, username=body.username,
                                    display_name=body.display_name, password=body.password, kind=body.kind,
                                    language=ctx.lang, ip=ctx.ip)
        return schemas.UserOut.of(user)


@router.get("/users", response_model=schemas.UserList)
def list_users(ctx: Directory, status: Annotated[str | None, Query(max_length=20)] = None,
               q: Annotated[str | None, Query(max_length=100)] = None,
               page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> schemas.UserList:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows, total = account_queries.list_users(s, ctx.principal,
                                                 account_queries.UserFilter(status=status, text=q, page=page))
        return schemas.UserList(total=total, users=[schemas.UserOut.of(u) for u in rows])


@router.post("/users", response_model=schemas.UserOut, status_code=201)
def create_user(ctx: UsersAdmin, body: schemas.UserCreate) -> schemas.UserOut:
    with ctx.db.write() as s:
        user = accounts.create_user(s, ctx.settings, ctx.principal, **body.model_dump(), ip=ctx.ip)
        return schemas.UserOut.of(user)


@router.get("/users/{user_id}", response_model=schemas.UserOut)
def get_user(ctx: Directory, user_id: int) -> schemas.UserOut:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        user = account_queries.visible_user(s, ctx.principal, user_id)
        if user is None:
            raise NotFound("No such user.")
        return schemas.UserOut.of(user)


@router.post("/users/{user_id}/status", response_model=schemas.UserOut)
def change_status(ctx: UsersAdmin, user_id: int, body: schemas.StatusChange) -> schemas.UserOut:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        user = accounts.change_status(s, ctx.principal, user_id, body.change, body.reason, ip=ctx.ip)
        return schemas.UserOut.of(user)


@router.put("/users/{user_id}/roles", response_model=schemas.UserOut)
def set_roles(ctx: UsersAdmin, user_id: int, body: schemas.RolesIn) -> schemas.UserOut:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        user = accounts.set_roles(s, ctx.principal, user_id, body.roles, ip=ctx.ip)
        return schemas.UserOut.of(user)


@router.post("/users/{user_id}/clearance-requests", response_model=schemas.RequestOut, status_code=201)
def request_clearance(ctx: UsersAdmin, user_id: int, body: schemas.ClearanceIn) -> schemas.RequestOut:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        req = accounts.request_clearance(s, ctx.principal, user_id, body.level, body.reason, ip=ctx.ip)
        s.refresh(req)
        return schemas.RequestOut.of(req)


@router.get("/approvals", response_model=list[schemas.RequestOut])
def list_approvals(ctx: Approvals) -> list[schemas.RequestOut]:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        return [schemas.RequestOut.of(r) for r in approvals.pending_for(s, ctx.principal)]


@router.post("/approvals/{request_id}/decision", response_model=schemas.RequestOut)
def decide(ctx: Approvals, request_id: int, body: schemas.DecisionIn) -> schemas.RequestOut:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        req = approvals.decide(s, ctx.principal, request_id, body.authority, body.approve, body.reason, ip=ctx.ip)
        return schemas.RequestOut.of(req)


@router.get("/enterprises", response_model=list[schemas.EnterpriseOut])
def list_enterprises(ctx: Public) -> list[schemas.EnterpriseOut]:
    """Public: the registration form offers these names."""
    with ctx.db.read() as s:
        return [schemas.EnterpriseOut.of(e) for e in account_queries.list_enterprises(s)]


@router.post("/enterprises", response_model=schemas.EnterpriseOut, status_code=201)
def create_enterprise(ctx: EnterprisesAdmin, body: schemas.EnterpriseIn) -> schemas.EnterpriseOut:
    with ctx.db.write() as s:
        return schemas.EnterpriseOut.of(accounts.create_enterprise(s, ctx.principal, body.name, body.country,
                                                                   ip=ctx.ip))


@router.get("/audit", response_model=schemas.AuditPage)
def audit_records(ctx: AuditView, action: Annotated[str | None, Query(max_length=64)] = None,
                  actor: Annotated[str | None, Query(max_length=64)] = None,
                  since: schemas.IsoDateTime | None = None, until: schemas.IsoDateTime | None = None,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> schemas.AuditPage:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows, total = audit_queries.list_records(s, ctx.principal, audit_queries.AuditFilter(
            action=action, actor=actor, since=since, until=until, page=page))
        return schemas.AuditPage(total=total, records=[schemas.AuditOut.of(r) for r in rows])


@router.get("/tokens", response_model=list[schemas.TokenOut])
def list_tokens(ctx: SignedIn) -> list[schemas.TokenOut]:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        return [schemas.TokenOut(id=t.id, name=t.name, created_at=t.created_at, expires_at=t.expires_at,
                                 last_used_at=t.last_used_at) for t in account_queries.api_tokens(s, ctx.principal)]


@router.post("/tokens", response_model=schemas.NewToken, status_code=201)
def create_token(ctx: SignedIn, body: schemas.TokenIn) -> schemas.NewToken:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        row, secret = auth.create_api_token(s, ctx.principal, body.name, body.days, ip=ctx.ip)
        return schemas.NewToken(id=row.id, name=row.name, created_at=row.created_at, expires_at=row.expires_at,
                                last_used_at=None, token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(ctx: SignedIn, token_id: int) -> None:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        auth.revoke_api_token(s, ctx.principal, token_id, ip=ctx.ip)
