"""Group commit for the messenger's writes: one writer thread per process takes every send waiting
when it is free and commits them in ONE transaction, each in a savepoint of its own.

Why: a send is a handful of statements, but a transaction (BEGIN IMMEDIATE, commit, session set-up)
and the threadpool hop cost as much again, and SQLite has one writer anyway, so concurrent sends only
queued on its lock. Nothing waits on a timer: under light load a batch is one send; under heavy load
the sends that arrive while a batch commits form the next one.

Consecutive text sends of a batch are one call of `sending.send_texts`, which reads, checks and
stores all of them in a few statements. The sends' index rows, archive records and events are stored
after the batch's last send, in a few statements for all of them (`defer_writes`, `store_deferred`),
instead of a few per send.

Guarantees kept: a send's future resolves only after its transaction committed (so the page's "sent"
comes after commit, and kill -9 loses nothing acknowledged); a send that is refused (by the policy,
by screening) writes nothing and fails alone; any other work that fails rolls back its savepoint
alone, with the events it emitted and their wake-ups (text sends that fail otherwise than by a refusal
are tried again one by one, so one cannot fail the others); a failed commit fails the whole batch.
After commit the batch's events go to `on_commit` (the fan-out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from entrepot.actions.messaging import DEFERRED, defer_writes, store_deferred
from entrepot.actions.sending import Sent, TextSend, send_text, send_texts
from entrepot.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BATCH = 64  # bounds how long a batch holds the write lock and the GIL
IDLE_EXIT_S = 30.0  # the thread ends when idle and starts again with the next send
Emitted = list[tuple[str, dict[str, Any], dict[int, int]]]  # (event type, payload, {user id: seq})
#: A function run in the batch's transaction, or a text send (answered with the message's id).
Work = tuple[Callable[[Session], Any] | TextSend, Future[Any]]


class GroupWriter:
    def __init__(self, db: Database, on_commit: Callable[[Emitted], None] | None = None,
                 max_batch: int = MAX_BATCH) -> None:
        self.db, self.on_commit, self.max_batch = db, on_commit, max_batch
        self._queue: queue.SimpleQueue[Work | None] = queue.SimpleQueue()  # None: stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: Sizes of the last batches, for tests and the bench (bounded).
        self.batch_sizes: list[int] = []

    def submit(self, work: Callable[[Session], T] | TextSend) -> Future[T]:
        """Thread-safe. `work(session)` runs in the writer's transaction (a TextSend is sent); the
        future holds its result (a send's message id) once that transaction committed, or its
        exception."""
        future: Future[T] = Future()
        self._queue.put((work, future))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="messenger-writer", daemon=True)
                self._thread.start()
        return future

    async def run(self, work: Callable[[Session], T] | TextSend) -> T:
        return await asyncio.wrap_future(self.submit(work))

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread: at shutdown nothing may write afterwards
        (a send still in the queue is committed and settled, not dropped)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # a send queued meanwhile finds this thread still alive
                        self._thread = None
                        return
                continue
            batch: list[Work] = []
            stop = first is None
            if first is not None:
                batch.append(first)
            while not stop and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch)
            if stop:
                with self._lock:
                    self._thread = None
                return

    def _commit(self, batch: list[Work]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        emitted: Emitted = []
        try:
            with self.db.write() as s:
                s.info["push"] = True  # the fan-out delivers these events; no per-send wake-ups
                defer_writes(s)  # index rows, archive records, events: stored together after the last send
                for run in _runs(batch):
                    first, future = run[0]
                    if isinstance(first, TextSend):
                        outcomes.extend(self._texts(s, run))
                    else:
                        outcomes.append((future, *self._one(s, first)))
                store_deferred(s)
                emitted = s.info.pop("emitted", [])
        except BaseException as exc:  # noqa: BLE001 - the commit failed: no send of the batch happened
            log.warning("messenger: a batch of %d sends failed to commit (%s)", len(batch),
                        type(exc).__name__)
            for _work, future in batch:
                _settle(future, None, exc)
            return
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        if self.on_commit is not None and emitted:
            try:
                self.on_commit(emitted)
            except Exception:  # noqa: BLE001 - delivery falls back to the event logs
                log.exception("messenger: fan-out failed; connections will read their event logs")
        for future, result, error in outcomes:
            _settle(future, result, error)

    def _texts(self, s: Session, run: list[Work]) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """Consecutive text sends in one call; a refused send fails alone. Should the call fail
        otherwise (a database error), each is tried again alone."""
        sends = [cast(TextSend, work) for work, _future in run]
        outcomes, error = self._one(s, lambda s: send_texts(s, sends))
        if error is None:
            return [(future, *_answer(outcome)) for (_work, future), outcome in zip(run, outcomes, strict=True)]
        return [(future, *self._one(s, _alone(send))) for send, (_work, future) in zip(sends, run, strict=True)]

    @staticmethod
    def _one(s: Session, work: Callable[[Session], Any]) -> tuple[Any, BaseException | None]:
        """One send in a savepoint; on failure its rows, events and after-commit callbacks go."""
        marks = {key: len(s.info.get(key, [])) for key in (*DEFERRED, "emitted", "after_commit")}
        savepoint = s.begin_nested()
        try:
            result = work(s)
            savepoint.commit()
            return result, None
        except Exception as exc:  # noqa: BLE001 - handed to the sender's future
            if savepoint.is_active:
                savepoint.rollback()
            for key, n in marks.items():
                if key in s.info:
                    del s.info[key][n:]
            return None, exc


def _runs(batch: list[Work]) -> list[list[Work]]:
    """The batch in order, consecutive text sends together, each other work alone."""
    runs: list[list[Work]] = []
    for item in batch:
        if isinstance(item[0], TextSend) and runs and isinstance(runs[-1][0][0], TextSend):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _answer(outcome: Sent | Exception) -> tuple[Any, BaseException | None]:
    return (None, outcome) if isinstance(outcome, Exception) else (outcome.message.id, None)


def _alone(send: TextSend) -> Callable[[Session], int]:
    return lambda s: send_text(s, send).message.id


def _settle(future: Future[Any], result: Any, error: BaseException | None) -> None:
    """A sender that went away cancelled its future; what it sent is committed all the same (a
    retry under the same client id finds it)."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
