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

# Event kinds, in the low EV_BITS bits of an event value (value = object << EV_BITS | kind).
EV_START = 0
EV_TX_DONE = 1
EV_ARRIVE = 2
EV_RTO = 3
EV_PACE = 4  # a paced flow may send again
EV_CNP = 5  # paper: the receiver's deferred CNP for a flow falls due
EV_BITS = 3  # the event value is (object << EV_BITS) | kind
EV_MASK = 7

# Packet kinds.
PKT_DATA = 0
PKT_ACK = 1
PKT_PAUSE = 2
PKT_RESUME = 3
PKT_NACK = 4
PKT_CNP = 5
PKT_LOST = 8  # flag on the kind of a packet on a failed link's wire: dropped where the wire ends
CONTROL_WIRE_BYTES = 64  # ACK, NACK, CNP, PAUSE and RESUME frames: the Ethernet minimum frame

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
P_CC = 14  # CC_NONE, CC_PAPER or CC_HPCC (docs/dcqcn.md)
P_CNP_INTERVAL = 15  # paper: at most one CNP per flow per interval (ps)
P_ALPHA_TIMER = 16  # ps
P_RATE_TIMER = 17  # ps
P_DEC_INTERVAL = 18  # hpcc: period of the rate-decrease check (ps)
P_BYTE_COUNTER = 19  # paper: bytes per byte-counter expiry; 0 = off
P_FAST_RECOVERY = 20  # F
P_RETRIES = 21  # consecutive timeouts of one packet a flow survives (host.retries)
P_SIZE = 22
# Slots of PacketNet.fparams (float64).
F_DT_ALPHA = 0
F_PMAX = 1
F_G = 2  # DCQCN alpha gain
F_ALPHA0 = 3  # initial alpha
F_MIN_RATE = 4  # bit/s
F_SIZE = 5

CC_NONE = 0
CC_PAPER = 1  # Zhu et al. 2015 as in htsim and the DESIGN: CNP packets, cut on each CNP
CC_HPCC = 2  # Mellanox CX4 as in the HPCC ns-3 code: ECN echo on ACKs, periodic decrease check
# RP flag bits
RP_RUNNING = 1  # the first congestion signal has arrived: the timers run
RP_ALPHA_CNP = 2  # hpcc: a signal arrived in the current alpha period
RP_DEC_CNP = 4  # hpcc: a signal arrived since the last decrease check
# busy bits of a port
BUSY_TX = 1  # a packet is being transmitted (its TX_DONE is pending)
BUSY_DEAD = 2  # the link is failed: it starts nothing
# f_abandon states of a flow
ABANDON_NONE = 0
ABANDON_UNREACHABLE = 1  # destination unreachable: the timer stops at its next expiry
ABANDON_STOPPED = 2  # unreachable and its timer has stopped (revive() restarts it)
ABANDON_RETRIES = 3  # gave up after host.retries consecutive timeouts: over at both ends
# in_ring states of a flow
RING_OUT = 0
RING_IN = 1
RING_PACED = 2  # waiting for its EV_PACE

