"""Small helpers for form routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form

from entrepot.policy import Action
from entrepot.web.context import Ctx, Guard

#: Every form carries the CSRF token; declaring it keeps it in the OpenAPI description.
CsrfField = Annotated[str, Form(max_length=128)]
Public = Annotated[Ctx, Depends(Guard(Action.PUBLIC))]
SecondFactor = Annotated[Ctx, Depends(Guard(Action.SECOND_FACTOR))]
SignedIn = Annotated[Ctx, Depends(Guard(Action.SIGNED_IN))]
Directory = Annotated[Ctx, Depends(Guard(Action.DIRECTORY))]
UsersAdmin = Annotated[Ctx, Depends(Guard(Action.USERS_ADMIN))]
EnterprisesAdmin = Annotated[Ctx, Depends(Guard(Action.ENTERPRISES_ADMIN))]
Approvals = Annotated[Ctx, Depends(Guard(Action.APPROVALS))]
AuditView = Annotated[Ctx, Depends(Guard(Action.AUDIT_VIEW))]
Library = Annotated[Ctx, Depends(Guard(Action.LIBRARY))]
LibraryManage = Annotated[Ctx, Depends(Guard(Action.LIBRARY_MANAGE))]
Messaging = Annotated[Ctx, Depends(Guard(Action.MESSAGING))]
Review = Annotated[Ctx, Depends(Guard(Action.REVIEW))]


def safe_next(url: str | None) -> str:
    """Only local paths, so the sign-in page cannot be used to send people elsewhere."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/"
