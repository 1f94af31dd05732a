"""The declarative base and column types every table module shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: Tables made by raw SQL in migrations (FTS5 and its shadow tables, the PostgreSQL search tables);
#: schema comparison leaves them alone.
UNMANAGED_TABLES = frozenset({"page_fts", "page_fts_data", "page_fts_idx", "page_fts_docsize", "page_fts_config",
                              "page_fts_content", "page_search", "search_stats"} | {
    f"{name}{suffix}" for name in ("message", "archive")
    for suffix in ("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config", "_fts_content", "_search")})


def include_in_autogenerate(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and name in UNMANAGED_TABLES) and not (
        type_ == "index" and getattr(getattr(obj, "table", None), "name", None) in UNMANAGED_TABLES)