# Slots of PacketState.clock (int64).
C_T_NOW = 0
C_SEQ = 1
C_PENDING = 2  # events pending (set when run_until returns)
C_EVENTS = 3
C_HOPS = 4
C_FREE = 5  # head of the packet free list
C_IN_USE = 6  # packets allocated
C_DONE = 7  # flows received
C_GAVE_UP = 8  # flows that gave up (ABANDON_RETRIES)
C_SIZE = 9

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
    f_rai: np.ndarray  # float64[F] DCQCN additive-increase step (bit/s)
    f_rhai: np.ndarray  # float64[F] hyper-increase step (bit/s)


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
    busy: np.ndarray  # int8[L] BUSY_TX: transmitting; BUSY_DEAD: the link is failed
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
    l_fail_pkts: np.ndarray  # int64[L] packets lost on the wire or in the queue when it failed
    l_fail_bytes: np.ndarray  # int64[L]
    l_bh_pkts: np.ndarray  # int64[L] packets routed onto it while failed (black-holed)
    l_bh_bytes: np.ndarray  # int64[L]
    l_fail_data: np.ndarray  # int64[L] data packets lost at this port to a failure (on its wire or
    # in its queue, black-holed onto it, or, arriving over it, finding no route)
    # switches and PFC
    used: np.ndarray  # int64[nodes] bytes buffered at each switch
    ingress: np.ndarray  # int64[L] data bytes buffered downstream of each link
    pause_sent: np.ndarray  # int8[L] a PAUSE is outstanding for this ingress link
    # hosts
    ring_head: np.ndarray  # int32[H] send ring (FIFO of flows)
    ring_tail: np.ndarray
    ring_next: np.ndarray  # int32[F]
    in_ring: np.ndarray  # int8[F] RING_OUT, RING_IN or RING_PACED
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
    # DCQCN reaction point (sender) and notification point (receiver) per flow
    rp_rc: np.ndarray  # float64[F] current rate Rc (bit/s)
    rp_rt: np.ndarray  # float64[F] target rate Rt
    rp_alpha: np.ndarray  # float64[F]
    rp_t_alpha: np.ndarray  # int64[F] next alpha-timer expiry (T_NEVER: not running)
    rp_t_dec: np.ndarray  # int64[F] hpcc: next decrease check
    rp_t_inc: np.ndarray  # int64[F] next rate-increase timer expiry
    rp_next: np.ndarray  # int64[F] earliest time the flow may send its next packet (pacing)
    rp_stage_t: np.ndarray  # int32[F] timer stage counter T
    rp_stage_bc: np.ndarray  # int32[F] byte-counter stage counter BC
    rp_bytes: np.ndarray  # int64[F] bytes sent since the last byte-counter expiry or cut
    rp_flags: np.ndarray  # int8[F] RP_* bits
    np_last_cnp: np.ndarray  # int64[F] time of the last CNP the receiver sent (−1: none)
    np_pending: np.ndarray  # int8[F] a mark arrived since then: an EV_CNP is pending
    f_cnp: np.ndarray  # int64[F] congestion signals the sender received (CNPs or echoes)
    f_fail: np.ndarray  # int64[F] data packets lost to failures
    f_abandon: np.ndarray  # int8[F] ABANDON_* state
    f_timeouts: np.ndarray  # int32[F] consecutive timeouts of the flow's oldest unacknowledged packet


def new_state(net: PacketNet, pred_count: np.ndarray, pool: int, shift: int, n_buckets: int) -> PacketState:
    """Fresh state; flows without predecessors get their START events in flow-id order.

    ``shift`` and ``n_buckets`` shape the calendar wheel (``native.wheel.wheel_geometry``).
    """
    n_links = net.link_dst.shape[0]
    n_flows = net.f_src.shape[0]
    n_hosts = int(net.params[P_N_HOSTS])
    n_nodes = int(max(net.link_src.max(initial=0), net.link_dst.max(initial=0))) + 1
    # at most one pending TX_DONE and ARRIVE per link; per flow one START or RTO, one PACE and
    # one CNP
    ev = new_wheel(2 * n_links + 4 * n_flows + 16, shift, n_buckets)
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
        l_fail_pkts=links(0, np.int64), l_fail_bytes=links(0, np.int64),
        l_bh_pkts=links(0, np.int64), l_bh_bytes=links(0, np.int64), l_fail_data=links(0, np.int64),
        used=np.zeros(n_nodes, np.int64), ingress=links(0, np.int64), pause_sent=links(0, np.int8),
        ring_head=np.full(n_hosts, -1, np.int32), ring_tail=np.full(n_hosts, -1, np.int32),
        ring_next=flows(-1, np.int32), in_ring=flows(0, np.int8),
        pred_left=pred_count.astype(np.int32).copy(),
        t_start=flows(-1, np.int64), t_finish=flows(-1, np.int64), t_progress=flows(0, np.int64),
        snd_nxt=flows(0, np.int32), snd_una=flows(0, np.int32), rcv_nxt=flows(0, np.int32),
        max_sent=flows(0, np.int32), nack_for=flows(-1, np.int32),
        f_packets=flows(0, np.int64), f_retx=flows(0, np.int64),
        f_ecn=flows(0, np.int64), f_drops=flows(0, np.int64), f_rcvd=flows(0, np.int64),
        rp_rc=flows(0.0, np.float64), rp_rt=flows(0.0, np.float64), rp_alpha=flows(0.0, np.float64),
        rp_t_alpha=flows(T_NEVER, np.int64), rp_t_dec=flows(T_NEVER, np.int64),
        rp_t_inc=flows(T_NEVER, np.int64), rp_next=flows(0, np.int64),
        rp_stage_t=flows(0, np.int32), rp_stage_bc=flows(0, np.int32), rp_bytes=flows(0, np.int64),
        rp_flags=flows(0, np.int8), np_last_cnp=flows(-1, np.int64), np_pending=flows(0, np.int8),
        f_cnp=flows(0, np.int64), f_fail=flows(0, np.int64), f_abandon=flows(0, np.int8),
        f_timeouts=flows(0, np.int32),
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
            _schedule(st, net.f_start[f], (np.int64(f) << EV_BITS) | EV_START)


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


