"""The document library: collections, documents, their versions and pages, facets for filtering."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from entrepot.db.base import Base, UTCDateTime, utcnow


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    """What traders browse. Visible to a user at or above `level`, once published (policy.document_clause)."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_browse", "published", "level", "category", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(300))
    issued_on: Mapped[date | None] = mapped_column(Date)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    level: Mapped[int] = mapped_column(Integer, default=0)
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"), index=True)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The state of the current version, copied here so lists filter without a join.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    #: Metadata found in the text (dates, HS codes, amounts, countries) for the librarian to confirm.
    suggestions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    collection: Mapped[Collection | None] = relationship(lazy="joined")
    tag_rows: Mapped[list[DocumentTag]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    country_rows: Mapped[list[DocumentCountry]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    hs_rows: Mapped[list[DocumentHsCode]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    @property
    def tags(self) -> list[str]:
        return sorted(t.tag for t in self.tag_rows)

    @property
    def countries(self) -> list[str]:
        return sorted(c.code for c in self.country_rows)

    @property
    def hs_codes(self) -> list[str]:
        return sorted(h.code for h in self.hs_rows)


class DocumentTag(Base):
    __tablename__ = "document_tags"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class DocumentCountry(Base):
    __tablename__ = "document_countries"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)


class DocumentHsCode(Base):
    __tablename__ = "document_hs_codes"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)


class DocumentVersion(Base):
    """One uploaded file of a document. The original blob is never altered; derived files are new blobs."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_versions_document_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    blob: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(120))
    #: queued -> processing -> ready | failed | unsupported (stored, "not indexed")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    #: What the worker is doing and how far it got (0-100), for the librarian's board.
    step: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    ocr_pages: Mapped[int] = mapped_column(Integer, default=0)
    low_confidence_pages: Mapped[int] = mapped_column(Integer, default=0)
    searchable_pdf: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Page(Base):
    """A page (or sheet, slide, section) of a version: its text, language, and where it came from."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("version_id", "number", name="uq_pages_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(8))
    #: "text" (the file's own text), "ocr", or "none"
    source: Mapped[str] = mapped_column(String(8), default="text")
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    image: Mapped[str | None] = mapped_column(String(64))
    thumb: Mapped[str | None] = mapped_column(String(64))


class SavedSearch(Base):
    """A user's saved query; the worker looks for new matches and raises alerts."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(String(500))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Documents updated after this were not looked at yet.
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchAlert(Base):
    __tablename__ = "search_alerts"
    __table_args__ = (UniqueConstraint("saved_search_id", "document_id", name="uq_search_alerts_search_document"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_searches.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
