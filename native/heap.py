"""A structure-of-arrays binary min-heap keyed by (t_ps, seq).

``seq`` is a monotonic sequence number assigned at push time, so events at the same time pop in
the order they were pushed: identical inputs give identical event orders (the determinism
contract of DESIGN §1). The heap is three preallocated arrays and a size; nothing allocates.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel


def new_heap(capacity: int):
    """``(t_ps, seq, value)`` arrays for a heap of at most ``capacity`` entries."""
    return (
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
    )


@kernel
def _less(t, seq, i, j):
    return t[i] < t[j] or (t[i] == t[j] and seq[i] < seq[j])


@kernel
def _swap(t, seq, val, i, j):
    t[i], t[j] = t[j], t[i]
    seq[i], seq[j] = seq[j], seq[i]
    val[i], val[j] = val[j], val[i]


@kernel
def heap_push(t, seq, val, size, t_ps, s, v):
    """Push ``(t_ps, s) → v`` onto a heap holding ``size`` entries; returns the new size.

    The caller guarantees capacity (returns −1 instead of writing past the end).
    """
    if size >= t.shape[0]:
        return -1
    i = size
    t[i] = t_ps
    seq[i] = s
    val[i] = v
    while i > 0:
        parent = (i - 1) >> 1
        if _less(t, seq, i, parent):
            _swap(t, seq, val, i, parent)
            i = parent
        else:
            break
    return size + 1


@kernel
def heap_pop(t, seq, val, size):
    """Remove the minimum (read it first from index 0); returns the new size."""
    size -= 1
    if size > 0:
        t[0] = t[size]
        seq[0] = seq[size]
        val[0] = val[size]
        i = 0
        while True:
            left = 2 * i + 1
            if left >= size:
                break
            child = left
            if left + 1 < size and _less(t, seq, left + 1, left):
                child = left + 1
            if _less(t, seq, child, i):
                _swap(t, seq, val, i, child)
                i = child
            else:
                break
    return size
