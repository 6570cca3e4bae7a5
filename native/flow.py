"""Flow-level engine: event-driven max-min fair sharing (DESIGN §7).

Every active flow gets its max-min fair rate over all directed links it crosses, host NICs
included — weighted: a flow of weight w gets w times the fair share of its bottleneck (a share
of a sprayed transfer has its part of the transfer's weight 1; every other flow has weight 1) —
computed by progressive filling (Bertsekas and Gallager, *Data Networks*, 2nd ed.,
§6.5.2) at every instant the set of active flows changes. Max-min allocations decompose over the
connected components of the flow–link graph, so an event re-solves only the component(s) that
contain a link of a flow that started or ended; other flows keep their rates and projected
transmission ends. A flow's transmission ends when its
wire bytes have drained at the piecewise-constant rate; it is received ``path_delay_ps`` later,
which releases its successors in the dependency DAG (each after its own ``gap_ps``, and never
before its ``start_ps``). A flow with an empty path (a compute task) is received
``path_delay_ps`` after it starts. Events are ordered by (t_ps, seq) for determinism.

Rates are float64 bit/s; times int64 ps; a transmission end is rounded up to the next whole ps
(``ceil_ps``: one that float64 error puts a hair above a whole ps is that ps).
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
# ceil_ps: how far above a whole ps a float64 duration may be and still be that ps
_SNAP_PS = 1e-6  # absolute
_SNAP_REL = 1e-15  # relative (a few ulps of the duration)

# Event kinds, in the low bit of a heap value (value = flow << 1 | kind).
_EV_START = 0
_EV_RECV = 1

# Slots of FlowState.clock.
CLK_T_NOW = 0  # time of the last processed event
CLK_SEQ = 1  # next event sequence number
CLK_HEAP = 2  # entries in the event heap
CLK_ACTIVE = 3  # active flows
CLK_DONE_HEAP = 4  # entries in the transmission-end heap
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
    weight: np.ndarray  # float64[F] max-min weight (1 but for the sub-flows of a sprayed transfer)


class FlowState(NamedTuple):
    """Everything the kernel mutates; allocated once by ``new_state``."""

    clock: np.ndarray  # int64[CLK_SIZE]
    pred_left: np.ndarray  # int32[F]
    state: np.ndarray  # int8[F] FLOW_* codes
    rem_bytes: np.ndarray  # float64[F] wire bytes still to send, as of t_rem
    t_rem: np.ndarray  # int64[F] when rem_bytes was last brought up to date
    rate_bps: np.ndarray  # float64[F]
    t_start: np.ndarray  # int64[F] (−1 until started)
    t_finish: np.ndarray  # int64[F] last byte received (−1)
    t_done: np.ndarray  # int64[F] projected transmission end of an active flow
    heap_t: np.ndarray  # start and reception events keyed (t_ps, seq)
    heap_seq: np.ndarray
    heap_val: np.ndarray
    done_t: np.ndarray  # projected transmission ends keyed (t_ps, flow); stale entries skipped
    done_seq: np.ndarray
    done_val: np.ndarray
    # active flows per link: intrusive doubly linked lists of path entries
    entry_flow: np.ndarray  # int32[P] flow of each path entry
    link_head: np.ndarray  # int32[L] first entry of an active flow on the link, −1 if none
    entry_next: np.ndarray  # int32[P]
    entry_prev: np.ndarray  # int32[P]
    # component search
    link_mark: np.ndarray  # int64[L] epoch of the last search that reached the link
    flow_mark: np.ndarray  # int64[F]
    link_queue: np.ndarray  # int32[L]
    comp: np.ndarray  # int32[F] flows of the component being solved
    # max-min scratch
    frozen: np.ndarray  # int8[F]
    touched: np.ndarray  # int32[L] links crossed by the solved flows (compact list)
    local: np.ndarray  # int32[L] link → index in touched, −1 when untouched
    cnt: np.ndarray  # int32[L] unfrozen flows per link
    wsum: np.ndarray  # float64[L] their weights
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
    n_entries = net.path_link.shape[0]
    # a flow has at most one start or reception event pending, and at most one valid
    # transmission end; stale transmission ends are compacted away when that heap fills
    heap_t, heap_seq, heap_val = new_heap(n_flows + 1)
    done_t, done_seq, done_val = new_heap(n_flows + 16)
    st = FlowState(
        clock=np.zeros(CLK_SIZE, np.int64),
        pred_left=pred_count.astype(np.int32).copy(),
        state=np.zeros(n_flows, np.int8),
        rem_bytes=np.zeros(n_flows, np.float64),
        t_rem=np.zeros(n_flows, np.int64),
        rate_bps=np.zeros(n_flows, np.float64),
        t_start=np.full(n_flows, -1, np.int64),
        t_finish=np.full(n_flows, -1, np.int64),
        t_done=np.full(n_flows, T_NEVER, np.int64),
        heap_t=heap_t,
        heap_seq=heap_seq,
        heap_val=heap_val,
        done_t=done_t,
        done_seq=done_seq,
        done_val=done_val,
        entry_flow=np.repeat(np.arange(n_flows, dtype=np.int32), np.diff(net.path_ptr)),
        link_head=np.full(n_links, -1, np.int32),
        entry_next=np.full(n_entries, -1, np.int32),
        entry_prev=np.full(n_entries, -1, np.int32),
        link_mark=np.zeros(n_links, np.int64),
        flow_mark=np.zeros(n_flows, np.int64),
        link_queue=np.empty(n_links, np.int32),
        comp=np.empty(n_flows, np.int32),
        frozen=np.zeros(n_flows, np.int8),
        touched=np.empty(n_links, np.int32),
        local=np.full(n_links, -1, np.int32),
        cnt=np.zeros(n_links, np.int32),
        wsum=np.zeros(n_links, np.float64),
        cap_left=np.zeros(n_links, np.float64),
        lf_ptr=np.zeros(n_links + 1, np.int64),
        lf_cur=np.zeros(n_links, np.int64),
        lf_flow=np.empty(n_entries, np.int32),
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
def _share(touched, cnt, wsum, cap_left, j):
    """Fair share of touched link ``j`` per unit of weight of its unfrozen flows (inf when none
    are left; with weights of 1, the capacity left over the flows left)."""
    link = touched[j]
    if cnt[link] == 0:
        return np.inf
    return max(cap_left[link], 0.0) / wsum[link]


@kernel
def _sift_down(hl, hpos, touched, cnt, wsum, cap_left, i, size):
    """Restore heap order below position ``i``: smaller share first, then smaller link id."""
    item = hl[i]
    key = _share(touched, cnt, wsum, cap_left, item)
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        ck = _share(touched, cnt, wsum, cap_left, hl[left])
        if left + 1 < size:
            rk = _share(touched, cnt, wsum, cap_left, hl[left + 1])
            if rk < ck or (rk == ck and touched[hl[left + 1]] < touched[hl[left]]):
                child = left + 1
                ck = rk
        if ck < key or (ck == key and touched[hl[child]] < touched[item]):
            hl[i] = hl[child]
            hpos[hl[i]] = i
            i = child
        else:
            break
    hl[i] = item
    hpos[item] = i


@kernel
def maxmin(net, st, flows, n_flows):
    """Set ``rate_bps`` of ``flows[:n_flows]`` to their max-min fair rates among themselves."""
    _maxmin(
        net.link_cap_bps, net.path_ptr, net.path_link, net.weight, flows, n_flows, st.rate_bps, st.frozen,
        st.touched, st.local, st.cnt, st.wsum, st.cap_left, st.lf_ptr, st.lf_cur, st.lf_flow, st.hl, st.hpos,
    )


@kernel
def _maxmin(
    link_cap_bps, path_ptr, path_link, weight, active, n_active, rate_bps, frozen,
    touched, local, cnt, wsum, cap_left, lf_ptr, lf_cur, lf_flow, hl, hpos,
):
    """Progressive filling over the links of ``active[:n_active]`` (``maxmin``'s body).

    It takes its arrays one by one rather than the state NamedTuples, a measured choice: with
    the 24-array NamedTuples as arguments, the calls of the small max-min helpers it is made of
    cost a reference-count update per array and call, and the k = 16 ring allreduce took 493 s;
    with the arrays passed explicitly, 38 s (docs/performance.md, flow engine).
    """
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
                wsum[link] = 0.0
                cap_left[link] = link_cap_bps[link]
            cnt[link] += 1
            wsum[link] += weight[f]
    # flows of each touched link, CSR
    lf_ptr[0] = 0
    for j in range(n_t):
        lf_ptr[j + 1] = lf_ptr[j] + cnt[touched[j]]
        lf_cur[j] = lf_ptr[j]
    for i in range(n_active):
        f = active[i]
        for p in range(path_ptr[f], path_ptr[f + 1]):
            j = local[path_link[p]]
            lf_flow[lf_cur[j]] = f
            lf_cur[j] += 1
    # heap of touched links by fair share
    for j in range(n_t):
        hl[j] = j
        hpos[j] = j
    for i in range(n_t // 2 - 1, -1, -1):
        _sift_down(hl, hpos, touched, cnt, wsum, cap_left, i, n_t)
    size = n_t
    unfrozen = n_active
    while unfrozen > 0 and size > 0:
        j = hl[0]
        share = _share(touched, cnt, wsum, cap_left, j)
        # the bottleneck leaves the heap: its flows are all frozen now
        size -= 1
        hpos[j] = -1
        if size > 0:
            hl[0] = hl[size]
            hpos[hl[0]] = 0
            _sift_down(hl, hpos, touched, cnt, wsum, cap_left, 0, size)
        for k in range(lf_ptr[j], lf_ptr[j + 1]):
            f = lf_flow[k]
            if frozen[f]:
                continue
            frozen[f] = 1
            rate = share * weight[f]
            rate_bps[f] = rate
            unfrozen -= 1
            for p in range(path_ptr[f], path_ptr[f + 1]):
                link = path_link[p]
                cap_left[link] -= rate
                cnt[link] -= 1
                wsum[link] -= weight[f]
                m = local[link]
                if m != j and hpos[m] >= 0:
                    # removing a flow at the minimum share never lowers a link's share
                    _sift_down(hl, hpos, touched, cnt, wsum, cap_left, hpos[m], size)
    for j in range(n_t):
        local[touched[j]] = -1


# ---- the event loop ---------------------------------------------------------------------------

@kernel(inline="always")
def ceil_ps(x):
    """Duration ``x`` (float64 ps, ≥ 0) rounded up to a whole ps, except that within
    ``_SNAP_PS + _SNAP_REL·x`` above a whole ps it is that ps. A drain time that is a whole ps in
    exact arithmetic (8,548.2 bits at a third of 100 Gb/s: 256,446 ps) often comes out of float64
    a few ulps above it (256,446.00000000003); a plain ceiling would add a picosecond to one flow
    and not to another that ties with it exactly, and max-min sharing amplifies such a split
    along every chain of dependent transfers that meet on a link."""
    whole = np.floor(x)
    if x - whole <= _SNAP_PS + _SNAP_REL * x:
        return np.int64(whole)
    return np.int64(whole) + 1


@kernel
def ceil_ps_all(x):
    """``ceil_ps`` of every element of ``x`` (float64[n]) as int64[n]."""
    out = np.empty(x.shape[0], np.int64)
    for i in range(x.shape[0]):
        out[i] = ceil_ps(x[i])
    return out


@kernel
def _link_in(path_ptr, path_link, link_head, entry_next, entry_prev, f):
    """Put active flow ``f`` on the active lists of the links of its path."""
    for p in range(path_ptr[f], path_ptr[f + 1]):
        link = path_link[p]
        head = link_head[link]
        entry_prev[p] = -1
        entry_next[p] = head
        if head >= 0:
            entry_prev[head] = p
        link_head[link] = p


@kernel
def _link_out(path_ptr, path_link, link_head, entry_next, entry_prev, f):
    """Take flow ``f`` off the active lists of its links."""
    for p in range(path_ptr[f], path_ptr[f + 1]):
        nxt = entry_next[p]
        prv = entry_prev[p]
        if prv >= 0:
            entry_next[prv] = nxt
        else:
            link_head[path_link[p]] = nxt
        if nxt >= 0:
            entry_prev[nxt] = prv


@kernel
def _component(path_ptr, path_link, entry_flow, link_head, entry_next, link_mark, flow_mark,
               link_queue, comp, n_queued, epoch):
    """Active flows reachable from the ``n_queued`` links already in ``link_queue``.

    (Arrays passed one by one for the reason given at ``_maxmin``.)

    Links and flows reached are stamped with ``epoch``; returns how many flows went to ``comp``.
    """
    head = 0
    n_comp = 0
    while head < n_queued:
        link = link_queue[head]
        head += 1
        p = link_head[link]
        while p >= 0:
            f = entry_flow[p]
            if flow_mark[f] != epoch:
                flow_mark[f] = epoch
                comp[n_comp] = f
                n_comp += 1
                for q in range(path_ptr[f], path_ptr[f + 1]):
                    other = path_link[q]
                    if link_mark[other] != epoch:
                        link_mark[other] = epoch
                        link_queue[n_queued] = other
                        n_queued += 1
            p = entry_next[p]
    return n_comp


@kernel
def _seed_links(path_ptr, path_link, link_mark, link_queue, n_queued, epoch, f):
    """Queue the links of flow ``f`` (once each) as seeds of this event's component search."""
    for p in range(path_ptr[f], path_ptr[f + 1]):
        link = path_link[p]
        if link_mark[link] != epoch:
            link_mark[link] = epoch
            link_queue[n_queued] = link
            n_queued += 1
    return n_queued


@kernel(inline="always")
def _sent(net, st, f, t):
    """Flow ``f`` has put its last byte on the wire at ``t``: it is received ``path_delay_ps``
    later. False if the event heap is full."""
    clk = st.clock
    st.state[f] = FLOW_SENT
    st.rem_bytes[f] = 0.0
    st.t_rem[f] = t
    size = heap_push(
        st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP], t + net.path_delay_ps[f], clk[CLK_SEQ], (f << 1) | _EV_RECV,
    )
    if size < 0:
        return False
    clk[CLK_HEAP] = size
    clk[CLK_SEQ] += 1
    return True


