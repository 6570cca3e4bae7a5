"""DCQCN (Zhu et al., SIGCOMM 2015 §3; docs/dcqcn.md): the reaction point at the sender — rate
cuts on congestion signals, the alpha, decrease and rate-increase timers applied lazily in time
order, the byte counter and the pacing gap — and the notification point at the receiver (CNPs
for marked packets, at most one per flow per ``cnp_interval``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    CC_PAPER, EV_BITS, KIND_FABRIC, EV_CNP, F_ALPHA0, F_G, F_MIN_RATE, P_ALPHA_TIMER,
    P_BYTE_COUNTER, P_CC,
    P_CNP_INTERVAL, P_DEC_INTERVAL, P_FAST_RECOVERY, P_RATE_TIMER, RP_ALPHA_CNP, RP_DEC_CNP,
    RP_RUNNING,
)
from .jit import hot, kernel
from .packet_state import _schedule

# What the notification point asks of its caller for a marked packet (``_np_on_mark``).
NP_NOTHING = 0  # a CNP went out for this flow less than cnp_interval ago (one is pending)
NP_SEND_CNP = 1  # send a CNP now
NP_HEAP_FULL = 2  # the deferred CNP could not be scheduled


# ---- reaction point (sender) -------------------------------------------------------------------
# The reaction point's state is flow f's context c = f_ctx[f] (packet_state.py): rp_*[c].
# Its steps are compiled as functions of their own that take ``RpArrays`` (the arrays they use,
# under their PacketNet / PacketState names) as both ``net`` and ``st``: a call passing those
# two whole would pass their hundred-odd fields. The handlers call ``rp_signal`` and
# ``rp_on_send``.


class RpArrays(NamedTuple):
    params: np.ndarray
    fparams: np.ndarray
    f_src: np.ndarray
    host_uplink: np.ndarray
    link_rate_bps: np.ndarray
    h_rai: np.ndarray
    h_rhai: np.ndarray
    f_ctx: np.ndarray
    f_cnp: np.ndarray
    rp_rc: np.ndarray
    rp_rt: np.ndarray
    rp_alpha: np.ndarray
    rp_t_alpha: np.ndarray
    rp_t_dec: np.ndarray
    rp_t_inc: np.ndarray
    rp_next: np.ndarray
    rp_stage_t: np.ndarray
    rp_stage_bc: np.ndarray
    rp_bytes: np.ndarray
    rp_flags: np.ndarray


@hot(inline="always")
def _rp_view(net, st):
    return RpArrays(net.params, net.fparams, net.f_src, net.host_uplink, net.link_rate_bps, net.h_rai, net.h_rhai,
                    st.f_ctx, st.f_cnp, st.rp_rc, st.rp_rt, st.rp_alpha, st.rp_t_alpha, st.rp_t_dec, st.rp_t_inc,
                    st.rp_next, st.rp_stage_t, st.rp_stage_bc, st.rp_bytes, st.rp_flags)

@hot(inline="always")
def rp_signal(net, st, f, t):
    """A congestion signal (a CNP, or an ECN echo) reaches the sender of ``f`` at ``t``."""
    v = _rp_view(net, st)
    _rp_signal(v, v, np.int64(f), np.int64(t))

@hot(inline="always")
def rp_on_send(net, st, f, t, wire):
    """Flow ``f`` sends a packet of ``wire`` bytes at ``t``: the byte counter and its pacing."""
    v = _rp_view(net, st)
    _rp_on_send(v, v, np.int64(f), np.int64(t), np.int64(wire))

@hot
def _rp_increase(net, st, f, c, line):
    """One rate-increase iteration of flow ``f`` (context ``c``; timer or byte counter; stages
    already counted for the paper dialect, counted here after the step for hpcc)."""
    F = net.params[P_FAST_RECOVERY]
    rc = st.rp_rc[c]
    rt = st.rp_rt[c]
    if net.params[P_CC] == CC_PAPER:
        t_stage = st.rp_stage_t[c]
        bc_stage = st.rp_stage_bc[c]
        if max(t_stage, bc_stage) <= F:
            pass  # fast recovery
        elif min(t_stage, bc_stage) > F:
            rt += (min(t_stage, bc_stage) - F) * net.h_rhai[net.f_src[f]]  # hyper increase
        else:
            rt += net.h_rai[net.f_src[f]]  # additive increase
        rt = min(rt, line)
        st.rp_rt[c] = rt
        st.rp_rc[c] = (rt + rc) / 2.0
    else:
        stage = st.rp_stage_t[c]
        if stage == F:
            rt += net.h_rai[net.f_src[f]]
        elif stage > F:
            rt += net.h_rhai[net.f_src[f]]
        rt = min(rt, line)
        st.rp_rt[c] = rt
        st.rp_rc[c] = rc / 2.0 + rt / 2.0
        st.rp_stage_t[c] = stage + 1

@hot
def _rp_advance(net, st, f, t):
    """Apply every timer expiry of flow ``f`` at or before ``t``, in time order (ties: alpha
    timer, then decrease check, then rate-increase timer)."""
    c = st.f_ctx[f]
    line = np.float64(net.link_rate_bps[net.host_uplink[net.f_src[f]]])
    g = net.fparams[F_G]
    while True:
        ta = st.rp_t_alpha[c]
        td = st.rp_t_dec[c]
        ti = st.rp_t_inc[c]
        if ta <= td and ta <= ti:
            if ta > t:
                return
            st.rp_t_alpha[c] = ta + net.params[P_ALPHA_TIMER]
            if st.rp_flags[c] & RP_ALPHA_CNP:
                st.rp_alpha[c] = (1.0 - g) * st.rp_alpha[c] + g
                st.rp_flags[c] &= ~RP_ALPHA_CNP
            else:
                st.rp_alpha[c] = (1.0 - g) * st.rp_alpha[c]
        elif td <= ti:
            if td > t:
                return
            st.rp_t_dec[c] = td + net.params[P_DEC_INTERVAL]
            if st.rp_flags[c] & RP_DEC_CNP:
                st.rp_flags[c] &= ~RP_DEC_CNP
                if st.rp_stage_t[c] != 0:
                    st.rp_rt[c] = st.rp_rc[c]
                st.rp_rc[c] = max(net.fparams[F_MIN_RATE], st.rp_rc[c] * (1.0 - st.rp_alpha[c] / 2.0))
                st.rp_stage_t[c] = 0
                st.rp_t_inc[c] = td + net.params[P_RATE_TIMER]
        else:
            if ti > t:
                return
            st.rp_t_inc[c] = ti + net.params[P_RATE_TIMER]
            if net.params[P_CC] == CC_PAPER:
                st.rp_stage_t[c] += 1
            _rp_increase(net, st, f, c, line)

@hot
def _rp_signal(net, st, f, t):
    """A congestion signal reaches the sender of ``f`` at ``t``: a CNP (paper) or an ACK/NACK
    echoing a mark (hpcc). After the flow's last ACK (no context) it is only counted."""
    st.f_cnp[f] += 1
    c = st.f_ctx[f]
    if c < 0:
        return
    _rp_advance(net, st, f, t)
    if net.params[P_CC] == CC_PAPER:
        alpha = st.rp_alpha[c]
        st.rp_rt[c] = st.rp_rc[c]
        st.rp_rc[c] = max(net.fparams[F_MIN_RATE], st.rp_rc[c] * (1.0 - alpha / 2.0))
        g = net.fparams[F_G]
        st.rp_alpha[c] = (1.0 - g) * alpha + g
        st.rp_stage_t[c] = 0
        st.rp_stage_bc[c] = 0
        st.rp_bytes[c] = 0
        st.rp_t_alpha[c] = t + net.params[P_ALPHA_TIMER]
        st.rp_t_inc[c] = t + net.params[P_RATE_TIMER]
        st.rp_flags[c] |= RP_RUNNING
    elif st.rp_flags[c] & RP_RUNNING:
        st.rp_flags[c] |= RP_ALPHA_CNP | RP_DEC_CNP
    else:
        # first signal: alpha restarts, both periodic timers start (the decrease check 1 ns
        # after a multiple of the alpha period, as in the HPCC code)
        st.rp_alpha[c] = net.fparams[F_ALPHA0]
        st.rp_flags[c] = RP_RUNNING | RP_DEC_CNP
        st.rp_t_alpha[c] = t + net.params[P_ALPHA_TIMER]
        st.rp_t_dec[c] = t + net.params[P_DEC_INTERVAL] + 1000

