"""Compliance review: lexicon rules (versioned), the flags they raise, and reviewers' actions on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from entrepot.db.base import Base, UTCDateTime, utcnow


class LexiconRule(Base):
    """One version of a rule. Editing makes a new row with the next version; flags name the version
    that raised them, so a decision can always be traced to the exact wording in force."""

    __tablename__ = "lexicon_rules"
    __table_args__ = (
        Index("ix_lexicon_rules_active", "active"),
        Index("ix_lexicon_rules_enterprise_id", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # stable across versions
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # word | phrase | regex
    pattern: Mapped[str] = mapped_column(String(1000))
    language: Mapped[str | None] = mapped_column(String(8))  # None: any language
    severity: Mapped[str] = mapped_column(String(8))  # low | medium | high
    action: Mapped[str] = mapped_column(String(8), default="flag")  # flag | block
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None: the rule applies to everyone (set by the compliance authority); otherwise to the messages of
    #: that enterprise's conversations only, managed by the reviewers who cover it (policy.compliance).
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))


class TopicSetting(Base):
    """An enterprise's own off-topic rule settings; without a row the deployment's settings apply."""

    __tablename__ = "topic_settings"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True,
                                               autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[float | None] = mapped_column(Float)  # None: the deployment's threshold
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, index=True)
    conversation_id: Mapped[int] = mapped_column(Integer, index=True)
    enterprise_id: Mapped[int] = mapped_column(Integer, index=True)
    sender_id: Mapped[int] = mapped_column(Integer, index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("lexicon_rules.id"))
    rule_version: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(8))
    matched: Mapped[str] = mapped_column(String(500))
    span: Mapped[list[int]] = mapped_column(JSON)  # [start, end) in the message text
    context: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: Why, beyond the span: {"source": "attachment", "file", "page", "excerpt", "excerpt_span"} when the
    #: match is in an attachment's text (the span is then in that page's text); {"source": "topic",
    #: "mean", "threshold", "window": [{"message_id", "score"}...]} for the off-topic rule.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | claimed | escalated | cleared
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlagNote(Base):
    __tablename__ = "flag_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopicScore(Base):
    """How much a message sounded like trade (compliance.topic); messages too short to tell have none."""

    __tablename__ = "topic_scores"
    __table_args__ = (Index("ix_topic_scores_conversation_message", "conversation_id", "message_id"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True,
                                            autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


class TopicState(Base):
    """Whether a conversation is in an off-topic episode: the rule flags when one starts, not again
    until the conversation has come back to trade."""

    __tablename__ = "topic_states"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True, autoincrement=False)
    drifting: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