@kernel
def run_until(net, st, t_end):
    """Process events up to and including ``t_end`` (ps); returns a STATUS_* code."""
    clk = st.clock
    path_ptr, path_link = net.path_ptr, net.path_link
    while True:
        # drop stale transmission-end entries (their flow was re-solved since)
        while clk[CLK_DONE_HEAP] > 0:
            f = st.done_val[0]
            if st.state[f] == FLOW_ACTIVE and st.t_done[f] == st.done_t[0]:
                break
            clk[CLK_DONE_HEAP] = heap_pop(st.done_t, st.done_seq, st.done_val, clk[CLK_DONE_HEAP])
        t_tx = st.done_t[0] if clk[CLK_DONE_HEAP] > 0 else T_NEVER
        t_ev = st.heap_t[0] if clk[CLK_HEAP] > 0 else T_NEVER
        t = min(t_tx, t_ev)
        if t == T_NEVER:
            return STATUS_DONE
        if t > t_end:
            return STATUS_SLICE
        clk[CLK_T_NOW] = t
        epoch = clk[CLK_EVENTS] + 1  # unique per batch: events only grow
        n_queued = 0

        # transmissions that end now
        while clk[CLK_DONE_HEAP] > 0 and st.done_t[0] == t:
            f = st.done_val[0]
            clk[CLK_DONE_HEAP] = heap_pop(st.done_t, st.done_seq, st.done_val, clk[CLK_DONE_HEAP])
            if st.state[f] != FLOW_ACTIVE or st.t_done[f] != t:
                continue
            st.t_done[f] = T_NEVER
            clk[CLK_ACTIVE] -= 1
            _link_out(path_ptr, path_link, st.link_head, st.entry_next, st.entry_prev, f)
            n_queued = _seed_links(path_ptr, path_link, st.link_mark, st.link_queue, n_queued, epoch, f)
            if not _sent(net, st, f, t):
                return STATUS_HEAP_FULL
            clk[CLK_EVENTS] += 1

        # starts and receptions due now (a zero-gap successor starts in this same batch)
        while clk[CLK_HEAP] > 0 and st.heap_t[0] == t:
            v = st.heap_val[0]
            clk[CLK_HEAP] = heap_pop(st.heap_t, st.heap_seq, st.heap_val, clk[CLK_HEAP])
            clk[CLK_EVENTS] += 1
            f = v >> 1
            if (v & 1) == _EV_START and path_ptr[f] == path_ptr[f + 1]:
                # no link to cross (a compute task): received after its path delay
                st.t_start[f] = t
                if not _sent(net, st, f, t):
                    return STATUS_HEAP_FULL
            elif (v & 1) == _EV_START:
                st.state[f] = FLOW_ACTIVE
                st.t_start[f] = t
                st.rem_bytes[f] = net.wire_bytes[f]
                st.t_rem[f] = t
                st.rate_bps[f] = 0.0
                clk[CLK_ACTIVE] += 1
                _link_in(path_ptr, path_link, st.link_head, st.entry_next, st.entry_prev, f)
                n_queued = _seed_links(path_ptr, path_link, st.link_mark, st.link_queue, n_queued, epoch, f)
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

        if n_queued == 0:
            continue
        # re-solve the component(s) touched by this batch
        n_comp = _component(
            path_ptr, path_link, st.entry_flow, st.link_head, st.entry_next, st.link_mark,
            st.flow_mark, st.link_queue, st.comp, n_queued, epoch,
        )
        if n_comp == 0:
            continue
        for i in range(n_comp):
            f = st.comp[i]
            st.rem_bytes[f] -= st.rate_bps[f] * (t - st.t_rem[f]) / (8.0 * _PS_PER_S)
            st.t_rem[f] = t
        maxmin(net, st, st.comp, n_comp)
        clk[CLK_SOLVES] += 1
        if _reschedule(st, n_comp, t, epoch, False) == STATUS_HEAP_FULL:
            return STATUS_HEAP_FULL


