"""A slow, obviously correct packet-level simulator: docs/packet-engine.md, line by line.

This is the independent re-implementation that the packet kernel (``native/packet.py``, driven
by ``fabsim.run.packet.run_packet_engine``) is compared against, field by field and to the
picosecond. Everything is plain Python: a ``heapq`` of ``(t, seq, kind, arg)`` tuples, lists,
deques and dicts, Python ints for times (ps), sizes (bytes) and rates (bit/s). Nothing here
imports the kernel; the ECMP hash and the ECN random stream are re-implemented below from their
definitions (``tests/test_packet_reference.py`` checks the hash against ``native/ecmp.py``).

Interpretation choices where the document leaves room (each is marked "Interpretation" below):

1. Control packets a *switch* originates (PAUSE, RESUME) enter its shared buffer (``used``) and
   the control-queue bytes of their port, exactly like forwarded ACKs, and leave both at
   ``TX_DONE`` step 2 like every packet of a switch port.
2. ``link_max_queue`` is the maximum of the port's data-queue bytes, updated whenever they grow:
   at a switch enqueue and also when a host NIC pulls a packet from its send ring into its data
   queue (so a host uplink's maximum is the largest data packet it sent).
3. ECN: the marking rule is applied to every data packet at every switch it is enqueued at (or
   dequeued from), whether or not an earlier switch marked it, and the random draw is taken
   whenever ``Kmin < q ≤ Kmax``. A mark counts only when it sets the packet's CE bit: on the
   port that set it (``link_ecn``) and on the flow (``flow_ecn``, packets marked), so a packet
   (one transmission) counts at most once and ``Σ link_ecn == Σ flow_ecn``.
4. A transmission of ``seq`` is a retransmission when ``seq`` is below the highest sequence
   number the flow had sent before (``snd_max``); its payload is added to ``flow_retx_bytes``.
5. A flow whose packets are all acknowledged while it waits in its send ring leaves the ring
   when it reaches the front (the pull moves on to the next flow).
6. ``pause_ps`` accumulates closed PAUSE→RESUME intervals; a port still paused when the run ends
   is charged up to ``end_ps`` (the last reception when every flow completed, else ``until_ps``
   when events remained after it, else the time of the last event processed). A run in which
   every flow completed is not ``stopped_at_until``, even if timers were pending after
   ``until_ps``.
7. ``events`` counts events popped and processed (those after ``until_ps`` are not).

DCQCN (``cc.algorithm = "dcqcn"``, docs/dcqcn.md and the PACE/CNP paragraph of
docs/packet-engine.md) is the class ``ReactionPoint`` (one per flow: Rc, Rt, α, the stages and
the three lazy timers) plus the pacing in ``pull`` / ``make_eligible`` / ``on_pace`` and the
notification point in ``receive_data``. Rates are Python floats computed with the formulas'
operations in the formulas' order. Interpretation choices:

8. The byte counter counts the wire bytes of every data packet the flow puts into its NIC
   (first sends and resends) once the reaction point runs (after the first CNP); when the count
   reaches ``byte_counter`` it restarts from 0 (the excess over ``byte_counter`` is not carried)
   and one expiry is applied. The pacing gap of that packet uses Rc *before* that expiry ("the
   rate when the packet is sent").
9. A flow that goes back (NACK, RTO) while neither in its ring nor waiting for ``PACE`` (it had
   sent its last packet) may still not send before the end of its last packet's gap: if that
   time is in the future it waits for a ``PACE`` then, else it rejoins its ring. No ``PACE`` is
   scheduled after a flow's last packet (there is nothing to bring back).
10. A CNP is a 64-byte control packet carrying number 0 (what ``ecmp = "packet"`` hashes for it);
    at a switch it is forwarded like an ACK (control queue, shared buffer, never dropped). A
    marked packet that finds a CNP sent for its flow less than ``cnp_interval`` ago schedules
    the deferred ``CNP_DUE`` event (unless one is pending) when it is received, after its
    successors' ``START`` events and before its ACK is queued.
11. The hpcc echo of a NACK counts as a signal even when the NACK itself is stale. ``flow_cnps``
    counts the signals the sender received: CNPs (paper), echoing ACK/NACKs (hpcc).
12. The ``rates`` samples (``output.cc_sample``) are taken where the driver takes them: at the
    ends of its slices (multiples of gcd(queue_sample, cc_sample), capped at ``until``) that
    are multiples of ``cc_sample``, up to the slice in which the last event falls; a sample
    brings every flow that started and is not received up to the sample time (its timers'
    expiries ≤ t), which changes nothing later (the timers are applied in time order anyway).

Compute tasks and scale-up transfers (docs/packet-engine.md § Tasks that are not fabric flows)
are ``on_start_compute`` / ``on_start_scaleup``, ``resolve_server``, ``on_check`` and ``on_done``.
A task is a compute task when its ``FlowTable.kind`` is TASK_COMPUTE, a scale-up transfer when it
is a transfer and ``gpus_per_server > 1`` puts its two GPUs in one server, a fabric flow
otherwise. Interpretation choices:

13. A task that sends no packets (compute, scale-up) has 0 packets, retransmitted bytes, marks,
    drops, received packets and congestion signals; it is never in a send ring and has no
    timer. Ignored ``CHECK`` events count as events (they are popped and processed).

The pending check of a server is a time, not an event (the document says so): a superseded
``CHECK(s)`` that falls at the pending time runs first and acts for it; the pending event itself
is then ignored (``tests/test_scaleup_reference.py``, SUPERSEDED, is a case where this matters).
14. The DCQCN ``rates`` samples cover fabric flows only (the other tasks have no reaction
    point).

Selective repeat (``host.transport = "sr"``, docs/packet-engine.md § Selective repeat) is
``can_send`` (the sender's test, used by ``pull`` and ``on_pace``), the lowest lost-marked packet
first in ``pull``, ``sr_accept`` (the receiver) in ``receive_data``, ``receive_ack_sr`` (cumulative
ACK, SACK and the loss rule) and the marking in ``on_rto``. With ``"gbn"`` none of it runs and
``can_send`` is go-back-N's ``snd_nxt < packets``. Interpretation choices:

15. An sr ACK carries two numbers; ``Packet.seq`` is the cumulative one (``rcv_nxt``), as for a
    go-back-N ACK, and ``Packet.sack`` the SACK. ``ecmp = "packet"`` hashes the cumulative
    number (§ ECMP: "for ACKs and NACKs, ``seq`` is the number they carry").
16. A SACK clears a lost mark (§ Selective repeat, an ACK at the source host): a packet marked
    lost whose original is SACKed before its resend left (it was overtaken by ≥ R others, or
    the timer marked it while it was in flight) is not resent.
17. After the loss rule, ``make_eligible`` and ``try_start`` run only if the flow can send; at an
    RTO that does not give up they run unconditionally, as under go-back-N (there an sr flow
    can always send: ``snd_una`` itself is never SACKed, so it is marked lost unless
    ``snd_una == snd_nxt``, and then a new packet fits the window).
18. The loss rule runs after every ACK, its SACK counted or not, and ``lost_scan`` then moves
    to ``max(lost_scan, sack_high − R + 1)``. When ``sack_high`` did not grow the rule's range
    is empty, so this is the same as running it only after a counted SACK; and the ``max`` only
    keeps ``lost_scan`` from going below 0 at the start (``sack_high − R + 1`` never decreases),
    where ``max(lost_scan, snd_una)`` is the same either way.

Trimming (``switch.trim``, ``switch.trim_queue``; docs/packet-engine.md § ARRIVE, *Trimming*, and
§ Selective repeat, *A trim NACK*) is ``trim_packet`` (called from ``forward``), the ``TRIM`` branch
of ``on_arrive`` (``receive_trim``, the receiver's trim NACK, sent by ``send_trim_nack`` at once or
at its ``NACK_DUE`` event when paced) and ``receive_trim_nack`` (the sender,
called by ``receive_nack`` under sr). The scenario refuses trim without sr. Interpretation choices:

19. ``switch.trim_queue`` acts only with ``switch.trim = true`` (the schema: "with trim: also
    trim ..."); with trim off the run is exactly the run without either key.
20. The trim decision is step 2, after routing (step 1) and the admission test, with the same
    ``q = q_data(egress)`` before the packet is added: a data packet is trimmed if admission
    fails, or if it is admitted and ``trim_queue > 0`` and ``q + w > trim_queue``. A trimmed
    packet skips steps 3 and 4 entirely: no ECN marking rule (so no random draw from the ECN
    stream either), no ingress (PFC) counter, no PAUSE; it goes to step 5, ``try_start(egress)``.
    The ECN rule at dequeue (``TX_DONE`` step 3) applies to data packets only, so not to it.
21. A trim is the same ``Packet`` object, changed in place: kind ``TRIM``, 64 wire bytes, no
    payload; flow and ``seq`` kept. It is enqueued like a forwarded ACK (control queue, the
    switch's shared buffer, ``TX_DONE`` step 2 releases it from the buffer only). It is routed
    in the data direction (``(src, dst)`` the flow's hosts; ``ecmp = "packet"`` hashes its seq;
    ``"adaptive"`` looks at the data queues as for the data packet). A CE mark the data packet
    got at an earlier switch stays counted there (``link_ecn``, ``flow_ecn``) but has no
    effect: a trim triggers no CNP at the receiver (paper) and its NACK echoes nothing (hpcc).
22. At the destination host a trim is neither a received data packet (``flow_received`` does
    not count it) nor subject to ``host.ack_every``: it is answered at once by a NACK (64 bytes,
    the trim's ``seq``, no SACK, no echo), whatever the flow's receive state. For a flow that
    gave up it is discarded, like everything else of that flow at the hosts (the gave-up check
    comes first in ``on_arrive``, as before).
23. At the source, under sr every NACK is a trim NACK. It marks ``n`` lost if ``snd_una <
    packets``, ``n ≥ snd_una``, and ``n`` is neither SACKed nor marked lost; it moves neither
    ``snd_una`` nor ``t_progress`` nor the timeout count, and ``lost_scan`` does not move (so
    the loss rule may mark ``n`` again later, if a SACK R beyond it arrives before the resend's
    SACK: a trimmed packet can then be resent twice). "Then, if the flow can send" does not
    depend on whether ``n`` was marked (it rejoins its ring and ``try_start`` runs either way;
    a flow that can send is always in its ring or waiting for PACE already, so this only
    matters if that were not so).
24. Conservation: every data packet sent is received, dropped, trimmed (``flow_trims``,
    ``link_trims``: counted on the egress port where it was trimmed), or in the fabric.

Sender-chosen entropy (``routing.ecmp = "spray"`` or ``"reps"``; docs/packet-engine.md § ECMP) is
``next_entropy`` (in ``pull``, after the packet is counted), ``Packet.ev`` (kept by a trim, copied
into the ACK or NACK that answers), the hash in ``route``, ``recycle_entropy`` (every ACK at the
source host of a flow that has not given up) and the freeze in ``on_rto``. Interpretation
choices:

25. ``k``, the flow's count of data packets sent before this one, is ``flow_packets`` before
    the pull counts this packet; a resend is counted like a first copy.
26. A flow's REPS state is written by ACKs that arrive after its last ACK (late duplicates) and
    by nothing the kernel's released context would see; no later pull reads it, so the traces
    are the same as if they wrote nothing (the kernel writes nothing once the context is gone).
27. The frozen cycle starts at slot 0 for a flow's first freeze and from the slot after the last
    one used otherwise, also across freezes (``last`` is not reset when a freeze ends).

Why a packet is resent (§ What is measured: ``flow_retx_trim_bytes``) is ``trim_lost``:

28. A resend counts as a trim's when the lost mark it clears was made by a trim NACK. A trim
    NACK for a packet already marked lost (by the loss rule or the timer) leaves the mark a
    loss's; a mark that an ACK clears (cumulative point or SACK) before the resend counts for
    nothing, so a trim's mark that outlives one resend cannot make a later one a trim's.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
PS_PER_S = 10**12
CTRL_BYTES = 64  # ACK, NACK, CNP, PAUSE and RESUME on the wire (the Ethernet minimum frame)

# Packet kinds.
DATA, ACK, PAUSE, RESUME, NACK, CNP = 0, 1, 2, 3, 4, 5
TRIM = 6  # a data packet trimmed to a 64-byte header by a switch, on its way to the receiver
# Event kinds (the argument is a flow id for START / RTO / PACE / CNP_DUE, a link id for
# TX_DONE / ARRIVE). CNP_DUE is the receiver's deferred CNP (the kernel's EV_CNP).
# CHECK's argument is a server, DONE's a task id.
START, TX_DONE, ARRIVE, RTO, PACE, CNP_DUE, CHECK, DONE, NACK_DUE = 0, 1, 2, 3, 4, 5, 6, 7, 8
# What a task is (from FlowTable.kind and the server of its two GPUs).
FABRIC, COMPUTE, SCALEUP = 0, 1, 2
TASK_COMPUTE = 1  # fabsim.traffic.table.TASK_COMPUTE (asserted in the tests)
# Where a flow is with respect to its host's send ring.
OUT, IN_RING, PACED = 0, 1, 2  # not in it / in it / waiting for its PACE event
# Queues of a port.
CTRL_Q, DATA_Q = 0, 1

# ECN presets (docs/packet-engine.md § ECN marking): Kmin, Kmax per 25 Gb/s of port rate; Pmax.
ECN_PRESETS = {"hpcc": (100_000, 400_000, 0.2), "paper": (5_000, 200_000, 0.01)}
PRESET_RATE_BPS = 25_000_000_000
HORIZON_PS = 2**62  # the end of a run without run.until (the driver's T_MAX_PS)
FLOWLET_SLOTS = 1024  # entries of a switch's flowlet table (§ ECMP, flowlet)


# ---- the hash and the random stream (pure Python, from their definitions) -------------------


def finalise64(z: int) -> int:
    """The splitmix64 finaliser (no increment)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix64(x: int) -> int:
    """``native/ecmp.py``'s ``mix64``: the finaliser of ``x + golden`` (mod 2⁶⁴)."""
    return finalise64((x + GOLDEN) & MASK64)


