"""Tasks of the packet engine that send no packets: compute tasks and scale-up transfers
(docs/packet-engine.md, "Tasks that are not fabric flows").

A compute task ends ``duration`` after it starts. A scale-up transfer moves its bytes between
two GPUs of one server as a fluid: the server's GPUs each have an egress and an ingress port of
rate ``scaleup_rate`` joined by a non-blocking switch, and the active transfers of a server share
those ports max-min fairly (progressive filling over ``2·G`` ports). A server is re-solved when
one of its transfers starts or finishes sending; one ``CHECK`` event per server stands for the
earliest projected end of its transfers. Fabric packets never enter this module and these tasks
never touch the fabric.
"""

from __future__ import annotations

import numpy as np

from .codes import (
    C_DONE, EV_BITS, EV_CHECK, EV_DONE, EV_START, F_SCALEUP_RATE, KIND_COMPUTE, P_GPUS, P_SCALEUP_LAT,
    STATUS_HEAP_FULL, STATUS_SLICE,
)
from .jit import hot
from .packet_state import _schedule
from .wheel import T_NEVER

_BITS_PS = 8e12  # bits per byte × ps per second


@hot
def task_start(net, st, f, t):
    """START of compute task or scale-up transfer ``f`` at ``t``; returns a STATUS_* code."""
    st.t_start[f] = t
    if net.f_kind[f] == KIND_COMPUTE:
        if not _schedule(st, t + net.f_dur[f], (np.int64(f) << EV_BITS) | EV_DONE):
            return STATUS_HEAP_FULL
        return STATUS_SLICE
    s = net.f_src[f] // net.params[P_GPUS]
    st.fl_rem[f] = np.float64(net.f_size[f])
    st.fl_rate[f] = 0.0
    st.fl_upd[f] = t
    st.fl_next[f] = -1
    if st.srv_tail[s] >= 0:
        st.fl_next[st.srv_tail[s]] = f
    else:
        st.srv_head[s] = f
    st.srv_tail[s] = f
    return _resolve(net, st, s, t)


@hot
def check(net, st, s, t):
    """CHECK(s) at ``t``: the transfers of server ``s`` that have finished sending leave it."""
    if t != st.srv_check[s]:
        return STATUS_SLICE  # superseded by an earlier check
    st.srv_check[s] = T_NEVER
    prev = -1
    f = st.srv_head[s]
    left = 0
    nearest = T_NEVER
    while f >= 0:
        nxt = st.fl_next[f]
        if st.fl_end[f] <= t:
            if prev >= 0:
                st.fl_next[prev] = nxt
            else:
                st.srv_head[s] = nxt
            if st.srv_tail[s] == f:
                st.srv_tail[s] = prev
            st.fl_next[f] = -1
            if not _schedule(st, t + net.params[P_SCALEUP_LAT], (np.int64(f) << EV_BITS) | EV_DONE):
                return STATUS_HEAP_FULL
            left += 1
        else:
            prev = f
            nearest = min(nearest, st.fl_end[f])
        f = nxt
    if st.srv_head[s] < 0:
        return STATUS_SLICE
    if left > 0:
        return _resolve(net, st, s, t)
    st.srv_check[s] = nearest
    if not _schedule(st, nearest, (np.int64(s) << EV_BITS) | EV_CHECK):
        return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot
def task_done(net, st, f, t):
    """DONE(f): a compute task ends or a scale-up transfer is received; successors may start."""
    st.t_finish[f] = t
    st.clock[C_DONE] += 1
    for k in range(net.succ_ptr[f], net.succ_ptr[f + 1]):
        s = net.succ[k]
        st.pred_left[s] -= 1
        if st.pred_left[s] == 0:
            if not _schedule(st, max(t + net.f_gap[s], net.f_start[s]), (np.int64(s) << EV_BITS) | EV_START):
                return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot
def _resolve(net, st, s, t):
    """Bring server ``s``'s transfers up to ``t``, share its ports max-min fairly, project every
    transfer's end and schedule CHECK(s) if the earliest end is before the pending check."""
    g = net.params[P_GPUS]
    base = s * g
    cap = st.port_cap
    cnt = st.port_cnt
    for j in range(2 * g):
        cap[j] = net.fparams[F_SCALEUP_RATE]
        cnt[j] = 0
    f = st.srv_head[s]
    while f >= 0:
        rem = st.fl_rem[f] - st.fl_rate[f] * np.float64(t - st.fl_upd[f]) / _BITS_PS
        st.fl_rem[f] = rem if rem > 0.0 else 0.0
        st.fl_upd[f] = t
        st.fl_rate[f] = -1.0  # not yet frozen
        cnt[net.f_src[f] - base] += 1
        cnt[g + net.f_dst[f] - base] += 1
        f = st.fl_next[f]
    while True:
        best = -1
        share = np.inf
        for j in range(2 * g):
            if cnt[j] > 0:
                x = max(cap[j], 0.0) / cnt[j]
                if x < share:
                    share = x
                    best = j
        if best < 0:
            break
        f = st.srv_head[s]
        while f >= 0:
            if st.fl_rate[f] < 0.0:
                a = net.f_src[f] - base
                b = g + net.f_dst[f] - base
                if a == best or b == best:
                    st.fl_rate[f] = share
                    cap[a] -= share
                    cnt[a] -= 1
                    cap[b] -= share
                    cnt[b] -= 1
            f = st.fl_next[f]
    nearest = T_NEVER
    f = st.srv_head[s]
    while f >= 0:
        r = st.fl_rate[f]
        if r > 0.0:
            st.fl_end[f] = t + np.int64(np.ceil(st.fl_rem[f] * _BITS_PS / r))
        else:
            st.fl_end[f] = T_NEVER
        nearest = min(nearest, st.fl_end[f])
        f = st.fl_next[f]
    if nearest < st.srv_check[s]:
        st.srv_check[s] = nearest
        if not _schedule(st, nearest, (np.int64(s) << EV_BITS) | EV_CHECK):
            return STATUS_HEAP_FULL
    return STATUS_SLICE
