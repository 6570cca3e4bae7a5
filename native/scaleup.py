"""Tasks of the packet engine that send no packets: compute tasks and scale-up transfers
(docs/packet-engine.md, "Tasks that are not fabric flows").

A compute task ends ``duration`` after it starts. A scale-up transfer moves its bytes between
two GPUs of one server as a fluid: the server's GPUs each have an egress and an ingress port of
rate ``scaleup_rate`` joined by a non-blocking switch, and the active transfers of a server share
those ports max-min fairly (progressive filling over ``2·G`` ports). A server is re-solved when
one of its transfers starts or finishes sending; one ``CHECK`` event per server stands for the
earliest projected end of its transfers. Fabric packets never enter this module and these tasks
never touch the fabric.

Their state is a tuple of its own (``ScaleUp``), passed beside the packet state to the event
loop and to :func:`on_task` only: kept out of ``PacketState``, it costs the packet handlers
nothing (every non-inlined kernel function that takes the state pays, in compile time, for each
of its fields).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    EV_BITS, EV_CHECK, EV_DONE, KIND_COMPUTE, KIND_SCALEUP, STATUS_HEAP_FULL, STATUS_SLICE,
)
from .jit import hot
from .packet_state import _complete, _schedule
from .wheel import T_NEVER

_BITS_PS = 8e12  # bits per byte × ps per second

# Slots of ScaleUp.params (int64).
S_GPUS = 0  # GPUs per server G
S_LATENCY = 1  # latency of a scale-up transfer (ps)
S_SIZE = 2


class ScaleUp(NamedTuple):
    """Durations of compute tasks and the fluid state of scale-up transfers. Per-transfer and
    per-server arrays are empty when the run has no scale-up transfer."""

    params: np.ndarray  # int64[S_SIZE]
    rate_bps: np.ndarray  # float64[1] each GPU's scale-up port rate
    dur: np.ndarray  # int64[F] duration of a compute task (ps), 0 otherwise
    rem: np.ndarray  # float64[F] bytes left to send as of upd
    rate: np.ndarray  # float64[F] bit/s
    upd: np.ndarray  # int64[F]
    end: np.ndarray  # int64[F] projected end of transmission
    nxt: np.ndarray  # int32[F] next active transfer of the same server
    head: np.ndarray  # int32[servers] active transfers, in the order they started
    tail: np.ndarray  # int32[servers]
    check: np.ndarray  # int64[servers] time of the pending CHECK (T_NEVER: none)
    cap: np.ndarray  # float64[2·G] progressive-filling scratch
    cnt: np.ndarray  # int32[2·G]


def new_scaleup(kinds: np.ndarray, duration_ps: np.ndarray, n_hosts: int, gpus_per_server: int,
                latency_ps: int, rate_bps: int) -> ScaleUp:
    """The ``ScaleUp`` of a run whose tasks have engine kinds ``kinds`` (int8[F])."""
    g = int(gpus_per_server)
    fluid = kinds.shape[0] if bool((kinds == KIND_SCALEUP).any()) else 0
    servers = n_hosts // g if fluid else 0
    params = np.zeros(S_SIZE, np.int64)
    params[S_GPUS] = g
    params[S_LATENCY] = latency_ps
    return ScaleUp(
        params=params, rate_bps=np.array([float(rate_bps)]), dur=np.asarray(duration_ps, np.int64).copy(),
        rem=np.zeros(fluid, np.float64), rate=np.zeros(fluid, np.float64), upd=np.zeros(fluid, np.int64),
        end=np.full(fluid, T_NEVER, np.int64), nxt=np.full(fluid, -1, np.int32),
        head=np.full(servers, -1, np.int32), tail=np.full(servers, -1, np.int32),
        check=np.full(servers, T_NEVER, np.int64), cap=np.zeros(2 * g, np.float64), cnt=np.zeros(2 * g, np.int32),
    )


@hot
def on_task(net, st, su, kind, obj, t):
    """The event ``kind`` of this module at ``t``: START of task ``obj`` (a compute task or a
    scale-up transfer), CHECK of server ``obj`` or DONE of task ``obj``. Returns a STATUS_* code."""
    if kind == EV_CHECK:
        return _check(net, st, su, obj, t)
    if kind == EV_DONE:  # a compute task ends, or a scale-up transfer is received
        return STATUS_SLICE if _complete(net, st, obj, t) else STATUS_HEAP_FULL
    return _start(net, st, su, obj, t)


@hot(inline="always")
def _start(net, st, su, f, t):
    st.t_start[f] = t
    if net.f_kind[f] == KIND_COMPUTE:
        if not _schedule(st, t + su.dur[f], (np.int64(f) << EV_BITS) | EV_DONE):
            return STATUS_HEAP_FULL
        return STATUS_SLICE
    s = net.f_src[f] // su.params[S_GPUS]
    su.rem[f] = np.float64(net.f_size[f])
    su.rate[f] = 0.0
    su.upd[f] = t
    su.nxt[f] = -1
    if su.tail[s] >= 0:
        su.nxt[su.tail[s]] = f
    else:
        su.head[s] = f
    su.tail[s] = f
    return _resolve(net, st, su, s, t)


@hot(inline="always")
def _check(net, st, su, s, t):
    """CHECK(s): the transfers of server ``s`` that have finished sending leave it."""
    if t != su.check[s]:
        return STATUS_SLICE  # superseded by an earlier check
    su.check[s] = T_NEVER
    prev = -1
    f = su.head[s]
    left = 0
    nearest = T_NEVER
    while f >= 0:
        nxt = su.nxt[f]
        if su.end[f] <= t:
            if prev >= 0:
                su.nxt[prev] = nxt
            else:
                su.head[s] = nxt
            if su.tail[s] == f:
                su.tail[s] = prev
            su.nxt[f] = -1
            if not _schedule(st, t + su.params[S_LATENCY], (np.int64(f) << EV_BITS) | EV_DONE):
                return STATUS_HEAP_FULL
            left += 1
        else:
            prev = f
            nearest = min(nearest, su.end[f])
        f = nxt
    if su.head[s] < 0:
        return STATUS_SLICE
    if left > 0:
        return _resolve(net, st, su, s, t)
    su.check[s] = nearest
    if not _schedule(st, nearest, (np.int64(s) << EV_BITS) | EV_CHECK):
        return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot(inline="always")
def _resolve(net, st, su, s, t):
    """Bring server ``s``'s transfers up to ``t``, share its ports max-min fairly, project every
    transfer's end and schedule CHECK(s) if the earliest end is before the pending check."""
    g = su.params[S_GPUS]
    base = s * g
    cap = su.cap
    cnt = su.cnt
    for j in range(2 * g):
        cap[j] = su.rate_bps[0]
        cnt[j] = 0
    f = su.head[s]
    while f >= 0:
        rem = su.rem[f] - su.rate[f] * np.float64(t - su.upd[f]) / _BITS_PS
        su.rem[f] = rem if rem > 0.0 else 0.0
        su.upd[f] = t
        su.rate[f] = -1.0  # not yet frozen
        cnt[net.f_src[f] - base] += 1
        cnt[g + net.f_dst[f] - base] += 1
        f = su.nxt[f]
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
        f = su.head[s]
        while f >= 0:
            if su.rate[f] < 0.0:
                a = net.f_src[f] - base
                b = g + net.f_dst[f] - base
                if a == best or b == best:
                    su.rate[f] = share
                    cap[a] -= share
                    cnt[a] -= 1
                    cap[b] -= share
                    cnt[b] -= 1
            f = su.nxt[f]
    nearest = T_NEVER
    f = su.head[s]
    while f >= 0:
        r = su.rate[f]
        if r > 0.0:
            su.end[f] = t + np.int64(np.ceil(su.rem[f] * _BITS_PS / r))
        else:
            su.end[f] = T_NEVER
        nearest = min(nearest, su.end[f])
        f = su.nxt[f]
    if nearest < su.check[s]:
        su.check[s] = nearest
        if not _schedule(st, nearest, (np.int64(s) << EV_BITS) | EV_CHECK):
            return STATUS_HEAP_FULL
    return STATUS_SLICE
