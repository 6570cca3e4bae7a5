"""The calendar wheel pops events in exactly the (t, seq) order of a binary heap, presorted events
and growth included."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fabsim.native.wheel import (
    PEEK_BUCKETS, T_NEVER, W_OVF, W_PRE, W_SHIFT, grow_wheel, new_wheel, wheel_geometry, wheel_next, wheel_peek, wheel_pending,
    wheel_push, wheel_room, wheel_take,
)


def take_and_compare(w, ref) -> int:
    """Take the wheel's next event and the reference heap's; they must agree. Returns its time.
    The peek that follows (the kernel's prefetch hint) names a pending event, or none; when the
    next event is in the bucket just taken from or one of the PEEK_BUCKETS after it, and none is
    elsewhere (overflow heap, presorted), that one."""
    t_ref, _, v_ref = heapq.heappop(ref)
    assert wheel_next(w) == t_ref
    assert wheel_take(w) == v_ref
    peek = wheel_peek(w)
    assert peek == -1 or peek in {v for _, _, v in ref}
    only_buckets = w.ctl[W_OVF] == 0 and w.ctl[W_PRE] == w.pre_t.shape[0]
    if ref and only_buckets and (ref[0][0] >> w.ctl[W_SHIFT]) - (t_ref >> w.ctl[W_SHIFT]) <= PEEK_BUCKETS:
        assert peek == ref[0][2]
    return t_ref


def drain_and_compare(w, ref) -> None:
    """Take every event left, comparing each with the reference heap; then both are empty."""
    while ref:
        take_and_compare(w, ref)
    assert wheel_next(w) == T_NEVER


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 5000), st.integers(0, 3)), min_size=1, max_size=300),
    shift=st.integers(0, 6),
    log_buckets=st.integers(0, 9),
)
def test_wheel_order_equals_a_heap(ops, shift, log_buckets):
    w = new_wheel(400, shift, 1 << log_buckets)
    ref = []
    now = 0
    seq = 0
    for push, delta, burst in ops:
        if push or not ref:
            for _ in range(burst + 1):
                t = now + delta * (burst + 1)  # some far beyond the window, some equal times
                assert wheel_push(w, t, seq, seq * 7)
                heapq.heappush(ref, (t, seq, seq * 7))
                seq += 1
        else:
            now = take_and_compare(w, ref)
    drain_and_compare(w, ref)


def test_full_wheel_says_so():
    w = new_wheel(2, 4, 8)
    assert wheel_push(w, 1, 0, 0) and wheel_push(w, 2, 1, 1)
    assert not wheel_push(w, 3, 2, 2)


def test_geometry():
    assert wheel_geometry(64, 10**6) == (6, 16384)
    shift, n = wheel_geometry(1, 10**12, max_buckets=1024)
    assert shift == 0 and n == 1024


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.one_of(st.integers(0, 3), st.integers(1000, 10**7)), min_size=1, max_size=200),
    bursts=st.lists(st.integers(1, 40), min_size=1, max_size=20),
    shift=st.integers(0, 8),
    log_buckets=st.integers(6, 12),
)
def test_wheel_order_equals_a_heap_on_sparse_and_bursty_draws(gaps, bursts, shift, log_buckets):
    """Few events far apart (most buckets empty, several bitmap words to skip, wrap-around) and
    bursts of many events at one time, popped in between."""
    w = new_wheel(2000, shift, 1 << log_buckets)
    ref = []
    now = seq = 0
    for i, gap in enumerate(gaps):
        for _ in range(bursts[i % len(bursts)]):
            t = now + gap
            assert wheel_push(w, t, seq, seq)
            heapq.heappush(ref, (t, seq, seq))
            seq += 1
        for _ in range(i % 3):  # take some, so the window moves on
            if ref:
                now = take_and_compare(w, ref)
    drain_and_compare(w, ref)


@settings(max_examples=200, deadline=None)
@given(
    pre=st.lists(st.integers(0, 20000), max_size=60),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 5000), st.integers(0, 3)), min_size=1, max_size=200),
    shift=st.integers(0, 6),
    log_buckets=st.integers(0, 9),
    grow_at=st.integers(0, 200),
)
def test_presorted_events_and_growth_keep_the_heap_order(pre, ops, shift, log_buckets, grow_at):
    """Events known before the run (sorted once, taken by a cursor) come out exactly as if they
    had been pushed first; a wheel grown half way (bucket nodes and overflow heap alike) keeps
    every event and its order, and reports its room."""
    pre_t = np.array(sorted(pre), np.int64)
    pre_val = np.arange(len(pre), dtype=np.int64) + 10**6
    w = new_wheel(8, shift, 1 << log_buckets, ovf=8, pre_t=pre_t, pre_val=pre_val)
    ref = [(int(t), i, int(v)) for i, (t, v) in enumerate(zip(pre_t, pre_val))]
    heapq.heapify(ref)
    now = 0
    seq = len(pre)
    for i, (push, delta, burst) in enumerate(ops):
        if i == grow_at:
            w = grow_wheel(w, 2 * w.ev_t.shape[0] + 3, 2 * w.ovf_t.shape[0] + 5)
        if push or not ref:
            for _ in range(burst + 1):
                if wheel_room(w) < 1:
                    w = grow_wheel(w, 2 * w.ev_t.shape[0], 2 * w.ovf_t.shape[0])
                room = wheel_room(w)
                t = now + delta * (burst + 1)
                assert wheel_push(w, t, seq, seq * 7)
                assert wheel_room(w) >= room - 1
                heapq.heappush(ref, (t, seq, seq * 7))
                seq += 1
        else:
            now = take_and_compare(w, ref)
        assert wheel_pending(w) == len(ref)
    drain_and_compare(w, ref)
    assert wheel_pending(w) == 0


@settings(max_examples=300, deadline=None)
@given(
    starts=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 30)), min_size=1, max_size=8),
    ahead=st.integers(0, 5000),
    back=st.integers(0, 40),
    far=st.integers(0, 10**6),
    shift=st.integers(0, 5),
    log_buckets=st.integers(4, 12),
)
def test_bursts_of_presorted_events_before_far_pushed_ones_keep_the_heap_order(starts, ahead, back, far, shift,
                                                                               log_buckets):
    """Many presorted events at a few times (flows starting together), each pushing, when taken,
    an event some way ahead, one far ahead (often beyond the window, in the overflow heap) and one
    just before the next presorted event and the overflow heap's first (often in its bucket): the
    scan that stops at the bucket of the next presorted event still finds every event in
    order."""
    pre_t = np.array(sorted(t * 100 for t, n in starts for _ in range(n)), np.int64)
    pre_val = np.arange(pre_t.shape[0], dtype=np.int64) + 10**6
    room = 13 * pre_t.shape[0] + 2
    w = new_wheel(room, shift, 1 << log_buckets, ovf=room, pre_t=pre_t, pre_val=pre_val)
    ref = [(int(t), i, int(v)) for i, (t, v) in enumerate(zip(pre_t, pre_val))]
    heapq.heapify(ref)
    seq = pre_t.shape[0]
    while ref:
        now = take_and_compare(w, ref)
        if seq < 4 * pre_t.shape[0]:
            nxt = int(pre_t[w.ctl[W_PRE]]) if w.ctl[W_PRE] < pre_t.shape[0] else now
            top = int(w.ovf_t[0]) if w.ctl[W_OVF] > 0 else now
            for t in (now + ahead + seq % 7, max(now, nxt - back), now + far, max(now, top - back)):
                assert wheel_push(w, t, seq, seq)
                heapq.heappush(ref, (t, seq, seq))
                seq += 1
    assert wheel_next(w) == T_NEVER


def test_presorted_events_must_be_sorted():
    with pytest.raises(ValueError, match="sorted"):
        new_wheel(4, 0, 4, pre_t=np.array([5, 3], np.int64), pre_val=np.array([0, 1], np.int64))


@settings(max_examples=100, deadline=None)
@given(times=st.lists(st.integers(0, 63), min_size=1, max_size=40), shift=st.integers(3, 6))
def test_events_pushed_out_of_order_into_a_few_buckets(times, shift):
    """Buckets of 8–64 ps, each holding many events: an event that comes before its bucket's
    last one is put in its place (the list walk), and every node goes back to the free list."""
    w = new_wheel(64, shift, 4)
    ref = []
    for seq, t in enumerate(times):
        assert wheel_push(w, t, seq, 1000 + seq)
        heapq.heappush(ref, (t, seq, 1000 + seq))
    drain_and_compare(w, ref)
    assert wheel_room(w) == 64  # every node is back on the free list
