"""The calendar wheel pops events in exactly the (t, seq) order of a binary heap."""

from __future__ import annotations

import heapq

from hypothesis import given, settings, strategies as st

from fabsim.native.wheel import T_NEVER, new_wheel, wheel_geometry, wheel_next, wheel_push, wheel_take


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
            t_ref, _, v_ref = heapq.heappop(ref)
            assert wheel_next(w) == t_ref
            assert wheel_take(w) == v_ref
            now = t_ref
    while ref:
        t_ref, _, v_ref = heapq.heappop(ref)
        assert wheel_next(w) == t_ref and wheel_take(w) == v_ref
    assert wheel_next(w) == T_NEVER


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
                t_ref, _, v_ref = heapq.heappop(ref)
                assert wheel_next(w) == t_ref and wheel_take(w) == v_ref
                now = t_ref
    while ref:
        t_ref, _, v_ref = heapq.heappop(ref)
        assert wheel_next(w) == t_ref and wheel_take(w) == v_ref
    assert wheel_next(w) == T_NEVER
