"""The packet engine's state: the static inputs (``PacketNet``), everything the kernel mutates
(``PacketState``), their construction, and the allocators every handler uses — the event set
(``_schedule``) and the packet pool (``_alloc``, ``_free``).

A fabric flow's transport and DCQCN state lives in a *flow context* (the ``CONTEXT_FIELDS``): taken at
its ``START`` (``_take_context``), given back when its last ACK arrives (``_release_context``),
so that state is held for the flows in progress, not for every flow of the run.

``make_net`` is the boundary between the Python driver and the kernel: it checks every field's
dtype and shape, because one array of another dtype would make Numba compile a second copy of
the kernel (minutes) instead of failing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import (
    META_FLOW_MASK, META_FLOW_SHIFT, META_KIND, META_MARK, META_MARK_SHIFT, META_SHORT, PK_IN_LINK, PK_META,
    PK_NEXT, PK_SEQ, PK_SIZE, PX_SIZE,
    CONTROL_WIRE_BYTES, C_CX_FREE, C_CX_HWM, C_DONE, C_FREE, C_HWM, C_IN_USE, C_SEQ, C_SIZE, ECMP_PACKET, EV_BITS, EV_START,
    F_ALPHA0, F_SIZE, PKT_DATA, PKT_LOST, P_SR_WINDOW, P_TRANSPORT, TRANSPORT_SR,
    ECMP_FLOWLET, ECMP_REPS, ECMP_SPRAY, FLOWLET_SLOTS, P_ECMP, P_EV_RESERVE, P_HEADER, P_MTU, P_N_HOSTS, P_REPS_BUFFER, P_SEED, P_SIZE, P_SROUTE, P_TRIM,
)
from .jit import hot, kernel
from .routing import RoutingTables
from .wheel import T_NEVER, W_COUNT, W_OVF, Wheel, grow_wheel, new_wheel, wheel_push

#: flow contexts a fresh state has room for (at most one per flow); they double when they run out
CONTEXTS_INITIAL = 1024
#: the PacketState fields that hold a flow context, indexed by context, and their dtypes
CONTEXT_FIELDS: dict[str, type] = {
    "snd_nxt": np.int32, "snd_una": np.int32, "rcv_nxt": np.int32, "max_sent": np.int32, "nack_for": np.int32,
    "timeouts": np.int32, "t_progress": np.int64, "rp_rc": np.float64, "rp_rt": np.float64,
    "rp_alpha": np.float64, "rp_t_alpha": np.int64, "rp_t_dec": np.int64, "rp_t_inc": np.int64,
    "rp_next": np.int64, "rp_stage_t": np.int32, "rp_stage_bc": np.int32, "rp_bytes": np.int64,
    "rp_flags": np.int8, "sack_high": np.int32, "lost_scan": np.int32, "n_lost": np.int32,
    "reps_head": np.int32, "reps_last": np.int32, "reps_explore": np.int32, "reps_freeze": np.int64,
}
#: the context fields that are bitmaps (uint64[contexts, words]): sr_window / 64 words a context
#: under selective repeat, none under go-back-N
CONTEXT_BITMAPS = ("rcv_bits", "sack_bits", "lost_bits")
#: the context bitmaps only switch.trim needs: as wide as CONTEXT_BITMAPS with trim on, else none
CONTEXT_TRIM_BITMAPS = ("trim_bits",)
#: the context fields that are rows of int32 slots: routing.reps_buffer a context under
#: ecmp = "reps", none otherwise
CONTEXT_SLOTS = ("reps_slots",)


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
    routing: RoutingTables  # what switches consult to forward (native/routing.py)
    f_src: np.ndarray  # int32[F]
    f_dst: np.ndarray  # int32[F]
    f_size: np.ndarray  # int64[F] payload bytes
    f_npkts: np.ndarray  # int32[F]
    # what per-hop ECMP reads; empty when it is not read (hash and channel: ecmp = "packet" only;
    # the flow hashes: not with source routes, nor with ecmp = "packet")
    f_hash: np.ndarray  # int64[F or 0] ECMP hash id
    f_hash_fwd: np.ndarray  # uint64[F or 0] flow_hash of the data direction (ecmp = flow, adaptive)
    f_hash_rev: np.ndarray  # uint64[F or 0] flow_hash of the ACK direction
    f_channel: np.ndarray  # int64[F or 0]
    f_start: np.ndarray  # int64[F]
    f_gap: np.ndarray  # int64[F]
    succ_ptr: np.ndarray  # int64[F+1]
    succ: np.ndarray  # int32[E]
    h_rai: np.ndarray  # float64[H] DCQCN additive-increase step of a host's flows (bit/s)
    h_rhai: np.ndarray  # float64[H] hyper-increase step
    f_kind: np.ndarray  # int8[F] KIND_FABRIC, KIND_SCALEUP or KIND_COMPUTE (native/scaleup.py)
    # source routes (params[P_SROUTE] ≠ 0: ecmp = "flow"): flow f's data packets cross
    # sr_fwd[sr_ptr[f] : sr_ptr[f + 1]], its ACKs, NACKs and CNPs sr_rev[…] (the same length); the
    # very links per-hop routing would choose over the current tables. An empty route: hop by hop.
    sr_ptr: np.ndarray  # int64[F+1]
    sr_fwd: np.ndarray  # int32[R]
    sr_rev: np.ndarray  # int32[R]
    # The kernel's variant, in the array's number of dimensions (it has no entries): 1, *plain*,
    # for go-back-N without trimming or sender-chosen entropy; 2, *full*, for the rest
    # (``variant_for``). Numba compiles a kernel per argument type, so each variant is compiled
    # on its own and, in the plain one, every test of ``full(net)`` is a constant: the code of
    # selective repeat, trimming, spraying and REPS is left out of the default path.
    variant: np.ndarray  # int8[0] or int8[0, 0]

class PacketState(NamedTuple):
    """Everything the kernel mutates."""

    clock: np.ndarray  # int64[C_SIZE]
    rng: np.ndarray  # uint64[1] splitmix64 state of the ECN draws
    ev: Wheel  # the event set, ordered (t_ps, seq)
    # packet pool
    pkt: np.ndarray  # int32[pool, PK_SIZE] one row per packet (columns PK_* in codes.py)
    pkx: np.ndarray  # int32[pool or 0, PX_SIZE] what the full variant adds to a packet (PX_*)
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
    pipe_t_tail: np.ndarray  # int64[L] arrival time of the pipe's tail packet (the others': PK_GAP)
    tx_bytes: np.ndarray  # int64[L]
    max_q: np.ndarray  # int64[L]
    q_area: np.ndarray  # float64[L] ∫ dq_bytes dt (byte·ps)
    q_t: np.ndarray  # int64[L] time of the last dq_bytes change
    period_max_q: np.ndarray  # int64[L] data-queue maximum since the driver last reset it
    l_drops: np.ndarray  # int64[L]
    l_trims: np.ndarray  # int64[L] data packets trimmed at this port (switch.trim)
    trim_run: np.ndarray  # int64[L] switch.trims_per_data: trims the port started since its last data packet
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
    # ecmp = "flowlet": each switch's flowlet table, FLOWLET_SLOTS entries (none otherwise)
    fl_time: np.ndarray  # int64[switches, slots] last data packet through the entry
    fl_port: np.ndarray  # int32[switches, slots] its egress port (−1: never used)
    ingress: np.ndarray  # int64[L] data bytes buffered downstream of each link
    pause_sent: np.ndarray  # int8[L] a PAUSE is outstanding for this ingress link
    # hosts
    ring_head: np.ndarray  # int32[H] send ring (FIFO of flows)
    nack_free: np.ndarray  # int64[H] host.pace_trim_nacks: when the host may send its next trim NACK
    ring_tail: np.ndarray
    ring_next: np.ndarray  # int32[F]
    in_ring: np.ndarray  # int8[F] RING_OUT, RING_IN or RING_PACED
    # flows
    pred_left: np.ndarray  # int32[F]
    t_start: np.ndarray  # int64[F]
    t_finish: np.ndarray  # int64[F]
    f_packets: np.ndarray  # int64[F]
    f_retx: np.ndarray  # int64[F]
    f_retx_trim: np.ndarray  # int64[F] of those, resent because a switch trimmed them
    f_ecn: np.ndarray  # int64[F]
    f_drops: np.ndarray  # int64[F]
    f_trims: np.ndarray  # int64[F] data packets trimmed
    f_rcvd: np.ndarray  # int64[F] data packets that reached the destination (in order or not)
    f_dup: np.ndarray  # int64[F] of those, copies of packets the receiver had already
    f_cnp: np.ndarray  # int64[F] congestion signals the sender received (CNPs or echoes)
    f_fail: np.ndarray  # int64[F] data packets lost to failures
    f_abandon: np.ndarray  # int8[F] ABANDON_* state
    # DCQCN notification point (receiver): it outlives the flow's context (late marked duplicates)
    np_last_cnp: np.ndarray  # int64[F] time of the last CNP the receiver sent (−1: none)
    np_pending: np.ndarray  # int8[F] a mark arrived since then: an EV_CNP is pending
    # flow contexts: the transport and DCQCN reaction-point state of the flows between START and
    # their last ACK, indexed by the flow's context c = f_ctx[f] ("flow contexts" above)
    f_ctx: np.ndarray  # int32[F] the flow's context (−1: not started, or acknowledged)
    snd_nxt: np.ndarray  # int32[contexts] next sequence number to send (a free context: the next free one)
    snd_una: np.ndarray  # int32[contexts] oldest unacknowledged
    rcv_nxt: np.ndarray  # int32[contexts] receiver: next in-order sequence number expected
    max_sent: np.ndarray  # int32[contexts] highest sequence number sent + 1
    nack_for: np.ndarray  # int32[contexts] rcv_nxt of the last NACK sent (one NACK per gap)
    timeouts: np.ndarray  # int32[contexts] consecutive timeouts of the oldest unacknowledged packet
    t_progress: np.ndarray  # int64[contexts] last time snd_una advanced (or the flow went back)
    rp_rc: np.ndarray  # float64[contexts] DCQCN: current rate Rc (bit/s)
    rp_rt: np.ndarray  # float64[contexts] target rate Rt
    rp_alpha: np.ndarray  # float64[contexts]
    rp_t_alpha: np.ndarray  # int64[contexts] next alpha-timer expiry (T_NEVER: not running)
    rp_t_dec: np.ndarray  # int64[contexts] hpcc: next decrease check
    rp_t_inc: np.ndarray  # int64[contexts] next rate-increase timer expiry
    rp_next: np.ndarray  # int64[contexts] earliest time the flow may send its next packet (pacing)
    rp_stage_t: np.ndarray  # int32[contexts] timer stage counter T
    rp_stage_bc: np.ndarray  # int32[contexts] byte-counter stage counter BC
    rp_bytes: np.ndarray  # int64[contexts] bytes sent since the last byte-counter expiry or cut
    rp_flags: np.ndarray  # int8[contexts] RP_* bits
    # selective repeat (native/selective.py); a sequence number s has bit s % sr_window
    sack_high: np.ndarray  # int32[contexts] highest sequence number SACKed (−1: none)
    lost_scan: np.ndarray  # int32[contexts] first sequence number the loss rule has not judged
    n_lost: np.ndarray  # int32[contexts] packets marked lost (to resend)
    rcv_bits: np.ndarray  # uint64[contexts, words] receiver: packets held beyond rcv_nxt
    sack_bits: np.ndarray  # uint64[contexts, words] sender: packets SACKed beyond snd_una
    lost_bits: np.ndarray  # uint64[contexts, words] sender: packets marked lost
    trim_bits: np.ndarray  # uint64[contexts, words or 0] sender: of those, marked by a trim NACK
    # ecmp = "reps" (native/entropy.py)
    reps_head: np.ndarray  # int32[contexts] the slot the next recycled value is written to
    reps_last: np.ndarray  # int32[contexts] the slot a frozen flow took its last value from (−1)
    reps_explore: np.ndarray  # int32[contexts] random values still to send before recycling
    reps_freeze: np.ndarray  # int64[contexts] end of the freeze (−1: not frozen)
    reps_slots: np.ndarray  # int32[contexts, B] −1 empty, ev ≥ 0 fresh, −2 − ev used

#: dtype and shape of every RoutingTables field (sizes named as in NET_FIELDS).
ROUTING_FIELDS: dict[str, tuple[str, tuple]] = {
    "link_dst": ("int32", ("L",)), "link_up": ("bool", ("L",)), "host_uplink": ("int32", ("H",)),
    "host_downlink": ("int32", ("H",)), "host_edge": ("int32", ("H",)), "dist": ("int8", ("S", "E")),
    "group": ("int32", ("S", "E")), "group_ptr": ("int64", ("G+1",)), "group_port": ("int32", ("C",)),
    "base_group": ("int32", ("S", "E")), "base_ptr": ("int64", ("G0+1",)), "base_port": ("int32", ("C0",)),
}

#: dtype and shape of every PacketNet field: "L" links, "H" hosts, "F" flows, "F?" flows or none
#: (a field the kernel does not read in this run), "F+1", "S" switches,
#: "E" edge switches, "G+1" next-hop groups + 1, "C" candidate ports, "D" dependency edges, or a
#: fixed length.
NET_FIELDS: dict[str, tuple[str, tuple]] = {
    "params": ("int64", (P_SIZE,)), "fparams": ("float64", (F_SIZE,)),
    "link_dst": ("int32", ("L",)), "link_src": ("int32", ("L",)), "link_rev": ("int32", ("L",)),
    "link_rate_bps": ("int64", ("L",)), "pipe_delay_ps": ("int64", ("L",)), "port_limit": ("int64", ("L",)),
    "kmin": ("int64", ("L",)), "kmax": ("int64", ("L",)),
    "host_uplink": ("int32", ("H",)), "host_downlink": ("int32", ("H",)),
    "routing": ("RoutingTables", ()),
    "f_src": ("int32", ("F",)), "f_dst": ("int32", ("F",)), "f_size": ("int64", ("F",)),
    "f_npkts": ("int32", ("F",)), "f_hash": ("int64", ("F?",)), "f_hash_fwd": ("uint64", ("F?",)),
    "f_hash_rev": ("uint64", ("F?",)), "f_channel": ("int64", ("F?",)), "f_start": ("int64", ("F",)),
    "f_gap": ("int64", ("F",)), "succ_ptr": ("int64", ("F+1",)), "succ": ("int32", ("D",)),
    "h_rai": ("float64", ("H",)), "h_rhai": ("float64", ("H",)),
    "f_kind": ("int8", ("F",)), "sr_ptr": ("int64", ("F+1",)), "sr_fwd": ("int32", ("R",)),
    "sr_rev": ("int32", ("R",)), "variant": ("int8", ()),
}


def needs_full(transport: int, trim: bool, ecmp: int) -> bool:
    """Whether a run (``P_TRANSPORT``, ``P_TRIM``, ``P_ECMP`` codes) runs on the full variant of
    the kernel: selective repeat, trimming or sender-chosen entropy (spray, reps)."""
    return bool(transport == TRANSPORT_SR or trim or ecmp in (ECMP_SPRAY, ECMP_REPS))


def variant_for(params: np.ndarray) -> np.ndarray:
    """``PacketNet.variant`` for a run with ``params``: full (2-d) if ``needs_full``, else plain
    (1-d)."""
    full_ = needs_full(params[P_TRANSPORT], params[P_TRIM] != 0, params[P_ECMP])
    return np.zeros((0, 0) if full_ else (0,), np.int8)


@hot(inline="always")
def full(net):
    """The full variant of the kernel is running (``PacketNet.variant``): a constant where it is
    compiled, so ``full(net) and …`` costs the plain variant nothing."""
    return net.variant.ndim == 2


def make_net(**fields: np.ndarray) -> PacketNet:
    """A ``PacketNet`` from its fields, each checked against ``NET_FIELDS`` (and ``routing``'s
    against ``ROUTING_FIELDS``): a missing or unknown field, a non-array, a wrong dtype or a wrong
    shape raises ``TypeError``/``ValueError`` naming the field (a wrong dtype would otherwise
    compile a second copy of the kernel)."""
    missing = [name for name in PacketNet._fields if name not in fields]
    unknown = [name for name in fields if name not in PacketNet._fields]
    if missing or unknown:
        raise TypeError(f"make_net: missing fields {missing}, unknown fields {unknown}")
    sizes: dict[str, int] = {}
    routing = fields["routing"]
    if not isinstance(routing, RoutingTables):
        raise TypeError(f"make_net: routing must be a RoutingTables, got {type(routing).__name__}")
    checks = [(name, fields[name], NET_FIELDS[name]) for name in PacketNet._fields if name not in ("routing", "variant")]
    checks += [(f"routing.{name}", getattr(routing, name), ROUTING_FIELDS[name]) for name in RoutingTables._fields]
    for name, array, (dtype, shape) in checks:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"make_net: {name} must be a NumPy array, got {type(array).__name__}")
        if array.dtype != np.dtype(dtype):
            raise TypeError(f"make_net: {name} must be {dtype}, got {array.dtype}")
        if array.ndim != len(shape):
            raise ValueError(f"make_net: {name} must have {len(shape)} dimension(s), got shape {array.shape}")
        for axis, (want, got) in enumerate(zip(shape, array.shape)):
            if isinstance(want, int):
                if got != want:
                    raise ValueError(f"make_net: {name} must have length {want}, got {got}")
                continue
            if want == "F?":
                if got == 0:
                    continue
                want = "F"
            if sizes.setdefault(want, got) != got:
                raise ValueError(
                    f"make_net: {name} has {got} entries on axis {axis} where the other fields have "
                    f"{want} = {sizes[want]}"
                )
    params = fields["params"]
    variant, want = fields["variant"], variant_for(params)
    if not isinstance(variant, np.ndarray) or variant.dtype != want.dtype or variant.shape != want.shape:
        raise ValueError(f"make_net: variant must be variant_for(params), an int8 array of shape {want.shape}")
    n_flows = sizes.get("F", 0)
    if params[P_ECMP] in (ECMP_PACKET, ECMP_SPRAY, ECMP_REPS):
        needed = ("f_hash", "f_channel")
    elif params[P_SROUTE] != 1:  # per hop, or routes that change (a packet may leave its route)
        needed = ("f_hash_fwd", "f_hash_rev")
    else:
        needed = ()
    for name in needed:
        if fields[name].shape[0] != n_flows:
            raise ValueError(f"make_net: {name} must have {n_flows} entries: the kernel reads it in this run")
    if "F+1" in sizes and sizes["F+1"] != sizes.get("F", sizes["F+1"] - 1) + 1:
        raise ValueError(f"make_net: succ_ptr must have {sizes['F'] + 1} entries (flows + 1), got {sizes['F+1']}")
    return PacketNet(**fields)


def packet_rows(pool: int) -> np.ndarray:
    """``pool`` zeroed packet rows (``int32[pool, PK_SIZE]``) starting on a 64-byte boundary, so
    that the rows of four packets share a cache line and none straddles two (a packet's first
    access is a prefetch of the line holding its row). The pages are mapped when first written,
    as with ``np.zeros``."""
    raw = np.zeros(pool * PK_SIZE + 64 // 4, np.int32)
    skip = (-raw.ctypes.data % 64) // 4
    return raw[skip: skip + pool * PK_SIZE].reshape(pool, PK_SIZE)


def new_state(net: PacketNet, pred_count: np.ndarray, pool: int, shift: int, n_buckets: int) -> PacketState:
    """Fresh state; the START events of flows without predecessors are the wheel's presorted
    events, by (start time, flow id).

    ``shift`` and ``n_buckets`` shape the calendar wheel (``native.wheel.wheel_geometry``). The
    wheel starts with room for a TX_DONE and an ARRIVE per link and a few reserves
    (``params[P_EV_RESERVE]``); ``grow_events`` enlarges it when the kernel asks.
    """
    n_links = net.link_dst.shape[0]
    n_flows = net.f_src.shape[0]
    n_hosts = int(net.params[P_N_HOSTS])
    n_nodes = int(max(net.link_src.max(initial=0), net.link_dst.max(initial=0))) + 1
    n_ctx = max(1, min(n_flows, CONTEXTS_INITIAL))
    words = int(net.params[P_SR_WINDOW]) // 64 if net.params[P_TRANSPORT] == TRANSPORT_SR else 0
    slots = int(net.params[P_REPS_BUFFER]) if net.params[P_ECMP] == ECMP_REPS else 0
    fl_slots = FLOWLET_SLOTS if net.params[P_ECMP] == ECMP_FLOWLET else 0
    roots = np.flatnonzero(pred_count == 0)
    roots = roots[np.argsort(net.f_start[roots], kind="stable")]
    reserve = int(net.params[P_EV_RESERVE])
    ev = new_wheel(2 * n_links + 4 * reserve, shift, n_buckets, ovf=4 * reserve,
                   pre_t=net.f_start[roots], pre_val=(roots.astype(np.int64) << EV_BITS) | EV_START)
    def links(value, dtype):
        return np.full(n_links, value, dtype)

    def flows(value, dtype):
        return np.full(n_flows, value, dtype)

    st = PacketState(
        clock=np.zeros(C_SIZE, np.int64),
        rng=np.array([net.params[P_SEED]], np.uint64),
        ev=ev,
        # the pool's arrays are left untouched (np.zeros: pages are mapped when first written)
        pkt=packet_rows(pool),
        pkx=np.zeros((pool if net.variant.ndim == 2 else 0, PX_SIZE), np.int32),  # the full variant's
        cq_head=links(-1, np.int32), cq_tail=links(-1, np.int32),
        dq_head=links(-1, np.int32), dq_tail=links(-1, np.int32),
        dq_bytes=links(0, np.int64), busy=links(0, np.int8), tx_prio=links(0, np.int8),
        paused=links(0, np.int8), pause_since=links(0, np.int64),
        pipe_head=links(-1, np.int32), pipe_tail=links(-1, np.int32), pipe_t_tail=links(0, np.int64),
        tx_bytes=links(0, np.int64), max_q=links(0, np.int64), q_area=links(0.0, np.float64),
        q_t=links(0, np.int64), period_max_q=links(0, np.int64), l_drops=links(0, np.int64), l_trims=links(0, np.int64),
        trim_run=links(0, np.int64),
        l_ecn=links(0, np.int64),
        pause_ps=links(0, np.int64),
        l_fail_pkts=links(0, np.int64), l_fail_bytes=links(0, np.int64),
        l_bh_pkts=links(0, np.int64), l_bh_bytes=links(0, np.int64), l_fail_data=links(0, np.int64),
        used=np.zeros(n_nodes, np.int64), ingress=links(0, np.int64), pause_sent=links(0, np.int8),
        fl_time=np.zeros((n_nodes - n_hosts, fl_slots), np.int64),
        fl_port=np.full((n_nodes - n_hosts, fl_slots), -1, np.int32),
        ring_head=np.full(n_hosts, -1, np.int32), ring_tail=np.full(n_hosts, -1, np.int32),
        nack_free=np.zeros(n_hosts, np.int64),
        ring_next=flows(-1, np.int32), in_ring=flows(0, np.int8),
        pred_left=pred_count.astype(np.int32).copy(),
        t_start=flows(-1, np.int64), t_finish=flows(-1, np.int64),
        f_packets=flows(0, np.int64), f_retx=flows(0, np.int64), f_retx_trim=flows(0, np.int64),
        f_ecn=flows(0, np.int64), f_drops=flows(0, np.int64), f_trims=flows(0, np.int64),
        f_rcvd=flows(0, np.int64), f_dup=flows(0, np.int64),
        f_cnp=flows(0, np.int64), f_fail=flows(0, np.int64), f_abandon=flows(0, np.int8),
        np_last_cnp=flows(-1, np.int64), np_pending=flows(0, np.int8),
        f_ctx=flows(-1, np.int32),
        **{name: np.zeros(n_ctx, dtype) for name, dtype in CONTEXT_FIELDS.items()},  # written when taken
        **{name: np.zeros((n_ctx, words), np.uint64) for name in CONTEXT_BITMAPS},
        **{name: np.zeros((n_ctx, words if net.params[P_TRIM] else 0), np.uint64) for name in CONTEXT_TRIM_BITMAPS},
        **{name: np.zeros((n_ctx, slots), np.int32) for name in CONTEXT_SLOTS},
    )
    st.clock[C_FREE] = -1
    st.clock[C_CX_FREE] = -1
    return st


def grow_events(st: PacketState, room: int) -> PacketState:
    """The same state with room for at least ``room`` more events in both parts of the wheel
    (each part at least doubles when it grows)."""
    w = st.ev
    nodes, ovf = w.ev_t.shape[0], w.ovf_t.shape[0]
    need_nodes = int(w.ctl[W_COUNT]) + room
    need_ovf = int(w.ctl[W_OVF]) + room
    return st._replace(ev=grow_wheel(
        w, max(2 * nodes, need_nodes) if need_nodes > nodes else nodes,
        max(2 * ovf, need_ovf) if need_ovf > ovf else ovf,
    ))

def grow_pool(st: PacketState, pool: int) -> PacketState:
    """The same state with a packet pool of ``pool`` packets (≥ the current one).

    Packets keep their indices; the new ones lie past the high-water mark, where ``_alloc``
    takes them once the free list is empty. Only the packets ever used are copied.
    """
    old = st.pkt.shape[0]
    if pool <= old:
        return st
    used = int(st.clock[C_HWM])

    pkt = packet_rows(pool)
    pkt[:used] = st.pkt[:used]
    pkx = st.pkx
    if pkx.shape[0]:
        pkx = np.zeros((pool, PX_SIZE), np.int32)
        pkx[:used] = st.pkx[:used]
    return st._replace(pkt=pkt, pkx=pkx)

def grow_contexts(st: PacketState) -> PacketState:
    """The same state with twice the room for flow contexts (only the contexts ever used are
    copied; they keep their indices)."""
    used = int(st.clock[C_CX_HWM])

    def grown(a):
        b = np.zeros((2 * a.shape[0], *a.shape[1:]), a.dtype)
        b[:used] = a[:used]
        return b

    fields = (*CONTEXT_FIELDS, *CONTEXT_BITMAPS, *CONTEXT_TRIM_BITMAPS, *CONTEXT_SLOTS)
    return st._replace(**{name: grown(getattr(st, name)) for name in fields})

# ---- allocators ------------------------------------------------------------------------------------

@hot(inline="always")
def _schedule(st, t, value):
    """Schedule an event; False if the event set is full."""
    clk = st.clock
    if not wheel_push(st.ev, t, clk[C_SEQ], value):
        return False
    clk[C_SEQ] += 1
    return True

@hot(inline="always")
def _complete(net, st, f, t):
    """Task ``f`` is received (or ends) at ``t``: its successors whose last predecessor it was
    get their START, at ``max(t + gap, start)``. False if the event set is full."""
    st.t_finish[f] = t
    st.clock[C_DONE] += 1
    for k in range(net.succ_ptr[f], net.succ_ptr[f + 1]):
        s = net.succ[k]
        st.pred_left[s] -= 1
        if st.pred_left[s] == 0:
            if not _schedule(st, max(t + net.f_gap[s], net.f_start[s]), (np.int64(s) << EV_BITS) | EV_START):
                return False
    return True

@hot(inline="always")
def _alloc(st, flow, kind, seq, short):
    """A packet from the pool (−1 if it is exhausted): the last one freed, or else the first
    never used (the high-water mark). ``short``: a data packet with less than an MTU of payload
    (``META_SHORT``). The full variant's columns (``pkx``) are left as they are: whoever reads
    one writes it first."""
    clk = st.clock
    p = clk[C_FREE]
    if p >= 0:
        clk[C_FREE] = st.pkt[p, PK_NEXT]
    else:
        p = clk[C_HWM]
        if p >= st.pkt.shape[0]:
            return -1
        clk[C_HWM] = p + 1
    clk[C_IN_USE] += 1
    st.pkt[p, PK_NEXT] = -1
    st.pkt[p, PK_META] = (np.int64(flow) << META_FLOW_SHIFT) | (META_SHORT if short else 0) | kind
    st.pkt[p, PK_SEQ] = seq
    st.pkt[p, PK_IN_LINK] = -1
    return p


# ---- a packet's row ---------------------------------------------------------------------------------

@hot(inline="always")
def pk_flow(st, p):
    """The flow (task) packet ``p`` belongs to."""
    return (np.int64(st.pkt[p, PK_META]) >> META_FLOW_SHIFT) & META_FLOW_MASK

@hot(inline="always")
def pk_kind(st, p):
    """Packet ``p``'s kind (``PKT_*``, with the ``PKT_LOST`` flag)."""
    return np.int64(st.pkt[p, PK_META]) & META_KIND

