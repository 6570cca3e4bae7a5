"""Flow-level engine: event-driven max-min fair sharing (DESIGN §7).

Every active flow gets its max-min fair rate over all directed links it crosses, host NICs
included, computed by progressive filling (Bertsekas and Gallager, *Data Networks*, 2nd ed.,
§6.5.2) at every instant the set of active flows changes. A flow's transmission ends when its
wire bytes have drained at the piecewise-constant rate; it is received ``path_delay_ps`` later,
which releases its successors in the dependency DAG (each after its own ``gap_ps``, and never
before its ``start_ps``). Events are ordered by (t_ps, seq) for determinism.

Rates are float64 bit/s; times int64 ps; a transmission end is rounded up to the next whole ps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    FLOW_ACTIVE, FLOW_DONE, FLOW_READY, FLOW_SENT, STATUS_DONE, STATUS_HEAP_FULL, STATUS_SLICE,
)
from .heap import heap_pop, heap_push, new_heap
from .jit import kernel

T_NEVER = np.int64(2**62)
_PS_PER_S = 1e12

# Event kinds, in the low bit of a heap value (value = flow << 1 | kind).
_EV_START = 0
_EV_RECV = 1

# Slots of FlowState.clock.
CLK_T_NOW = 0  # time of the last processed event
CLK_SEQ = 1  # next event sequence number
CLK_HEAP = 2  # entries in the event heap
CLK_ACTIVE = 3  # active flows
CLK_T_RATES = 4  # when remaining bytes were last brought up to date
CLK_DONE = 5  # flows received
CLK_EVENTS = 6  # flow starts, transmission ends and receptions processed
CLK_SOLVES = 7  # max-min recomputations
CLK_SIZE = 8


class FlowNet(NamedTuple):
    """Static inputs: link capacities, flow paths (CSR), flow sizes, times and the DAG."""

    link_cap_bps: np.ndarray  # float64[L]
    path_ptr: np.ndarray  # int64[F+1]
    path_link: np.ndarray  # int32[P]
    path_delay_ps: np.ndarray  # int64[F] propagation + switch latency along the path
    wire_bytes: np.ndarray  # int64[F] payload + headers
    start_ps: np.ndarray  # int64[F] earliest start
    gap_ps: np.ndarray  # int64[F] delay after the last predecessor is received
    succ_ptr: np.ndarray  # int64[F+1]
    succ: np.ndarray  # int32[E]


class FlowState(NamedTuple):
    """Everything the kernel mutates; allocated once by ``new_state``."""

    clock: np.ndarray  # int64[CLK_SIZE]
    pred_left: np.ndarray  # int32[F]
    state: np.ndarray  # int8[F] FLOW_* codes
    rem_bytes: np.ndarray  # float64[F] wire bytes still to send, as of clock[CLK_T_RATES]
    rate_bps: np.ndarray  # float64[F]
    t_start: np.ndarray  # int64[F] (−1 until started)
    t_sent: np.ndarray  # int64[F] last byte on the wire (−1)
    t_finish: np.ndarray  # int64[F] last byte received (−1)
    t_done: np.ndarray  # int64[F] projected transmission end of an active flow
    active: np.ndarray  # int32[F] ids of active flows (first clock[CLK_ACTIVE])
    heap_t: np.ndarray
    heap_seq: np.ndarray
    heap_val: np.ndarray
    # max-min scratch
    frozen: np.ndarray  # int8[F]
    touched: np.ndarray  # int32[L] links crossed by active flows (compact list)
    local: np.ndarray  # int32[L] link → index in touched, −1 when untouched
    cnt: np.ndarray  # int32[L] unfrozen flows per link
    cap_left: np.ndarray  # float64[L]
    lf_ptr: np.ndarray  # int64[L+1] flows of each touched link (CSR over touched indices)
    lf_cur: np.ndarray  # int64[L]
    lf_flow: np.ndarray  # int32[P]
    hl: np.ndarray  # int32[L] indexed heap of touched indices keyed by fair share
    hpos: np.ndarray  # int32[L]


def new_state(net: FlowNet, pred_count: np.ndarray) -> FlowState:
    """Fresh state: flows without predecessors get their start events."""
    n_flows = net.wire_bytes.shape[0]
    n_links = net.link_cap_bps.shape[0]
    heap_t, heap_seq, heap_val = new_heap(2 * n_flows + 1)
    st = FlowState(
        clock=np.zeros(CLK_SIZE, np.int64),
        pred_left=pred_count.astype(np.int32).copy(),
        state=np.zeros(n_flows, np.int8),
        rem_bytes=np.zeros(n_flows, np.float64),
        rate_bps=np.zeros(n_flows, np.float64),
        t_start=np.full(n_flows, -1, np.int64),
        t_sent=np.full(n_flows, -1, np.int64),
        t_finish=np.full(n_flows, -1, np.int64),
        t_done=np.full(n_flows, T_NEVER, np.int64),
        active=np.empty(n_flows, np.int32),
        heap_t=heap_t,
        heap_seq=heap_seq,
        heap_val=heap_val,
        frozen=np.zeros(n_flows, np.int8),
        touched=np.empty(n_links, np.int32),
        local=np.full(n_links, -1, np.int32),
        cnt=np.zeros(n_links, np.int32),
        cap_left=np.zeros(n_links, np.float64),
        lf_ptr=np.zeros(n_links + 1, np.int64),
        lf_cur=np.zeros(n_links, np.int64),
        lf_flow=np.empty(net.path_link.shape[0], np.int32),
        hl=np.empty(n_links, np.int32),
        hpos=np.empty(n_links, np.int32),
    )
    _seed_starts(net, st)
    return st


@kernel
def _seed_starts(net, st):
    clk = st.clock
    for f in range(net.wire_bytes.shape[0]):
        if st.pred_left[f] == 0:
            st.state[f] = FLOW_READY
            clk[CLK_HEAP] = heap_push(
                st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP], net.start_ps[f], clk[CLK_SEQ],
                (f << 1) | _EV_START,
            )
            clk[CLK_SEQ] += 1


# ---- max-min fair rates (progressive filling) -------------------------------------------------

@kernel
def _share(st, j):
    """Fair share of touched link ``j`` among its unfrozen flows (inf when none are left)."""
    link = st.touched[j]
    c = st.cnt[link]
    if c == 0:
        return np.inf
    return max(st.cap_left[link], 0.0) / c


@kernel
def _before(st, a, b):
    """Heap order of touched links: smaller share first, then smaller link id."""
    sa = _share(st, a)
    sb = _share(st, b)
    return sa < sb or (sa == sb and st.touched[a] < st.touched[b])


@kernel
def _sift_down(st, i, size):
    hl, hpos = st.hl, st.hpos
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        if left + 1 < size and _before(st, hl[left + 1], hl[left]):
            child = left + 1
        if _before(st, hl[child], hl[i]):
            a, b = hl[i], hl[child]
            hl[i], hl[child] = b, a
            hpos[b], hpos[a] = i, child
            i = child
        else:
            return


@kernel
def maxmin(net, st, n_active):
    """Set ``rate_bps`` of the first ``n_active`` flows of ``st.active`` to their max-min rates."""
    path_ptr, path_link = net.path_ptr, net.path_link
    active, frozen, touched, local, cnt = st.active, st.frozen, st.touched, st.local, st.cnt
    n_t = 0
    for i in range(n_active):
        f = active[i]
        frozen[f] = 0
        for p in range(path_ptr[f], path_ptr[f + 1]):
            link = path_link[p]
            if local[link] < 0:
                local[link] = n_t
                touched[n_t] = link
                n_t += 1
                cnt[link] = 0
                st.cap_left[link] = net.link_cap_bps[link]
            cnt[link] += 1
    # flows of each touched link, CSR
    st.lf_ptr[0] = 0
    for j in range(n_t):
        st.lf_ptr[j + 1] = st.lf_ptr[j] + cnt[touched[j]]
        st.lf_cur[j] = st.lf_ptr[j]
    for i in range(n_active):
        f = active[i]
        for p in range(path_ptr[f], path_ptr[f + 1]):
            j = local[path_link[p]]
            st.lf_flow[st.lf_cur[j]] = f
            st.lf_cur[j] += 1
    # heap of touched links by fair share
    for j in range(n_t):
        st.hl[j] = j
        st.hpos[j] = j
    for i in range(n_t // 2 - 1, -1, -1):
        _sift_down(st, i, n_t)
    size = n_t
    unfrozen = n_active
    while unfrozen > 0 and size > 0:
        j = st.hl[0]
        share = _share(st, j)
        # the bottleneck leaves the heap: its flows are all frozen now
        size -= 1
        st.hpos[j] = -1
        if size > 0:
            last = st.hl[size]
            st.hl[0] = last
            st.hpos[last] = 0
            _sift_down(st, 0, size)
        for k in range(st.lf_ptr[j], st.lf_ptr[j + 1]):
            f = st.lf_flow[k]
            if frozen[f]:
                continue
            frozen[f] = 1
            st.rate_bps[f] = share
            unfrozen -= 1
            for p in range(path_ptr[f], path_ptr[f + 1]):
                link = path_link[p]
                st.cap_left[link] -= share
                cnt[link] -= 1
                m = local[link]
                if m != j and st.hpos[m] >= 0:
                    # removing a flow at the minimum share never lowers a link's share
                    _sift_down(st, st.hpos[m], size)
    for j in range(n_t):
        local[touched[j]] = -1


# ---- the event loop ---------------------------------------------------------------------------

@kernel
def run_until(net, st, t_end):
    """Process events up to and including ``t_end`` (ps); returns a STATUS_* code."""
    clk = st.clock
    active = st.active
    while True:
        n_active = clk[CLK_ACTIVE]
        t_tx = T_NEVER
        for i in range(n_active):
            t_tx = min(t_tx, st.t_done[active[i]])
        t_ev = st.heap_t[0] if clk[CLK_HEAP] > 0 else T_NEVER
        t = min(t_tx, t_ev)
        if t == T_NEVER:
            return STATUS_DONE
        if t > t_end:
            return STATUS_SLICE
        clk[CLK_T_NOW] = t

        # bring remaining bytes up to date
        dt = t - clk[CLK_T_RATES]
        if dt > 0:
            for i in range(n_active):
                f = active[i]
                st.rem_bytes[f] -= st.rate_bps[f] * dt / (8.0 * _PS_PER_S)
            clk[CLK_T_RATES] = t

        changed = False
        # transmissions that end now
        i = 0
        while i < n_active:
            f = active[i]
            if st.t_done[f] <= t:
                n_active -= 1
                active[i] = active[n_active]
                st.state[f] = FLOW_SENT
                st.t_sent[f] = t
                st.rem_bytes[f] = 0.0
                st.t_done[f] = T_NEVER
                size = heap_push(
                    st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP],
                    t + net.path_delay_ps[f], clk[CLK_SEQ], (f << 1) | _EV_RECV,
                )
                if size < 0:
                    return STATUS_HEAP_FULL
                clk[CLK_HEAP] = size
                clk[CLK_SEQ] += 1
                clk[CLK_EVENTS] += 1
                changed = True
            else:
                i += 1

        # starts and receptions due now (a zero-gap successor starts in this same batch)
        while clk[CLK_HEAP] > 0 and st.heap_t[0] == t:
            v = st.heap_val[0]
            clk[CLK_HEAP] = heap_pop(st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP])
            clk[CLK_EVENTS] += 1
            f = v >> 1
            if (v & 1) == _EV_START:
                st.state[f] = FLOW_ACTIVE
                st.t_start[f] = t
                st.rem_bytes[f] = net.wire_bytes[f]
                active[n_active] = f
                n_active += 1
                changed = True
            else:
                st.state[f] = FLOW_DONE
                st.t_finish[f] = t
                clk[CLK_DONE] += 1
                for k in range(net.succ_ptr[f], net.succ_ptr[f + 1]):
                    s = net.succ[k]
                    st.pred_left[s] -= 1
                    if st.pred_left[s] == 0:
                        st.state[s] = FLOW_READY
                        size = heap_push(
                            st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP],
                            max(t + net.gap_ps[s], net.start_ps[s]), clk[CLK_SEQ], (s << 1) | _EV_START,
                        )
                        if size < 0:
                            return STATUS_HEAP_FULL
                        clk[CLK_HEAP] = size
                        clk[CLK_SEQ] += 1

        clk[CLK_ACTIVE] = n_active
        if changed and n_active > 0:
            maxmin(net, st, n_active)
            clk[CLK_SOLVES] += 1
            for i in range(n_active):
                f = active[i]
                r = st.rate_bps[f]
                if r > 0.0:
                    bits = max(st.rem_bytes[f], 0.0) * 8.0
                    st.t_done[f] = t + np.int64(np.ceil(bits * _PS_PER_S / r))
                else:
                    st.t_done[f] = T_NEVER


@kernel
def ideal_finish(ideal_fct_ps, gap_ps, succ_ptr, succ, group):
    """Earliest finish of every flow on an idle fabric, following the DAG within each group.

    Every flow takes its ideal FCT; a flow starts when its predecessors of the same ``group``
    (e.g. the same collective iteration) are received, plus its gap; flows with no such
    predecessor start at 0. Flow-id order is a topological order (edges point forward).
    Returns int64 finish times relative to the group's start.
    """
    n = ideal_fct_ps.shape[0]
    ready = np.zeros(n, np.int64)
    finish = np.empty(n, np.int64)
    for f in range(n):
        finish[f] = ready[f] + ideal_fct_ps[f]
        for k in range(succ_ptr[f], succ_ptr[f + 1]):
            s = succ[k]
            if group[s] == group[f]:
                ready[s] = max(ready[s], finish[f] + gap_ps[s])
    return finish
