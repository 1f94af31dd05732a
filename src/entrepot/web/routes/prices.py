"""Price quotes in conversations, and the enterprise's price board with a chart and CSV export."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from entrepot.actions import messaging, quotes
from entrepot.core.reference import load_reference
from entrepot.queries import prices as q
from entrepot.web.render import page
from entrepot.web.routes._forms import Messaging

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["messenger"])
Opt = Annotated[str | None, Query(max_length=200)]


class QuoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(max_length=64)
    product: str = Field(max_length=200)
    quantity: float
    unit: str = Field(max_length=20)
    price: float
    currency: str = Field(max_length=3)
    incoterm: str = Field(max_length=3)
    place: str = Field(max_length=100)
    hs_code: str | None = Field(None, max_length=7)
    valid_until: str | None = Field(None, max_length=10)


@api.post("/conversations/{conversation_id}/quotes", status_code=201)
def send_quote(ctx: Messaging, conversation_id: int, body: QuoteBody) -> dict[str, Any]:
    assert ctx.principal is not None
    fields = body.model_dump(exclude={"client_id"})
    currencies = load_reference(ctx.settings.reference_dir).currencies or None
    with ctx.db.write() as s:
        msg, _ = quotes.send_quote(s, ctx.principal, conversation_id, body.client_id, quotes.QuoteIn(**fields),
                                   currencies)
        return messaging.message_payload(msg)


def _filter(product: str | None, currency: str | None, period: str | None) -> q.BoardFilter:
    return q.BoardFilter(product=product or None, currency=(currency or "")[:3] or None,
                         period=period if period in q.PERIODS else "90d")


@router.get("/prices")
def board(ctx: Messaging, product: Opt = None, currency: Opt = None, period: Opt = None) -> Response:
    assert ctx.principal is not None
    f = _filter(product, currency, period)
    with ctx.db.read() as s:
        rows = q.quotes(s, ctx.principal, f)
    return page(ctx, "prices.html", rows=rows[:500], f=f, periods=list(q.PERIODS),
                # "<" escaped so a product named "</script>" cannot end the embedding script element.
                chart=json.dumps(q.series(rows), ensure_ascii=False).replace("<", "\\u003c"))


@router.get("/prices.csv")
def board_csv(ctx: Messaging, product: Opt = None, currency: Opt = None, period: Opt = None) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.quotes(s, ctx.principal, _filter(product, currency, period))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["quoted_at", "product", "hs_code", "quantity", "unit", "price", "currency", "incoterm", "place",
                     "valid_until", "quoted_by"])
    for quote, name in rows:
        # A leading =, +, - or @ would make a spreadsheet run the cell as a formula.
        safe = [v if not (isinstance(v, str) and v[:1] in "=+-@") else "'" + v for v in (
            quote.quoted_at.isoformat(), quote.product, quote.hs_code or "", quote.quantity, quote.unit, quote.price,
            quote.currency, quote.incoterm, quote.place, quote.valid_until.isoformat() if quote.valid_until else "",
            name)]
        writer.writerow(safe)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="price-board.csv"'})
