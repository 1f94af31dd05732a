"""How a server process runs Python's cycle collector.

A full collection walks every live tracked object while holding the GIL: each open WebSocket keeps
some 270 of them (tasks, coroutines, buffers), so at 500 connections a full collection stopped the
process for about 90 ms, at 5,000 for about a second, and CPython started one every few seconds
under load (the messenger's p99 was those pauses). Objects that have lived a while are almost all
live: connections, caches, the libraries loaded at start.

So a server freezes what exists every FREEZE_EVERY_S (`gc.freeze`: the collector no longer walks
it) and the automatic collections see only what is younger, which takes milliseconds. The cycles
that became garbage after being frozen (closed connections, mostly: at 500 connections and 100
messages/s each full collection found a few hundred to 1,500 unreachable objects) are reclaimed by
one full collection every FULL_EVERY_S: one long pause every ten minutes instead of one every few
seconds.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)
FREEZE_EVERY_S = 10.0
FULL_EVERY_S = 600.0


class Collector:
    def __init__(self, freeze_every_s: float = FREEZE_EVERY_S, full_every_s: float = FULL_EVERY_S) -> None:
        self.freeze_every_s, self.full_every_s = freeze_every_s, full_every_s
        self._last_full = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.step(full=True)
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def step(self, full: bool = False) -> None:
        """Freeze what lives now; first, when `full` or the time has come, collect everything."""
        if full or time.monotonic() - self._last_full >= self.full_every_s:
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            self._last_full = time.monotonic()
            log.info("full garbage collection: %d objects reclaimed in %.0f ms", found,
                     (time.perf_counter() - started) * 1000)
        gc.freeze()

    def _run(self) -> None:
        while not self._stop.wait(self.freeze_every_s):
            self.step()
