"""After a batch of sends commits, hand its events straight to this process's connections.

Without this, every recipient's connection woke up and read its event log back (the session re-check,
the events, the member's conversations: several queries per recipient per message). Here the writer
thread does, once per batch: re-check the session of every connection concerned with three queries
(sessions, users, their roles: `auth.session_principals`, which decides as the sign-in path does), then
pass each connection its events and its principal as of now. The connection sends them if they follow
the last event it sent, checking each against its cached conversations (see Connection.offer);
otherwise it reads its log as before. With Redis, the batch's events (each payload encoded once) go
to the other instances too, whose fan-outs hand them to their own connections the same way.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.realtime.bus import LocalBus, RemoteEvent

if TYPE_CHECKING:
    from entrepot.realtime.connection import Connection
    from entrepot.realtime.writer import Emitted

#: (seq, event type, payload, the payload already as JSON: encoded once for every recipient)
Pushed = tuple[int, str, dict[str, Any], str]
Resolve = Callable[[Session, set[str]], dict[str, Principal]]


class Fanout:
    def __init__(self, db: Database, bus: LocalBus, resolve: Resolve) -> None:
        self.db, self.bus = db, bus
        #: (session, stored session ids) -> {session id: principal} of those still valid for the
        #: messenger, in a few queries for any number (see auth.session_principals).
        self.resolve = resolve
        self._connections: dict[int, set[Connection]] = defaultdict(set)
        self._lock = threading.Lock()
        bus.remote_events = self.offer_remote

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
        published: list[RemoteEvent] = []
        for type_, payload, seqs in emitted:
            encoded = json.dumps(payload, ensure_ascii=False, default=str)
            published.append((type_, encoded, seqs))
            for uid, seq in seqs.items():
                per_user[uid].append((seq, type_, payload, encoded))
        self.bus.publish_events(published)  # other instances push them to their own connections
        self._offer_all(per_user)

    def offer_remote(self, events: list[RemoteEvent]) -> None:
        """Events another instance committed (from the bus, off the event loop): those of users with a
        connection here go the same way as this instance's own, each payload decoded once."""
        with self._lock:
            here = set(self._connections)
        per_user: dict[int, list[Pushed]] = defaultdict(list)
        for type_, encoded, seqs in events:
            mine = [(uid, seq) for uid, seq in seqs.items() if uid in here]
            if mine:
                payload = json.loads(encoded)
                for uid, seq in mine:
                    per_user[uid].append((seq, type_, payload, encoded))
        self._offer_all(per_user)

    def _offer_all(self, per_user: dict[int, list[Pushed]]) -> None:
        with self._lock:
            targets = [(c, per_user[uid]) for uid in per_user for c in self._connections.get(uid, ())]
        if not targets:
            return
        principals = self._recheck([c for c, _ in targets])
        for conn, events in targets:
            conn.offer(principals.get(conn), sorted(events, key=lambda e: e[0]))

    def _recheck(self, conns: list[Connection]) -> dict[Connection, Principal | None]:
        """Each connection's principal as of now (None: session gone, account no longer active, or
        the policy no longer lets it use the messenger)."""
        with self.db.read() as s:
            valid = self.resolve(s, {c.session_id for c in conns if c.session_id})
        return {c: valid.get(c.session_id) if c.session_id else None for c in conns}
