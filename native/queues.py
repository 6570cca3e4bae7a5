"""Ports and their queues (docs/packet-engine.md): serialisation, the two FIFOs of a port, the
hosts' send rings, buffer admission, the ECN marking rule (DCQCN's congestion point), PFC pause
and resume, and egress service (``_try_start``: a port looks for its next packet).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    META_KIND, META_MARK, META_MARK_SHIFT, PK_META, PK_NEXT, PK_SEQ, PX_ENTROPY, PX_SACK,
    START_PORT, BUFFER_DYNAMIC, BUSY_TX, CC_NONE, CONTROL_WIRE_BYTES, EV_BITS, EV_NACK, EV_PACKET_SHIFT, EV_PACE, EV_TX_DONE, F_DT_ALPHA,
    F_PMAX, PKT_DATA, PKT_NACK, PKT_PAUSE, PKT_RESUME, PKT_TRIM, P_BUFFER, P_BUFFER_POLICY, P_CC, P_HEADER, P_MTU,
    P_N_HOSTS, P_PACE_TRIM_NACKS, P_PFC, P_TRIMS_PER_DATA, P_TRANSPORT, P_XOFF, P_XON, RING_OUT, TRANSPORT_SR, RING_PACED, STATUS_HEAP_FULL, STATUS_POOL_FULL,
    STATUS_SLICE,
)
from .dcqcn import rp_on_send
from .ecmp import _GOLDEN, mix64
from .entropy import entropy_of_send, sender_entropy
from .jit import hot, prefetch
from .packet_state import _alloc, _data_wire, _free, _schedule, full, payload_bytes, pk_flow, pk_kind
from .selective import sr_can_send, sr_next_seq
from .wheel import Wheel

_PS_PER_S = 10**12
_U64_TO_UNIT = 1.0 / 18446744073709551616.0


@hot(inline="always")
def _ser_ps(wire, rate_bps):
    """Serialisation time ⌈8·w·10¹²/R⌉ ps."""
    return (np.int64(wire) * 8 * _PS_PER_S + rate_bps - 1) // rate_bps

@hot(inline="always")
def _q_change(st, link, t, delta):
    """Data-queue bytes of ``link`` change by ``delta`` at ``t`` (time-weighted mean, max)."""
    st.q_area[link] += st.dq_bytes[link] * np.float64(t - st.q_t[link])
    st.q_t[link] = t
    st.dq_bytes[link] += delta
    if st.dq_bytes[link] > st.max_q[link]:
        st.max_q[link] = st.dq_bytes[link]
    if st.dq_bytes[link] > st.period_max_q[link]:
        st.period_max_q[link] = st.dq_bytes[link]

@hot(inline="always")
def _push_control(st, link, p):
    if st.cq_tail[link] >= 0:
        st.pkt[st.cq_tail[link], PK_NEXT] = p
    else:
        st.cq_head[link] = p
    st.cq_tail[link] = p

@hot(inline="always")
def _push_data(st, link, p, w, t):
    """Data packet ``p`` of ``w`` wire bytes joins the data queue of ``link``."""
    if st.dq_tail[link] >= 0:
        st.pkt[st.dq_tail[link], PK_NEXT] = p
    else:
        st.dq_head[link] = p
    st.dq_tail[link] = p
    _q_change(st, link, t, w)

@hot(inline="always")
def _ring_push(st, host, f):
    st.ring_next[f] = -1
    if st.ring_tail[host] >= 0:
        st.ring_next[st.ring_tail[host]] = f
    else:
        st.ring_head[host] = f
    st.ring_tail[host] = f
    st.in_ring[f] = 1



# ---- admission and ECN --------------------------------------------------------------------------

@hot(inline="always")
def _admit(net, st, node, egress, w):
    """Buffer admission of a data packet of ``w`` bytes at switch ``node`` for port ``egress``:
    ``dynamic``, the port's data queue below ``dt_alpha`` × the free shared buffer and the packet
    fits; ``static``, it fits the port's share."""
    q = st.dq_bytes[egress]
    if net.params[P_BUFFER_POLICY] == BUFFER_DYNAMIC:
        free = net.params[P_BUFFER] - st.used[node]
        return np.float64(q) < net.fparams[F_DT_ALPHA] * np.float64(free) and st.used[node] + w <= net.params[P_BUFFER]
    return q + w <= net.port_limit[egress]


@hot(inline="always")
def _draw(st):
    """Next uniform number in [0, 1) of the run's splitmix64 stream."""
    st.rng[0] = st.rng[0] + _GOLDEN
    return np.float64(mix64(st.rng[0] - _GOLDEN)) * _U64_TO_UNIT

