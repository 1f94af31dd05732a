"""Retention of the compliance archive: each enterprise's period, legal holds, and reviewers' exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from entrepot.db.base import Base, UTCDateTime, utcnow

#: Five years (with a leap day), when an administrator has set nothing else.
DEFAULT_RETENTION_DAYS = 1827


class RetentionPolicy(Base):
    """An enterprise's retention period; an enterprise without a row keeps the default."""

    __tablename__ = "retention_policies"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalHold(Base):
    """Keeps a user's conversations or one conversation out of the retention run until released.
    Released holds stay as rows, so the history of who held what and why is kept."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (conversation_id IS NULL)", name="one_target"),
        Index("ix_legal_holds_active", "released_at", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The enterprise of the held user or conversation: what decides which reviewers see the hold.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(Text)


class ExportJob(Base):
    """A reviewer's export, written by the worker to a file in the data folder with its progress here."""

    __tablename__ = "export_jobs"
    __table_args__ = (Index("ix_export_jobs_requested_by_created", "requested_by_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scope: Mapped[str] = mapped_column(String(16))  # conversation | user | enterprise
    scope_id: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed | expired
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The ZIP's name inside the exports folder, its size and SHA-256 once written.
    file: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
