"""Database access: the engine (SQLite WAL or PostgreSQL), the tables and the migrations."""

from entrepot.db import compliance, library, messaging, retention, tables  # noqa: F401 - every table module registers with Base
from entrepot.db.base import Base
from entrepot.db.engine import Database

__all__ = ["Base", "Database"]
