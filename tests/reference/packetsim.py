"""A slow, obviously correct packet-level simulator: docs/packet-engine.md, line by line.

This is the independent re-implementation that the packet kernel (``native/packet.py``, driven
by ``fabsim.packetsim.run_packet_engine``) is compared against, field by field and to the
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
   is charged up to ``end_ps`` (``until_ps`` when the run was cut there, the last reception when
   every flow completed, else the time of the last event processed).
7. ``events`` counts events popped and processed (those after ``until_ps`` are not).
"""

from __future__ import annotations

import heapq
from collections import deque

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
PS_PER_S = 10**12
CTRL_BYTES = 64  # ACK, NACK, PAUSE and RESUME on the wire (the Ethernet minimum frame)

# Packet kinds.
DATA, ACK, PAUSE, RESUME, NACK = 0, 1, 2, 3, 4
# Event kinds (the argument is a flow id for START / RTO, a link id for TX_DONE / ARRIVE).
START, TX_DONE, ARRIVE, RTO = 0, 1, 2, 3
# Queues of a port.
CTRL_Q, DATA_Q = 0, 1

# ECN presets (docs/packet-engine.md § ECN marking): Kmin, Kmax per 25 Gb/s of port rate; Pmax.
ECN_PRESETS = {"hpcc": (100_000, 400_000, 0.2), "paper": (5_000, 200_000, 0.01)}
PRESET_RATE_BPS = 25_000_000_000


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
    ``ce`` its ECN mark.
    """

    __slots__ = ("kind", "flow", "seq", "wire", "payload", "in_link", "ce")

    def __init__(self, kind: int, flow: int, seq: int, wire: int, payload: int = 0):
        self.kind = kind
        self.flow = flow
        self.seq = seq
        self.wire = wire
        self.payload = payload
        self.in_link = -1
        self.ce = False

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        names = {DATA: "DATA", ACK: "ACK", PAUSE: "PAUSE", RESUME: "RESUME", NACK: "NACK"}
        return f"{names[self.kind]}(f={self.flow}, seq={self.seq}, w={self.wire})"


# ---- the simulator ---------------------------------------------------------------------------


class PacketSim:
    """State and event handlers; one method per event kind of docs/packet-engine.md § Events."""

    def __init__(self, model, flows):
        sc = model.scenario
        fab = model.fabric
        if sc.cc.algorithm != "none":
            raise ValueError(
                f'the reference packet simulator implements cc.algorithm = "none" only, not {sc.cc.algorithm!r}'
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
        self.mtu = int(host.mtu_bytes)
        self.header = int(host.header_bytes)
        self.rto = int(host.rto_ps)
        self.nack_on = bool(host.nack)
        self.ecmp = sc.routing.ecmp
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
        from fabsim.raw import hash_ids  # the hash-id rule is shared definition, not engine code

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

        # --- per-flow state ------------------------------------------------------------------
        self.snd_nxt = [0] * n
        self.snd_una = [0] * n
        self.snd_max = [0] * n  # highest snd_nxt reached: below it a transmission is a resend
        self.rcv_nxt = [0] * n
        self.t_progress = [0] * n
        self.in_ring = [False] * n
        self.nack_for = [-1] * n  # rcv_nxt of the last NACK sent, per flow
        self.rings = [deque() for _ in range(self.n_hosts)]

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
        self.flow_ecn = [0] * n
        self.flow_drops = [0] * n
        self.flow_received = [0] * n  # data packets that reached the destination host
        self.link_tx_bytes = [0] * L
        self.link_max_queue = [0] * L
        self.link_drops = [0] * L
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
        if p.kind == DATA:
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
        i = ecmp_hash(self.seed, src, dst, self.f_hid[f], channel, node) % n
        if self.ecmp != "adaptive":
            return cands[i]
        best, best_q = -1, None
        for k in range(n):  # from the flow-hash pick, cyclically; first minimum wins
            c = cands[(i + k) % n]
            q = self.q_bytes[c][DATA_Q]
            if best_q is None or q < best_q:
                best, best_q = c, q
        return best

    # ---- try_start and the send ring ---------------------------------------------------------

    def try_start(self, l: int) -> None:
        """§ try_start(l): control, else (unless paused) data, else (NIC, not paused) a pull."""
        if self.serving[l] >= 0:
            return
        ctrl, data = self.queues[l]
        if ctrl:
            q = CTRL_Q
        elif not self.paused[l] and data:
            q = DATA_Q
        elif not self.paused[l] and not self.is_switch(self.link_src[l]) and self.pull(self.link_src[l]):
            q = DATA_Q
        else:
            return
        self.serving[l] = q
        self.schedule(self.now + ser_ps(self.queues[l][q][0].wire, self.link_rate[l]), TX_DONE, l)

    def pull(self, h: int) -> bool:
        """§ The send ring of a host: one packet of the front flow into the NIC's data queue."""
        ring = self.rings[h]
        if not ring:
            return False
        f = ring.popleft()
        while self.snd_nxt[f] >= self.f_packets[f]:  # every packet already acknowledged
            self.in_ring[f] = False
            if not ring:
                return False
            f = ring.popleft()
        seq = self.snd_nxt[f]
        payload = min(self.mtu, self.f_size[f] - seq * self.mtu)
        self.snd_nxt[f] = seq + 1
        if self.snd_nxt[f] < self.f_packets[f]:
            ring.append(f)
        else:
            self.in_ring[f] = False
        self.flow_packets[f] += 1
        if seq < self.snd_max[f]:  # Interpretation 4
            self.flow_retx_bytes[f] += payload
        self.snd_max[f] = max(self.snd_max[f], seq + 1)
        self.enqueue(self.host_uplink[h], DATA_Q, Packet(DATA, f, seq, payload + self.header, payload))
        return True

    # ---- events ------------------------------------------------------------------------------

    def on_start(self, f: int) -> None:
        """§ START(f)."""
        t = self.now
        self.t_start[f] = t
        self.snd_nxt[f] = self.snd_una[f] = 0
        self.t_progress[f] = t
        h = self.f_src[f]
        self.rings[h].append(f)
        self.in_ring[f] = True
        self.schedule(t + self.rto, RTO, f)
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
        elif p.kind == DATA:
            self.receive_data(node, p)
        elif p.kind == NACK:
            self.receive_nack(node, p)
        else:
            self.receive_ack(p)

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
        """§ ARRIVE at a switch, steps 1–5 (data and ACK packets)."""
        # 1. route
        egress = self.route(node, p)
        qd = self.q_bytes[egress][DATA_Q]
        if p.kind == DATA:
            # 2. admission
            if self.policy == "dynamic":
                ok = qd < self.dt_alpha * (self.buffer - self.used[node]) and self.used[node] + p.wire <= self.buffer
            else:
                ok = (qd + p.wire) * self.n_ports[node] <= self.buffer  # ≡ q + w ≤ buffer / ports
            if not ok:
                self.link_drops[egress] += 1
                self.flow_drops[p.flow] += 1
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

    def receive_data(self, h: int, p: Packet) -> None:
        """§ ARRIVE at a host: in-order acceptance, reception, successors, the ACK."""
        t = self.now
        f = p.flow
        self.flow_received[f] += 1
        reply = ACK
        if p.seq > self.rcv_nxt[f] and self.nack_on and self.nack_for[f] != self.rcv_nxt[f]:
            self.nack_for[f] = self.rcv_nxt[f]  # one NACK per gap
            reply = NACK
        if p.seq == self.rcv_nxt[f]:
            self.rcv_nxt[f] += 1
            if self.rcv_nxt[f] == self.f_packets[f]:
                self.t_finish[f] = t
                for s in self.f_succ[f]:
                    self.preds_left[s] -= 1
                    if self.preds_left[s] == 0:
                        self.schedule(max(t + self.f_gap[s], self.f_start[s]), START, s)
        uplink = self.host_uplink[h]
        self.enqueue(uplink, CTRL_Q, Packet(reply, f, self.rcv_nxt[f], CTRL_BYTES))
        self.try_start(uplink)

    def receive_nack(self, h: int, p: Packet) -> None:
        """§ ARRIVE: a NACK at the source host: go back to the first missing packet."""
        f = p.flow
        if p.seq < self.snd_una[f]:
            return
        self.snd_una[f] = p.seq
        self.t_progress[f] = self.now
        self.snd_nxt[f] = p.seq
        if not self.in_ring[f]:
            self.rings[h].append(f)
            self.in_ring[f] = True
        self.try_start(self.host_uplink[h])

    def receive_ack(self, p: Packet) -> None:
        """§ ARRIVE: an ACK at the source host."""
        f = p.flow
        if p.seq > self.snd_una[f]:
            self.snd_una[f] = p.seq
            self.t_progress[f] = self.now
            self.snd_nxt[f] = max(self.snd_nxt[f], p.seq)

    def on_rto(self, f: int) -> None:
        """§ RTO(f)."""
        t = self.now
        if self.snd_una[f] == self.f_packets[f]:
            return
        if t - self.t_progress[f] >= self.rto:
            self.snd_nxt[f] = self.snd_una[f]
            self.t_progress[f] = t
            h = self.f_src[f]
            if not self.in_ring[f]:
                self.rings[h].append(f)
                self.in_ring[f] = True
            self.try_start(self.host_uplink[h])
            self.schedule(t + self.rto, RTO, f)
        else:
            self.schedule(self.t_progress[f] + self.rto, RTO, f)

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, until_ps: int | None = None) -> dict:
        if until_ps is None:
            until_ps = self.default_until
        handlers = {START: self.on_start, TX_DONE: self.on_tx_done, ARRIVE: self.on_arrive, RTO: self.on_rto}
        stopped = False
        while self.heap:
            t, _, kind, arg = self.heap[0]
            if until_ps is not None and t > until_ps:
                stopped = True
                break
            heapq.heappop(self.heap)
            assert t >= self.now, "time went backwards"
            self.now = t
            self.events += 1
            handlers[kind](arg)
        if stopped:
            end_ps = until_ps
        elif self.n_flows and all(t >= 0 for t in self.t_finish):
            end_ps = max(self.t_finish)  # retransmission timers that fire later are not traffic
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
            "flow_ecn": self.flow_ecn,
            "flow_drops": self.flow_drops,
            "flow_received": self.flow_received,
            "link_tx_bytes": self.link_tx_bytes,
            "link_max_queue": self.link_max_queue,
            "link_drops": self.link_drops,
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
    """Run the packet engine's semantics on ``model`` (a ``fabsim.build.Model``) and ``flows``.

    ``until_ps`` (default: ``scenario.run.until_ps``) stops before the first event later than it.
    Returns plain lists keyed like ``fabsim.raw.RawRun``'s fields: per flow ``t_start_ps``,
    ``t_finish_ps`` (−1 if never started / received), ``flow_packets``, ``flow_retx_bytes``,
    ``flow_ecn``, ``flow_drops``, ``flow_received`` (data packets that reached the destination,
    in order or not); per directed link ``link_tx_bytes``, ``link_max_queue``,
    ``link_drops``, ``link_ecn``, ``link_pause_ps``; and ``packet_hops``, ``events``, ``end_ps``,
    ``stopped_at_until``, ``residual_bytes``.
    """
    return PacketSim(model, flows).run(until_ps)
