"""The packet engine's event loop and its handlers (docs/packet-engine.md: the numbered steps
there are the numbered comments here).

Every directed link is an egress port (control queue strictly before data queue,
non-preemptive; ``queues.py``) feeding a pipe (packets on the wire, FIFO). Events are
``START``, ``TX_DONE``, ``ARRIVE``, ``RTO``, ``PACE`` and ``CNP`` in a (t_ps, seq) calendar wheel
(``wheel.py``), with at most one pending per link, pipe or flow. Packets live in a preallocated
pool with a free list; queues, pipes and the free list are intrusive linked lists through
the ``PK_NEXT`` column of ``pkt`` (``packet_state.py``). Congestion control is ``dcqcn.py``;
failures are ``packet_failures.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    META_KIND, PK_GAP, PK_IN_LINK, PK_META, PK_NEXT, PK_SEQ, PX_ENTROPY, PX_SACK,
    START_PORT, ABANDON_RETRIES, ABANDON_STOPPED, ABANDON_UNREACHABLE, BUSY_DEAD, CC_HPCC, CC_PAPER,
    C_CX_FREE, C_CX_HWM,
    C_EVENTS, C_HOPS, C_IN_USE, C_PENDING, C_T_NOW, ECMP_ADAPTIVE, ECMP_FLOWLET, ECMP_PACKET, FLOWLET_SLOTS,
    P_FLOWLET_GAP,
    EV_ARRIVE, EV_BITS, EV_LINK_MASK, EV_PACKET_SHIFT, EV_CHECK, EV_CNP, EV_MASK, EV_NACK, EV_PACE, EV_RTO, EV_START, EV_TX_DONE,
    KIND_FABRIC,
    CONTROL_WIRE_BYTES, PACKET_SPRAY_STRIDE, PKT_ACK, PKT_CNP, PKT_DATA, PKT_LOST, PKT_NACK, PKT_PAUSE,
    PKT_RESUME, PKT_TRIM, P_TRIM, P_TRIM_QUEUE,
    ECMP_REPS, ECMP_SPRAY, POOL_RESERVE, P_ACK_EVERY, P_CC, P_ECMP, P_ECN, P_ECN_DEQUEUE, P_EV_RESERVE, P_NACK,
    P_N_HOSTS, P_RETRIES, P_RTO,
    P_SEED, P_SROUTE, P_TRANSPORT, RING_OUT, ROUTE_LOCAL, STATUS_CONTEXTS_LOW, STATUS_DONE, STATUS_EVENTS_LOW,
    STATUS_HEAP_FULL, STATUS_POOL_LOW,
    STATUS_SLICE, TRANSPORT_SR,
)
from .dcqcn import NP_HEAP_FULL, NP_SEND_CNP, _np_due, _np_on_mark, rp_signal
from .ecmp import ecmp_hash, ecmp_salt
from .entropy import reps_freeze, reps_recycle, sender_entropy
from .jit import hot, prefetch
from .packet_failures import _lost_data
from .packet_state import (
    _complete, _data_wire, _free, _release_context, _schedule, _take_context, _wire, full, pk_flow, pk_kind, pk_mark,
)
from .queues import (
    _admit, _answer_trim, _can_send, _ecn_mark, _leave_ingress, _make_eligible, _mark, _nack_due, _pfc_frame, _pfc_on_enqueue, _push_control,
    _push_data, _ring_push, _send_control, _try_start, _q_change,
)
from .routing import RoutingTables, pick_port
from .scaleup import on_task
from .selective import sr_on_ack, sr_on_timeout, sr_on_trim, sr_receive
from .wheel import T_NEVER, wheel_next, wheel_peek, wheel_pending, wheel_room, wheel_take


# ---- routing ------------------------------------------------------------------------------------

class RouteArrays(NamedTuple):
    """What routing a packet by the tables reads and writes (``_route_by_tables``), under its
    PacketNet / PacketState names: a call passing those two whole would pass every field."""

    params: np.ndarray
    f_src: np.ndarray
    f_dst: np.ndarray
    f_hash: np.ndarray
    f_channel: np.ndarray
    f_hash_fwd: np.ndarray
    f_hash_rev: np.ndarray
    host_downlink: np.ndarray
    routing: RoutingTables
    pkt: np.ndarray
    dq_bytes: np.ndarray
    fl_time: np.ndarray
    fl_port: np.ndarray


@hot(inline="always")
def _candidates(net, node, b):
    """Switch ``node``'s next hops toward host ``b`` (routing.md): ``(e, lo, n, port)``. With
    ``n`` ≤ 1 the answer is ``port`` (the host's downlink, −1 without a route, or the one
    candidate); otherwise the ``n`` candidates are ``group_port[lo : lo + n]`` of edge column
    ``e``."""
    rt = net.routing
    e = np.int64(rt.host_edge[b])
    g = rt.group[node - net.params[P_N_HOSTS], e]
    if g == ROUTE_LOCAL:
        return e, np.int64(0), np.int64(0), np.int64(net.host_downlink[b])
    if g < 0:
        return e, np.int64(0), np.int64(0), np.int64(-1)
    lo = np.int64(rt.group_ptr[g])
    n = np.int64(rt.group_ptr[g + 1]) - lo
    return e, lo, n, np.int64(rt.group_port[lo])

@hot(inline="always")
def _route(net, st, node, p, link, t):
    """Egress port of switch ``node`` for packet ``p``, which arrived over ``link`` at ``t``
    (docs/packet-engine.md, "ECMP"); −1 if there is no route."""
    f = pk_flow(st, p)
    kind = pk_kind(st, p)
    forward = kind == PKT_DATA or (full(net) and kind == PKT_TRIM)  # toward the flow's destination
    if net.params[P_SROUTE]:
        # the link after the one it arrived on, along its flow's route (the links the switches
        # would choose, traced by the driver; again after each convergence when links fail)
        route = net.sr_fwd if forward else net.sr_rev
        for i in range(net.sr_ptr[f], net.sr_ptr[f + 1] - 1):
            if route[i] == link:
                return route[i + 1]
    mode = net.params[P_ECMP]
    if mode == ECMP_PACKET or (full(net) and (mode == ECMP_SPRAY or mode == ECMP_REPS)):
        # per-packet hashing: every hop of every packet, so inlined here (int64 hash inputs at
        # every call site: one compiled copy of the hash)
        if forward:
            a = np.int64(net.f_src[f])
            b = np.int64(net.f_dst[f])
        else:
            a = np.int64(net.f_dst[f])
            b = np.int64(net.f_src[f])
        e, lo, n, port = _candidates(net, node, b)
        if n <= 1:
            return port
        if not full(net) or mode == ECMP_PACKET:
            value = np.int64(st.pkt[p, PK_SEQ])  # the sequence number, or an ACK's cumulative one
        else:
            value = np.int64(st.pkx[p, PX_ENTROPY])  # the entropy value the sender chose
        channel = net.f_channel[f] + PACKET_SPRAY_STRIDE * (value + 1)
        h = ecmp_hash(net.params[P_SEED], a, b, net.f_hash[f], channel, np.int64(node))
        return pick_port(np.int64(node), e, net.params[P_N_HOSTS], net.routing, h)
    # per-flow hashing off the flow's route, adaptive routing, flowlets
    v = RouteArrays(net.params, net.f_src, net.f_dst, net.f_hash, net.f_channel, net.f_hash_fwd, net.f_hash_rev,
                    net.host_downlink, net.routing, st.pkt, st.dq_bytes, st.fl_time, st.fl_port)
    return _route_by_tables(v, np.int64(node), np.int64(p), np.int64(f), forward, np.int64(t))

@hot
def _route_by_tables(net, node, p, f, forward, t):
    """``_route`` off its flow's source route, for the modes that hash the flow (``flow``,
    ``adaptive``, ``flowlet``): the routing tables, the adaptive choice, the flowlet table.
    ``net`` is a ``RouteArrays`` (compiled once, outside the event loop)."""
    st = net
    n_hosts = net.params[P_N_HOSTS]
    b = np.int64(net.f_dst[f]) if forward else np.int64(net.f_src[f])  # the packet's destination
    e, lo, n, port = _candidates(net, node, b)
    if n <= 1:
        return port
    rt = net.routing
    s = node - n_hosts
    mode = net.params[P_ECMP]
    if forward:
        h = ecmp_salt(net.f_hash_fwd[f], np.int64(node))
    else:
        h = ecmp_salt(net.f_hash_rev[f], np.int64(node))
    slot = np.int64(0)
    if mode == ECMP_FLOWLET and forward:
        slot = np.int64(h % np.uint64(FLOWLET_SLOTS))
        port = st.fl_port[s, slot]
        if port >= 0 and t - st.fl_time[s, slot] <= net.params[P_FLOWLET_GAP]:
            for i in range(n):  # the flowlet goes on, if its port is still a candidate
                if rt.group_port[lo + i] == port:
                    st.fl_time[s, slot] = t
                    return port
    if mode == ECMP_ADAPTIVE or (mode == ECMP_FLOWLET and forward):
        first = np.int64(h % np.uint64(n))
        best = rt.group_port[lo + first]
        for i in range(1, n):
            link = rt.group_port[lo + (first + i) % n]
            if st.dq_bytes[link] < st.dq_bytes[best]:
                best = link
        if mode == ECMP_FLOWLET:  # a new flowlet
            st.fl_port[s, slot] = best
            st.fl_time[s, slot] = t
        return best
    return pick_port(node, e, n_hosts, rt, h)



# ---- the event loop -----------------------------------------------------------------------------

@hot
def run_until(net, st, su, t_end):
    """Process every event with time ≤ ``t_end``; returns a STATUS_* code. ``su``: compute
    tasks and scale-up transfers (``scaleup.ScaleUp``)."""
    clk = st.clock
    pool = st.pkt.shape[0]
    events = np.int64(0)  # kept in registers; written back to the clock on the way out
    hops = np.int64(0)  # TX_DONE events: a packet has crossed a link (or was lost on a failed one)
    t_now = clk[C_T_NOW]
    status = STATUS_SLICE
    while True:
        t = wheel_next(st.ev)
        if t == T_NEVER or t > t_end:
            break
        if pool - clk[C_IN_USE] < POOL_RESERVE:
            status = STATUS_POOL_LOW
            break
        if wheel_room(st.ev) < net.params[P_EV_RESERVE]:
            status = STATUS_EVENTS_LOW
            break
        if clk[C_CX_FREE] < 0 and clk[C_CX_HWM] >= st.snd_nxt.shape[0]:  # a START takes one
            status = STATUS_CONTEXTS_LOW
            break
        v = wheel_take(st.ev)
        _prefetch_event(st, wheel_peek(st.ev))
        t_now = t
        events += 1
        hops += (v & EV_MASK) == EV_TX_DONE
        status = _event(net, st, su, v, t)
        if status >= START_PORT:
            # every handler that ends by letting a port look for work returns the port: this is
            # the one place try_start is inlined into the loop (its size dominates compile time)
            status = _try_start(net, st, status - START_PORT, t)
        if status != STATUS_SLICE:
            break
    clk[C_T_NOW] = t_now
    clk[C_EVENTS] += events
    clk[C_HOPS] += hops
    clk[C_PENDING] = wheel_pending(st.ev)
    if status == STATUS_SLICE and clk[C_PENDING] == 0:
        return STATUS_DONE
    return status

@hot(inline="always")
def _prefetch_event(st, v):
    """Ask for the memory the event ``v`` (−1: none known) touches first — its packet's row, and
    the port's busy word or the pipe's head pointer (which the ARRIVE rewrites) — while the
    current event is handled: on large fabrics the packet pool and the per-link arrays do not
    fit the cache, and an event would otherwise start by waiting for memory. The packet is named in the event's value
    (``EV_PACKET_SHIFT``): no load stands between the event and the prefetch."""
    if v < 0:
        return
    kind = v & EV_MASK
    if kind == EV_ARRIVE or kind == EV_TX_DONE:
        prefetch(st.pkt, v >> EV_PACKET_SHIFT)
        link = (v >> EV_BITS) & EV_LINK_MASK
        if kind == EV_TX_DONE:
            prefetch(st.busy, link)
        else:
            prefetch(st.pipe_head, link)


@hot(inline="always")
def _event(net, st, su, v, t):
    kind = v & EV_MASK
    obj = np.int64(v >> EV_BITS)
    if kind == EV_TX_DONE:
        return _tx_done(net, st, obj & EV_LINK_MASK, v >> EV_PACKET_SHIFT, t)
    if kind == EV_ARRIVE:
        return _arrive(net, st, obj & EV_LINK_MASK, v >> EV_PACKET_SHIFT, t)
    if full(net) and kind == EV_NACK:
        return _nack_due(net, st, obj, t)
    if kind >= EV_CHECK or (kind == EV_START and net.f_kind[obj] != KIND_FABRIC):
        return on_task(net, st, su, kind, obj, t)  # compute tasks and scale-up transfers
    f = obj
    host = net.f_src[f]
    if kind == EV_CNP:
        _np_due(st, f, t)
        return _send_control(net, st, np.int64(net.host_uplink[net.f_dst[f]]), np.int64(PKT_CNP), f, np.int64(0), t,
                             np.int64(0), np.int64(0))
    c = st.f_ctx[f]
    if kind == EV_PACE:
        st.in_ring[f] = RING_OUT
        if c >= 0 and _can_send(net, st, f, c):
            _ring_push(st, host, f)
            return START_PORT + np.int64(net.host_uplink[host])
        return STATUS_SLICE
    if kind == EV_START:
        st.t_start[f] = t
        if not _take_context(net, st, f, t, np.float64(net.link_rate_bps[net.host_uplink[host]])):
            return STATUS_HEAP_FULL
        _ring_push(st, host, f)
        if not _schedule(st, t + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
            return STATUS_HEAP_FULL
        return START_PORT + np.int64(net.host_uplink[host])
    if st.f_abandon[f]:
        if st.f_abandon[f] == ABANDON_UNREACHABLE:
            st.f_abandon[f] = ABANDON_STOPPED  # the timer has stopped; revive() restarts it
        return STATUS_SLICE
    # RTO: with no context every packet is acknowledged, and the timer stops
    if c >= 0 and st.snd_una[c] < net.f_npkts[f]:
        if t - st.t_progress[c] >= net.params[P_RTO]:
            st.timeouts[c] += 1
            if st.timeouts[c] > net.params[P_RETRIES]:
                # the retry count is exhausted: the flow gives up (the timer stops, nothing more
                # is sent; what is still in flight is discarded where it arrives)
                st.f_abandon[f] = ABANDON_RETRIES
                st.snd_nxt[c] = net.f_npkts[f]
                st.n_lost[c] = 0
                return STATUS_SLICE
            if full(net) and net.params[P_TRANSPORT] == TRANSPORT_SR:
                sr_on_timeout(net, st, c)  # resend what is neither SACKed nor marked lost
            else:
                st.snd_nxt[c] = st.snd_una[c]  # go-back-N
            if full(net) and net.params[P_ECMP] == ECMP_REPS:
                reps_freeze(net, st, f, c, t)  # keep to the entropy values that worked
            st.t_progress[c] = t
            if not _make_eligible(net, st, f, host, t):
                return STATUS_HEAP_FULL
            if not _schedule(st, t + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
                return STATUS_HEAP_FULL
            return START_PORT + np.int64(net.host_uplink[host])
        if not _schedule(st, st.t_progress[c] + net.params[P_RTO], (f << EV_BITS) | EV_RTO):
            return STATUS_HEAP_FULL
    return STATUS_SLICE

@hot(inline="always")
def _tx_done(net, st, link, p, t):
    """TX_DONE(link): packet ``p`` has left the port (steps 1–5). The event names it: it is the
    head of the queue the port serves, where it stays until now (so its row is read without
    waiting for the queue's head pointer)."""
    n_hosts = net.params[P_N_HOSTS]
    dead = st.busy[link] & BUSY_DEAD
    st.busy[link] = dead
    # 1. leave the queue (the data queue holds data packets, the control queue every other kind)
    data = st.tx_prio[link] != 0
    nxt = st.pkt[p, PK_NEXT]
    if not data:
        st.cq_head[link] = nxt
        if nxt < 0:
            st.cq_tail[link] = -1
        w = np.int64(CONTROL_WIRE_BYTES)
    else:
        st.dq_head[link] = nxt
        if nxt < 0:
            st.dq_tail[link] = -1
        w = _data_wire(net, st, p)
        _q_change(st, link, t, -w)
    st.tx_bytes[link] += w
    node = net.link_src[link]
    if node >= n_hosts:
        # 2. leave the shared buffer and the ingress counter; RESUME below XON
        st.used[node] -= w
        if data:
            status = _leave_ingress(net, st, st.pkt[p, PK_IN_LINK], w, t)
            if status != STATUS_SLICE:
                return status
            # 3. ECN at dequeue
            if net.params[P_ECN] and net.params[P_ECN_DEQUEUE] and _ecn_mark(net, st, link, st.dq_bytes[link]):
                _mark(st, link, p)
    # 4. into the pipe (a failed link's last packet is lost instead)
    if dead:
        st.l_fail_pkts[link] += 1
        st.l_fail_bytes[link] += w
        if data:
            _lost_data(st, pk_flow(st, p), link)
        _free(st, p)
        return STATUS_SLICE
    st.pkt[p, PK_NEXT] = -1
    t_arr = t + net.pipe_delay_ps[link]
    tail = st.pipe_tail[link]
    if tail >= 0:
        # the packet ahead learns when this one arrives after it: its ARRIVE then schedules
        # this one's from its own row (0 ≤ gap ≤ the delay: it has not arrived yet)
        st.pkt[tail, PK_NEXT] = p
        st.pkt[tail, PK_GAP] = t_arr - st.pipe_t_tail[link]
    else:
        st.pipe_head[link] = p
        if not _schedule(st, t_arr, (np.int64(p) << EV_PACKET_SHIFT) | (link << EV_BITS) | EV_ARRIVE):
            return STATUS_HEAP_FULL
    st.pipe_tail[link] = p
    st.pipe_t_tail[link] = t_arr
    # 5. next packet
    return START_PORT + np.int64(link)

@hot(inline="always")
def _arrive(net, st, link, p, t):
    """ARRIVE(link): packet ``p``, the head of the pipe (the event names it), reaches the node
    at the far end."""
    n_hosts = net.params[P_N_HOSTS]
    nxt = st.pkt[p, PK_NEXT]
    st.pipe_head[link] = nxt
    if nxt < 0:
        st.pipe_tail[link] = -1
    else:
        # the next packet's arrival, from this one's row (PK_GAP): its own row is not read yet
        arrive = (np.int64(nxt) << EV_PACKET_SHIFT) | (link << EV_BITS) | EV_ARRIVE
        if not _schedule(st, t + (np.int64(st.pkt[p, PK_GAP]) & 0xFFFFFFFF), arrive):
            return STATUS_HEAP_FULL
    st.pkt[p, PK_NEXT] = -1
    node = net.link_dst[link]
    kind = pk_kind(st, p)
    if kind & PKT_LOST:
        if kind == PKT_DATA | PKT_LOST:
            _lost_data(st, pk_flow(st, p), link)
        _free(st, p)
        return STATUS_SLICE

    if kind == PKT_PAUSE or kind == PKT_RESUME:
        _free(st, p)
        return _pfc_frame(net, st, net.link_rev[link], kind, t)

    f = pk_flow(st, p)
    if node >= n_hosts:
        # 1. route
        egress = _route(net, st, node, p, link, t)
        if egress < 0:  # no live route (a failure): lost where it arrived
            if kind == PKT_DATA:
                _lost_data(st, f, link)
            _free(st, p)
            return STATUS_SLICE
        w = _wire(net, st, p)
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
            return START_PORT + np.int64(egress)
        # 2. admission (a packet not admitted is dropped, or trimmed)
        q = st.dq_bytes[egress]
        trim = full(net) and net.params[P_TRIM] != 0
        trim_q = net.params[P_TRIM_QUEUE]
        if not _admit(net, st, node, egress, w) or (trim and trim_q > 0 and q + w > trim_q):
            if trim:
                # trimmed: its header goes on at control priority, to be NACKed by the receiver
                st.l_trims[egress] += 1
                st.f_trims[f] += 1
                st.pkt[p, PK_META] = (st.pkt[p, PK_META] & ~META_KIND) | PKT_TRIM  # a control frame's size
                st.used[node] += CONTROL_WIRE_BYTES
                _push_control(st, egress, p)
                return START_PORT + np.int64(egress)
            st.l_drops[egress] += 1
            st.f_drops[f] += 1
            _free(st, p)
            return STATUS_SLICE
        # 3. ECN at enqueue
        if net.params[P_ECN] and not net.params[P_ECN_DEQUEUE] and _ecn_mark(net, st, egress, q):
            _mark(st, egress, p)
        # 4. enqueue; PAUSE above XOFF
        st.used[node] += w
        st.pkt[p, PK_IN_LINK] = link
        _push_data(st, egress, p, w, t)
        st.ingress[link] += w
        status = _pfc_on_enqueue(net, st, link, t)
        if status != STATUS_SLICE:
            return status
        # 5. start
        return START_PORT + np.int64(egress)

    # at a host
    if st.f_abandon[f] == ABANDON_RETRIES:
        # the flow gave up: its late packets are discarded at either end
        if kind == PKT_DATA:
            st.f_rcvd[f] += 1
        _free(st, p)
        return STATUS_SLICE
    if kind == PKT_CNP:
        _free(st, p)
        rp_signal(net, st, f, t)
        return STATUS_SLICE
    if full(net) and kind == PKT_TRIM:  # at the receiver: the trim NACK, now or paced
        return _answer_trim(net, st, node, p, t)
    ecn = pk_mark(st, p)  # the mark, and the entropy value above it
    if full(net):
        ecn |= np.int64(st.pkx[p, PX_ENTROPY]) << 1
    if kind == PKT_ACK or kind == PKT_NACK:
        if ecn & 1 and net.params[P_CC] == CC_HPCC:
            rp_signal(net, st, f, t)
    c = st.f_ctx[f]  # −1: the flow's last ACK has arrived (everything below is then a late packet)
    if kind == PKT_ACK:
        ack = np.int64(st.pkt[p, PK_SEQ])
        sack = np.int64(st.pkx[p, PX_SACK]) if full(net) else np.int64(0)
        _free(st, p)
        if full(net) and c >= 0 and net.params[P_ECMP] == ECMP_REPS and not ecn & 1:
            reps_recycle(net, st, f, c, ecn >> 1)  # an unmarked ACK: its value is worth reusing
        if full(net) and c >= 0 and net.params[P_TRANSPORT] == TRANSPORT_SR:
            if ack == net.f_npkts[f]:
                _release_context(st, f)  # sent, acknowledged and (so) received
                return STATUS_SLICE
            if sr_on_ack(net, st, f, c, ack, sack, t):
                if not _make_eligible(net, st, f, node, t):
                    return STATUS_HEAP_FULL
                return START_PORT + np.int64(net.host_uplink[node])
            return STATUS_SLICE
        if c >= 0 and ack > st.snd_una[c]:
            st.snd_una[c] = ack
            st.t_progress[c] = t
            st.timeouts[c] = 0
            if st.snd_nxt[c] < ack:  # after a go-back, skip what the receiver already has
                st.snd_nxt[c] = ack
            if ack == net.f_npkts[f]:
                _release_context(st, f)  # sent, acknowledged and (so) received
        return STATUS_SLICE
    if kind == PKT_NACK:
        n = np.int64(st.pkt[p, PK_SEQ])
        _free(st, p)
        if c < 0 or n < st.snd_una[c]:
            return STATUS_SLICE  # stale
        if full(net) and net.params[P_TRANSPORT] == TRANSPORT_SR:  # a trim NACK: resend n at once
            if sr_on_trim(net, st, f, c, n):
                if not _make_eligible(net, st, f, node, t):
                    return STATUS_HEAP_FULL
                return START_PORT + np.int64(net.host_uplink[node])
            return STATUS_SLICE
        if n > st.snd_una[c]:
            st.timeouts[c] = 0
        st.snd_una[c] = n
        st.t_progress[c] = t
        st.snd_nxt[c] = n  # go back to the first packet the receiver is missing
        if not _make_eligible(net, st, f, node, t):
            return STATUS_HEAP_FULL
        return START_PORT + np.int64(net.host_uplink[node])
    seq = np.int64(st.pkt[p, PK_SEQ])
    marked = ecn & 1
    _free(st, p)
    st.f_rcvd[f] += 1
    reply = PKT_ACK
    if c < 0:
        rcv_nxt = np.int64(net.f_npkts[f])  # a late duplicate
        in_order = False
        st.f_dup[f] += 1
    elif full(net) and net.params[P_TRANSPORT] == TRANSPORT_SR:
        rcv_nxt, in_order, duplicate = sr_receive(net, st, f, c, seq)
        if duplicate:
            st.f_dup[f] += 1
    else:
        rcv_nxt = np.int64(st.rcv_nxt[c])
        if seq < rcv_nxt:
            st.f_dup[f] += 1
        if seq > rcv_nxt and net.params[P_NACK] and st.nack_for[c] != rcv_nxt:
            st.nack_for[c] = rcv_nxt
            reply = PKT_NACK
        in_order = seq == rcv_nxt
        if in_order:
            rcv_nxt = seq + 1
            st.rcv_nxt[c] = rcv_nxt
    if in_order and rcv_nxt == net.f_npkts[f] and not _complete(net, st, f, t):
        return STATUS_HEAP_FULL
    if marked and net.params[P_CC] == CC_PAPER:
        # the notification point: a CNP at once (before the ACK), or one when the interval ends
        action = _np_on_mark(net, st, f, t)
        if action == NP_SEND_CNP:
            status = _send_control(net, st, np.int64(net.host_uplink[node]), np.int64(PKT_CNP), np.int64(f),
                                   np.int64(0), t, np.int64(0), np.int64(0))
            if status != STATUS_SLICE:
                return status
        elif action == NP_HEAP_FULL:
            return STATUS_HEAP_FULL
    every = net.params[P_ACK_EVERY]
    if every > 1 and in_order and rcv_nxt == seq + 1 and rcv_nxt < net.f_npkts[f] and rcv_nxt % every != 0:
        return STATUS_SLICE  # host.ack_every: this one is acknowledged by a later ACK
    # the echo (hpcc, and sender-chosen entropy) and the entropy value of the packet answered
    echo = np.int64(0)
    if sender_entropy(net):
        echo = ecn  # the mark and the entropy value
    elif net.params[P_CC] == CC_HPCC:
        echo = np.int64(marked)
    return _send_control(net, st, np.int64(net.host_uplink[node]), np.int64(reply), np.int64(f), rcv_nxt, t,
                         echo, seq)
