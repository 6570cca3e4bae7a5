"""Packet-level engine: egress FIFOs with two priorities, shared buffers, ECN, PFC, go-back-N.

The exact semantics — events, their order, and every rule — are specified in
docs/packet-engine.md; the numbered steps there are the numbered comments here. In short:
every directed link is an egress port (control queue strictly before data queue,
non-preemptive) feeding a pipe (packets on the wire, FIFO); events are ``START(flow)``,
``TX_DONE(link)``, ``ARRIVE(link)`` and ``RTO(flow)`` in a (t_ps, seq) calendar wheel, with at most
one pending per link, pipe or flow. Packets live in a preallocated pool with a free list, and
queues, pipes and the free list are intrusive linked lists through ``pkt_next``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import ROUTE_LOCAL, STATUS_DONE, STATUS_HEAP_FULL, STATUS_SLICE
from .ecmp import ecmp_hash, ecmp_salt, flow_hash, mix64
from .wheel import T_NEVER, W_COUNT, W_OVF, Wheel, new_wheel, wheel_next, wheel_push, wheel_take
from .jit import hot, kernel
from .routing import pick_port

STATUS_POOL_FULL = 3  # the packet pool ran out in the middle of an event (a sizing error)
STATUS_POOL_LOW = 4  # stopped before an event: fewer than POOL_RESERVE free packets; grow the pool
POOL_RESERVE = 4  # an event allocates at most two packets (e.g. a RESUME and a data packet)

# Event kinds, in the low two bits of an event value (value = object << 2 | kind).
EV_START = 0
EV_TX_DONE = 1
EV_ARRIVE = 2
EV_RTO = 3

# Packet kinds.
PKT_DATA = 0
PKT_ACK = 1
PKT_PAUSE = 2
PKT_RESUME = 3
PKT_NACK = 4
CONTROL_WIRE_BYTES = 64  # ACK, NACK, PAUSE and RESUME frames: the Ethernet minimum frame

# ECMP modes and buffer policies (PacketNet.params).
ECMP_FLOW = 0
ECMP_PACKET = 1
ECMP_ADAPTIVE = 2
BUFFER_DYNAMIC = 0
BUFFER_STATIC = 1
PACKET_SPRAY_STRIDE = 65536  # channel + stride·(seq + 1) re-hashes every packet

# Slots of PacketNet.params (int64).
P_N_HOSTS = 0
P_MTU = 1
P_HEADER = 2
P_RTO = 3
P_ECMP = 4
P_BUFFER_POLICY = 5
P_BUFFER = 6
P_ECN = 7
P_ECN_DEQUEUE = 8
P_PFC = 9
P_XOFF = 10
P_XON = 11
P_SEED = 12
P_NACK = 13
P_SIZE = 14
# Slots of PacketNet.fparams (float64).
F_DT_ALPHA = 0
F_PMAX = 1

# Slots of PacketState.clock (int64).
C_T_NOW = 0
C_SEQ = 1
C_PENDING = 2  # events pending (set when run_until returns)
C_EVENTS = 3
C_HOPS = 4
C_FREE = 5  # head of the packet free list
C_IN_USE = 6  # packets allocated
C_DONE = 7  # flows received
C_SIZE = 8

_PS_PER_S = 10**12
_U64_TO_UNIT = 1.0 / 18446744073709551616.0
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class PacketNet(NamedTuple):
    """Static inputs: fabric, routing tables, per-port thresholds, flows and their DAG."""

    params: np.ndarray  # int64[P_SIZE]
    fparams: np.ndarray  # float64
    link_dst: np.ndarray  # int32[L]
    link_src: np.ndarray  # int32[L]
    link_rev: np.ndarray  # int32[L]
    link_rate_bps: np.ndarray  # int64[L]
    pipe_delay_ps: np.ndarray  # int64[L] propagation (+ switch latency into a switch)
    port_limit: np.ndarray  # int64[L] static buffer share of the port (buffer / ports)
    kmin: np.ndarray  # int64[L] ECN thresholds per port
    kmax: np.ndarray  # int64[L]
    host_uplink: np.ndarray  # int32[H]
    host_downlink: np.ndarray  # int32[H]
    host_edge: np.ndarray  # int32[H]
    link_up: np.ndarray  # bool[L]
    dist: np.ndarray  # int8[S, E]
    group: np.ndarray  # int32[S, E]
    group_ptr: np.ndarray
    group_port: np.ndarray
    base_group: np.ndarray
    base_ptr: np.ndarray
    base_port: np.ndarray
    f_src: np.ndarray  # int32[F]
    f_dst: np.ndarray  # int32[F]
    f_size: np.ndarray  # int64[F] payload bytes
    f_npkts: np.ndarray  # int32[F]
    f_hash: np.ndarray  # int64[F] ECMP hash id
    f_hash_fwd: np.ndarray  # uint64[F] flow_hash of the data direction (ecmp = flow)
    f_hash_rev: np.ndarray  # uint64[F] flow_hash of the ACK direction
    f_channel: np.ndarray  # int64[F]
    f_start: np.ndarray  # int64[F]
    f_gap: np.ndarray  # int64[F]
    succ_ptr: np.ndarray  # int64[F+1]
    succ: np.ndarray  # int32[E]


class PacketState(NamedTuple):
    """Everything the kernel mutates."""

    clock: np.ndarray  # int64[C_SIZE]
    rng: np.ndarray  # uint64[1] splitmix64 state of the ECN draws
    ev: Wheel  # the event set, ordered (t_ps, seq)
    # packet pool
    pkt_flow: np.ndarray  # int32
    pkt_kind: np.ndarray  # int8
    pkt_seq: np.ndarray  # int32 (data: sequence number; ACK: cumulative ack)
    pkt_wire: np.ndarray  # int32 wire bytes
    pkt_next: np.ndarray  # int32 next packet in its queue, pipe or the free list
    pkt_in_link: np.ndarray  # int32 link it arrived on at the switch holding it
    pkt_t_arr: np.ndarray  # int64 arrival time at the end of its pipe
    pkt_ecn: np.ndarray  # int8
    # ports
    cq_head: np.ndarray  # int32[L] control queue
    cq_tail: np.ndarray
    dq_head: np.ndarray  # int32[L] data queue
    dq_tail: np.ndarray
    dq_bytes: np.ndarray  # int64[L]
    busy: np.ndarray  # int8[L]
    tx_prio: np.ndarray  # int8[L] 0 control, 1 data: the queue whose head is on the wire
    paused: np.ndarray  # int8[L]
    pause_since: np.ndarray  # int64[L]
    pipe_head: np.ndarray  # int32[L]
    pipe_tail: np.ndarray  # int32[L]
    tx_bytes: np.ndarray  # int64[L]
    max_q: np.ndarray  # int64[L]
    q_area: np.ndarray  # float64[L] ∫ dq_bytes dt (byte·ps)
    q_t: np.ndarray  # int64[L] time of the last dq_bytes change
    period_max_q: np.ndarray  # int64[L] data-queue maximum since the driver last reset it
    l_drops: np.ndarray  # int64[L]
    l_ecn: np.ndarray  # int64[L]
    pause_ps: np.ndarray  # int64[L]
    # switches and PFC
    used: np.ndarray  # int64[nodes] bytes buffered at each switch
    ingress: np.ndarray  # int64[L] data bytes buffered downstream of each link
    pause_sent: np.ndarray  # int8[L] a PAUSE is outstanding for this ingress link
    # hosts
    ring_head: np.ndarray  # int32[H] send ring (FIFO of flows)
    ring_tail: np.ndarray
    ring_next: np.ndarray  # int32[F]
    in_ring: np.ndarray  # int8[F]
    # flows
    pred_left: np.ndarray  # int32[F]
    t_start: np.ndarray  # int64[F]
    t_finish: np.ndarray  # int64[F]
    t_progress: np.ndarray  # int64[F]
    snd_nxt: np.ndarray  # int32[F]
    snd_una: np.ndarray  # int32[F]
    rcv_nxt: np.ndarray  # int32[F]
    max_sent: np.ndarray  # int32[F] highest sequence number sent + 1
    nack_for: np.ndarray  # int32[F] rcv_nxt of the last NACK sent (one NACK per gap)
    f_packets: np.ndarray  # int64[F]
    f_retx: np.ndarray  # int64[F]
    f_ecn: np.ndarray  # int64[F]
    f_drops: np.ndarray  # int64[F]
    f_rcvd: np.ndarray  # int64[F] data packets that reached the destination (in order or not)


def new_state(net: PacketNet, pred_count: np.ndarray, pool: int, shift: int, n_buckets: int) -> PacketState:
    """Fresh state; flows without predecessors get their START events in flow-id order.

    ``shift`` and ``n_buckets`` shape the calendar wheel (``native.wheel.wheel_geometry``).
    """
    n_links = net.link_dst.shape[0]
    n_flows = net.f_src.shape[0]
    n_hosts = int(net.params[P_N_HOSTS])
    n_nodes = int(max(net.link_src.max(initial=0), net.link_dst.max(initial=0))) + 1
    # at most one pending TX_DONE and ARRIVE per link and one START or RTO per flow
    ev = new_wheel(2 * n_links + 2 * n_flows + 16, shift, n_buckets)
    pkt_next = np.arange(1, pool + 1, dtype=np.int32)
    pkt_next[-1] = -1

    def links(value, dtype):
        return np.full(n_links, value, dtype)

    def flows(value, dtype):
        return np.full(n_flows, value, dtype)

    st = PacketState(
        clock=np.zeros(C_SIZE, np.int64),
        rng=np.array([net.params[P_SEED]], np.uint64),
        ev=ev,
        pkt_flow=np.zeros(pool, np.int32), pkt_kind=np.zeros(pool, np.int8),
        pkt_seq=np.zeros(pool, np.int32), pkt_wire=np.zeros(pool, np.int32),
        pkt_next=pkt_next, pkt_in_link=np.full(pool, -1, np.int32),
        pkt_t_arr=np.zeros(pool, np.int64), pkt_ecn=np.zeros(pool, np.int8),
        cq_head=links(-1, np.int32), cq_tail=links(-1, np.int32),
        dq_head=links(-1, np.int32), dq_tail=links(-1, np.int32),
        dq_bytes=links(0, np.int64), busy=links(0, np.int8), tx_prio=links(0, np.int8),
        paused=links(0, np.int8), pause_since=links(0, np.int64),
        pipe_head=links(-1, np.int32), pipe_tail=links(-1, np.int32),
        tx_bytes=links(0, np.int64), max_q=links(0, np.int64), q_area=links(0.0, np.float64),
        q_t=links(0, np.int64), period_max_q=links(0, np.int64), l_drops=links(0, np.int64), l_ecn=links(0, np.int64),
        pause_ps=links(0, np.int64),
        used=np.zeros(n_nodes, np.int64), ingress=links(0, np.int64), pause_sent=links(0, np.int8),
        ring_head=np.full(n_hosts, -1, np.int32), ring_tail=np.full(n_hosts, -1, np.int32),
        ring_next=flows(-1, np.int32), in_ring=flows(0, np.int8),
        pred_left=pred_count.astype(np.int32).copy(),
        t_start=flows(-1, np.int64), t_finish=flows(-1, np.int64), t_progress=flows(0, np.int64),
        snd_nxt=flows(0, np.int32), snd_una=flows(0, np.int32), rcv_nxt=flows(0, np.int32),
        max_sent=flows(0, np.int32), nack_for=flows(-1, np.int32),
        f_packets=flows(0, np.int64), f_retx=flows(0, np.int64),
        f_ecn=flows(0, np.int64), f_drops=flows(0, np.int64), f_rcvd=flows(0, np.int64),
    )
    st.clock[C_FREE] = 0 if pool > 0 else -1
    _seed_starts(net, st)
    return st


def grow_pool(st: PacketState, pool: int) -> PacketState:
    """The same state with a packet pool of ``pool`` packets (≥ the current one).

    Packets keep their indices; the new ones are chained in front of the free list.
    """
    old = st.pkt_next.shape[0]
    if pool <= old:
        return st

    def grown(a, fill):
        b = np.full(pool, fill, a.dtype)
        b[:old] = a
        return b

    pkt_next = grown(st.pkt_next, -1)
    pkt_next[old:-1] = np.arange(old + 1, pool, dtype=np.int32)
    pkt_next[-1] = st.clock[C_FREE]
    st.clock[C_FREE] = old
    return st._replace(
        pkt_flow=grown(st.pkt_flow, 0), pkt_kind=grown(st.pkt_kind, 0), pkt_seq=grown(st.pkt_seq, 0),
        pkt_wire=grown(st.pkt_wire, 0), pkt_next=pkt_next, pkt_in_link=grown(st.pkt_in_link, -1),
        pkt_t_arr=grown(st.pkt_t_arr, 0), pkt_ecn=grown(st.pkt_ecn, 0),
    )


@kernel
def _seed_starts(net, st):
    for f in range(net.f_src.shape[0]):
        if st.pred_left[f] == 0:
            _schedule(st, net.f_start[f], (np.int64(f) << 2) | EV_START)


# ---- small pieces -------------------------------------------------------------------------------

@hot(inline="always")
def _ser_ps(wire, rate_bps):
    """Serialisation time ⌈8·w·10¹²/R⌉ ps."""
    return (np.int64(wire) * 8 * _PS_PER_S + rate_bps - 1) // rate_bps


@hot(inline="always")
def _schedule(st, t, value):
    """Schedule an event; False if the event set is full."""
    clk = st.clock
    if not wheel_push(st.ev, t, clk[C_SEQ], value):
        return False
    clk[C_SEQ] += 1
    return True


@hot(inline="always")
def _alloc(st, flow, kind, seq, wire):
    """A packet from the pool (−1 if it is exhausted)."""
    clk = st.clock
    p = clk[C_FREE]
    if p < 0:
        return -1
    clk[C_FREE] = st.pkt_next[p]
    clk[C_IN_USE] += 1
    st.pkt_flow[p] = flow
    st.pkt_kind[p] = kind
    st.pkt_seq[p] = seq
    st.pkt_wire[p] = wire
    st.pkt_next[p] = -1
    st.pkt_in_link[p] = -1
    st.pkt_ecn[p] = 0
    return p


@hot(inline="always")
def _free(st, p):
    clk = st.clock
    st.pkt_next[p] = clk[C_FREE]
    clk[C_FREE] = p
    clk[C_IN_USE] -= 1


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
        st.pkt_next[st.cq_tail[link]] = p
    else:
        st.cq_head[link] = p
    st.cq_tail[link] = p


@hot(inline="always")
def _push_data(st, link, p, t):
    if st.dq_tail[link] >= 0:
        st.pkt_next[st.dq_tail[link]] = p
    else:
        st.dq_head[link] = p
    st.dq_tail[link] = p
    _q_change(st, link, t, np.int64(st.pkt_wire[p]))


@hot(inline="always")
def _ring_push(st, host, f):
    st.ring_next[f] = -1
    if st.ring_tail[host] >= 0:
        st.ring_next[st.ring_tail[host]] = f
    else:
        st.ring_head[host] = f
    st.ring_tail[host] = f
    st.in_ring[f] = 1


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


# ---- try_start ----------------------------------------------------------------------------------

@hot(inline="always")
def _try_start(net, st, link, t):
    """A port looks for work (docs/packet-engine.md, "try_start"). Returns a status code."""
    if st.busy[link]:
        return STATUS_SLICE
    p = st.cq_head[link]
    prio = 0
    if p < 0 and not st.paused[link]:
        prio = 1
        p = st.dq_head[link]
        host = net.link_src[link]
        if p < 0 and host < net.params[P_N_HOSTS]:
            # pull one packet from the flow at the front of the send ring; a flow whose every
            # packet an ACK has covered meanwhile just leaves the ring
            f = st.ring_head[host]
            while f >= 0:
                st.ring_head[host] = st.ring_next[f]
                if st.ring_head[host] < 0:
                    st.ring_tail[host] = -1
                st.in_ring[f] = 0
                if st.snd_nxt[f] < net.f_npkts[f]:
                    break
                f = st.ring_head[host]
            if f >= 0:
                seq = st.snd_nxt[f]
                mtu = net.params[P_MTU]
                payload = min(mtu, net.f_size[f] - np.int64(seq) * mtu)
                p = _alloc(st, f, PKT_DATA, seq, payload + net.params[P_HEADER])
                if p < 0:
                    return STATUS_POOL_FULL
                st.snd_nxt[f] = seq + 1
                st.f_packets[f] += 1
                if seq < st.max_sent[f]:
                    st.f_retx[f] += payload
                else:
                    st.max_sent[f] = seq + 1
                if seq + 1 < net.f_npkts[f]:
                    _ring_push(st, host, f)
                _push_data(st, link, p, t)
    if p < 0:
        return STATUS_SLICE
    st.busy[link] = 1
    st.tx_prio[link] = prio
    if not _schedule(st, t + _ser_ps(st.pkt_wire[p], net.link_rate_bps[link]), (np.int64(link) << 2) | EV_TX_DONE):
        return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot(inline="always")
def _send_control(net, st, link, kind, flow, seq, t):
    """Queue a 64-byte control frame on port ``link`` and try to start it."""
    p = _alloc(st, flow, kind, seq, CONTROL_WIRE_BYTES)
    if p < 0:
        return STATUS_POOL_FULL
    node = net.link_src[link]
    if node >= net.params[P_N_HOSTS]:
        st.used[node] += CONTROL_WIRE_BYTES
    _push_control(st, link, p)
    return _try_start(net, st, link, t)


# ---- routing ------------------------------------------------------------------------------------

@hot(inline="always")
def _route(net, st, node, p):
    """Egress port of switch ``node`` for packet ``p`` (docs/packet-engine.md, "ECMP")."""
    n_hosts = net.params[P_N_HOSTS]
    f = st.pkt_flow[p]
    if st.pkt_kind[p] == PKT_DATA:
        a = net.f_src[f]
        b = net.f_dst[f]
    else:
        a = net.f_dst[f]
        b = net.f_src[f]
    e = net.host_edge[b]
    s = node - n_hosts
    g = net.group[s, e]
    if g == ROUTE_LOCAL:
        return net.host_downlink[b]
    if g < 0:
        return -1
    lo = net.group_ptr[g]
    n = net.group_ptr[g + 1] - lo
    if n == 1:
        return net.group_port[lo]
    mode = net.params[P_ECMP]
    if mode == ECMP_PACKET:
        channel = net.f_channel[f] + PACKET_SPRAY_STRIDE * (np.int64(st.pkt_seq[p]) + 1)
        h = ecmp_hash(net.params[P_SEED], a, b, net.f_hash[f], channel, node)
    elif st.pkt_kind[p] == PKT_DATA:
        h = ecmp_salt(net.f_hash_fwd[f], node)
    else:
        h = ecmp_salt(net.f_hash_rev[f], node)
    if mode == ECMP_ADAPTIVE:
        first = np.int64(h % np.uint64(n))
        best = net.group_port[lo + first]
        for i in range(1, n):
            link = net.group_port[lo + (first + i) % n]
            if st.dq_bytes[link] < st.dq_bytes[best]:
                best = link
        return best
    return pick_port(
        node, e, n_hosts, net.link_dst, net.link_up, net.dist, net.group, net.group_ptr,
        net.group_port, net.base_group, net.base_ptr, net.base_port, h,
    )


# ---- the event loop -----------------------------------------------------------------------------

@hot
def run_until(net, st, t_end):
    """Process every event with time ≤ ``t_end``; returns a STATUS_* code."""
    clk = st.clock
    pool = st.pkt_next.shape[0]
    events = np.int64(0)  # kept in a register; written back to the clock on the way out
    t_now = clk[C_T_NOW]
    status = STATUS_SLICE
    while True:
        t = wheel_next(st.ev)
        if t == T_NEVER or t > t_end:
            break
        if pool - clk[C_IN_USE] < POOL_RESERVE:
            status = STATUS_POOL_LOW
            break
        v = wheel_take(st.ev)
        t_now = t
        events += 1
        status = _event(net, st, v, t)
        if status != STATUS_SLICE:
            break
    clk[C_T_NOW] = t_now
    clk[C_EVENTS] += events
    clk[C_PENDING] = st.ev.ctl[W_COUNT] + st.ev.ctl[W_OVF]
    if status == STATUS_SLICE and clk[C_PENDING] == 0:
        return STATUS_DONE
    return status


@hot(inline="always")
def _event(net, st, v, t):
    kind = v & 3
    obj = np.int64(v >> 2)
    if kind == EV_TX_DONE:
        return _tx_done(net, st, obj, t)
    if kind == EV_ARRIVE:
        return _arrive(net, st, obj, t)
    f = obj
    host = net.f_src[f]
    if kind == EV_START:
        st.t_start[f] = t
        st.t_progress[f] = t
        _ring_push(st, host, f)
        if not _schedule(st, t + net.params[P_RTO], (f << 2) | EV_RTO):
            return STATUS_HEAP_FULL
        return _try_start(net, st, net.host_uplink[host], t)
    if st.snd_una[f] < net.f_npkts[f]:
        if t - st.t_progress[f] >= net.params[P_RTO]:
            # go-back-N
            st.snd_nxt[f] = st.snd_una[f]
            st.t_progress[f] = t
            if not st.in_ring[f]:
                _ring_push(st, host, f)
            if not _schedule(st, t + net.params[P_RTO], (f << 2) | EV_RTO):
                return STATUS_HEAP_FULL
            return _try_start(net, st, net.host_uplink[host], t)
        if not _schedule(st, st.t_progress[f] + net.params[P_RTO], (f << 2) | EV_RTO):
            return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot(inline="always")
def _tx_done(net, st, link, t):
    """TX_DONE(link): the packet on the wire has left the port (steps 1–5)."""
    n_hosts = net.params[P_N_HOSTS]
    st.busy[link] = 0
    w = np.int64(0)
    # 1. leave the queue
    if st.tx_prio[link] == 0:
        p = st.cq_head[link]
        st.cq_head[link] = st.pkt_next[p]
        if st.cq_head[link] < 0:
            st.cq_tail[link] = -1
        w = np.int64(st.pkt_wire[p])
    else:
        p = st.dq_head[link]
        st.dq_head[link] = st.pkt_next[p]
        if st.dq_head[link] < 0:
            st.dq_tail[link] = -1
        w = np.int64(st.pkt_wire[p])
        _q_change(st, link, t, -w)
    st.clock[C_HOPS] += 1
    st.tx_bytes[link] += w
    node = net.link_src[link]
    if node >= n_hosts:
        # 2. leave the shared buffer and the ingress counter; RESUME below XON
        st.used[node] -= w
        if st.pkt_kind[p] == PKT_DATA:
            inl = st.pkt_in_link[p]
            st.ingress[inl] -= w
            if st.pause_sent[inl] and st.ingress[inl] < net.params[P_XON]:
                st.pause_sent[inl] = 0
                status = _send_control(net, st, net.link_rev[inl], PKT_RESUME, 0, 0, t)
                if status != STATUS_SLICE:
                    return status
            # 3. ECN at dequeue
            if net.params[P_ECN] and net.params[P_ECN_DEQUEUE] and _ecn_mark(net, st, link, st.dq_bytes[link]):
                _mark(st, link, p)
    # 4. into the pipe
    st.pkt_next[p] = -1
    st.pkt_t_arr[p] = t + net.pipe_delay_ps[link]
    if st.pipe_tail[link] >= 0:
        st.pkt_next[st.pipe_tail[link]] = p
    else:
        st.pipe_head[link] = p
        if not _schedule(st, st.pkt_t_arr[p], (link << 2) | EV_ARRIVE):
            return STATUS_HEAP_FULL
    st.pipe_tail[link] = p
    # 5. next packet
    return _try_start(net, st, link, t)


@hot(inline="always")
def _mark(st, link, p):
    if not st.pkt_ecn[p]:
        st.pkt_ecn[p] = 1
        st.l_ecn[link] += 1
        st.f_ecn[st.pkt_flow[p]] += 1


@hot(inline="always")
def _arrive(net, st, link, t):
    """ARRIVE(link): the head packet of the pipe reaches the node at the far end."""
    n_hosts = net.params[P_N_HOSTS]
    p = st.pipe_head[link]
    st.pipe_head[link] = st.pkt_next[p]
    if st.pipe_head[link] < 0:
        st.pipe_tail[link] = -1
    else:
        if not _schedule(st, st.pkt_t_arr[st.pipe_head[link]], (link << 2) | EV_ARRIVE):
            return STATUS_HEAP_FULL
    st.pkt_next[p] = -1
    node = net.link_dst[link]
    kind = st.pkt_kind[p]

    if kind == PKT_PAUSE or kind == PKT_RESUME:
        port = net.link_rev[link]
        _free(st, p)
        if kind == PKT_PAUSE:
            if not st.paused[port]:
                st.paused[port] = 1
                st.pause_since[port] = t
            return STATUS_SLICE
        if st.paused[port]:
            st.paused[port] = 0
            st.pause_ps[port] += t - st.pause_since[port]
        return _try_start(net, st, port, t)

    f = st.pkt_flow[p]
    if node >= n_hosts:
        # 1. route
        egress = _route(net, st, node, p)
        if egress < 0:
            if kind == PKT_DATA:
                st.f_drops[f] += 1
            _free(st, p)
            return STATUS_SLICE
        w = np.int64(st.pkt_wire[p])
        if kind != PKT_DATA:
            st.used[node] += w
            _push_control(st, egress, p)
            return _try_start(net, st, egress, t)
        # 2. admission
        q = st.dq_bytes[egress]
        if net.params[P_BUFFER_POLICY] == BUFFER_DYNAMIC:
            free = net.params[P_BUFFER] - st.used[node]
            admit = np.float64(q) < net.fparams[F_DT_ALPHA] * np.float64(free) and st.used[node] + w <= net.params[P_BUFFER]
        else:
            admit = q + w <= net.port_limit[egress]
        if not admit:
            st.l_drops[egress] += 1
            st.f_drops[f] += 1
            _free(st, p)
            return STATUS_SLICE
        # 3. ECN at enqueue
        if net.params[P_ECN] and not net.params[P_ECN_DEQUEUE] and _ecn_mark(net, st, egress, q):
            _mark(st, egress, p)
        # 4. enqueue; PAUSE above XOFF
        st.used[node] += w
        st.pkt_in_link[p] = link
        _push_data(st, egress, p, t)
        st.ingress[link] += w
        if net.params[P_PFC] and st.ingress[link] > net.params[P_XOFF] and not st.pause_sent[link]:
            st.pause_sent[link] = 1
            status = _send_control(net, st, net.link_rev[link], PKT_PAUSE, 0, 0, t)
            if status != STATUS_SLICE:
                return status
        # 5. start
        return _try_start(net, st, egress, t)

    # at a host
    if kind == PKT_ACK:
        ack = st.pkt_seq[p]
        _free(st, p)
        if ack > st.snd_una[f]:
            st.snd_una[f] = ack
            st.t_progress[f] = t
            if st.snd_nxt[f] < ack:  # after a go-back, skip what the receiver already has
                st.snd_nxt[f] = ack
        return STATUS_SLICE
    if kind == PKT_NACK:
        n = st.pkt_seq[p]
        _free(st, p)
        if n < st.snd_una[f]:
            return STATUS_SLICE  # stale
        st.snd_una[f] = n
        st.t_progress[f] = t
        st.snd_nxt[f] = n  # go back to the first packet the receiver is missing
        if not st.in_ring[f]:
            _ring_push(st, node, f)
        return _try_start(net, st, net.host_uplink[node], t)
    seq = st.pkt_seq[p]
    _free(st, p)
    st.f_rcvd[f] += 1
    reply = PKT_ACK
    if seq > st.rcv_nxt[f] and net.params[P_NACK] and st.nack_for[f] != st.rcv_nxt[f]:
        st.nack_for[f] = st.rcv_nxt[f]
        reply = PKT_NACK
    if seq == st.rcv_nxt[f]:
        st.rcv_nxt[f] = seq + 1
        if seq + 1 == net.f_npkts[f]:
            st.t_finish[f] = t
            st.clock[C_DONE] += 1
            for k in range(net.succ_ptr[f], net.succ_ptr[f + 1]):
                s = net.succ[k]
                st.pred_left[s] -= 1
                if st.pred_left[s] == 0:
                    if not _schedule(st, max(t + net.f_gap[s], net.f_start[s]), (np.int64(s) << 2) | EV_START):
                        return STATUS_HEAP_FULL
    return _send_control(net, st, net.host_uplink[node], reply, f, st.rcv_nxt[f], t)


@kernel
def store_and_forward_fct(path_ptr, path_link, rate_bps, pipe_delay_ps, size, mtu, header):
    """Ideal FCT of every flow: its packets alone on their path, store-and-forward.

    Packet i leaves link j at ``max(arrival from link j−1, departure of packet i−1 from j)
    + ser_j(w_i)``; the flow is received when its last packet arrives over the last link.
    """
    n = size.shape[0]
    out = np.empty(n, np.int64)
    hmax = 0
    for f in range(n):
        hmax = max(hmax, path_ptr[f + 1] - path_ptr[f])
    done = np.zeros(hmax, np.int64)  # departure time of the previous packet, per hop
    for f in range(n):
        a = path_ptr[f]
        h = path_ptr[f + 1] - a
        done[:h] = 0
        m = (size[f] + mtu - 1) // mtu
        t_arr = np.int64(0)
        for i in range(m):
            w = min(mtu, size[f] - i * mtu) + header
            t_arr = 0
            for j in range(h):
                link = path_link[a + j]
                leave = max(t_arr, done[j]) + _ser_ps(w, rate_bps[link])
                done[j] = leave
                t_arr = leave + pipe_delay_ps[link]
        out[f] = t_arr
    return out


@kernel
def flow_hashes(seed, src, dst, hash_id, channel):
    """Per flow, ``flow_hash`` of the data direction and of the ACK direction."""
    n = src.shape[0]
    fwd = np.empty(n, np.uint64)
    rev = np.empty(n, np.uint64)
    for f in range(n):
        fwd[f] = flow_hash(seed, src[f], dst[f], hash_id[f], channel[f])
        rev[f] = flow_hash(seed, dst[f], src[f], hash_id[f], channel[f])
    return fwd, rev
