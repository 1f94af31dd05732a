"""One exception tree for the whole service.

    EntrepotError                 base; carries a translatable message and its parameters
    ├── InvalidInput     400      malformed or unacceptable input (weak password, bad field, ...)
    ├── NotAuthenticated 401      no valid session or token
    ├── Forbidden        403      the access policy says no
    ├── NotFound         404      missing, or hidden by the policy (never says which)
    ├── Conflict         409      duplicate name, decision already taken, ...
    ├── TooLarge         413      body or file over the configured limit
    └── RateLimited      429      too many attempts; retry later

Messages are gettext message ids; the web layer translates them into the user's language,
so nothing here may embed secrets or internal details.
"""

from __future__ import annotations

from typing import Any


class EntrepotError(Exception):
    status_code = 500

    def __init__(self, message: str, /, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params


class InvalidInput(EntrepotError):
    status_code = 400


class NotAuthenticated(EntrepotError):
    status_code = 401


class Forbidden(EntrepotError):
    status_code = 403


class NotFound(EntrepotError):
    status_code = 404


class Conflict(EntrepotError):
    status_code = 409


class TooLarge(EntrepotError):
    status_code = 413


class RateLimited(EntrepotError):
    status_code = 429

    def __init__(self, message: str, /, retry_after: int = 60, **params: Any) -> None:
        super().__init__(message, **params)
        self.retry_after = retry_after
