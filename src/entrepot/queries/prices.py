"""The price board: quotes of the principal's own enterprise, filtered, as rows and as chart series."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.messaging import PriceQuote
from entrepot.db.tables import User

PERIODS = {"30d": 30, "90d": 90, "365d": 365, "all": None}


@dataclass(frozen=True)
class BoardFilter:
    product: str | None = None
    currency: str | None = None
    period: str = "90d"


def quotes(session: Session, principal: Principal, f: BoardFilter, limit: int = 5000) -> list[tuple[PriceQuote, str]]:
    query = (select(PriceQuote, User.display_name).join(User, User.id == PriceQuote.sender_id)
             .where(policy.price_board_clause(principal)))
    if f.product:
        from entrepot.actions.quotes import product_key

        query = query.where(PriceQuote.product_key.contains(product_key(f.product), autoescape=True))
    if f.currency:
        query = query.where(PriceQuote.currency == f.currency.upper())
    days = PERIODS.get(f.period, 90)
    if days:
        query = query.where(PriceQuote.quoted_at >= datetime.now(UTC) - timedelta(days=days))
    return list(session.execute(query.order_by(PriceQuote.quoted_at.desc()).limit(limit)).all())


def series(rows: list[tuple[PriceQuote, str]]) -> list[dict[str, object]]:
    """One line per product and currency and unit (prices in different currencies are not mixed)."""
    lines: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
    labels: dict[tuple[str, str, str], str] = {}
    for q, _ in sorted(rows, key=lambda r: r[0].quoted_at):
        key = (q.product_key, q.currency, q.unit)
        labels.setdefault(key, f"{q.product} ({q.currency}/{q.unit})")
        lines[key].append({"x": q.quoted_at.isoformat(), "y": q.price})
    return [{"label": labels[k], "points": v} for k, v in lines.items()]