@kernel(inline="always")
def _reschedule(st, n, t, epoch, compact):
    """Projected transmission ends of the re-solved flows ``comp[:n]`` (stamped ``epoch``) at
    their new rates, pushed on the transmission-end heap (compacted first if it could overflow,
    or if ``compact``). Returns a STATUS_* code."""
    clk = st.clock
    for i in range(n):
        f = st.comp[i]
        r = st.rate_bps[f]
        if r > 0.0:
            bits = max(st.rem_bytes[f], 0.0) * 8.0
            st.t_done[f] = t + ceil_ps(bits * _PS_PER_S / r)
        else:
            st.t_done[f] = T_NEVER
    if compact or clk[CLK_DONE_HEAP] + n > st.done_t.shape[0]:
        clk[CLK_DONE_HEAP] = _compact_done(st, clk[CLK_DONE_HEAP], epoch)
    for i in range(n):
        f = st.comp[i]
        if st.t_done[f] != T_NEVER:
            size = heap_push(st.done_t, st.done_seq, st.done_val, clk[CLK_DONE_HEAP], st.t_done[f], f, f)
            if size < 0:
                return STATUS_HEAP_FULL
            clk[CLK_DONE_HEAP] = size
    return STATUS_SLICE


@kernel
def rebuild(net, st, t):
    """Capacities or paths changed at ``t`` (a failure, its detection or its restoration):
    bring every active flow's bytes up to ``t``, put the active flows on the links of their
    (possibly new) paths in ``net`` and re-solve all of them. ``st``'s per-entry arrays must be
    sized for ``net``'s paths. Returns a STATUS_* code."""
    clk = st.clock
    st.link_head[:] = -1
    n = 0
    for f in range(st.state.shape[0]):
        if st.state[f] == FLOW_ACTIVE:
            st.rem_bytes[f] -= st.rate_bps[f] * (t - st.t_rem[f]) / (8.0 * _PS_PER_S)
            st.t_rem[f] = t
            _link_in(net.path_ptr, net.path_link, st.link_head, st.entry_next, st.entry_prev, f)
            st.comp[n] = f
            n += 1
    if n == 0:
        return STATUS_SLICE
    maxmin(net, st, st.comp, n)
    clk[CLK_SOLVES] += 1
    epoch = -clk[CLK_SOLVES]  # negative: never one of run_until's component-search epochs
    for i in range(n):
        st.flow_mark[st.comp[i]] = epoch
    return _reschedule(st, n, t, epoch, True)


@kernel
def _compact_done(st, size, epoch):
    """Rebuild the transmission-end heap from its valid entries; returns its new size.

    Entries of the component being re-solved (stamped ``epoch``) are dropped, since they are
    pushed again; every other active flow keeps exactly one entry, so the heap never holds more
    than the number of active flows. ``frozen`` serves as the seen-flag (maxmin resets it).
    """
    for i in range(size):
        f = st.done_val[i]
        if st.flow_mark[f] != epoch:
            st.frozen[f] = 0
    kept = 0
    for i in range(size):
        f = st.done_val[i]
        if (st.flow_mark[f] != epoch and st.frozen[f] == 0 and st.state[f] == FLOW_ACTIVE
                and st.t_done[f] == st.done_t[i]):
            st.frozen[f] = 1
            st.done_t[kept] = st.done_t[i]
            st.done_seq[kept] = st.done_seq[i]
            st.done_val[kept] = f
            kept += 1
    # re-heapify in place: entry i is read before any push can write position i
    size = 0
    for i in range(kept):
        size = heap_push(st.done_t, st.done_seq, st.done_val, size, st.done_t[i], st.done_seq[i], st.done_val[i])
    return size


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
