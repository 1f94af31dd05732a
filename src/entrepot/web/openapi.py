"""The OpenAPI document: FastAPI's, plus what FastAPI cannot see in the route signatures.

- Errors: every 4xx answer (the Guard's 401/403, the actions' 400/404/409, the limits' 413/429 and the
  validation's 422) is `{"error": {"status", "message", "field"}}` (see `errors.py`), not FastAPI's
  `{"detail": [...]}`; each operation documents that shape as its 422 and `default` response.
- Sign-in: each operation says whether it needs a bearer API token, from the policy action of its Guard.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from entrepot import policy
from entrepot.web.context import Guard

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["status", "message"],
        "properties": {
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "message": {"type": "string", "description": "In the caller's language."},
            "field": {"anyOf": [{"type": "string"}, {"type": "null"}],
                      "description": "The input field at fault, when there is one."},
        },
    }},
}
SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (ent_...), made under "
              "Account > API tokens or with POST /api/v1/tokens. The app's own pages call the API with their "
              "session cookie instead, and an X-CSRF-Token header on writes."},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _guard(route: APIRoute) -> Guard | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Guard):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def _public_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the operations anyone may call."""
    out = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            guard = _guard(route)
            if guard is not None and guard.action is policy.Action.PUBLIC:
                out |= {(ctx.path or "", m.lower()) for m in route.methods or ()}
    return out


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    public = _public_operations(app)
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response("Some fields are missing or invalid.")
            responses["default"] = _error_response("Refused (4xx), with the reason in the caller's language.")
            op["security"] = [] if (path, method) in public else [{"token": []}]
    return doc


def install(app: FastAPI) -> None:
    """Serve `build(app)` (made once, on first use) as `app.openapi()`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
