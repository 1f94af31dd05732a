"""Opaque random tokens (sessions, API tokens, CSRF): the holder keeps the token, we keep its digest."""

from __future__ import annotations

import hashlib
import secrets

API_TOKEN_PREFIX = "ent_"  # nosec B105 # a visible prefix, not a secret


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