def ecmp_hash(seed: int, src: int, dst: int, flow_id: int, channel: int, switch: int) -> int:
    """``native/ecmp.py``'s ``ecmp_hash`` chain over (seed, src, dst, id, channel, switch)."""
    h = mix64(seed & MASK64)
    for v in (src, dst, flow_id, channel, switch):
        h = mix64(h ^ (v & MASK64))
    return h


class SplitMix64:
    """The run's ECN random stream (docs/packet-engine.md § ECN marking)."""

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next_u(self) -> float:
        self.state = (self.state + GOLDEN) & MASK64
        return finalise64(self.state) / 2**64


def ser_ps(wire: int, rate_bps: int) -> int:
    """Serialisation time ⌈8·w·10¹²/R⌉ ps (docs/packet-engine.md § Objects)."""
    return -((-8 * wire * PS_PER_S) // rate_bps)


# ---- packets ---------------------------------------------------------------------------------


class Packet:
    """One packet. ``seq`` is the data sequence number, or the cumulative number an ACK carries.

    ``in_link`` is the link it arrived on at the switch currently holding it (data packets);
    ``ce`` its ECN mark (on an ACK or NACK: the hpcc dialect's echo of the data packet's mark);
    ``sack`` the sequence number an sr ACK selectively acknowledges (−1 otherwise); ``ev`` its
    entropy value (``ecmp = "spray"`` or ``"reps"``; an ACK or NACK: the one of the packet it
    answers).
    """

    __slots__ = ("kind", "flow", "seq", "wire", "payload", "in_link", "ce", "sack", "ev")

    def __init__(self, kind: int, flow: int, seq: int, wire: int, payload: int = 0):
        self.kind = kind
        self.flow = flow
        self.seq = seq
        self.wire = wire
        self.payload = payload
        self.in_link = -1
        self.ce = False
        self.sack = -1
        self.ev = 0

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        names = {DATA: "DATA", ACK: "ACK", PAUSE: "PAUSE", RESUME: "RESUME", NACK: "NACK", CNP: "CNP", TRIM: "TRIM"}
        return f"{names[self.kind]}(f={self.flow}, seq={self.seq}, w={self.wire})"


# ---- DCQCN's reaction point ------------------------------------------------------------------


class ReactionPoint:
    """The DCQCN sender state of one flow (docs/dcqcn.md § Reaction point, § Timers without events).

    ``params`` is the resolved ``fabsim.scenario.protocol.Dcqcn``; ``line`` the line rate of the flow's NIC and
    ``rai`` / ``rhai`` its additive and hyper steps (all floats, bit/s). The three periodic
    timers are kept as their next expiry time (``None`` while not running) and applied lazily:
    ``advance(t)`` applies every expiry at or before ``t`` in time order, ties in the order
    α timer, decrease check, rate timer — the result of one event per expiry.
    """

    def __init__(self, params, line: float, rai: float, rhai: float):
        self.prm = params
        self.paper = params.dialect == "paper"
        self.line = line
        self.rai = rai
        self.rhai = rhai
        self.g = float(params.g)
        self.min_rate = float(params.min_rate_bps)
        self.F = int(params.fast_recovery)
        self.rc = line  # current rate Rc
        self.rt = line  # target rate Rt
        self.alpha = float(params.initial_alpha)
        self.T = 0  # timer stage
        self.BC = 0  # byte-counter stage (paper)
        self.bytes = 0  # bytes counted since the last byte-counter expiry or CNP (paper)
        self.running = False  # a congestion signal has arrived
        self.t_alpha = None  # next α-timer expiry
        self.t_dec = None  # next decrease check (hpcc)
        self.t_rate = None  # next rate-timer expiry
        self.sig_alpha = False  # hpcc: a signal arrived in the current α period
        self.sig_dec = False  # hpcc: a signal arrived since the last decrease check
        self.increased = False  # hpcc: an increase step happened since the last cut

    # -- the timers --

    def advance(self, t: int) -> None:
        """Apply every timer expiry at or before ``t``, in time order."""
        while True:
            due = [(x, order) for order, x in enumerate((self.t_alpha, self.t_dec, self.t_rate))
                   if x is not None and x <= t]
            if not due:
                return
            x, order = min(due)  # earliest; at equal times α, then decrease, then rate
            if order == 0:
                self.t_alpha = x + self.prm.alpha_timer_ps
                if self.paper or not self.sig_alpha:
                    self.alpha = (1.0 - self.g) * self.alpha  # a period without a signal
                else:
                    self.alpha = (1.0 - self.g) * self.alpha + self.g
                    self.sig_alpha = False
            elif order == 1:
                self.t_dec = x + self.prm.rate_decrease_interval_ps
                if self.sig_dec:
                    self.sig_dec = False
                    self.hpcc_cut(x)
            else:
                self.t_rate = x + self.prm.rate_timer_ps
                if self.paper:
                    self.T += 1
                    self.paper_increase()
                else:
                    self.hpcc_increase()

    # -- paper --

    def paper_increase(self) -> None:
        """One increase step, the stages already counted."""
        F, T, BC = self.F, self.T, self.BC
        rt = self.rt
        if max(T, BC) <= F:
            pass  # fast recovery: Rt stays
        elif min(T, BC) > F:
            rt = rt + (min(T, BC) - F) * self.rhai  # hyper increase
        else:
            rt = rt + self.rai  # additive increase
        self.rt = min(rt, self.line)
        self.rc = (self.rt + self.rc) / 2.0

    def paper_cnp(self, t: int) -> None:
        """A CNP reaches the sender at ``t`` (expiries up to ``t`` already applied)."""
        a = self.alpha
        self.rt = self.rc
        self.rc = max(self.min_rate, self.rc * (1.0 - a / 2.0))  # the α before this CNP
        self.alpha = (1.0 - self.g) * a + self.g
        self.T = self.BC = 0
        self.bytes = 0
        self.t_alpha = t + self.prm.alpha_timer_ps
        self.t_rate = t + self.prm.rate_timer_ps
        self.running = True

    # -- hpcc --

    def hpcc_cut(self, x: int) -> None:
        """A decrease check at ``x`` with a signal since the previous one."""
        if self.increased:  # CLAMP_TARGET_RATE 0: Rt ← Rc only after an increase
            self.rt = self.rc
        self.rc = max(self.min_rate, self.rc * (1.0 - self.alpha / 2.0))
        self.T = 0
        self.increased = False
        self.t_rate = x + self.prm.rate_timer_ps

    def hpcc_increase(self) -> None:
        """A rate-timer expiry; the stage is counted after the step."""
        if self.T == self.F:
            self.rt = min(self.rt + self.rai, self.line)  # one additive step
        elif self.T > self.F:
            self.rt = min(self.rt + self.rhai, self.line)  # hyper steps (constant)
        self.rc = self.rc / 2.0 + self.rt / 2.0
        self.T += 1
        self.increased = True

    def hpcc_echo(self, t: int) -> None:
        """An ACK or NACK echoing a mark reaches the sender at ``t``."""
        if not self.running:
            self.running = True
            self.alpha = float(self.prm.initial_alpha)
            self.t_alpha = t + self.prm.alpha_timer_ps
            self.t_dec = t + self.prm.rate_decrease_interval_ps + 1000  # + 1 ns
            self.sig_dec = True  # the first signal: for the decrease check only
        else:
            self.sig_alpha = self.sig_dec = True

    # -- what the engine calls --

    def signal(self, t: int) -> None:
        """A congestion signal at ``t``: a CNP (paper) or an echo (hpcc)."""
        self.advance(t)
        if self.paper:
            self.paper_cnp(t)
        else:
            self.hpcc_echo(t)

    def on_send(self, t: int, wire: int) -> int:
        """The flow puts a packet of ``wire`` bytes into its NIC at ``t``: the earliest time it
        may send the next one (§ Pacing); then the byte counter (Interpretation 8)."""
        self.advance(t)
        nxt = t
        if self.rc < self.line:
            nxt = t + math.ceil(float(wire) * 8e12 / self.rc)
        B = int(self.prm.byte_counter_bytes)
        if self.paper and B > 0 and self.running:
            self.bytes += wire
            if self.bytes >= B:
                self.bytes = 0
                self.BC += 1
                self.paper_increase()
        return nxt


# ---- the simulator ---------------------------------------------------------------------------


class PacketSim:
    """State and event handlers; one method per event kind of docs/packet-engine.md § Events."""

    def __init__(self, model, flows):
        sc = model.scenario
        fab = model.fabric
        if sc.cc.algorithm not in ("none", "dcqcn"):
            raise ValueError(
                f'the reference packet simulator implements cc.algorithm = "none" and "dcqcn", not {sc.cc.algorithm!r}'
            )
        if sc.failures:
            raise ValueError("the reference packet simulator does not model [[failures]]")
        self.model = model
        self.routing = model.routing
        self.seed = int(sc.run.seed)
        self.default_until = sc.run.until_ps

        # --- fabric ----------------------------------------------------------------------
        self.n_hosts = int(fab.n_hosts)
        self.n_nodes = int(fab.n_nodes)
        self.n_links = int(fab.n_links)
        self.link_src = [int(x) for x in fab.link_src]
        self.link_dst = [int(x) for x in fab.link_dst]
        self.link_rate = [int(x) for x in fab.link_rate_bps]
        self.link_delay = [int(x) for x in fab.link_delay_ps]
        self.link_rev = [int(x) for x in fab.link_rev]
        port_start = [int(x) for x in fab.port_start]
        self.n_ports = [port_start[n + 1] - port_start[n] for n in range(self.n_nodes)]
        self.host_uplink = [int(x) for x in fab.host_uplink]

        # --- [switch], [host], [routing] ---------------------------------------------------
        sw, host = sc.switch, sc.host
        self.buffer = int(sw.buffer_bytes)
        self.policy = sw.buffer_policy
        self.dt_alpha = float(sw.dt_alpha)
        self.latency = int(sw.latency_ps)
        self.ecn_on = bool(sw.ecn)
        self.ecn_at = sw.ecn_at
        self.pfc = bool(sw.pfc)
        self.xoff = int(sw.pfc_xoff_bytes)
        self.xon = int(sw.pfc_xon_bytes)
        self.trim = bool(sw.trim)  # a data packet that would be dropped is trimmed (sr only)
        self.trim_queue = int(sw.trim_queue_bytes) if self.trim else 0  # Interpretation 19
        self.pace_trim_nacks = bool(host.pace_trim_nacks)  # § Trimming, pacing
        self.trims_per_data = int(sw.trims_per_data) if self.trim else 0  # § try_start: T (0: trims first)
        self.mtu = int(host.mtu_bytes)
        self.header = int(host.header_bytes)
        self.rto = int(host.rto_ps)
        self.nack_on = bool(host.nack)
        self.retries = int(host.retries)
        self.ack_every = int(host.ack_every)
        self.sr = host.transport == "sr"  # selective repeat, else go-back-N
        self.sr_window = int(host.sr_window)  # W
        self.sr_reorder = int(host.sr_reorder)  # R
        self.ecmp = sc.routing.ecmp
        self.entropy = self.ecmp in ("spray", "reps")  # sender-chosen entropy (§ ECMP)
        self.n_entropies = int(sc.routing.entropies)
        self.reps_b = int(sc.routing.reps_buffer)
        self.flowlet_gap = int(sc.routing.flowlet_gap_ps)
        self.flowlets: dict[tuple[int, int], list] = {}  # (switch, slot) → [last time, port]
        kmin0, kmax0, pmax0 = ECN_PRESETS[sc.cc.preset]
        self.kmin, self.kmax = [], []
        for l in range(self.n_links):
            # the hpcc preset scales with the port rate; the paper's values are absolute
            r = self.link_rate[l] if sc.cc.preset == "hpcc" else PRESET_RATE_BPS
            self.kmin.append(int(sw.ecn_kmin_bytes) if sw.ecn_kmin_bytes is not None else kmin0 * r // PRESET_RATE_BPS)
            self.kmax.append(int(sw.ecn_kmax_bytes) if sw.ecn_kmax_bytes is not None else kmax0 * r // PRESET_RATE_BPS)
        self.pmax = float(sw.ecn_pmax) if sw.ecn_pmax is not None else pmax0
        self.rng = SplitMix64(self.seed)

        # --- flows ---------------------------------------------------------------------------
        from fabsim.run.paths import hash_ids  # the hash-id rule is shared definition, not engine code

        n = len(flows)
        self.n_flows = n
        self.f_src = [int(x) for x in flows.src]
        self.f_dst = [int(x) for x in flows.dst]
        self.f_size = [int(x) for x in flows.size_bytes]
        self.f_start = [int(x) for x in flows.start_ps]
        self.f_gap = [int(x) for x in flows.gap_ps]
        self.f_channel = [int(x) for x in flows.channel]
        self.f_hid = [int(x) for x in hash_ids(flows)]
        self.f_packets = [-(-s // self.mtu) for s in self.f_size]
        self.preds_left = [int(x) for x in flows.pred_count]
        succ_ptr = [int(x) for x in flows.succ_ptr]
        succ = [int(x) for x in flows.succ]
        self.f_succ = [succ[succ_ptr[f] : succ_ptr[f + 1]] for f in range(n)]

        # --- compute tasks and the scale-up domain (§ Tasks that are not fabric flows) --------
        topo = sc.topology
        self.G = int(topo.gpus_per_server)
        self.su_R = float(topo.scaleup_rate_bps)  # every scale-up port's capacity, float64
        self.su_latency = int(topo.scaleup_latency_ps)
        self.f_duration = [int(x) for x in flows.duration_ps]
        self.f_task = []
        for f in range(n):
            if int(flows.kind[f]) == TASK_COMPUTE:
                self.f_task.append(COMPUTE)
            elif self.G > 1 and self.f_src[f] // self.G == self.f_dst[f] // self.G:
                self.f_task.append(SCALEUP)
            else:
                self.f_task.append(FABRIC)
            if self.f_task[f] != FABRIC:
                self.f_packets[f] = 0  # Interpretation 13
        n_servers = -(-self.n_hosts // self.G)
        self.su_active: list[list[int]] = [[] for _ in range(n_servers)]  # in the order they started
        self.su_pending: list = [None] * n_servers  # time of the pending CHECK(s), None if none
        self.su_rem = [0.0] * n  # bytes left as of su_upd (float64)
        self.su_rate = [0.0] * n  # bit/s (float64)
        self.su_upd = [0] * n
        self.su_end = [0] * n  # projected end of transmission (ps)

        # --- [cc]: DCQCN (docs/dcqcn.md) -----------------------------------------------------
        self.dcqcn = None
        self.paper = False
        self.cc_sample = 0
        self.slice_ps = 0
        if sc.cc.algorithm == "dcqcn":
            from fabsim.scenario.protocol import resolve  # parameter resolution is shared definition, not engine code

            self.dcqcn = resolve(sc)
            self.paper = self.dcqcn.dialect == "paper"
            self.cc_sample = int(sc.output.cc_sample_ps)
            self.slice_ps = math.gcd(int(sc.output.queue_sample_ps), self.cc_sample)
        self.f_line = [float(self.link_rate[self.host_uplink[s]]) for s in self.f_src]

        # --- per-flow state ------------------------------------------------------------------
        self.snd_nxt = [0] * n
        self.snd_una = [0] * n
        self.snd_max = [0] * n  # highest snd_nxt reached: below it a transmission is a resend
        self.rcv_nxt = [0] * n
        self.t_progress = [0] * n
        self.in_ring = [OUT] * n  # OUT, IN_RING or PACED
        self.next_send = [0] * n  # pacing: the flow may not send before (DCQCN)
        self.rp: list = [None] * n  # ReactionPoint of each started flow (DCQCN)
        self.last_cnp = [None] * n  # time the receiver sent its last CNP for the flow (paper)
        self.cnp_pending = [False] * n  # a deferred CNP event is pending for the flow (paper)
        self.nack_for = [-1] * n  # rcv_nxt of the last NACK sent, per flow
        self.timeouts = [0] * n  # consecutive timeouts of the oldest unacknowledged packet
        self.gave_up = [False] * n  # host.retries exhausted: the flow is over at both ends
        self.timeouts_total = [0] * n  # every timeout of the flow, consecutive or not
        self.rings = [deque() for _ in range(self.n_hosts)]
        self.nack_free = [0] * self.n_hosts  # § Trimming, pacing: when each host may send its next trim NACK
        # selective repeat (§ Selective repeat): the sender's sets of packets SACKed and marked
        # lost, the highest SACK and the first packet the loss rule has not looked at; the
        # receiver's packets held beyond rcv_nxt
        self.sacked = [set() for _ in range(n)]
        self.lost = [set() for _ in range(n)]
        self.trim_lost = [set() for _ in range(n)]  # of the lost, those a trim NACK marked (Interpretation 28)
        self.sack_high = [-1] * n
        # § ECMP, reps: per flow, the circular buffer of entropy values and its state
        self.reps = [dict(slots=[None] * self.reps_b, head=0, last=-1, explore=self.reps_b, freeze=None)
                     for _ in range(n)] if self.ecmp == "reps" else []
        self.lost_scan = [0] * n
        self.held = [set() for _ in range(n)]

        # --- per-port / per-pipe / per-switch state -------------------------------------------
        L = self.n_links
        self.queues = [(deque(), deque()) for _ in range(L)]  # (control, data)
        self.q_bytes = [[0, 0] for _ in range(L)]  # [control bytes, data bytes]
        self.serving = [-1] * L  # queue being transmitted from (CTRL_Q / DATA_Q), −1 = idle
        self.paused = [False] * L
        self.paused_since = [0] * L
        self.pipes = [deque() for _ in range(L)]  # (arrival_ps, packet)
        self.used = [0] * self.n_nodes  # shared-buffer bytes of each switch
        self.ingress = [0] * L  # data bytes buffered at link_dst[l] that arrived on l
        self.pause_sent = [False] * L  # the switch at link_dst[l] has PAUSEd the sender of l

        # --- measurements ----------------------------------------------------------------------
        self.t_start = [-1] * n
        self.t_finish = [-1] * n
        self.flow_packets = [0] * n
        self.flow_retx_bytes = [0] * n
        self.flow_retx_trim_bytes = [0] * n  # of those, resent because a switch trimmed them
        self.flow_ecn = [0] * n
        self.flow_drops = [0] * n
        self.flow_trims = [0] * n  # data packets trimmed (switch.trim)
        self.flow_received = [0] * n  # data packets that reached the destination host
        self.flow_duplicates = [0] * n  # of those, packets the receiver had already
        self.flow_cnps = [0] * n  # congestion signals the sender received (CNPs / echoes)
        self.rate_samples: list = []  # (t_ps, flow, Rc, Rt, α) every output.cc_sample
        self.link_tx_bytes = [0] * L
        self.link_max_queue = [0] * L
        self.link_drops = [0] * L
        self.link_trims = [0] * L  # data packets trimmed at this (egress) port
        self.trim_run = [0] * L  # trims the port started since its last data packet (§ try_start)
        self.link_ecn = [0] * L
        self.link_pause_ps = [0] * L
        self.packet_hops = 0
        self.events = 0

        self.heap: list = []
        self.counter = 0
        self.now = 0

        # Load: START of every flow without predecessors, in flow-id order (§ Events, START).
        for f in range(n):
            if self.preds_left[f] == 0:
                self.schedule(self.f_start[f], START, f)

    # ---- helpers -----------------------------------------------------------------------------

    def is_switch(self, node: int) -> bool:
        return node >= self.n_hosts

    def schedule(self, t: int, kind: int, arg: int) -> None:
        """Push an event; ``seq`` (the scheduling counter) breaks ties (§ Events)."""
        heapq.heappush(self.heap, (t, self.counter, kind, arg))
        self.counter += 1

    def pipe_delay(self, l: int) -> int:
        """Link delay, plus the switch latency when the far end is a switch (§ Objects, Pipes)."""
        return self.link_delay[l] + (self.latency if self.is_switch(self.link_dst[l]) else 0)

    def enqueue(self, l: int, q: int, p: Packet) -> None:
        """Append ``p`` to queue ``q`` of port ``l``; a switch port also charges its buffer."""
        self.queues[l][q].append(p)
        self.q_bytes[l][q] += p.wire
        if self.is_switch(self.link_src[l]):
            self.used[self.link_src[l]] += p.wire
        if q == DATA_Q and self.q_bytes[l][DATA_Q] > self.link_max_queue[l]:
            self.link_max_queue[l] = self.q_bytes[l][DATA_Q]  # Interpretation 2

    def send_control(self, l: int, kind: int) -> None:
        """A switch emits PAUSE / RESUME on its port ``l`` (Interpretation 1), then try_start."""
        self.enqueue(l, CTRL_Q, Packet(kind, -1, -1, CTRL_BYTES))
        self.try_start(l)

    def ecn_mark(self, l: int, p: Packet, q: int) -> None:
        """The marking rule at port ``l`` with data-queue bytes ``q`` (§ ECN marking)."""
        kmin, kmax = self.kmin[l], self.kmax[l]
        if q <= kmin:
            return
        if q <= kmax:
            prob = self.pmax * (q - kmin) / (kmax - kmin)
            if not self.rng.next_u() < prob:
                return
        if not p.ce:  # Interpretation 3: a packet is marked (and counted) once
            p.ce = True
            self.link_ecn[l] += 1
            self.flow_ecn[p.flow] += 1

    def route(self, node: int, p: Packet) -> int:
        """Egress port of switch ``node`` for ``p`` (§ ECMP; routing.md)."""
        f = p.flow
        if p.kind == DATA or p.kind == TRIM:  # a trim travels on as the data packet it was
            src, dst = self.f_src[f], self.f_dst[f]
        else:  # an ACK travels from the flow's receiver back to its sender
            src, dst = self.f_dst[f], self.f_src[f]
        cands = [int(x) for x in self.routing.candidates(node, dst)]
        if not cands:
            raise RuntimeError(f"switch {node} has no route to host {dst}")
        n = len(cands)
        if n == 1:
            return cands[0]
        channel = self.f_channel[f]
        if self.ecmp == "packet":
            channel += 65536 * (p.seq + 1)
        elif self.entropy:
            channel += 65536 * (p.ev + 1)
        h = ecmp_hash(self.seed, src, dst, self.f_hid[f], channel, node)
        i = h % n
        flowlet = self.ecmp == "flowlet" and (p.kind == DATA or p.kind == TRIM)
        if flowlet:  # § ECMP, flowlet: the switch's table entry of the flow hash
            entry = self.flowlets.get((node, h % FLOWLET_SLOTS))
            if entry is not None and self.now - entry[0] <= self.flowlet_gap and entry[1] in cands:
                entry[0] = self.now
                return entry[1]
        elif self.ecmp != "adaptive":
            return cands[i]
        best, best_q = -1, None
        for k in range(n):  # from the flow-hash pick, cyclically; first minimum wins
            c = cands[(i + k) % n]
            q = self.q_bytes[c][DATA_Q]
            if best_q is None or q < best_q:
                best, best_q = c, q
        if flowlet:
            self.flowlets[(node, h % FLOWLET_SLOTS)] = [self.now, best]
        return best

    # ---- try_start and the send ring ---------------------------------------------------------

    def try_start(self, l: int) -> None:
        """§ try_start(l): control, else (unless paused) data, else (NIC, not paused) a pull."""
        if self.serving[l] >= 0:
            return
        ctrl, data = self.queues[l]
        T = self.trims_per_data
        if ctrl and T and ctrl[0].kind == TRIM and self.trim_run[l] >= T and not self.paused[l] and data:
            q = DATA_Q  # § try_start: after T trims, waiting data goes first
        elif ctrl:
            q = CTRL_Q
            if T and ctrl[0].kind == TRIM:
                self.trim_run[l] += 1
        elif not self.paused[l] and data:
            q = DATA_Q
        elif not self.paused[l] and not self.is_switch(self.link_src[l]) and self.pull(self.link_src[l]):
            q = DATA_Q
        else:
            return
        if q == DATA_Q:
            self.trim_run[l] = 0
        self.serving[l] = q
        self.schedule(self.now + ser_ps(self.queues[l][q][0].wire, self.link_rate[l]), TX_DONE, l)

    def pull(self, h: int) -> bool:
        """§ The send ring of a host: one packet of the front flow into the NIC's data queue."""
        ring = self.rings[h]
        if not ring:
            return False
        f = ring.popleft()
        self.in_ring[f] = OUT
        while not self.can_send(f):  # e.g. every packet already acknowledged (Interpretation 5)
            if not ring:
                return False
            f = ring.popleft()
            self.in_ring[f] = OUT
        by_trim = False
        if self.sr and self.lost[f]:  # § Selective repeat: the lowest packet marked lost first
            seq = min(self.lost[f])
            self.lost[f].remove(seq)
            by_trim = seq in self.trim_lost[f]
            self.trim_lost[f].discard(seq)
        else:
            seq = self.snd_nxt[f]
            self.snd_nxt[f] = seq + 1
        payload = min(self.mtu, self.f_size[f] - seq * self.mtu)
        wire = payload + self.header
        self.flow_packets[f] += 1
        if seq < self.snd_max[f]:  # Interpretation 4
            self.flow_retx_bytes[f] += payload
            if by_trim:  # Interpretation 28
                self.flow_retx_trim_bytes[f] += payload
        self.snd_max[f] = max(self.snd_max[f], seq + 1)
        if self.dcqcn is not None:  # § Pacing: the gap at the rate of this send
            self.next_send[f] = self.rp[f].on_send(self.now, wire)
        if self.can_send(f):
            self.make_eligible(f)  # back to the end of the ring, or PACE later
        packet = Packet(DATA, f, seq, wire, payload)
        if self.entropy:
            packet.ev = self.next_entropy(f, self.flow_packets[f] - 1)
        self.enqueue(self.host_uplink[h], DATA_Q, packet)
        return True

    def random_entropy(self, f: int, k: int) -> int:
        """§ ECMP, reps: the random value for the flow's ``k``-th data packet."""
        h = ecmp_hash(self.seed, self.f_src[f], self.f_dst[f], self.f_hid[f], self.f_channel[f], 2**32 + k)
        return h % self.n_entropies

    def next_entropy(self, f: int, k: int) -> int:
        """§ ECMP: the entropy value of the flow's ``k``-th data packet (k from 0, resends
        counted), sent at ``now``. REPS's slots hold ``None`` (empty) or ``[ev, fresh]``."""
        if self.ecmp == "spray":
            return k % self.n_entropies
        st = self.reps[f]
        if st["freeze"] is not None and self.now >= st["freeze"]:  # the freeze is over
            st["slots"] = [None] * self.reps_b
            st["freeze"] = None
            st["explore"] = self.reps_b
        if st["explore"] > 0:
            st["explore"] -= 1
            return self.random_entropy(f, k)
        slots = st["slots"]
        b = self.reps_b
        if st["freeze"] is not None:  # frozen: cycle through what the buffer holds, as it is
            for i in range(1, b + 1):
                j = (st["last"] + i) % b
                if slots[j] is not None:
                    st["last"] = j
                    return slots[j][0]
            return self.random_entropy(f, k)
        for i in range(b):  # the fresh value written longest ago
            j = (st["head"] + i) % b
            if slots[j] is not None and slots[j][1]:
                slots[j][1] = False
                return slots[j][0]
        return self.random_entropy(f, k)

    def recycle_entropy(self, p: Packet) -> None:
        """§ ECMP, reps: an ACK at the source host; unmarked, its ``ev`` is written as fresh."""
        if self.ecmp != "reps" or p.ce:
            return
        st = self.reps[p.flow]
        st["slots"][st["head"]] = [p.ev, True]
        st["head"] = (st["head"] + 1) % self.reps_b

    def can_send(self, f: int) -> bool:
        """Flow ``f`` has a packet to send: go-back-N, ``snd_nxt < packets``; selective repeat, a
        packet marked lost, or ``snd_nxt < packets`` and ``snd_nxt < snd_una + W``."""
        if not self.sr:
            return self.snd_nxt[f] < self.f_packets[f]
        if self.lost[f]:
            return True
        return self.snd_nxt[f] < self.f_packets[f] and self.snd_nxt[f] < self.snd_una[f] + self.sr_window

    def make_eligible(self, f: int) -> None:
        """Flow ``f`` has packets to send: it joins the end of its ring unless it is in it or
        waits for ``PACE`` already, or (DCQCN) waits for a ``PACE`` at the end of its gap."""
        if self.in_ring[f] != OUT:
            return
        if self.next_send[f] > self.now:  # Interpretation 9 when the flow had left the ring
            self.in_ring[f] = PACED
            self.schedule(self.next_send[f], PACE, f)
        else:
            self.rings[self.f_src[f]].append(f)
            self.in_ring[f] = IN_RING

    # ---- events ------------------------------------------------------------------------------

    def on_start(self, f: int) -> None:
        """§ START(f) of a fabric flow; compute tasks and scale-up transfers start below."""
        if self.f_task[f] == COMPUTE:
            self.on_start_compute(f)
            return
        if self.f_task[f] == SCALEUP:
            self.on_start_scaleup(f)
            return
        t = self.now
        self.t_start[f] = t
        self.snd_nxt[f] = self.snd_una[f] = 0
        self.t_progress[f] = t
        h = self.f_src[f]
        if self.dcqcn is not None:  # Rc = Rt = line rate, α = initial_alpha
            rai, rhai = self.dcqcn.steps_for(self.f_line[f])
            self.rp[f] = ReactionPoint(self.dcqcn, self.f_line[f], float(rai), float(rhai))
        self.rings[h].append(f)
        self.in_ring[f] = IN_RING
        self.schedule(t + self.rto, RTO, f)
        self.try_start(self.host_uplink[h])

    def on_pace(self, f: int) -> None:
        """PACE(f): the paced flow may send again (docs/packet-engine.md § The send ring)."""
        self.in_ring[f] = OUT
        if self.can_send(f):
            h = self.f_src[f]
            self.rings[h].append(f)
            self.in_ring[f] = IN_RING
            self.try_start(self.host_uplink[h])

    def on_tx_done(self, l: int) -> None:
        """§ TX_DONE(l), steps 1–5."""
        t = self.now
        q = self.serving[l]
        # 1. the head packet leaves its queue; a packet-hop and tx bytes are counted
        p = self.queues[l][q].popleft()
        self.q_bytes[l][q] -= p.wire
        self.packet_hops += 1
        self.link_tx_bytes[l] += p.wire
        node = self.link_src[l]
        if self.is_switch(node):
            # 2. the packet leaves the shared buffer; a data packet its ingress counter (PFC)
            self.used[node] -= p.wire
            if p.kind == DATA:
                i = p.in_link
                self.ingress[i] -= p.wire
                if self.pause_sent[i] and self.ingress[i] < self.xon:
                    self.pause_sent[i] = False
                    self.send_control(self.link_rev[i], RESUME)
            # 3. ECN at dequeue, with the data bytes left behind
            if p.kind == DATA and self.ecn_on and self.ecn_at == "dequeue":
                self.ecn_mark(l, p, self.q_bytes[l][DATA_Q])
        # 4. into the pipe
        pipe = self.pipes[l]
        pipe.append((t + self.pipe_delay(l), p))
        if len(pipe) == 1:
            self.schedule(pipe[0][0], ARRIVE, l)
        # 5. look for the next packet
        self.serving[l] = -1
        self.try_start(l)

    def on_arrive(self, l: int) -> None:
        """§ ARRIVE(l): PAUSE / RESUME; forwarding at a switch; reception at a host."""
        pipe = self.pipes[l]
        _, p = pipe.popleft()
        if pipe:
            self.schedule(pipe[0][0], ARRIVE, l)
        node = self.link_dst[l]
        if p.kind == PAUSE or p.kind == RESUME:
            self.on_pfc_frame(self.link_rev[l], p.kind)
        elif self.is_switch(node):
            self.forward(node, l, p)
        elif self.gave_up[p.flow]:  # § RTO: a flow that gave up discards what still arrives
            if p.kind == DATA:
                self.flow_received[p.flow] += 1
        elif p.kind == DATA:
            self.receive_data(node, p)
        elif p.kind == TRIM:
            self.receive_trim(node, p)
        elif p.kind == CNP:
            self.congestion_signal(p.flow)
        else:
            if p.ce and self.dcqcn is not None and not self.paper:
                self.congestion_signal(p.flow)  # hpcc: the ACK / NACK echoes a mark
            if p.kind == NACK:
                self.receive_nack(node, p)
            else:
                self.recycle_entropy(p)
                self.receive_ack(p)

    def congestion_signal(self, f: int) -> None:
        """A CNP (paper) or an echoing ACK / NACK (hpcc) reaches the sender of ``f``."""
        self.flow_cnps[f] += 1
        self.rp[f].signal(self.now)

    def on_pfc_frame(self, port: int, kind: int) -> None:
        """PAUSE / RESUME of the data priority of ``port`` (= rev of the link it came on)."""
        t = self.now
        if kind == PAUSE:
            if not self.paused[port]:
                self.paused[port] = True
                self.paused_since[port] = t
        elif self.paused[port]:
            self.paused[port] = False
            self.link_pause_ps[port] += t - self.paused_since[port]
            self.try_start(port)

    def forward(self, node: int, l: int, p: Packet) -> None:
        """§ ARRIVE at a switch, steps 1–5 (data and ACK packets); trimming (Interpretation 20)."""
        # 1. route
        egress = self.route(node, p)
        qd = self.q_bytes[egress][DATA_Q]
        if p.kind == DATA:
            # 2. admission
            if self.policy == "dynamic":
                ok = qd < self.dt_alpha * (self.buffer - self.used[node]) and self.used[node] + p.wire <= self.buffer
            else:
                ok = (qd + p.wire) * self.n_ports[node] <= self.buffer  # ≡ q + w ≤ buffer / ports
            if not ok and not self.trim:
                self.link_drops[egress] += 1
                self.flow_drops[p.flow] += 1
                return
            # trimming: instead of a drop, or above trim_queue (same q, before the packet)
            if not ok or (self.trim_queue > 0 and qd + p.wire > self.trim_queue):
                self.trim_packet(egress, p)  # skips steps 3 and 4
                self.try_start(egress)  # 5.
                return
            # 3. ECN at enqueue, with the data bytes already queued
            if self.ecn_on and self.ecn_at == "enqueue":
                self.ecn_mark(egress, p, qd)
            # 4. enqueue; the ingress counter of l, and PAUSE above xoff
            p.in_link = l
            self.enqueue(egress, DATA_Q, p)
            self.ingress[l] += p.wire
            if self.pfc and self.ingress[l] > self.xoff and not self.pause_sent[l]:
                self.pause_sent[l] = True
                self.send_control(self.link_rev[l], PAUSE)
        else:
            self.enqueue(egress, CTRL_Q, p)
        # 5.
        self.try_start(egress)

    def trim_packet(self, egress: int, p: Packet) -> None:
        """§ Trimming: data packet ``p`` becomes a 64-byte trim of the same flow and ``seq``
        (Interpretation 21), counted on ``egress`` and on its flow, and joins the port's control
        queue and the switch's buffer (no ECN, no PFC ingress accounting)."""
        p.kind = TRIM
        p.wire = CTRL_BYTES
        p.payload = 0
        self.link_trims[egress] += 1
        self.flow_trims[p.flow] += 1
        self.enqueue(egress, CTRL_Q, p)

    def receive_trim(self, h: int, p: Packet) -> None:
        """§ Trimming: a trim at its destination host is answered by a NACK carrying its ``seq``
        (the trim NACK; no echo), on the host's control queue, then try_start (Interpretation 22);
        paced, no sooner than ``nack_free[h]``, which moves on by packet ``seq``'s wire time on
        the link into ``h`` (the NACK event at a later time)."""
        nack = Packet(NACK, p.flow, p.seq, CTRL_BYTES)
        nack.ev = p.ev
        if self.pace_trim_nacks:
            r = max(self.now, self.nack_free[h])
            payload = min(self.mtu, self.f_size[p.flow] - p.seq * self.mtu)
            self.nack_free[h] = r + ser_ps(payload + self.header, self.link_rate[self.link_rev[self.host_uplink[h]]])
            if r > self.now:
                self.schedule(r, NACK_DUE, nack)
                return
        self.send_trim_nack(nack)

    def send_trim_nack(self, nack: Packet) -> None:
        """The trim NACK ``nack`` leaves its host (the flow's destination): its control queue,
        then try_start."""
        uplink = self.host_uplink[self.f_dst[nack.flow]]
        self.enqueue(uplink, CTRL_Q, nack)
        self.try_start(uplink)

    def receive_data(self, h: int, p: Packet) -> None:
        """§ ARRIVE at a host: in-order acceptance (go-back-N) or holding (selective repeat),
        reception, successors, the ACK."""
        t = self.now
        f = p.flow
        self.flow_received[f] += 1
        reply = ACK
        coalesced = False  # host.ack_every: an in-order packet that is not ACKed
        if self.sr:
            if p.seq < self.rcv_nxt[f] or p.seq in self.held[f]:
                self.flow_duplicates[f] += 1  # the receiver had it already
            coalesced = self.sr_accept(f, p.seq)
        else:
            if p.seq < self.rcv_nxt[f]:
                self.flow_duplicates[f] += 1
            if p.seq > self.rcv_nxt[f] and self.nack_on and self.nack_for[f] != self.rcv_nxt[f]:
                self.nack_for[f] = self.rcv_nxt[f]  # one NACK per gap
                reply = NACK
            if p.seq == self.rcv_nxt[f]:
                self.rcv_nxt[f] += 1
                if self.rcv_nxt[f] == self.f_packets[f]:
                    self.received(f)
                else:
                    coalesced = self.rcv_nxt[f] % self.ack_every != 0
        uplink = self.host_uplink[h]
        if self.dcqcn is not None and self.paper and p.ce:
            # the notification point: a CNP at once if none went out for f in the last
            # cnp_interval, else one (a single pending CNP event) when that interval ends
            last = self.last_cnp[f]
            if last is None or t - last >= self.dcqcn.cnp_interval_ps:
                self.send_cnp(f)
            elif not self.cnp_pending[f]:
                self.cnp_pending[f] = True
                self.schedule(last + self.dcqcn.cnp_interval_ps, CNP_DUE, f)
        if coalesced:
            return
        ack = Packet(reply, f, self.rcv_nxt[f], CTRL_BYTES)
        if self.sr:
            ack.sack = p.seq  # the packet's own sequence number (Interpretation 15)
        if (self.dcqcn is not None and not self.paper) or self.entropy:
            ack.ce = p.ce  # hpcc, and sender-chosen entropy: the echo
        ack.ev = p.ev
        self.enqueue(uplink, CTRL_Q, ack)
        self.try_start(uplink)

    def sr_accept(self, f: int, seq: int) -> bool:
        """§ Selective repeat, the receiver: packet ``seq`` of ``f`` arrives. ``seq == rcv_nxt``
        is accepted and ``rcv_nxt`` moves past it and past every packet held after it (the flow
        is received when it reaches the packet count); a packet beyond ``rcv_nxt`` not yet held
        is held; anything else is a duplicate and changes nothing. Returns whether
        ``host.ack_every`` leaves the packet unanswered: an accepted packet is answered if it
        filled a hole (``rcv_nxt`` moved past held packets), the new ``rcv_nxt`` is a multiple of
        N or the flow is received; every other packet always."""
        held = self.held[f]
        if seq == self.rcv_nxt[f]:
            nxt = seq + 1
            while nxt in held:
                held.remove(nxt)
                nxt += 1
            self.rcv_nxt[f] = nxt
            if nxt == self.f_packets[f]:
                self.received(f)
                return False
            return nxt == seq + 1 and nxt % self.ack_every != 0
        if seq > self.rcv_nxt[f] and seq not in held:
            held.add(seq)
        return False

    def received(self, f: int) -> None:
        """Task ``f`` is over at ``now`` (finish time); successors whose last predecessor it was
        get ``START`` at ``max(t + gap, start_ps)``, in successor order."""
        t = self.now
        self.t_finish[f] = t
        for s in self.f_succ[f]:
            self.preds_left[s] -= 1
            if self.preds_left[s] == 0:
                self.schedule(max(t + self.f_gap[s], self.f_start[s]), START, s)

    # ---- compute tasks and scale-up transfers ------------------------------------------------

    def on_start_compute(self, f: int) -> None:
        """START(f) of a compute task: DONE(f) after its duration."""
        self.t_start[f] = self.now
        self.schedule(self.now + self.f_duration[f], DONE, f)

    def on_done(self, f: int) -> None:
        """DONE(f): a compute task ends, or a scale-up transfer is received."""
        self.received(f)

    def on_start_scaleup(self, f: int) -> None:
        """START(f) of a scale-up transfer: it joins its server's list; the server is re-solved."""
        t = self.now
        self.t_start[f] = t
        self.su_rem[f] = float(self.f_size[f])
        self.su_rate[f] = 0.0
        self.su_upd[f] = t
        s = self.f_src[f] // self.G
        self.su_active[s].append(f)
        self.resolve_server(s)

    def resolve_server(self, s: int) -> None:
        """Re-solve server ``s`` at ``now``: steps (1)–(4)."""
        t = self.now
        G = self.G
        active = self.su_active[s]
        # (1) bytes left, in list order, at the old rates
        for f in active:
            rem = self.su_rem[f] - self.su_rate[f] * float(t - self.su_upd[f]) / 8e12
            self.su_rem[f] = rem if rem > 0.0 else 0.0
            self.su_upd[f] = t
        # (2) progressive filling over the 2G ports: egress i = i, ingress i = G + i
        ports = {f: (self.f_src[f] % G, G + self.f_dst[f] % G) for f in active}
        cap = [self.su_R] * (2 * G)
        cnt = [0] * (2 * G)
        for f in active:
            for j in ports[f]:
                cnt[j] += 1
        frozen = set()
        while len(frozen) < len(active):
            best = -1
            for j in range(2 * G):  # the smallest cap/cnt over ports with users; ties: lowest j
                if cnt[j] > 0 and (best < 0 or max(cap[j], 0.0) / cnt[j] < max(cap[best], 0.0) / cnt[best]):
                    best = j
            share = max(cap[best], 0.0) / cnt[best]  # a capacity below 0 counts as 0
            assert share > 0.0, "a scale-up port with users left has no capacity left"
            for f in active:
                if f not in frozen and best in ports[f]:
                    self.su_rate[f] = share
                    frozen.add(f)
                    for j in ports[f]:  # egress first
                        cap[j] -= share
                        cnt[j] -= 1
        # (3) projected ends
        for f in active:
            self.su_end[f] = t + math.ceil(self.su_rem[f] * 8e12 / self.su_rate[f])
        # (4) the check
        T = min(self.su_end[f] for f in active)
        if self.su_pending[s] is None or T < self.su_pending[s]:
            self.schedule(T, CHECK, s)
            self.su_pending[s] = T

    def on_check(self, s: int) -> None:
        """CHECK(s): transfers whose transmission has ended leave; DONE after the latency."""
        if self.su_pending[s] != self.now:  # the pending check is a time (superseded ones at it act)
            return
        self.su_pending[s] = None
        t = self.now
        active = self.su_active[s]
        left = [f for f in active if self.su_end[f] <= t]
        if left:
            self.su_active[s] = [f for f in active if self.su_end[f] > t]
            for f in left:
                self.schedule(t + self.su_latency, DONE, f)
            if self.su_active[s]:
                self.resolve_server(s)
        else:
            T = min(self.su_end[f] for f in active)
            self.schedule(T, CHECK, s)
            self.su_pending[s] = T

    def send_cnp(self, f: int) -> None:
        """The receiver of ``f`` sends a CNP now (Interpretation 10), then try_start."""
        self.last_cnp[f] = self.now
        uplink = self.host_uplink[self.f_dst[f]]
        self.enqueue(uplink, CTRL_Q, Packet(CNP, f, 0, CTRL_BYTES))
        self.try_start(uplink)

    def on_cnp_due(self, f: int) -> None:
        """CNP(f): the deferred CNP of a flow whose packets were marked within cnp_interval."""
        self.cnp_pending[f] = False
        self.send_cnp(f)

    def receive_nack(self, h: int, p: Packet) -> None:
        """§ ARRIVE: a NACK at the source host: go back to the first missing packet. Under sr
        every NACK is a trim NACK (sr receivers send no gap NACKs)."""
        if self.sr:
            self.receive_trim_nack(p)
            return
        f = p.flow
        if p.seq < self.snd_una[f]:
            return
        if p.seq > self.snd_una[f]:
            self.timeouts[f] = 0
        self.snd_una[f] = p.seq
        self.t_progress[f] = self.now
        self.snd_nxt[f] = p.seq
        self.make_eligible(f)
        self.try_start(self.host_uplink[h])

    def receive_trim_nack(self, p: Packet) -> None:
        """§ Selective repeat, a trim NACK (``n`` = ``p.seq``) at the source host: ``n`` is marked
        lost if the flow's last ACK has not arrived, ``n ≥ snd_una`` and ``n`` is neither SACKed
        nor marked lost; then, if the flow can send, its ring and ``try_start`` (Interpretation 23)."""
        f, n = p.flow, p.seq
        if self.snd_una[f] < self.f_packets[f] and n >= self.snd_una[f] and n not in self.sacked[f]:
            if n not in self.lost[f]:  # already marked lost (by FACK or the timer) stays a loss's
                self.trim_lost[f].add(n)
            self.lost[f].add(n)
        if self.can_send(f):
            self.make_eligible(f)
            self.try_start(self.host_uplink[self.f_src[f]])

    def receive_ack(self, p: Packet) -> None:
        """§ ARRIVE: an ACK at the source host."""
        if self.sr:
            self.receive_ack_sr(p)
            return
        f = p.flow
        if p.seq > self.snd_una[f]:
            self.snd_una[f] = p.seq
            self.t_progress[f] = self.now
            self.timeouts[f] = 0
            self.snd_nxt[f] = max(self.snd_nxt[f], p.seq)

    def receive_ack_sr(self, p: Packet) -> None:
        """§ Selective repeat: an ACK (``cum`` = ``p.seq``, ``sack`` = ``p.sack``) at the source
        host: the cumulative part, the SACK, the loss rule, then the ring if the flow can send."""
        f = p.flow
        cum, sack = p.seq, p.sack
        if cum > self.snd_una[f]:
            self.snd_una[f] = cum
            self.t_progress[f] = self.now
            self.timeouts[f] = 0
            self.sacked[f] = {s for s in self.sacked[f] if s >= cum}  # packets below cum leave both sets
            self.lost[f] = {s for s in self.lost[f] if s >= cum}
        if sack >= self.snd_una[f]:  # SACKed: no longer to be resent
            self.sacked[f].add(sack)
            self.lost[f].discard(sack)
            self.sack_high[f] = max(self.sack_high[f], sack)
        # The loss rule (FACK): a packet R sequence numbers below the highest SACK and neither
        # SACKed nor marked lost is marked lost; each is judged once (Interpretation 18).
        top = self.sack_high[f] - self.sr_reorder
        for h in range(max(self.lost_scan[f], self.snd_una[f]), top + 1):
            if h not in self.sacked[f] and h not in self.lost[f]:
                self.lost[f].add(h)
        self.lost_scan[f] = max(self.lost_scan[f], top + 1)
        self.trim_lost[f] &= self.lost[f]  # unmarked by the cumulative point or a SACK
        if self.can_send(f):  # Interpretation 17
            self.make_eligible(f)
            self.try_start(self.host_uplink[self.f_src[f]])

    def on_rto(self, f: int) -> None:
        """§ RTO(f); with selective repeat, § Selective repeat (RTO)."""
        t = self.now
        if self.snd_una[f] == self.f_packets[f]:
            return
        if t - self.t_progress[f] >= self.rto:
            self.timeouts[f] += 1
            self.timeouts_total[f] += 1
            if self.timeouts[f] > self.retries:  # the retry count is exhausted: give up
                self.gave_up[f] = True
                self.snd_nxt[f] = self.f_packets[f]  # leaves its ring at the next pull
                self.lost[f].clear()  # selective repeat: nothing is left to resend
                self.trim_lost[f].clear()
                return
            if self.sr:  # every packet sent, unacknowledged, neither SACKed nor marked: lost
                for seq in range(self.snd_una[f], self.snd_nxt[f]):
                    if seq not in self.sacked[f] and seq not in self.lost[f]:
                        self.lost[f].add(seq)
            else:  # go-back-N
                self.snd_nxt[f] = self.snd_una[f]
            if self.ecmp == "reps":  # § ECMP, reps: freeze
                self.reps[f]["freeze"] = t + self.rto
            self.t_progress[f] = t
            h = self.f_src[f]
            self.make_eligible(f)
            self.schedule(t + self.rto, RTO, f)
            self.try_start(self.host_uplink[h])
        else:
            self.schedule(self.t_progress[f] + self.rto, RTO, f)

    # ---- the loop ----------------------------------------------------------------------------

    def sample_rates_if(self, t: int) -> None:
        """At a slice end ``t`` that is a multiple of ``cc_sample``: (t, f, Rc, Rt, α) of every
        flow that started and is not received, its timers brought up to ``t``."""
        if t % self.cc_sample:
            return
        for f in range(self.n_flows):
            if self.t_start[f] >= 0 and self.t_finish[f] < 0 and self.f_task[f] == FABRIC:  # Interpr. 14
                rp = self.rp[f]
                rp.advance(t)
                self.rate_samples.append((t, f, rp.rc, rp.rt, rp.alpha))

    def run(self, until_ps: int | None = None) -> dict:
        if until_ps is None:
            until_ps = self.default_until
        handlers = {START: self.on_start, TX_DONE: self.on_tx_done, ARRIVE: self.on_arrive, RTO: self.on_rto,
                    PACE: self.on_pace, CNP_DUE: self.on_cnp_due, CHECK: self.on_check, DONE: self.on_done,
                    NACK_DUE: self.send_trim_nack}
        # The rates samples (Interpretation 12): slice ends every slice_ps up to the horizon.
        sampling = self.dcqcn is not None and self.cc_sample > 0
        horizon = until_ps if until_ps is not None else HORIZON_PS
        slice_end = min(self.slice_ps, horizon) if sampling else None
        stopped = False
        while self.heap:
            t, _, kind, arg = self.heap[0]
            if until_ps is not None and t > until_ps:
                stopped = True
                break
            while sampling and slice_end < t:  # the slices before t are over
                self.sample_rates_if(slice_end)
                slice_end = min(slice_end + self.slice_ps, horizon)
            heapq.heappop(self.heap)
            assert t >= self.now, "time went backwards"
            self.now = t
            self.events += 1
            handlers[kind](arg)
        if sampling:
            while stopped and slice_end < horizon:
                self.sample_rates_if(slice_end)
                slice_end = min(slice_end + self.slice_ps, horizon)
            self.sample_rates_if(slice_end)  # the slice in which the run ended
        # § What is measured: every flow received → the last reception (retransmission timers
        # still pending at until are not traffic, and the run was not cut short); else until
        # when events remained after it; else the last event.
        complete = self.n_flows > 0 and all(t >= 0 for t in self.t_finish)
        if complete:
            end_ps = max(self.t_finish)
            stopped = False
        elif stopped:
            end_ps = until_ps
        else:
            end_ps = self.now
        for l in range(self.n_links):  # Interpretation 6
            if self.paused[l]:
                self.link_pause_ps[l] += end_ps - self.paused_since[l]
        return {
            "t_start_ps": self.t_start,
            "t_finish_ps": self.t_finish,
            "flow_packets": self.flow_packets,
            "flow_retx_bytes": self.flow_retx_bytes,
            "flow_retx_trim_bytes": self.flow_retx_trim_bytes,
            "flow_ecn": self.flow_ecn,
            "flow_drops": self.flow_drops,
            "flow_trims": self.flow_trims,
            "flow_received": self.flow_received,
            "flow_duplicates": self.flow_duplicates,
            "flow_cnps": self.flow_cnps,
            "flow_gave_up": self.gave_up,
            "flow_timeouts": self.timeouts_total,
            "rate_samples": self.rate_samples,
            "link_tx_bytes": self.link_tx_bytes,
            "link_max_queue": self.link_max_queue,
            "link_drops": self.link_drops,
            "link_trims": self.link_trims,
            "link_ecn": self.link_ecn,
            "link_pause_ps": self.link_pause_ps,
            "packet_hops": self.packet_hops,
            "events": self.events,
            "end_ps": end_ps,
            "stopped_at_until": stopped,
            # what is still in the fabric when the run ends (all zero after a complete run)
            "residual_bytes": sum(self.used) + sum(self.ingress)
            + sum(a + b for a, b in self.q_bytes)
            + sum(len(pp) for pp in self.pipes),
        }


def simulate(model, flows, *, until_ps: int | None = None) -> dict:
    """Run the packet engine's semantics on ``model`` (a ``fabsim.model.Model``) and ``flows``.

    ``until_ps`` (default: ``scenario.run.until_ps``) stops before the first event later than it.
    Returns plain lists keyed like ``fabsim.run.record.RawRun``'s fields: per flow ``t_start_ps``,
    ``t_finish_ps`` (−1 if never started / received), ``flow_packets``, ``flow_retx_bytes``
    (of which ``flow_retx_trim_bytes`` resent on a trim NACK),
    ``flow_ecn``, ``flow_drops``, ``flow_trims`` (data packets trimmed, ``switch.trim``),
    ``flow_received`` (data packets that reached the destination, in order or not; a trim is
    not one), ``flow_cnps`` (DCQCN congestion signals the sender received); per directed link
    ``link_tx_bytes``, ``link_max_queue``, ``link_drops``, ``link_trims``, ``link_ecn``,
    ``link_pause_ps``;
    and ``packet_hops``, ``events``, ``end_ps``, ``stopped_at_until``, ``residual_bytes``, and
    ``rate_samples``: ``(t_ps, flow, Rc, Rt, α)`` tuples in the order of ``RawRun.rate_samples``
    (empty unless DCQCN runs with ``output.cc_sample``).
    """
    return PacketSim(model, flows).run(until_ps)