@hot
def _rp_on_send(net, st, f, t, wire):
    """Flow ``f`` puts a packet of ``wire`` bytes on the wire at ``t``: the earliest time it may
    send the next one (``t`` itself when it sends at line rate), and the byte counter."""
    _rp_advance(net, st, f, t)
    c = st.f_ctx[f]
    uplink = net.host_uplink[net.f_src[f]]
    line = np.float64(net.link_rate_bps[uplink])
    rc = st.rp_rc[c]
    nxt = t
    if rc < line:
        nxt = t + np.int64(np.ceil(np.float64(wire) * 8e12 / rc))
    st.rp_next[c] = nxt
    B = net.params[P_BYTE_COUNTER]
    if B > 0 and st.rp_flags[c] & RP_RUNNING:
        st.rp_bytes[c] += wire
        if st.rp_bytes[c] >= B:
            st.rp_bytes[c] = 0
            st.rp_stage_bc[c] += 1
            _rp_increase(net, st, f, c, line)
    return nxt


# ---- notification point (receiver) --------------------------------------------------------------

@hot(inline="always")
def _np_on_mark(net, st, f, t):
    """Paper dialect: a marked data packet of flow ``f`` reaches its receiver at ``t``. A CNP
    goes out at once (the caller sends it, before the ACK) if none went out for this flow in
    the last ``cnp_interval``; otherwise one is deferred to the end of that interval."""
    last = st.np_last_cnp[f]
    if last < 0 or t - last >= net.params[P_CNP_INTERVAL]:
        st.np_last_cnp[f] = t
        return NP_SEND_CNP
    if not st.np_pending[f]:
        st.np_pending[f] = 1
        if not _schedule(st, last + net.params[P_CNP_INTERVAL], (np.int64(f) << EV_BITS) | EV_CNP):
            return NP_HEAP_FULL
    return NP_NOTHING


