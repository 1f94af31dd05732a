"""Values computed once per transaction: what a batch of sends reads again and again (the rules of
an enterprise, its off-topic settings) but cannot change while the batch holds the write lock; and
writes a batch collects to make together."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


def per_transaction(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` the first time `key` is asked for in the session's current transaction; the
    same value afterwards, until that transaction ends (a new one computes again)."""
    transaction = session.get_transaction()
    memo: tuple[Any, dict[Hashable, Any]] | None = session.info.get("per_transaction")
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info["per_transaction"] = memo
    values = memo[1]
    if key not in values:
        values[key] = compute()
    return values[key]  # type: ignore[no-any-return]


def later_or_now(session: Session, key: str, item: T, write: Callable[[list[T]], None]) -> None:
    """Add `item` to the list the session's `info` holds under `key` when a batch collects such
    writes (it stores them together later, in the same transaction); otherwise write it now."""
    collected = session.info.get(key)
    if collected is not None:
        collected.append(item)
    else:
        write([item])