@hot(inline="always")
def pk_mark(st, p):
    """Packet ``p``'s ECN mark (an ACK or NACK: the echo), 0 or 1."""
    return (np.int64(st.pkt[p, PK_META]) & META_MARK) >> META_MARK_SHIFT

@hot(inline="always")
def payload_bytes(size, seq, mtu):
    """Payload of data packet ``seq`` of a flow of ``size`` bytes: an MTU, or for the flow's
    last packet what is left after ``seq`` full ones (the engine, the trim NACK's pacing and the
    ideal FCT all size packets by this)."""
    return min(mtu, size - seq * mtu)

@hot(inline="always")
def _data_wire(net, st, p):
    """Wire bytes of data packet ``p`` (lost or not): host.mtu + host.header, or for a flow's
    last packet (``META_SHORT``) its ``payload_bytes`` + host.header; only that one reads the
    flow's size."""
    mtu = net.params[P_MTU]
    if st.pkt[p, PK_META] & META_SHORT:
        return payload_bytes(net.f_size[pk_flow(st, p)], np.int64(st.pkt[p, PK_SEQ]), mtu) + net.params[P_HEADER]
    return mtu + net.params[P_HEADER]

@hot(inline="always")
def _wire(net, st, p):
    """Wire bytes of packet ``p``: a data packet's, or a control frame's (every other kind,
    trims included)."""
    if (st.pkt[p, PK_META] & (META_KIND & ~PKT_LOST)) != PKT_DATA:
        return np.int64(CONTROL_WIRE_BYTES)
    return _data_wire(net, st, p)

