"""Database access: the engine (SQLite WAL or PostgreSQL), the tables and the migrations."""

from entrepot.db.engine import Database
from entrepot.db.tables import Base

__all__ = ["Base", "Database"]
