"""After a batch of sends commits, hand its events straight to this process's connections.

Without this, every recipient's connection woke up and read its event log back (the session re-check,
the events, the member's conversations: several queries per recipient per message). Here the writer
thread does, once per batch: re-check the session of every connection concerned with three queries
(sessions, users with their roles) through the same `auth.resolve_session` as the sign-in path, then
pass each connection its events and its principal as of now. The connection sends them if they follow
the last event it sent, checking each against its cached conversations (see Connection.offer);
otherwise it reads its log as before. Other instances hear of the events through the bus (Redis).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from entrepot.db import Database
from entrepot.db.tables import User, WebSession
from entrepot.realtime.bus import LocalBus

if TYPE_CHECKING:
    from entrepot.realtime.connection import Connection
    from entrepot.realtime.writer import Emitted

#: (seq, event type, payload, the payload already as JSON: encoded once for every recipient)
Pushed = tuple[int, str, dict[str, Any], str]


class Fanout:
    def __init__(self, db: Database, bus: LocalBus) -> None:
        self.db, self.bus = db, bus
        self._connections: dict[int, set[Connection]] = defaultdict(set)
        self._lock = threading.Lock()

    def attach(self, conn: Connection) -> None:
        with self._lock:
            self._connections[conn.principal.user_id].add(conn)

    def detach(self, conn: Connection) -> None:
        with self._lock:
            mine = self._connections.get(conn.principal.user_id)
            if mine is not None:
                mine.discard(conn)
                if not mine:
                    del self._connections[conn.principal.user_id]

    def deliver(self, emitted: Emitted) -> None:
        """Called by the writer thread after commit with the batch's events in commit order."""
        per_user: dict[int, list[Pushed]] = defaultdict(list)
        for type_, payload, seqs in emitted:
            encoded = json.dumps(payload, ensure_ascii=False, default=str)
            for uid, seq in seqs.items():
                per_user[uid].append((seq, type_, payload, encoded))
        self.bus.notify_remote(list(per_user))  # other instances read their connections' logs
        with self._lock:
            targets = [(c, per_user[uid]) for uid in per_user for c in self._connections.get(uid, ())]
        if not targets:
            return
        principals = self._recheck([c for c, _ in targets])
        for conn, events in targets:
            conn.offer(principals.get(conn), sorted(events, key=lambda e: e[0]))

    def _recheck(self, conns: list[Connection]) -> dict[Connection, Any]:
        """Each connection's principal as of now (None: session gone, account no longer active)."""
        session_ids = {c.session_id for c in conns if c.session_id}
        with self.db.read() as s:
            # Loaded into the session and held here (its identity map keeps rows only while they are
            # referenced): resolve_session's lookups then find them without a query.
            held: list[Any] = list(s.execute(select(WebSession).where(WebSession.id.in_(session_ids))).scalars())
            users = {r.user_id for r in held}
            if users:
                held += s.execute(select(User).where(User.id.in_(users))).unique().scalars()
            return {c: c.recheck(s) for c in conns}
