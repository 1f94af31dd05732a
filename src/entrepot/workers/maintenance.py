"""Housekeeping: expired sessions and old login attempts leave the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import LoginAttempt, WebSession


def cleanup(db: Database, settings: Settings, _payload: dict[str, Any]) -> dict[str, int]:
    with db.write() as session:
        return _cleanup(session, settings)


def _cleanup(session: Session, settings: Settings) -> dict[str, int]:
    now = datetime.now(UTC)
    idle = max(settings.session_idle_minutes, settings.shared_terminal_idle_minutes)
    sessions = session.execute(delete(WebSession).where(or_(
        WebSession.last_seen_at < now - timedelta(minutes=idle),
        WebSession.created_at < now - timedelta(hours=settings.session_absolute_hours),
    ))).rowcount
    # Keep a day of attempts: enough for the rate limits and for investigating an attack.
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1))).rowcount
    return {"sessions": int(sessions or 0), "login_attempts": int(attempts or 0)}


def search_alerts(db: Database) -> dict[str, int]:
    from entrepot.actions.saved_searches import check_alerts

    with db.write() as session:
        return {"alerts": check_alerts(session)}