@hot(inline="always")
def _np_due(st, f, t):
    """The deferred CNP of flow ``f`` falls due at ``t`` (the caller sends it)."""
    st.np_pending[f] = 0
    st.np_last_cnp[f] = t


# ---- the rates trace ----------------------------------------------------------------------------

@kernel
def sample_rates(net, st, t):
    """DCQCN state of every fabric flow sending at ``t`` (started, not received): flow ids, Rc,
    Rt, α. (Compute tasks and scale-up transfers have no reaction point.)

    Brings each flow's timers up to ``t`` first, exactly as its next event would.
    """
    n = 0
    for f in range(net.f_src.shape[0]):
        if st.t_start[f] >= 0 and st.t_finish[f] < 0 and net.f_kind[f] == KIND_FABRIC:
            n += 1
    ids = np.empty(n, np.int32)
    rc = np.empty(n, np.float64)
    rt = np.empty(n, np.float64)
    alpha = np.empty(n, np.float64)
    i = 0
    for f in range(net.f_src.shape[0]):
        if st.t_start[f] >= 0 and st.t_finish[f] < 0 and net.f_kind[f] == KIND_FABRIC:
            v = _rp_view(net, st)
            _rp_advance(v, v, np.int64(f), np.int64(t))
            c = st.f_ctx[f]
            ids[i] = f
            rc[i] = st.rp_rc[c]
            rt[i] = st.rp_rt[c]
            alpha[i] = st.rp_alpha[c]
            i += 1
    return ids, rc, rt, alpha