@hot(inline="always")
def _take_context(net, st, f, t, line):
    """Fabric flow ``f`` starts at ``t`` on a NIC of ``line`` bit/s: a fresh context, the last
    one given back or else the first never used. False if none is left (``run_until`` stops
    before an event when none is free, so this is a sizing error)."""
    clk = st.clock
    c = clk[C_CX_FREE]
    if c >= 0:
        clk[C_CX_FREE] = st.snd_nxt[c]
    else:
        c = clk[C_CX_HWM]
        if c >= st.snd_nxt.shape[0]:
            return False
        clk[C_CX_HWM] = c + 1
    st.f_ctx[f] = c
    st.snd_nxt[c] = 0
    st.snd_una[c] = 0
    st.rcv_nxt[c] = 0
    st.max_sent[c] = 0
    st.nack_for[c] = -1
    st.timeouts[c] = 0
    st.t_progress[c] = t
    st.rp_rc[c] = line
    st.rp_rt[c] = line
    st.rp_alpha[c] = net.fparams[F_ALPHA0]
    st.rp_t_alpha[c] = T_NEVER
    st.rp_t_dec[c] = T_NEVER
    st.rp_t_inc[c] = T_NEVER
    st.rp_next[c] = 0
    st.rp_stage_t[c] = 0
    st.rp_stage_bc[c] = 0
    st.rp_bytes[c] = 0
    st.rp_flags[c] = 0
    st.sack_high[c] = -1
    st.lost_scan[c] = 0
    st.n_lost[c] = 0
    for w in range(st.rcv_bits.shape[1]):
        st.rcv_bits[c, w] = 0
        st.sack_bits[c, w] = 0
        st.lost_bits[c, w] = 0
    for w in range(st.trim_bits.shape[1]):
        st.trim_bits[c, w] = 0
    slots = st.reps_slots.shape[1]
    st.reps_head[c] = 0
    st.reps_last[c] = -1
    st.reps_explore[c] = slots
    st.reps_freeze[c] = -1
    for j in range(slots):
        st.reps_slots[c, j] = -1
    return True