# ---- DCQCN (docs/dcqcn.md) ------------------------------------------------------------------

@hot
def _rp_increase(net, st, f, line):
    """One rate-increase iteration of flow ``f`` (timer or byte counter; stages already counted
    for the paper dialect, counted here after the step for hpcc)."""
    F = net.params[P_FAST_RECOVERY]
    rc = st.rp_rc[f]
    rt = st.rp_rt[f]
    if net.params[P_CC] == CC_PAPER:
        t_stage = st.rp_stage_t[f]
        bc_stage = st.rp_stage_bc[f]
        if max(t_stage, bc_stage) <= F:
            pass  # fast recovery
        elif min(t_stage, bc_stage) > F:
            rt += (min(t_stage, bc_stage) - F) * net.f_rhai[f]  # hyper increase
        else:
            rt += net.f_rai[f]  # additive increase
        rt = min(rt, line)
        st.rp_rt[f] = rt
        st.rp_rc[f] = (rt + rc) / 2.0
    else:
        stage = st.rp_stage_t[f]
        if stage == F:
            rt += net.f_rai[f]
        elif stage > F:
            rt += net.f_rhai[f]
        rt = min(rt, line)
        st.rp_rt[f] = rt
        st.rp_rc[f] = rc / 2.0 + rt / 2.0
        st.rp_stage_t[f] = stage + 1


@hot
def _rp_advance(net, st, f, t):
    """Apply every timer expiry of flow ``f`` at or before ``t``, in time order (ties: alpha
    timer, then decrease check, then rate-increase timer)."""
    line = np.float64(net.link_rate_bps[net.host_uplink[net.f_src[f]]])
    g = net.fparams[F_G]
    while True:
        ta = st.rp_t_alpha[f]
        td = st.rp_t_dec[f]
        ti = st.rp_t_inc[f]
        if ta <= td and ta <= ti:
            if ta > t:
                return
            st.rp_t_alpha[f] = ta + net.params[P_ALPHA_TIMER]
            if st.rp_flags[f] & RP_ALPHA_CNP:
                st.rp_alpha[f] = (1.0 - g) * st.rp_alpha[f] + g
                st.rp_flags[f] &= ~RP_ALPHA_CNP
            else:
                st.rp_alpha[f] = (1.0 - g) * st.rp_alpha[f]
        elif td <= ti:
            if td > t:
                return
            st.rp_t_dec[f] = td + net.params[P_DEC_INTERVAL]
            if st.rp_flags[f] & RP_DEC_CNP:
                st.rp_flags[f] &= ~RP_DEC_CNP
                if st.rp_stage_t[f] != 0:
                    st.rp_rt[f] = st.rp_rc[f]
                st.rp_rc[f] = max(net.fparams[F_MIN_RATE], st.rp_rc[f] * (1.0 - st.rp_alpha[f] / 2.0))
                st.rp_stage_t[f] = 0
                st.rp_t_inc[f] = td + net.params[P_RATE_TIMER]
        else:
            if ti > t:
                return
            st.rp_t_inc[f] = ti + net.params[P_RATE_TIMER]
            if net.params[P_CC] == CC_PAPER:
                st.rp_stage_t[f] += 1
            _rp_increase(net, st, f, line)


