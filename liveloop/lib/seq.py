"""Sequences cut into pieces."""
from __future__ import annotations

from collections.abc import Iterable, Iterator


def chunks(items: Iterable, size: int = 500) -> Iterator[list]:
    """`items` as lists of at most `size`, in order: the pieces of a bulk write or an IN (…)
    list (SQLite allows 999 parameters a statement in older builds; 500 leaves room)."""
    if size < 1:
        raise ValueError("chunks needs a size of at least 1")
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
