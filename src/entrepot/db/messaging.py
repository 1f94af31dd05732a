"""The messenger: conversations, members, messages, and each user's event log (for replay on reconnect)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entrepot.db.base import Base, UTCDateTime, utcnow


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # direct | group
    title: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: For direct conversations: "min:max" of the two user ids, so a pair has one conversation.
    direct_key: Mapped[str | None] = mapped_column(String(40), unique=True)


class Member(Base):
    __tablename__ = "conversation_members"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The newest message id this member has read (read receipts, unread counts).
    read_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The newest message id whose event this member's page acknowledged (the "delivered" receipt).
    delivered_up_to: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_client"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Chosen by the sending page, so a retry after a lost connection never makes a duplicate.
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default="text")  # text | image | file | voice | quote
    body: Mapped[str] = mapped_column(Text, default="")
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserEvent(Base):
    """What a user's connections must deliver, numbered per user. A page that reconnects asks for
    everything after the last number it acknowledged, so nothing is missed and nothing repeats."""

    __tablename__ = "user_events"
    __table_args__ = (UniqueConstraint("user_id", "seq", name="uq_user_events_user_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventCounter(Base):
    __tablename__ = "user_event_counters"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = ["Conversation", "EventCounter", "Member", "Message", "PriceQuote", "UserEvent"]


class PriceQuote(Base):
    """A structured price quote sent in a conversation; the enterprise's price board reads these."""

    __tablename__ = "price_quotes"
    __table_args__ = (Index("ix_price_quotes_board", "enterprise_id", "product_key", "quoted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product: Mapped[str] = mapped_column(String(200))
    #: Case- and width-folded product name, so "Zinc ingot" and "zinc  ingot" chart together.
    product_key: Mapped[str] = mapped_column(String(200))
    hs_code: Mapped[str | None] = mapped_column(String(6))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    incoterm: Mapped[str] = mapped_column(String(3))
    place: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[date | None] = mapped_column(Date)
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