@hot(inline="always")
def _ecn_mark(net, st, link, q):
    """DCQCN's congestion point: whether a data packet seeing ``q`` queued bytes is marked."""
    kmin = net.kmin[link]
    kmax = net.kmax[link]
    if q <= kmin:
        return False
    if q > kmax:
        return True
    p = net.fparams[F_PMAX] * np.float64(q - kmin) / np.float64(kmax - kmin)
    return _draw(st) < p

@hot(inline="always")
def _mark(st, link, p):
    if not st.pkt[p, PK_META] & META_MARK:
        st.pkt[p, PK_META] |= META_MARK
        st.l_ecn[link] += 1
        st.f_ecn[pk_flow(st, p)] += 1



# ---- PFC ----------------------------------------------------------------------------------------

@hot(inline="always")
def _pfc_on_enqueue(net, st, inl, t):
    """A data packet that arrived over ``inl`` was buffered: above ``pfc_xoff`` bytes from that
    ingress, with no PAUSE outstanding for it, the switch PAUSEs the sender of ``inl``."""
    if net.params[P_PFC] and st.ingress[inl] > net.params[P_XOFF] and not st.pause_sent[inl]:
        st.pause_sent[inl] = 1
        return _send_control(net, st, np.int64(net.link_rev[inl]), np.int64(PKT_PAUSE), np.int64(0), np.int64(0), t,
                             np.int64(0), np.int64(0))
    return STATUS_SLICE


@hot(inline="always")
def _leave_ingress(net, st, inl, w, t):
    """A data packet of ``w`` bytes that arrived over ``inl`` leaves its switch's buffer: the
    ingress counter falls, and below XON the RESUME for an outstanding PAUSE goes out."""
    st.ingress[inl] -= w
    if st.pause_sent[inl] and st.ingress[inl] < net.params[P_XON]:
        st.pause_sent[inl] = 0
        return _send_control(net, st, np.int64(net.link_rev[inl]), np.int64(PKT_RESUME), np.int64(0), np.int64(0), t,
                             np.int64(0), np.int64(0))
    return STATUS_SLICE



@hot(inline="always")
def _pfc_frame(net, st, port, kind, t):
    """A PAUSE or RESUME arrives for ``port`` (the port that sends into the node that emitted
    it): its data priority stops, or starts again and the port looks for work (the caller's
    ``try_start``, see ``START_PORT``)."""
    if kind == PKT_PAUSE:
        if not st.paused[port]:
            st.paused[port] = 1
            st.pause_since[port] = t
        return STATUS_SLICE
    if st.paused[port]:
        st.paused[port] = 0
        st.pause_ps[port] += t - st.pause_since[port]
    return START_PORT + np.int64(port)  # the caller lets the port look for work


# ---- egress service -----------------------------------------------------------------------------

@hot(inline="always")
def _can_send(net, st, f, c):
    """Flow ``f`` (context ``c``) has a packet to send: go-back-N, ``snd_nxt`` short of its
    packets; selective repeat, a packet marked lost or a new one within its window."""
    if full(net) and net.params[P_TRANSPORT] == TRANSPORT_SR:
        return sr_can_send(net, st, f, c)
    return st.snd_nxt[c] < net.f_npkts[f]

@hot(inline="always")
def _make_eligible(net, st, f, host, t):
    """Flow ``f`` has packets to send: it joins its host's send ring, or, if its pacing forbids
    sending before ``rp_next``, waits for an EV_PACE then. False if the event set is full."""
    if st.in_ring[f] != RING_OUT:
        return True
    nxt = st.rp_next[st.f_ctx[f]]
    if nxt > t:
        st.in_ring[f] = RING_PACED
        return _schedule(st, nxt, (np.int64(f) << EV_BITS) | EV_PACE)
    _ring_push(st, host, f)
    return True

