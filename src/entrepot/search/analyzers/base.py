"""The Analyzer protocol, a thread-safe lazy loader and the analyser registry.

Heavy analysers (Kiwi holds ~530 MB) must load once per process and be shared by every
thread; the registry hands out one instance per name, built on first use under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar, runtime_checkable

__all__ = ["Analyzer", "Lazy", "register", "get_analyzer", "available_analyzers"]

T = TypeVar("T")


@runtime_checkable
class Analyzer(Protocol):
    """Turns text into search tokens. Index and query sides may differ (e.g. query stop words)."""

    name: str

    def index_tokens(self, text: str) -> list[str]: ...

    def query_tokens(self, text: str) -> list[str]: ...


class Lazy(Generic[T]):
    """Build a value on first access, exactly once, even when many threads ask at the same time."""

    __slots__ = ("_factory", "_lock", "_value", "_ready")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None
        self._ready = False

    def get(self) -> T:
        if self._ready:  # fast path without the lock once built
            return self._value  # type: ignore[return-value]
        with self._lock:
            if not self._ready:
                self._value = self._factory()
                self._ready = True
        return self._value  # type: ignore[return-value]

    @property
    def loaded(self) -> bool:
        return self._ready


_factories: dict[str, Lazy[Analyzer]] = {}
_registry_lock = threading.Lock()


def register(name: str, factory: Callable[[], Analyzer], *, replace: bool = False) -> None:
    """Register a factory; the analyser is built on the first get_analyzer(name)."""
    with _registry_lock:
        if name in _factories and not replace:
            raise ValueError(f"analyser {name!r} is already registered")
        _factories[name] = Lazy(factory)


def get_analyzer(name: str) -> Analyzer:
    """The shared instance registered under name (built on first call, thread-safe)."""
    try:
        lazy = _factories[name]
    except KeyError:
        raise KeyError(f"unknown analyser {name!r}; known: {sorted(_factories)}") from None
    return lazy.get()


def available_analyzers() -> list[str]:
    return sorted(_factories)


def dedupe(tokens: Iterable[str]) -> list[str]:
    """Unique tokens in first-seen order (query side: repeated terms add nothing to an OR query)."""
    return list(dict.fromkeys(tokens))