@hot(inline="always")
def _release_context(st, f):
    """Flow ``f``'s last ACK has arrived: its context goes back to the free list. What can still
    reach the flow (late duplicates, their ACKs, CNPs, its pending timer) reads ``f_ctx < 0`` as
    every packet sent, acknowledged and received (docs/packet-engine.md, "Flow contexts")."""
    c = st.f_ctx[f]
    st.f_ctx[f] = -1
    st.snd_nxt[c] = st.clock[C_CX_FREE]
    st.clock[C_CX_FREE] = c

@hot(inline="always")
def _free(st, p):
    clk = st.clock
    st.pkt[p, PK_NEXT] = clk[C_FREE]
    clk[C_FREE] = p
    clk[C_IN_USE] -= 1


# ---- what the driver reads of the state -----------------------------------------------------------

@kernel
def data_in_flight(st, n_flows):
    """Per flow, data packets still in the fabric (queued, on a wire, or being transmitted):
    every allocated packet of the pool that is not on the free list."""
    pool = st.clock[C_HWM]  # packets past it were never used
    free = np.zeros(pool, np.bool_)
    p = st.clock[C_FREE]
    while p >= 0:
        free[p] = True
        p = st.pkt[p, PK_NEXT]
    out = np.zeros(n_flows, np.int64)
    for p in range(pool):
        if not free[p] and (pk_kind(st, p) & ~PKT_LOST) == PKT_DATA:
            out[pk_flow(st, p)] += 1
    return out
