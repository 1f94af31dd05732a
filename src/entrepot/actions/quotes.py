"""Structured price quotes: validated, sent as a message card, recorded for the price board."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from entrepot.actions import sending, validate
from entrepot.core.errors import InvalidInput
from entrepot.core.types import Principal
from entrepot.db.messaging import Message, PriceQuote

INCOTERMS = ("EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF")


@dataclass(frozen=True)
class QuoteIn:
    product: str
    quantity: float
    unit: str
    price: float
    currency: str
    incoterm: str
    place: str
    hs_code: str | None = None
    valid_until: str | None = None


def product_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _checked(q: QuoteIn, currencies: frozenset[str] | None) -> dict[str, object]:
    product = validate.clean_text(q.product, "product", max_len=200)
    currency = (q.currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency) or (currencies and currency not in currencies):
        raise InvalidInput("Currency must be an ISO 4217 code such as USD, EUR or CNY.", field="currency")
    incoterm = (q.incoterm or "").strip().upper()
    if incoterm not in INCOTERMS:
        raise InvalidInput("Incoterm must be one of %(terms)s.", field="incoterm", terms=", ".join(INCOTERMS))
    if not (0 < q.quantity < 1e12) or not (0 < q.price < 1e12):
        raise InvalidInput("Quantity and price must be positive numbers.", field="price")
    hs = (q.hs_code or "").replace(".", "").strip() or None
    if hs is not None and not re.fullmatch(r"\d{6}", hs):
        raise InvalidInput("“%(value)s” is not a valid code.", field="hs_code", value=hs[:20])
    valid = None
    if q.valid_until:
        try:
            valid = date.fromisoformat(q.valid_until)
        except ValueError as exc:
            raise InvalidInput("Dates are written YYYY-MM-DD.", field="valid_until") from exc
        if valid < datetime.now(UTC).date():
            raise InvalidInput("The quote's validity has already ended.", field="valid_until")
    return {"product": product, "quantity": float(q.quantity), "unit": validate.clean_text(q.unit, "unit", max_len=20),
            "price": float(q.price), "currency": currency, "incoterm": incoterm,
            "place": validate.clean_text(q.place, "place", max_len=100), "hs_code": hs,
            "valid_until": valid.isoformat() if valid else None}


def send_quote(session: Session, actor: Principal, conversation_id: int, client_id: str, q: QuoteIn,
               currencies: frozenset[str] | None = None) -> tuple[Message, bool]:
    card = _checked(q, currencies)
    existing = sending.existing_message(session, actor, client_id)
    if existing is not None:
        return existing, False
    conversation = sending.check_writable(session, actor, conversation_id)
    summary = (f"{card['product']}: {card['price']:,.2f} {card['currency']} / {card['unit']}, "
               f"{card['quantity']:,g} {card['unit']}, {card['incoterm']} {card['place']}")
    msg = sending.insert_message(session, conversation_id=conversation_id, sender_id=actor.user_id,
                                 client_id=client_id.strip()[:64], kind="quote", body=summary, quote=card)
    session.add(PriceQuote(message_id=msg.id, enterprise_id=conversation.enterprise_id, sender_id=actor.user_id,
                           product=str(card["product"]), product_key=product_key(str(card["product"])),
                           hs_code=card["hs_code"], quantity=card["quantity"], unit=card["unit"], price=card["price"],
                           currency=card["currency"], incoterm=card["incoterm"], place=card["place"],
                           valid_until=date.fromisoformat(str(card["valid_until"])) if card["valid_until"] else None))
    sending.announce(session, msg, actor, conversation)
    return msg, True
