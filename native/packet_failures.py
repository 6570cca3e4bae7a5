"""Failures in the packet engine (docs/failures.md): links that fail and come back, and what the
driver does to flows whose destination routing cannot reach."""

from __future__ import annotations

import numpy as np

from .codes import (
    PK_IN_LINK, PK_META, PK_NEXT,
    ABANDON_NONE, ABANDON_RETRIES, ABANDON_STOPPED, ABANDON_UNREACHABLE, BUSY_DEAD, BUSY_TX,
    EV_BITS, EV_RTO, PKT_DATA, PKT_LOST, P_N_HOSTS, P_RTO, STATUS_HEAP_FULL, STATUS_SLICE,
)
from .jit import hot, kernel
from .packet_state import _free, _schedule, _wire, pk_flow, pk_kind
from .queues import _leave_ingress, _q_change, _try_start


@hot(inline="always")
def _lost_data(st, f, link):
    """A data packet of flow ``f`` is lost to a failure at port ``link``."""
    st.f_fail[f] += 1
    st.f_drops[f] += 1
    st.l_fail_data[link] += 1

@kernel
def _drop_queued(net, st, link, p, t):
    """Packet ``p``, queued at port ``link`` when the link failed, is lost."""
    w = _wire(net, st, p)
    st.l_fail_pkts[link] += 1
    st.l_fail_bytes[link] += w
    node = net.link_src[link]
    data = pk_kind(st, p) == PKT_DATA
    if data:
        _lost_data(st, pk_flow(st, p), link)
        _q_change(st, link, t, -w)
    status = STATUS_SLICE
    if node >= net.params[P_N_HOSTS]:
        st.used[node] -= w
        if data:
            status = _leave_ingress(net, st, st.pkt[p, PK_IN_LINK], w, t)
    _free(st, p)
    return status

@kernel
def fail_links(net, st, links, t):
    """The directed ``links`` fail at ``t``: packets on their wires are lost where the wire ends,
    packets in their queues now (the one being transmitted when its transmission ends), their
    PFC state is cleared. Returns a STATUS_* code."""
    status = STATUS_SLICE
    for i in range(links.shape[0]):
        link = links[i]
        if st.busy[link] & BUSY_DEAD:
            continue
        p = st.pipe_head[link]
        while p >= 0:
            st.pkt[p, PK_META] |= PKT_LOST
            st.l_fail_pkts[link] += 1
            st.l_fail_bytes[link] += _wire(net, st, p)
            p = st.pkt[p, PK_NEXT]
        for prio in range(2):
            head = st.cq_head[link] if prio == 0 else st.dq_head[link]
            keep = -1
            if st.busy[link] & BUSY_TX and st.tx_prio[link] == prio:
                keep = head  # on the wire: lost when its transmission ends (TX_DONE)
                p = st.pkt[keep, PK_NEXT]
                st.pkt[keep, PK_NEXT] = -1
            else:
                p = head
            while p >= 0:
                nxt = st.pkt[p, PK_NEXT]
                s = _drop_queued(net, st, link, p, t)
                if s != STATUS_SLICE:
                    status = s
                p = nxt
            if prio == 0:
                st.cq_head[link] = keep
                st.cq_tail[link] = keep
            else:
                st.dq_head[link] = keep
                st.dq_tail[link] = keep
        if st.paused[link]:
            st.paused[link] = 0
            st.pause_ps[link] += t - st.pause_since[link]
        st.pause_sent[link] = 0
        st.busy[link] |= BUSY_DEAD
    return status

@kernel
def restore_links(net, st, links, t):
    """The directed ``links`` carry packets again from ``t``."""
    status = STATUS_SLICE
    for i in range(links.shape[0]):
        st.busy[links[i]] &= BUSY_TX
    for i in range(links.shape[0]):
        s = _try_start(net, st, links[i], t)
        if s != STATUS_SLICE:
            status = s
    return status

@kernel
def revive(net, st, flows, t):
    """Flows whose destination is reachable again: their retransmission timer restarts at ``t``."""
    for i in range(flows.shape[0]):
        f = flows[i]
        if st.f_abandon[f] == ABANDON_RETRIES:
            continue
        stopped = st.f_abandon[f] == ABANDON_STOPPED
        st.f_abandon[f] = ABANDON_NONE
        c = st.f_ctx[f]
        if c < 0:
            continue  # not started, or every packet acknowledged
        st.timeouts[c] = 0
        if stopped and st.snd_una[c] < net.f_npkts[f]:
            st.t_progress[c] = t
            if not _schedule(st, t + net.params[P_RTO], (np.int64(f) << EV_BITS) | EV_RTO):
                return STATUS_HEAP_FULL
    return STATUS_SLICE



@kernel
def abandon_unreachable(st, unreachable):
    """Flows whose destination routing cannot reach (bool per flow): their retransmission timer
    stops at its next expiry (``revive`` restarts it)."""
    for f in range(unreachable.shape[0]):
        if unreachable[f] and st.f_abandon[f] == ABANDON_NONE:
            st.f_abandon[f] = ABANDON_UNREACHABLE


@kernel
def stranded(st, reachable):
    """Flows stopped as unreachable whose destination is reachable again (``reachable``: bool per
    flow), as an int64 array for ``revive``."""
    n = 0
    for f in range(reachable.shape[0]):
        if reachable[f] and (st.f_abandon[f] == ABANDON_UNREACHABLE or st.f_abandon[f] == ABANDON_STOPPED):
            n += 1
    out = np.empty(n, np.int64)
    i = 0
    for f in range(reachable.shape[0]):
        if reachable[f] and (st.f_abandon[f] == ABANDON_UNREACHABLE or st.f_abandon[f] == ABANDON_STOPPED):
            out[i] = f
            i += 1
    return out


@kernel
def dead_links(st):
    """bool per link: the link is failed (its port starts nothing)."""
    out = np.empty(st.busy.shape[0], np.bool_)
    for link in range(st.busy.shape[0]):
        out[link] = (st.busy[link] & BUSY_DEAD) != 0
    return out


@kernel
def flow_outcomes(st):
    """Per flow: gave up after host.retries timeouts, and stopped as unreachable (bool arrays)."""
    n = st.f_abandon.shape[0]
    gave_up = np.empty(n, np.bool_)
    unreachable = np.empty(n, np.bool_)
    for f in range(n):
        a = st.f_abandon[f]
        gave_up[f] = a == ABANDON_RETRIES
        unreachable[f] = a == ABANDON_UNREACHABLE or a == ABANDON_STOPPED
    return gave_up, unreachable