@hot
def _rp_signal(net, st, f, t):
    """A congestion signal reaches the sender of ``f`` at ``t``: a CNP (paper) or an ACK/NACK
    echoing a mark (hpcc)."""
    _rp_advance(net, st, f, t)
    st.f_cnp[f] += 1
    if net.params[P_CC] == CC_PAPER:
        alpha = st.rp_alpha[f]
        st.rp_rt[f] = st.rp_rc[f]
        st.rp_rc[f] = max(net.fparams[F_MIN_RATE], st.rp_rc[f] * (1.0 - alpha / 2.0))
        g = net.fparams[F_G]
        st.rp_alpha[f] = (1.0 - g) * alpha + g
        st.rp_stage_t[f] = 0
        st.rp_stage_bc[f] = 0
        st.rp_bytes[f] = 0
        st.rp_t_alpha[f] = t + net.params[P_ALPHA_TIMER]
        st.rp_t_inc[f] = t + net.params[P_RATE_TIMER]
        st.rp_flags[f] |= RP_RUNNING
    elif st.rp_flags[f] & RP_RUNNING:
        st.rp_flags[f] |= RP_ALPHA_CNP | RP_DEC_CNP
    else:
        # first signal: alpha restarts, both periodic timers start (the decrease check 1 ns
        # after a multiple of the alpha period, as in the HPCC code)
        st.rp_alpha[f] = net.fparams[F_ALPHA0]
        st.rp_flags[f] = RP_RUNNING | RP_DEC_CNP
        st.rp_t_alpha[f] = t + net.params[P_ALPHA_TIMER]
        st.rp_t_dec[f] = t + net.params[P_DEC_INTERVAL] + 1000


@hot
def _rp_on_send(net, st, f, t, wire):
    """Flow ``f`` puts a packet of ``wire`` bytes on the wire at ``t``: the earliest time it may
    send the next one (``t`` itself when it sends at line rate), and the byte counter."""
    _rp_advance(net, st, f, t)
    uplink = net.host_uplink[net.f_src[f]]
    line = np.float64(net.link_rate_bps[uplink])
    rc = st.rp_rc[f]
    nxt = t
    if rc < line:
        nxt = t + np.int64(np.ceil(np.float64(wire) * 8e12 / rc))
    st.rp_next[f] = nxt
    B = net.params[P_BYTE_COUNTER]
    if B > 0 and st.rp_flags[f] & RP_RUNNING:
        st.rp_bytes[f] += wire
        if st.rp_bytes[f] >= B:
            st.rp_bytes[f] = 0
            st.rp_stage_bc[f] += 1
            _rp_increase(net, st, f, line)
    return nxt


@hot(inline="always")
def _make_eligible(net, st, f, host, t):
    """Flow ``f`` has packets to send: it joins its host's send ring, or, if its pacing forbids
    sending before ``rp_next``, waits for an EV_PACE then. False if the event set is full."""
    if st.in_ring[f] != RING_OUT:
        return True
    if st.rp_next[f] > t:
        st.in_ring[f] = RING_PACED
        return _schedule(st, st.rp_next[f], (np.int64(f) << EV_BITS) | EV_PACE)
    _ring_push(st, host, f)
    return True


@hot(inline="always")
def _leave_ingress(net, st, inl, w, t):
    """A data packet of ``w`` bytes that arrived over ``inl`` leaves its switch's buffer: the
    ingress counter falls, and below XON the RESUME for an outstanding PAUSE goes out."""
    st.ingress[inl] -= w
    if st.pause_sent[inl] and st.ingress[inl] < net.params[P_XON]:
        st.pause_sent[inl] = 0
        return _send_control(net, st, net.link_rev[inl], PKT_RESUME, 0, 0, t)
    return STATUS_SLICE


@hot(inline="always")
def _lost_data(st, f, link):
    """A data packet of flow ``f`` is lost to a failure at port ``link``."""
    st.f_fail[f] += 1
    st.f_drops[f] += 1
    st.l_fail_data[link] += 1


# ---- try_start ----------------------------------------------------------------------------------

