"""The calendar wheel pops events in exactly the (t, seq) order of a binary heap."""

from __future__ import annotations

import heapq

from hypothesis import given, settings, strategies as st

from fabsim.native.wheel import T_NEVER, new_wheel, wheel_geometry, wheel_next, wheel_push, wheel_take


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 5000), st.integers(0, 3)), min_size=1, max_size=300),
    shift=st.integers(0, 6),
    log_buckets=st.integers(0, 6),
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
