"""A server's collector policy: what lives is frozen out of the automatic collections, and the
cycles that die afterwards are reclaimed by the periodic full collection."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from entrepot.web.collector import Collector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector reclaims it


@pytest.fixture
def collector() -> Iterator[Collector]:
    try:
        yield Collector(freeze_every_s=3600, full_every_s=600)
    finally:
        gc.unfreeze()  # the test process goes back to the usual collector


def _frozen_garbage(collector: Collector) -> weakref.ref[Node]:
    node = Node()
    ref = weakref.ref(node)
    collector.step()  # frozen while alive...
    del node  # ...then dead, as a closed connection's objects become
    gc.collect()
    return ref


def test_cycles_that_die_after_a_freeze_wait_for_the_full_collection(collector: Collector) -> None:
    ref = _frozen_garbage(collector)
    assert ref() is not None  # the automatic collections no longer walk frozen objects
    collector.step(full=True)
    assert ref() is None


def test_the_full_collection_comes_when_its_time_has_come(collector: Collector) -> None:
    ref = _frozen_garbage(collector)
    collector.step()
    assert ref() is not None  # not yet
    collector._last_full = time.monotonic() - 601
    collector.step()
    assert ref() is None
    assert gc.get_freeze_count() > 0  # and what lives is frozen again