@hot(inline="always")
def _try_start(net, st, link, t):
    """A port looks for work (docs/packet-engine.md, "try_start"). Returns a status code."""
    if st.busy[link]:  # transmitting, or failed
        return STATUS_SLICE
    p = st.cq_head[link]
    prio = 0
    w = np.int64(-1)  # its wire bytes, once known
    sr = full(net) and net.params[P_TRANSPORT] == TRANSPORT_SR
    trims_per_data = net.params[P_TRIMS_PER_DATA] if full(net) else np.int64(0)
    if p >= 0 and trims_per_data > 0 and pk_kind(st, p) == PKT_TRIM:
        # a trim at the head: after T trims since the port's last data packet, waiting data goes first
        if st.trim_run[link] >= trims_per_data and st.dq_head[link] >= 0 and not st.paused[link]:
            p = -1
        else:
            st.trim_run[link] += 1
    if p < 0 and not st.paused[link]:
        prio = 1
        p = st.dq_head[link]
        host = net.link_src[link]
        if p < 0 and host < net.params[P_N_HOSTS]:
            # pull one packet from the flow at the front of the send ring; a flow whose every
            # packet an ACK has covered meanwhile (or whose last ACK has come) just leaves the ring
            f = st.ring_head[host]
            c = -1
            while f >= 0:
                st.ring_head[host] = st.ring_next[f]
                if st.ring_head[host] < 0:
                    st.ring_tail[host] = -1
                st.in_ring[f] = 0
                c = st.f_ctx[f]
                if c >= 0 and _can_send(net, st, f, c):
                    break
                f = st.ring_head[host]
            if f >= 0:
                trimmed = False  # resent because a switch trimmed it (sr)
                if sr:
                    seq, trimmed = sr_next_seq(net, st, c)
                else:
                    seq = np.int64(st.snd_nxt[c])
                    st.snd_nxt[c] = seq + 1
                mtu = net.params[P_MTU]
                payload = payload_bytes(net.f_size[f], seq, mtu)
                w = payload + net.params[P_HEADER]
                p = _alloc(st, f, PKT_DATA, seq, payload < mtu)
                if p < 0:
                    return STATUS_POOL_FULL
                if sender_entropy(net):  # the sender chooses the entropy value
                    st.pkx[p, PX_ENTROPY] = entropy_of_send(net, st, f, c, st.f_packets[f], t)
                elif full(net):
                    st.pkx[p, PX_ENTROPY] = 0
                st.f_packets[f] += 1
                if seq < st.max_sent[c]:
                    st.f_retx[f] += payload
                    if trimmed:
                        st.f_retx_trim[f] += payload
                else:
                    st.max_sent[c] = seq + 1
                if net.params[P_CC] != CC_NONE:
                    rp_on_send(net, st, f, t, w)
                if _can_send(net, st, f, c) and not _make_eligible(net, st, f, host, t):
                    return STATUS_HEAP_FULL
                _push_data(st, link, p, w, t)
    if p < 0:
        return STATUS_SLICE
    if prio == 0:
        w = np.int64(CONTROL_WIRE_BYTES)  # the control queue holds control frames and trims
    elif w < 0:
        w = _data_wire(net, st, p)
    if prio and trims_per_data > 0:
        st.trim_run[link] = 0
    return _start_tx(net, st, link, p, prio, w, t)

@hot(inline="always")
def _start_tx(net, st, link, p, prio, w, t):
    """Port ``link`` starts sending packet ``p`` of ``w`` wire bytes, the head of its control
    (``prio`` 0) or data queue (1)."""
    st.busy[link] = BUSY_TX
    st.tx_prio[link] = prio
    prefetch(st.pkt, st.pkt[p, PK_NEXT])  # the packet after it, which its TX_DONE will start
    done = (np.int64(p) << EV_PACKET_SHIFT) | (np.int64(link) << EV_BITS) | EV_TX_DONE
    if not _schedule(st, t + _ser_ps(w, net.link_rate_bps[link]), done):
        return STATUS_HEAP_FULL
    return STATUS_SLICE

class ControlArrays(NamedTuple):
    """What sending a control frame reads and writes (``_send_control``): a few arrays of
    ``PacketNet`` and ``PacketState`` under their own names, so that the helpers it shares with
    the handlers (``_alloc``, ``_push_control``, ``_start_tx``, ``_schedule``) take it as both."""

    params: np.ndarray
    variant: np.ndarray
    link_src: np.ndarray
    link_rate_bps: np.ndarray
    clock: np.ndarray
    pkt: np.ndarray
    pkx: np.ndarray
    used: np.ndarray
    cq_head: np.ndarray
    cq_tail: np.ndarray
    busy: np.ndarray
    tx_prio: np.ndarray
    ev: Wheel


@hot(inline="always")
def _send_control(net, st, link, kind, flow, seq, t, ecn, sack):
    """Queue a 64-byte control frame on port ``link`` and try to start it (``ecn``: an ACK or
    NACK's echo in bit 0 and entropy value in the bits above (``META_MARK``, ``PX_ENTROPY``);
    ``sack``: the sequence number an ACK
    answers). Every argument is an int64 at every call site: one compiled copy of
    ``_send_frame``, which takes only the arrays it uses (``ControlArrays``) where a call
    passing ``PacketNet`` and ``PacketState`` would pass their hundred-odd fields."""
    return _send_frame(_control_view(net, st), link, kind, flow, seq, t, ecn, sack)

