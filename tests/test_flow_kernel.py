"""The flow-level kernel: max-min rates against an exact reference, and event timing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fabsim.native.flow import FlowNet, maxmin, new_state, run_until
from fabsim.native.codes import STATUS_DONE, STATUS_SLICE
from tests.reference.flow_ref import simulate as reference_simulate
from tests.reference.maxmin_ref import maxmin_rates

PS = 10**12


def make_net(capacity, paths, wire=None, start=None, delay=None, succ=None, gap=None, weight=None):
    n = len(paths)
    path_ptr = np.zeros(n + 1, np.int64)
    path_ptr[1:] = np.cumsum([len(p) for p in paths])
    succ = succ or [[] for _ in range(n)]
    pred = np.zeros(n, np.int32)
    for s in succ:
        for t in s:
            pred[t] += 1
    succ_ptr = np.zeros(n + 1, np.int64)
    succ_ptr[1:] = np.cumsum([len(s) for s in succ])
    net = FlowNet(
        link_cap_bps=np.asarray(capacity, np.float64),
        path_ptr=path_ptr,
        path_link=np.array([l for p in paths for l in p], np.int32),
        path_delay_ps=np.asarray(delay if delay is not None else [0] * n, np.int64),
        wire_bytes=np.asarray(wire if wire is not None else [1000] * n, np.int64),
        start_ps=np.asarray(start if start is not None else [0] * n, np.int64),
        gap_ps=np.asarray(gap if gap is not None else [0] * n, np.int64),
        succ_ptr=succ_ptr,
        succ=np.array([t for s in succ for t in s], np.int32),
        weight=np.asarray(weight if weight is not None else [1.0] * n, np.float64),
    )
    return net, new_state(net, pred)


def kernel_rates(capacity, paths, weight=None):
    net, st = make_net(capacity, paths, weight=weight)
    maxmin(net, st, np.arange(len(paths), dtype=np.int32), len(paths))
    return st.rate_bps.copy()


def test_one_link_equal_shares():
    assert list(kernel_rates([90], [[0], [0], [0]])) == [30, 30, 30]


def test_capped_demands():
    # flows 0 and 1 are capped by their own access links (10 and 20); flow 2 takes the rest of 100
    rates = kernel_rates([100, 10, 20], [[0, 1], [0, 2], [0]])
    assert list(rates) == [10, 20, 70]


def test_parking_lot():
    # one long flow over n links, one short flow per link: everyone gets 1/2
    n = 5
    paths = [list(range(n))] + [[i] for i in range(n)]
    assert list(kernel_rates([1.0] * n, paths)) == [0.5] * (n + 1)


@st.composite
def networks(draw):
    n_links = draw(st.integers(1, 8))
    capacity = draw(st.lists(st.integers(1, 1000), min_size=n_links, max_size=n_links))
    paths = draw(st.lists(
        st.lists(st.integers(0, n_links - 1), min_size=1, max_size=4, unique=True), min_size=1, max_size=12,
    ))
    return capacity, paths


@settings(max_examples=200, deadline=None)
@given(networks())
def test_maxmin_matches_exact_reference(network):
    capacity, paths = network
    got = kernel_rates(capacity, paths)
    want = maxmin_rates(capacity, paths)
    for g, w in zip(got, want):
        assert g == pytest.approx(float(w), rel=1e-9)
    # feasibility: no link over capacity
    load = np.zeros(len(capacity))
    for f, p in enumerate(paths):
        load[p] += got[f]
    assert (load <= np.asarray(capacity) * (1 + 1e-9)).all()


def test_weighted_shares():
    """Two halves of a sprayed transfer (weight 1/2 each) and a flow of weight 1 on one link of
    100: the flow gets 50, each half 25; a half's other link (100, shared with one flow of
    weight 1) then leaves that flow 75."""
    rates = kernel_rates([100.0, 100.0], [[0], [0, 1], [0], [1]], weight=[0.5, 0.5, 1.0, 1.0])
    assert list(rates) == [25.0, 25.0, 50.0, 75.0]


@settings(max_examples=200, deadline=None)
@given(networks(), st.data())
def test_weighted_maxmin_matches_exact_reference(network, data):
    capacity, paths = network
    weights = data.draw(st.lists(st.sampled_from([1.0, 0.5, 0.25, 1 / 3, 1 / 16]), min_size=len(paths),
                                 max_size=len(paths)))
    got = kernel_rates(capacity, paths, weights)
    want = maxmin_rates(capacity, paths, weights)
    for g, w in zip(got, want):
        assert g == pytest.approx(float(w), rel=1e-9)


def run(net, st):
    assert run_until(net, st, np.int64(2**62)) == STATUS_DONE
    return st


def test_processor_sharing_finish_times():
    # N flows on one bottleneck of B bytes/s; sizes ascending: flow i finishes at
    # (sum_{j<i} s_j + (N-i+1) s_i) / B + path delay  (i counted from 1)
    sizes = [1000, 2000, 2000, 5000, 12345]
    rate_bps = 8e9  # 1 byte per ns
    delay = 777
    net, st = make_net([rate_bps], [[0]] * len(sizes), wire=sizes, delay=[delay] * len(sizes))
    run(net, st)
    n = len(sizes)
    for i, s in enumerate(sizes, start=1):
        expect_ns = Fraction(sum(sizes[: i - 1]) + (n - i + 1) * s)
        assert abs(st.t_finish[i - 1] - (expect_ns * 1000 + delay)) <= n


def test_dependencies_gap_and_start():
    # 0 -> 2 (gap 50 ps), 1 -> 2; 2 also not before 10_000 ps
    net, st = make_net(
        [8e12], [[0], [0], [0]], wire=[1000, 1000, 1000], delay=[100, 100, 100],
        start=[0, 0, 10_000], gap=[0, 0, 50], succ=[[2], [2], []],
    )
    run(net, st)
    # flows 0 and 1 share 1 byte/ps: both sent at 2000 ps, received at 2100
    assert list(st.t_finish[:2]) == [2100, 2100]
    assert st.t_start[2] == 10_000 and st.t_finish[2] == 10_000 + 1000 + 100


def test_slices_give_the_same_result():
    paths = [[0, 1], [1], [0], [2, 1]]
    wire = [5000, 7000, 3000, 9000]
    start = [0, 500, 1000, 1500]
    a_net, a = make_net([8e12, 4e12, 8e12], paths, wire=wire, start=start, delay=[10] * 4)
    run(a_net, a)
    b_net, b = make_net([8e12, 4e12, 8e12], paths, wire=wire, start=start, delay=[10] * 4)
    t = 0
    while run_until(b_net, b, np.int64(t)) == STATUS_SLICE:
        t += 997
    assert np.array_equal(a.t_finish, b.t_finish)


@st.composite
def flow_sets(draw):
    n_links = draw(st.integers(1, 5))
    capacity = [draw(st.sampled_from([1, 2, 4, 10])) * 10**9 for _ in range(n_links)]
    n = draw(st.integers(1, 10))
    paths = [draw(st.lists(st.integers(0, n_links - 1), min_size=1, max_size=3, unique=True)) for _ in range(n)]
    wire = [draw(st.integers(1, 50_000)) for _ in range(n)]
    start = [draw(st.integers(0, 200_000)) for _ in range(n)]
    delay = [draw(st.integers(0, 5_000)) for _ in range(n)]
    gap = [draw(st.integers(0, 3_000)) for _ in range(n)]
    succ = [sorted(set(draw(st.lists(st.integers(f + 1, n - 1), max_size=2)))) if f + 1 < n else [] for f in range(n)]
    return capacity, paths, wire, start, delay, gap, succ


@settings(max_examples=150, deadline=None)
@given(flow_sets())
def test_event_loop_matches_the_reference_simulator(case):
    """Incremental component re-solves give the global max-min timeline (within float64)."""
    capacity, paths, wire, start, delay, gap, succ = case
    net, st_ = make_net(capacity, paths, wire=wire, start=start, delay=delay, succ=succ, gap=gap)
    run(net, st_)
    ref_start, ref_finish = reference_simulate(capacity, paths, wire, start, delay, gap, succ)
    # both round each transmission end up to a whole ps; float64 may put one a ps off
    tol = 2 * len(paths) + 2
    for f in range(len(paths)):
        assert abs(st_.t_start[f] - ref_start[f]) <= tol
        assert abs(st_.t_finish[f] - ref_finish[f]) <= tol


def test_identical_inputs_give_identical_timelines():
    paths = [[0, 1], [1], [0], [2, 1], [2]] * 3
    wire = list(range(1000, 1000 + 15 * 777, 777))
    a_net, a = make_net([8e9, 4e9, 8e9], paths, wire=wire, start=[0] * 15, delay=[10] * 15)
    b_net, b = make_net([8e9, 4e9, 8e9], paths, wire=wire, start=[0] * 15, delay=[10] * 15)
    run(a_net, a)
    run(b_net, b)
    assert np.array_equal(a.t_finish, b.t_finish) and np.array_equal(a.rate_bps, b.rate_bps)


def test_many_re_solves_compact_the_transmission_end_heap():
    # two long flows share link 0 with 40 short flows arriving one after another: every arrival
    # and departure re-solves the long flows, leaving stale heap entries far beyond F + 16
    n_short = 40
    paths = [[0], [0]] + [[0]] * n_short
    wire = [2_000_000, 3_000_000] + [1000] * n_short
    start = [0, 0] + [i * 50_000 for i in range(n_short)]
    n = len(paths)
    net, st_ = make_net([8e9], paths, wire=wire, start=start, delay=[0] * n)
    run(net, st_)
    assert st_.clock[2] == 0  # event heap empty
    ref_start, ref_finish = reference_simulate([8e9], paths, wire, start, [0] * n, [0] * n, [[] for _ in range(n)])
    for f in range(n):
        assert abs(st_.t_finish[f] - ref_finish[f]) <= 2 * n
