"""Delivery receipts of every connection of one process, written together.

A page acknowledges each event; an acknowledged message event is a "delivered" receipt. Writing one
transaction per acknowledgement would double the writes of a busy server (SQLite has one writer), so
connections hand their marks here and one transaction every FLUSH_S writes them all, whatever the
number of connections. Marks only rise, so merging and late writes are harmless.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from entrepot.actions import accounts, members
from entrepot.db import Database

if TYPE_CHECKING:
    from entrepot.realtime.writer import GroupWriter

log = logging.getLogger(__name__)
FLUSH_S = 0.2


class ReceiptWriter:
    def __init__(self, db: Database, flush_s: float = FLUSH_S, writer: GroupWriter | None = None) -> None:
        self.db, self.flush_s = db, flush_s
        #: With the messenger's group writer, receipts commit with the sends and their events are
        #: handed to the connections like a message's.
        self.writer = writer
        self._pending: dict[int, dict[int, int]] = {}  # user id -> conversation id -> message id
        self._lock = threading.Lock()
        self._scheduled = False

    def add(self, user_id: int, marks: dict[int, int]) -> None:
        """Thread-safe; returns at once. Written within about FLUSH_S."""
        if not marks:
            return
        with self._lock:
            mine = self._pending.setdefault(user_id, {})
            for conv, up_to in marks.items():
                mine[conv] = max(mine.get(conv, 0), up_to)
            if self._scheduled:
                return
            self._scheduled = True
        timer = threading.Timer(self.flush_s, self.flush)
        timer.daemon = True
        timer.start()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending, self._scheduled = self._pending, {}, False
        if not batch:
            return
        try:
            if self.writer is not None:
                self.writer.submit(lambda s: _write(s, batch)).result()
            else:
                with self.db.write() as s:
                    _write(s, batch)
        except Exception as exc:  # noqa: BLE001 - a receipt lost to a database hiccup must not stop the others
            log.warning("delivery receipts not written (%s)", type(exc).__name__)


def _write(s: Session, batch: dict[int, dict[int, int]]) -> None:
    # Each account as it is now: a suspended or revoked user's page delivers nothing more.
    principals = accounts.active_principals(s, batch)
    members.mark_delivered(s, [(principal, batch[uid]) for uid, principal in principals.items()])
