"""Saved searches, the alerts they raise when new documents match, and personal feed tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.accounts import tokens
from entrepot.actions import validate
from entrepot.actions.accounts import get_user, principal_of
from entrepot.core.errors import InvalidInput, NotFound
from entrepot.core.types import Principal, UserStatus
from entrepot.db.library import SavedSearch, SearchAlert
from entrepot.db.tables import User
from entrepot.search.service import SearchRequest, search

MAX_SAVED = 50
FILTER_KEYS = ("category", "language", "country", "hs_code", "tag")


def save_search(session: Session, actor: Principal, name: str, query: str, filters: dict[str, Any]) -> SavedSearch:
    label = validate.clean_text(name or query, "name", max_len=200)
    text = validate.clean_text(query, "query", max_len=500)
    mine = session.execute(select(SavedSearch.id).where(SavedSearch.user_id == actor.user_id)).all()
    if len(mine) >= MAX_SAVED:
        raise InvalidInput("You can keep at most %(n)s saved searches.", field="name", n=MAX_SAVED)
    kept = {k: str(v)[:40] for k, v in filters.items() if k in FILTER_KEYS and v}
    saved = SavedSearch(user_id=actor.user_id, name=label, query=text, filters=kept)
    session.add(saved)
    session.flush()
    return saved


def own_search(session: Session, actor: Principal, saved_id: int) -> SavedSearch:
    saved = session.get(SavedSearch, saved_id)
    if saved is None or saved.user_id != actor.user_id:
        raise NotFound("No such saved search.")
    return saved


def delete_search(session: Session, actor: Principal, saved_id: int) -> None:
    session.delete(own_search(session, actor, saved_id))


def request_for(saved: SavedSearch, **extra: Any) -> SearchRequest:
    return SearchRequest(text=saved.query, **saved.filters, **extra)


def check_alerts(session: Session, limit_per_search: int = 50) -> int:
    """Look for documents changed since each saved search was last checked, as its owner may see them
    (the policy runs inside the search), and raise an alert for each new match."""
    raised = 0
    for saved in session.execute(select(SavedSearch)).scalars().all():
        user = session.get(User, saved.user_id)
        started = datetime.now(UTC)
        if user is None or user.status != UserStatus.ACTIVE:
            continue
        result = search(session, principal_of(user), request_for(saved, updated_after=saved.checked_at,
                                                                 page_size=limit_per_search))
        known = set(session.execute(select(SearchAlert.document_id).where(
            SearchAlert.saved_search_id == saved.id)).scalars())
        for hit in result.hits:
            if hit.document.id not in known:
                session.add(SearchAlert(user_id=user.id, saved_search_id=saved.id, document_id=hit.document.id))
                raised += 1
        saved.checked_at = started
    return raised


def mark_seen(session: Session, actor: Principal) -> None:
    session.execute(update(SearchAlert).where(SearchAlert.user_id == actor.user_id, SearchAlert.seen_at.is_(None))
                    .values(seen_at=datetime.now(UTC)))


def new_feed_token(session: Session, actor: Principal, *, ip: str | None = None) -> str:
    """A fresh personal feed token (the old one stops working); shown once, only its digest is kept."""
    secret = "feed_" + tokens.new_token(24)
    get_user(session, actor.user_id).feed_token_hash = tokens.digest(secret)
    audit.append(session, "feed.token", actor=actor, target_type="user", target_id=actor.user_id, ip=ip)
    return secret


def feed_principal(session: Session, secret: str) -> Principal | None:
    if not secret.startswith("feed_") or len(secret) > 100:
        return None
    found = session.execute(select(User).where(User.feed_token_hash == tokens.digest(secret)))
    user = found.unique().scalar_one_or_none()
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    return principal_of(user)