@hot(inline="always")
def _try_start(net, st, link, t):
    """A port looks for work (docs/packet-engine.md, "try_start"). Returns a status code."""
    if st.busy[link]:  # transmitting, or failed
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
                if net.params[P_CC] != CC_NONE:
                    _rp_on_send(net, st, f, t, np.int64(st.pkt_wire[p]))
                if seq + 1 < net.f_npkts[f] and not _make_eligible(net, st, f, host, t):
                    return STATUS_HEAP_FULL
                _push_data(st, link, p, t)
    if p < 0:
        return STATUS_SLICE
    st.busy[link] = BUSY_TX
    st.tx_prio[link] = prio
    if not _schedule(st, t + _ser_ps(st.pkt_wire[p], net.link_rate_bps[link]), (np.int64(link) << EV_BITS) | EV_TX_DONE):
        return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot
def _send_control(net, st, link, kind, flow, seq, t, ecn=0):
    """Queue a 64-byte control frame on port ``link`` and try to start it (``ecn``: an ACK or
    NACK echoing a marked data packet)."""
    p = _alloc(st, flow, kind, seq, CONTROL_WIRE_BYTES)
    if p < 0:
        return STATUS_POOL_FULL
    st.pkt_ecn[p] = ecn
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
    kind = v & EV_MASK
    obj = np.int64(v >> EV_BITS)
    if kind == EV_TX_DONE:
        return _tx_done(net, st, obj, t)
    if kind == EV_ARRIVE:
        return _arrive(net, st, obj, t)
    f = obj
    host = net.f_src[f]
    if kind == EV_CNP:
        st.np_pending[f] = 0
        st.np_last_cnp[f] = t
        return _send_control(net, st, net.host_uplink[net.f_dst[f]], PKT_CNP, f, 0, t)
    if kind == EV_PACE:
        st.in_ring[f] = RING_OUT
        if st.snd_nxt[f] < net.f_npkts[f]:
            _ring_push(st, host, f)
            return _try_start(net, st, net.host_uplink[host], t)
        return STATUS_SLICE
    if kind == EV_START:
        st.t_start[f] = t
        st.t_progress[f] = t
        line = np.float64(net.link_rate_bps[net.host_uplink[host]])
        st.rp_rc[f] = line
        st.rp_rt[f] = line
        st.rp_alpha[f] = net.fparams[F_ALPHA0]
        _ring_push(st, host, f)
        if not _schedule(st, t + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
            return STATUS_HEAP_FULL
        return _try_start(net, st, net.host_uplink[host], t)
    if st.f_abandon[f]:
        if st.f_abandon[f] == ABANDON_UNREACHABLE:
            st.f_abandon[f] = ABANDON_STOPPED  # the timer has stopped; revive() restarts it
        return STATUS_SLICE
    if st.snd_una[f] < net.f_npkts[f]:
        if t - st.t_progress[f] >= net.params[P_RTO]:
            st.f_timeouts[f] += 1
            if st.f_timeouts[f] > net.params[P_RETRIES]:
                # the retry count is exhausted: the flow gives up (the timer stops, nothing more
                # is sent; what is still in flight is discarded where it arrives)
                st.f_abandon[f] = ABANDON_RETRIES
                st.snd_nxt[f] = net.f_npkts[f]
                st.clock[C_GAVE_UP] += 1
                return STATUS_SLICE
            # go-back-N
            st.snd_nxt[f] = st.snd_una[f]
            st.t_progress[f] = t
            if not _make_eligible(net, st, f, host, t):
                return STATUS_HEAP_FULL
            if not _schedule(st, t + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
                return STATUS_HEAP_FULL
            return _try_start(net, st, net.host_uplink[host], t)
        if not _schedule(st, st.t_progress[f] + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
            return STATUS_HEAP_FULL
    return STATUS_SLICE


@hot(inline="always")
def _tx_done(net, st, link, t):
    """TX_DONE(link): the packet on the wire has left the port (steps 1–5)."""
    n_hosts = net.params[P_N_HOSTS]
    dead = st.busy[link] & BUSY_DEAD
    st.busy[link] = dead
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
            status = _leave_ingress(net, st, st.pkt_in_link[p], w, t)
            if status != STATUS_SLICE:
                return status
            # 3. ECN at dequeue
            if net.params[P_ECN] and net.params[P_ECN_DEQUEUE] and _ecn_mark(net, st, link, st.dq_bytes[link]):
                _mark(st, link, p)
    # 4. into the pipe (a failed link's last packet is lost instead)
    if dead:
        st.l_fail_pkts[link] += 1
        st.l_fail_bytes[link] += w
        if st.pkt_kind[p] == PKT_DATA:
            _lost_data(st, st.pkt_flow[p], link)
        _free(st, p)
        return STATUS_SLICE
    st.pkt_next[p] = -1
    st.pkt_t_arr[p] = t + net.pipe_delay_ps[link]
    if st.pipe_tail[link] >= 0:
        st.pkt_next[st.pipe_tail[link]] = p
    else:
        st.pipe_head[link] = p
        if not _schedule(st, st.pkt_t_arr[p], (link << EV_BITS) | EV_ARRIVE):
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
        if not _schedule(st, st.pkt_t_arr[st.pipe_head[link]], (link << EV_BITS) | EV_ARRIVE):
            return STATUS_HEAP_FULL
    st.pkt_next[p] = -1
    node = net.link_dst[link]
    kind = st.pkt_kind[p]
    if kind & PKT_LOST:
        if kind == PKT_DATA | PKT_LOST:
            _lost_data(st, st.pkt_flow[p], link)
        _free(st, p)
        return STATUS_SLICE

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
        if egress < 0:  # no live route (a failure): lost where it arrived
            if kind == PKT_DATA:
                _lost_data(st, f, link)
            _free(st, p)
            return STATUS_SLICE
        w = np.int64(st.pkt_wire[p])
        if st.busy[egress] & BUSY_DEAD:
            # routing has not yet learned of the failure: the packet is black-holed
            st.l_bh_pkts[egress] += 1
            st.l_bh_bytes[egress] += w
            if kind == PKT_DATA:
                _lost_data(st, f, egress)
            _free(st, p)
            return STATUS_SLICE
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
    if st.f_abandon[f] == ABANDON_RETRIES:
        # the flow gave up: its late packets are discarded at either end
        if kind == PKT_DATA:
            st.f_rcvd[f] += 1
        _free(st, p)
        return STATUS_SLICE
    if kind == PKT_CNP:
        _free(st, p)
        _rp_signal(net, st, f, t)
        return STATUS_SLICE
    if kind == PKT_ACK or kind == PKT_NACK:
        if st.pkt_ecn[p] and net.params[P_CC] == CC_HPCC:
            _rp_signal(net, st, f, t)
    if kind == PKT_ACK:
        ack = st.pkt_seq[p]
        _free(st, p)
        if ack > st.snd_una[f]:
            st.snd_una[f] = ack
            st.t_progress[f] = t
            st.f_timeouts[f] = 0
            if st.snd_nxt[f] < ack:  # after a go-back, skip what the receiver already has
                st.snd_nxt[f] = ack
        return STATUS_SLICE
    if kind == PKT_NACK:
        n = st.pkt_seq[p]
        _free(st, p)
        if n < st.snd_una[f]:
            return STATUS_SLICE  # stale
        if n > st.snd_una[f]:
            st.f_timeouts[f] = 0
        st.snd_una[f] = n
        st.t_progress[f] = t
        st.snd_nxt[f] = n  # go back to the first packet the receiver is missing
        if not _make_eligible(net, st, f, node, t):
            return STATUS_HEAP_FULL
        return _try_start(net, st, net.host_uplink[node], t)
    seq = st.pkt_seq[p]
    marked = st.pkt_ecn[p]
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
                    if not _schedule(st, max(t + net.f_gap[s], net.f_start[s]), (np.int64(s) << EV_BITS) | EV_START):
                        return STATUS_HEAP_FULL
    if marked and net.params[P_CC] == CC_PAPER:
        # the notification point: a CNP at once (before the ACK) if none went out for this flow
        # in the last cnp_interval, else one when the interval ends
        last = st.np_last_cnp[f]
        if last < 0 or t - last >= net.params[P_CNP_INTERVAL]:
            st.np_last_cnp[f] = t
            status = _send_control(net, st, net.host_uplink[node], PKT_CNP, f, 0, t)
            if status != STATUS_SLICE:
                return status
        elif not st.np_pending[f]:
            st.np_pending[f] = 1
            if not _schedule(st, last + net.params[P_CNP_INTERVAL], (np.int64(f) << EV_BITS) | EV_CNP):
                return STATUS_HEAP_FULL
    echo = marked if net.params[P_CC] == CC_HPCC else 0
    return _send_control(net, st, net.host_uplink[node], reply, f, st.rcv_nxt[f], t, echo)


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


@kernel
def sample_rates(net, st, t):
    """DCQCN state of every flow sending at ``t`` (started, not received): flow ids, Rc, Rt, α.

    Brings each flow's timers up to ``t`` first, exactly as its next event would.
    """
    n = 0
    for f in range(net.f_src.shape[0]):
        if st.t_start[f] >= 0 and st.t_finish[f] < 0:
            n += 1
    ids = np.empty(n, np.int32)
    rc = np.empty(n, np.float64)
    rt = np.empty(n, np.float64)
    alpha = np.empty(n, np.float64)
    i = 0
    for f in range(net.f_src.shape[0]):
        if st.t_start[f] >= 0 and st.t_finish[f] < 0:
            _rp_advance(net, st, f, t)
            ids[i] = f
            rc[i] = st.rp_rc[f]
            rt[i] = st.rp_rt[f]
            alpha[i] = st.rp_alpha[f]
            i += 1
    return ids, rc, rt, alpha


# ---- failures (docs/failures.md) ----------------------------------------------------------------

@kernel
def _drop_queued(net, st, link, p, t):
    """Packet ``p``, queued at port ``link`` when the link failed, is lost."""
    w = np.int64(st.pkt_wire[p])
    st.l_fail_pkts[link] += 1
    st.l_fail_bytes[link] += w
    node = net.link_src[link]
    if st.pkt_kind[p] == PKT_DATA:
        _lost_data(st, st.pkt_flow[p], link)
        _q_change(st, link, t, -w)
    status = STATUS_SLICE
    if node >= net.params[P_N_HOSTS]:
        st.used[node] -= w
        if st.pkt_kind[p] == PKT_DATA:
            status = _leave_ingress(net, st, st.pkt_in_link[p], w, t)
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
            st.pkt_kind[p] |= PKT_LOST
            st.l_fail_pkts[link] += 1
            st.l_fail_bytes[link] += st.pkt_wire[p]
            p = st.pkt_next[p]
        for prio in range(2):
            head = st.cq_head[link] if prio == 0 else st.dq_head[link]
            keep = -1
            if st.busy[link] & BUSY_TX and st.tx_prio[link] == prio:
                keep = head  # on the wire: lost when its transmission ends (TX_DONE)
                p = st.pkt_next[keep]
                st.pkt_next[keep] = -1
            else:
                p = head
            while p >= 0:
                nxt = st.pkt_next[p]
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
        st.f_timeouts[f] = 0
        if stopped and st.t_start[f] >= 0 and st.snd_una[f] < net.f_npkts[f]:
            st.t_progress[f] = t
            if not _schedule(st, t + net.params[P_RTO], (np.int64(f) << EV_BITS) | EV_RTO):
                return STATUS_HEAP_FULL
    return STATUS_SLICE


@kernel
def data_in_flight(st, n_flows):
    """Per flow, data packets still in the fabric (queued, on a wire, or being transmitted):
    every allocated packet of the pool that is not on the free list."""
    pool = st.pkt_next.shape[0]
    free = np.zeros(pool, np.bool_)
    p = st.clock[C_FREE]
    while p >= 0:
        free[p] = True
        p = st.pkt_next[p]
    out = np.zeros(n_flows, np.int64)
    for p in range(pool):
        if not free[p] and (st.pkt_kind[p] & ~PKT_LOST) == PKT_DATA:
            out[st.pkt_flow[p]] += 1
    return out
