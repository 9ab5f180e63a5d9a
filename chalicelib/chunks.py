"""Split a list into calls of at most an API's per-call limit (itertools.batched is Python 3.12+)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size`` items each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
