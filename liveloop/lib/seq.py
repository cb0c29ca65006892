"""Sequences in pieces."""
from __future__ import annotations


def chunks(items, size=500):
    """`items` in lists of at most `size`: an IN (…) list per query stays within every
    engine's parameter limit (SQLite's is 32,766) and its plan stays an index seek."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
