"""Bulk analysis for index builds: the main process plus worker processes share the batches.

Kiwi's Python-side result handling holds the GIL, so threads cannot use the second core;
worker processes can. Each worker loads its own analysers (Kiwi ~530 MB, ~2-4 s), so this is
for index builds, not for query serving. Batches go to a worker while it has fewer than two
in flight, otherwise the main process analyses them itself: nothing waits for a slow worker
start, and a fast worker gets more of the work.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import TypeVar

from .multilingual import AnalyzerConfig, IndexedText, MultilingualAnalyzer

__all__ = ["ParallelAnalyzer", "analyze_many"]

K = TypeVar("K")
_worker_analyzer: MultilingualAnalyzer | None = None


def _worker_init(config: AnalyzerConfig) -> None:
    global _worker_analyzer
    _worker_analyzer = MultilingualAnalyzer(config)
    _worker_analyzer.index_batch(["준비 東京に 中文 ready"])  # load every model before work arrives


def _worker_batch(texts: list[str]) -> list[tuple[list[str], list[str], str]]:
    assert _worker_analyzer is not None  # noqa: S101 - set by the initializer
    return [(a.terms, a.grams, a.lang) for a in _worker_analyzer.index_batch(texts)]


def _batches(docs: Iterable[tuple[K, str]], size: int) -> Iterator[list[tuple[K, str]]]:
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield batch


class ParallelAnalyzer:
    """Worker processes that analyse batches alongside the calling process; reusable.

    Create it once per indexing job (or process) and call warm() before timing-sensitive work:
    each worker loads its own models (Kiwi ~2-4 s), which should not count against a build.
    """

    def __init__(self, analyzer: MultilingualAnalyzer, processes: int = 1) -> None:
        if processes < 1:
            raise ValueError("processes must be >= 1")
        self.analyzer = analyzer
        self.processes = processes
        # spawn, not fork: forking a process whose Kiwi already runs native threads is unsafe.
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(analyzer.config,),
        )

    def warm(self) -> None:
        """Load the models here and in every worker (returns when all are ready)."""
        self.analyzer.index_batch(["준비 東京に 中文 ready"])
        for fut in [self._pool.submit(_worker_batch, []) for _ in range(self.processes)]:
            fut.result()

    def analyze_many(
        self, docs: Iterable[tuple[K, str]], *, batch_size: int = 128
    ) -> Iterator[tuple[K, IndexedText]]:
        """(key, analysis) for every (key, text), NOT in input order."""
        inflight: deque[tuple[list[K], Future]] = deque()

        def drain(block: bool) -> Iterator[tuple[K, IndexedText]]:
            while inflight and (block or inflight[0][1].done()):
                keys, fut = inflight.popleft()
                yield from zip(keys, (IndexedText(t, g, lang) for t, g, lang in fut.result()), strict=True)

        for batch in _batches(docs, batch_size):
            yield from drain(block=False)
            keys = [k for k, _ in batch]
            texts = [t for _, t in batch]
            if len(inflight) < 2 * self.processes:
                inflight.append((keys, self._pool.submit(_worker_batch, texts)))
            else:
                yield from zip(keys, self.analyzer.index_batch(texts), strict=True)
        yield from drain(block=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def analyze_many(
    analyzer: MultilingualAnalyzer,
    docs: Iterable[tuple[K, str]],
    *,
    batch_size: int = 128,
    processes: int = 0,
) -> Iterator[tuple[K, IndexedText]]:
    """(key, analysis) for every (key, text); with processes > 0 (a temporary
    ParallelAnalyzer), NOT in input order."""
    if processes <= 0:
        for batch in _batches(docs, batch_size):
            yield from zip((k for k, _ in batch), analyzer.index_batch([t for _, t in batch]), strict=True)
        return
    with ParallelAnalyzer(analyzer, processes) as parallel:
        yield from parallel.analyze_many(docs, batch_size=batch_size)