@hot(inline="always")
def _control_view(net, st):
    return ControlArrays(net.params, net.variant, net.link_src, net.link_rate_bps, st.clock, st.pkt, st.pkx, st.used,
                         st.cq_head, st.cq_tail, st.busy, st.tx_prio, st.ev)

@hot(inline="always")
def _answer_trim(net, st, host, p, t):
    """Trim ``p`` reaches its destination ``host`` at ``t``: its trim NACK is sent now or, paced
    (``host.pace_trim_nacks``), held in ``p``'s row until an ``EV_NACK`` (docs/packet-engine.md,
    "Trimming")."""
    return _trim_nack(_control_view(net, st), net.f_size, net.host_uplink, net.link_rev, st.nack_free,
                      np.int64(host), np.int64(p), t, np.int64(0))

@hot(inline="always")
def _nack_due(net, st, p, t):
    """``EV_NACK``: the trim NACK held in row ``p`` is due."""
    host = net.f_dst[pk_flow(st, p)]
    return _trim_nack(_control_view(net, st), net.f_size, net.host_uplink, net.link_rev, st.nack_free,
                      np.int64(host), np.int64(p), t, np.int64(1))

@hot
def _trim_nack(v, f_size, host_uplink, link_rev, nack_free, host, p, t, due):
    """The trim NACK of row ``p`` (a trim that reached ``host``, or with ``due`` the NACK held
    there): paced, it is sent at ``r = max(t, nack_free[host])`` and the next one no sooner than
    the resend it asks for takes on the host's link; a NACK not due yet stays in ``p``'s row, the
    rest is ``_send_control``. Not inlined: only trimming runs reach it."""
    f = pk_flow(v, p)
    seq = np.int64(v.pkt[p, PK_SEQ])
    ev_only = np.int64(v.pkx[p, PX_ENTROPY]) << 1  # its entropy value, no echo
    uplink = np.int64(host_uplink[host])
    if not due and v.params[P_PACE_TRIM_NACKS]:
        mtu = v.params[P_MTU]
        resend = payload_bytes(f_size[f], seq, mtu) + v.params[P_HEADER]
        r = max(t, nack_free[host])
        nack_free[host] = r + _ser_ps(resend, v.link_rate_bps[link_rev[uplink]])
        if r > t:
            v.pkt[p, PK_META] = (v.pkt[p, PK_META] & ~(META_KIND | META_MARK)) | PKT_NACK  # its entropy value stays
            if not _schedule(v, r, (p << EV_BITS) | EV_NACK):
                return STATUS_HEAP_FULL
            return STATUS_SLICE
    _free(v, p)
    return _send_frame(v, uplink, np.int64(PKT_NACK), f, seq, t, ev_only, np.int64(0))

@hot
def _send_frame(v, link, kind, flow, seq, t, ecn, sack):
    """``_send_control`` on its arrays. This is ``try_start(link)`` with the port's control queue
    not empty, which never gets as far as the data queue or the send ring: a port that is not
    busy starts the head of its control queue (the whole ``_try_start`` inlined here made this
    function cost as much of the first compile as the event loop's own)."""
    p = _alloc(v, flow, kind, seq, False)
    if p < 0:
        return STATUS_POOL_FULL
    v.pkt[p, PK_META] |= (ecn & 1) << META_MARK_SHIFT
    if full(v):
        v.pkx[p, PX_ENTROPY] = ecn >> 1
        v.pkx[p, PX_SACK] = sack
    node = v.link_src[link]
    if node >= v.params[P_N_HOSTS]:
        v.used[node] += CONTROL_WIRE_BYTES
    _push_control(v, link, p)
    if v.busy[link]:  # transmitting, or failed
        return STATUS_SLICE
    return _start_tx(v, v, link, v.cq_head[link], 0, np.int64(CONTROL_WIRE_BYTES), t)


@hot
def busy_ports(period_max_q, out):
    """The ports whose data queue was non-empty since the driver's last queue sample (a
    non-zero ``period_max_q``), in order, into ``out``; returns how many. Compiled: a sample of
    a large fabric reads every port, and NumPy's ``flatnonzero`` takes 8× as long."""
    n = 0
    for link in range(period_max_q.shape[0]):
        if period_max_q[link] != 0:
            out[n] = link
            n += 1
    return n
