"""A calendar wheel (timing wheel) event set with exact (t_ps, seq) order.

Events within the wheel's window — ``n_buckets`` buckets of ``2**shift`` ps from the bucket of
the last event taken — go into per-bucket linked lists kept sorted by (t, seq): the common case
appends at the tail in O(1), because later pushes carry larger sequence numbers. Events beyond the
window go into an overflow binary heap. A third part holds events known before the run, sorted
once (``pre_t``, ``pre_val``; the packet engine's flows without predecessors): it is read with a
cursor, and at equal times comes before every pushed event. ``wheel_next`` compares the first
event of the first non-empty bucket, the top of the overflow heap and the next presorted event,
so the order is exactly that of a single (t, seq) heap in which the presorted events were pushed
first (R. Brown, "Calendar queues", CACM 31(10), 1988; NUMBA-NOTES: 1.9× the best binary heap
for a packet kernel when buckets hold 1–5 events). Each bucket also keeps its first event's time
and value (``hd_t``, ``hd_val``), so that taking events walks those arrays in order and reads a
node only for a bucket's second and later events: on a large fabric the nodes, scattered by
the free list, are not in the cache.

The bucket nodes and the overflow heap have capacities of their own; ``wheel_room`` tells how
many more events both can take, and ``grow_wheel`` enlarges them between kernel calls, so the
event set is sized by the events pending, not by everything that will ever happen.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .heap import heap_pop, heap_push
from .jit import hot, prefetch

T_NEVER = np.int64(2**62)
#: How many buckets ``wheel_peek`` looks through for the next event (on a large fabric's dense
#: wheel a bucket holds one or two events, and the next is often a few buckets on).
PEEK_BUCKETS = 16

# Slots of Wheel.ctl
W_SHIFT = 0  # bucket width is 2**shift ps
W_MASK = 1  # n_buckets − 1 (a power of two minus one)
W_BCUR = 2  # absolute bucket number of the last event taken
W_COUNT = 3  # events in the buckets
W_FREE = 4  # head of the free list of event nodes
W_OVF = 5  # events in the overflow heap
W_FROM = 6  # where wheel_next found the minimum: bucket index, −1 overflow heap, −3 presorted
W_PRE = 7  # index of the next presorted event
W_SIZE = 8
_FROM_OVF = -1
_FROM_PRE = -3


class Wheel(NamedTuple):
    ctl: np.ndarray  # int64[W_SIZE]
    head: np.ndarray  # int32[n_buckets]
    tail: np.ndarray  # int32[n_buckets]
    # a non-empty bucket's first event, as in its head node: taking events reads these in order,
    # a node only when its bucket holds more than one event
    hd_t: np.ndarray  # int64[n_buckets]
    hd_val: np.ndarray  # int64[n_buckets]
    ev_t: np.ndarray  # int64[nodes] bucket nodes
    ev_seq: np.ndarray  # int64[nodes]
    ev_val: np.ndarray  # int64[nodes]
    ev_next: np.ndarray  # int32[nodes]
    ovf_t: np.ndarray  # int64[ovf] overflow heap
    ovf_seq: np.ndarray
    ovf_val: np.ndarray
    pre_t: np.ndarray  # int64[P] presorted events, by (t, order given)
    pre_val: np.ndarray  # int64[P]


def new_wheel(nodes: int, shift: int, n_buckets: int, ovf: int | None = None,
              pre_t: np.ndarray | None = None, pre_val: np.ndarray | None = None) -> Wheel:
    """An empty wheel with ``nodes`` bucket nodes and an overflow heap of ``ovf`` (default:
    ``nodes``) events; ``n_buckets`` a power of two. ``pre_t``/``pre_val``: events known now,
    sorted by time (ties keep their order), taken before any pushed event of the same time."""
    if n_buckets & (n_buckets - 1):
        raise ValueError("n_buckets must be a power of two")
    if pre_t is None:
        pre_t, pre_val = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if pre_t.shape != pre_val.shape or np.any(np.diff(pre_t) < 0):
        raise ValueError("presorted events must be sorted by time, with a value each")
    ctl = np.zeros(W_SIZE, np.int64)
    ctl[W_SHIFT] = shift
    ctl[W_MASK] = n_buckets - 1
    ev_next = np.arange(1, nodes + 1, dtype=np.int32)
    ev_next[-1] = -1
    return Wheel(
        ctl=ctl,
        head=np.full(n_buckets, -1, np.int32),
        tail=np.full(n_buckets, -1, np.int32),
        hd_t=np.zeros(n_buckets, np.int64),
        hd_val=np.zeros(n_buckets, np.int64),
        ev_t=np.zeros(nodes, np.int64),
        ev_seq=np.zeros(nodes, np.int64),
        ev_val=np.zeros(nodes, np.int64),
        ev_next=ev_next,
        ovf_t=np.zeros(nodes if ovf is None else ovf, np.int64),
        ovf_seq=np.zeros(nodes if ovf is None else ovf, np.int64),
        ovf_val=np.zeros(nodes if ovf is None else ovf, np.int64),
        pre_t=np.ascontiguousarray(pre_t, np.int64),
        pre_val=np.ascontiguousarray(pre_val, np.int64),
    )


def grow_wheel(w: Wheel, nodes: int, ovf: int) -> Wheel:
    """The same events in a wheel of at least ``nodes`` bucket nodes and an overflow heap of at
    least ``ovf`` events (neither shrinks). Nodes keep their indices; the new ones go in front of
    the free list."""
    old, old_ovf = w.ev_t.shape[0], w.ovf_t.shape[0]
    nodes, ovf = max(nodes, old), max(ovf, old_ovf)

    def grown(a, n, fill=0):
        if n == a.shape[0]:
            return a
        b = np.full(n, fill, a.dtype) if fill else np.zeros(n, a.dtype)
        b[: a.shape[0]] = a
        return b

    ev_next = grown(w.ev_next, nodes, -1)
    if nodes > old:
        ev_next[old:-1] = np.arange(old + 1, nodes, dtype=np.int32)
        ev_next[-1] = w.ctl[W_FREE]
        w.ctl[W_FREE] = old
    return w._replace(
        ev_t=grown(w.ev_t, nodes), ev_seq=grown(w.ev_seq, nodes), ev_val=grown(w.ev_val, nodes),
        ev_next=ev_next, ovf_t=grown(w.ovf_t, ovf), ovf_seq=grown(w.ovf_seq, ovf),
        ovf_val=grown(w.ovf_val, ovf),
    )




def wheel_geometry(min_event_gap_ps: int, horizon_ps: int, max_buckets: int = 1 << 20) -> tuple[int, int]:
    """(shift, n_buckets): buckets about ``min_event_gap_ps`` wide covering ``horizon_ps``."""
    shift = max(0, int(max(min_event_gap_ps, 1)).bit_length() - 1)
    n = 1
    while n < max_buckets and (n << shift) < horizon_ps:
        n <<= 1
    return shift, n


@hot
def wheel_push(w, t, seq, val):
    """Add an event (``t`` not earlier than the last event taken); False if full."""
    ctl = w.ctl
    b = t >> ctl[W_SHIFT]
    if b - ctl[W_BCUR] > ctl[W_MASK]:
        size = heap_push(w.ovf_t, w.ovf_seq, w.ovf_val, ctl[W_OVF], t, seq, val)
        if size < 0:
            return False
        ctl[W_OVF] = size
        return True
    node = ctl[W_FREE]
    if node < 0:
        return False
    ctl[W_FREE] = w.ev_next[node]
    w.ev_t[node] = t
    w.ev_seq[node] = seq
    w.ev_val[node] = val
    idx = b & ctl[W_MASK]
    tail = w.tail[idx]
    if tail < 0:
        w.head[idx] = node
        w.tail[idx] = node
        w.ev_next[node] = -1
        w.hd_t[idx] = t
        w.hd_val[idx] = val
    elif w.ev_t[tail] < t or (w.ev_t[tail] == t and w.ev_seq[tail] < seq):
        w.ev_next[tail] = node
        w.ev_next[node] = -1
        w.tail[idx] = node
    else:
        prev = -1
        cur = w.head[idx]
        while cur >= 0 and (w.ev_t[cur] < t or (w.ev_t[cur] == t and w.ev_seq[cur] < seq)):
            prev = cur
            cur = w.ev_next[cur]
        w.ev_next[node] = cur
        if prev < 0:
            w.head[idx] = node
            w.hd_t[idx] = t
            w.hd_val[idx] = val
        else:
            w.ev_next[prev] = node
    ctl[W_COUNT] += 1
    return True


@hot(inline="always")
def wheel_pending(w):
    """Events not yet taken (presorted ones included)."""
    return w.ctl[W_COUNT] + w.ctl[W_OVF] + w.pre_t.shape[0] - w.ctl[W_PRE]


@hot(inline="always")
def wheel_room(w):
    """How many more events the wheel can take for sure (the fewer free of its nodes and its
    overflow heap's slots)."""
    return min(w.ev_t.shape[0] - w.ctl[W_COUNT], w.ovf_t.shape[0] - w.ctl[W_OVF])


@hot
def wheel_next(w):
    """Time of the earliest event (T_NEVER if none); remembers where it is for ``wheel_take``."""
    ctl = w.ctl
    t_best = T_NEVER
    ctl[W_FROM] = -2
    i = ctl[W_PRE]
    if ctl[W_COUNT] > 0:
        mask = ctl[W_MASK]
        b = ctl[W_BCUR]
        if i < w.pre_t.shape[0]:
            # no bucket past that of the next presorted event holds the earliest event: the scan
            # stops there. Otherwise each of a burst of presorted events (thousands of flows
            # starting at once) would scan the same empty buckets again, up to the first pushed
            # event, since the window only moves on to the bucket of the event taken
            last = min(b + mask, w.pre_t[i] >> ctl[W_SHIFT])
            while w.head[b & mask] < 0 and b < last:
                b += 1
        else:
            while w.head[b & mask] < 0:
                b += 1
        node = w.head[b & mask]
        if node >= 0:
            t_best = w.hd_t[b & mask]
            ctl[W_FROM] = b & mask
    if ctl[W_OVF] > 0:
        t = w.ovf_t[0]
        if t < t_best or (t == t_best and w.ovf_seq[0] < w.ev_seq[w.head[ctl[W_FROM]]]):
            t_best = t
            ctl[W_FROM] = _FROM_OVF
    if i < w.pre_t.shape[0] and w.pre_t[i] <= t_best:
        t_best = w.pre_t[i]
        ctl[W_FROM] = _FROM_PRE
    return t_best


@hot(inline="always")
def wheel_peek(w):
    """The value of the first event in the first non-empty bucket among that of the last event
    taken and the ``PEEK_BUCKETS`` after it (−1 if they are all empty): most often the next event
    (the overflow heap and the presorted events are not looked at). A hint, for prefetching;
    nothing is removed. It reads the bucket's copy of the value (``hd_val``), in time order, not
    the node; the node's ``next`` word, which ``wheel_take`` reads, is asked for."""
    if w.ctl[W_COUNT] == 0:
        return np.int64(-1)
    mask = w.ctl[W_MASK]
    b = w.ctl[W_BCUR]
    node = w.head[b & mask]
    end = b + PEEK_BUCKETS
    while node < 0 and b < end:
        b += 1
        node = w.head[b & mask]
    if node < 0:
        return np.int64(-1)
    prefetch(w.ev_next, node)
    return w.hd_val[b & mask]


@hot
def wheel_take(w):
    """Remove the event ``wheel_next`` found; returns its value."""
    ctl = w.ctl
    idx = ctl[W_FROM]
    if idx == _FROM_PRE:
        i = ctl[W_PRE]
        t = w.pre_t[i]
        val = w.pre_val[i]
        ctl[W_PRE] = i + 1
    elif idx == _FROM_OVF:
        t = w.ovf_t[0]
        val = w.ovf_val[0]
        ctl[W_OVF] = heap_pop(w.ovf_t, w.ovf_seq, w.ovf_val, ctl[W_OVF])
    else:
        node = w.head[idx]
        t = w.hd_t[idx]
        val = w.hd_val[idx]
        nxt = w.ev_next[node]
        w.head[idx] = nxt
        if nxt < 0:
            w.tail[idx] = -1
        else:
            w.hd_t[idx] = w.ev_t[nxt]
            w.hd_val[idx] = w.ev_val[nxt]
        w.ev_next[node] = ctl[W_FREE]
        ctl[W_FREE] = node
        ctl[W_COUNT] -= 1
    # every event left is at t or later: the window may start at t's bucket (this also moves it
    # on after a presorted event taken past a quiet stretch)
    ctl[W_BCUR] = t >> ctl[W_SHIFT]
    return val
