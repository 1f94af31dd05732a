"""One ASGI middleware for what every response needs: the network allowlist, body limits,
security headers and the cookies routes asked for."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrepot.core.config import Settings
from entrepot.web.errors import is_api

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), geolocation=(), microphone=(self)",
}


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parser passes it on as 413 instead of a generic 400."""

    def __init__(self) -> None:
        super().__init__(413, "Request body too large.")


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, body_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.networks = [ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks]
        #: Path prefix -> byte limit; the longest matching prefix wins over the default form limit.
        self.body_limits = sorted((body_limits or {}).items(), key=lambda kv: -len(kv[0]))

    def _allowed(self, host: str | None) -> bool:
        if host is None:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return host == "testclient"  # Starlette's in-process test client has no address
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.networks)

    def _limit(self, path: str) -> int:
        for prefix, limit in self.body_limits:
            if path.startswith(prefix):
                return limit
        return self.settings.max_form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if not self._allowed(client[0] if client else None):
            if scope["type"] == "http":
                await _refusal(scope, 403, "Access from this network is not allowed.")(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = Request(scope).headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send)
            return
        await self._serve(scope, _limited(receive, limit), send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        secure = self.settings.secure_cookies == "always" or (
            self.settings.secure_cookies == "auto" and scope.get("scheme") == "https")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if "cache-control" not in headers:
                    # Pages may hold classified data: never cached. Assets: cached for slow links.
                    static = scope["path"].startswith("/static/")
                    headers["cache-control"] = "public, max-age=86400" if static else "no-store"
                for name, value, options in _pending_cookies(scope):
                    headers.append("set-cookie", _cookie(name, value, secure=secure, **options))
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, receive, send)


def _pending_cookies(scope: Scope) -> Iterable[tuple[str, str, dict[str, Any]]]:
    state = scope.get("state") or {}
    return state.get("pending_cookies", [])


def _cookie(name: str, value: str, *, secure: bool, **options: Any) -> str:
    response = Response()
    response.set_cookie(name, value, path="/", secure=secure, httponly=options.pop("httponly", True),
                        samesite=options.pop("samesite", "lax"), **options)
    return response.headers["set-cookie"]


def _refusal(scope: Scope, status: int, message: str) -> Response:
    """Plain text for pages; for API callers the JSON error body every other refusal has."""
    if is_api(Request(scope)):
        return JSONResponse({"error": {"status": status, "message": message, "field": None}}, status)
    return PlainTextResponse(message, status)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await _refusal(scope, 413, "Request body too large.")(scope, receive, send)


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return wrapped
