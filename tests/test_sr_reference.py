"""Selective repeat (``host.transport = "sr"``, docs/packet-engine.md § Selective repeat) in the
reference packet simulator (tests/reference/packet_ref.py), checked against what the specification
says sr must do, and the kernel against the reference; then packet trimming (``switch.trim``,
``switch.trim_queue``, docs/packet-engine.md § ARRIVE, *Trimming*), which needs sr, in the
reference alone.

Some tests watch the simulator from inside: ``Traced`` is a ``PacketSim`` whose methods are
wrapped to log what happens (each pull of a data packet into a NIC, each drop or trim, each ACK
or NACK reaching a sender, each data packet that reaches its receiver out of order); nothing in
the reference changes.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .reference import packet_ref as ref
from .test_packet_reference import (
    FAT_TREE, LEAF_SPINE, assert_complete, assert_conservation, assert_kernel_matches_reference,
    assert_kernel_matches_reference_on, build, hops, n_packets, ser, tiny_scenarios,
)

# kernel runs start with room for one flow context (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("room_for_one_flow_context")

GBPS = 10**9
US = 10**6  # ps
MTU, HEADER = 1000, 48
W = MTU + HEADER  # wire bytes of a full packet
CTRL = 64


class Traced(ref.PacketSim):
    """The reference simulator, with a log of what happened:

    - ``pulls``: ``(t, flow, seq, snd_una)`` for every data packet a NIC pulls from its send ring
      (the time it starts its serialisation; ``snd_una`` as it was then);
    - ``host_tx_done``: ``(t, flow, seq)`` when a data packet's last bit leaves its sender's NIC;
    - ``drops``: ``(t, flow, seq)`` for every data packet a switch drops;
    - ``acks``: ``(t, flow, cum, sack)`` for every ACK that reaches its sender (gave-up flows
      excluded: their ACKs are discarded before);
    - ``replies``: per flow, the ACKs, NACKs and CNPs its receiver sent: ``Counter`` of kinds;
    - ``out_of_order``: per flow, data packets that arrived beyond ``rcv_nxt``;
    - ``at_switch``: ``(t, flow, seq, egress, q, w, outcome)`` for every data packet that reaches
      a switch: its egress port, the port's data-queue bytes ``q`` before it, its wire bytes and
      what became of it, ``"enqueued"``, ``"dropped"`` or ``"trimmed"``;
    - ``effects``: for each entry of ``at_switch``, ``(outcome, marked, drew, ingress, used)``:
      whether the switch set its CE bit, took a number from the ECN random stream, and by how
      many bytes the ingress (PFC) counter of its link and the switch's shared buffer grew;
    - ``trims``: ``(t, flow, seq)`` for every data packet a switch trims;
    - ``trims_received``: ``(t, flow, seq, host)`` for every trim that reaches a host (gave-up
      flows excluded);
    - ``nacks``: ``(t, flow, seq)`` for every NACK that reaches its sender (gave-up flows excluded);
    - ``last_data_tx``: per switch port, the last time a data packet's last bit left it, and
      ``since_data``: what the port sent after it, ``[serialisation ps, frames, trims]``.
    """

    def __init__(self, model, flows):
        super().__init__(model, flows)
        self.pulls: list[tuple] = []
        self.host_tx_done: list[tuple] = []
        self.drops: list[tuple] = []
        self.acks: list[tuple] = []
        self.replies = [Counter() for _ in range(self.n_flows)]
        self.out_of_order = [0] * self.n_flows
        self.at_switch: list[tuple] = []
        self.effects: list[tuple] = []
        self.trims: list[tuple] = []
        self.trims_received: list[tuple] = []
        self.nacks: list[tuple] = []
        self.last_data_tx: dict[int, int] = {}
        self.since_data: dict[int, list] = {}

    def pull(self, h):
        uplink = self.host_uplink[h]
        before = len(self.queues[uplink][ref.DATA_Q])
        una = list(self.snd_una)
        ok = super().pull(h)
        if ok:
            p = self.queues[uplink][ref.DATA_Q][-1]
            assert len(self.queues[uplink][ref.DATA_Q]) == before + 1
            self.pulls.append((self.now, p.flow, p.seq, una[p.flow]))
        return ok

    def on_tx_done(self, l):
        p = self.queues[l][self.serving[l]][0]
        if not self.is_switch(self.link_src[l]) and p.kind == ref.DATA:
            self.host_tx_done.append((self.now, p.flow, p.seq))
        if self.is_switch(self.link_src[l]):
            if p.kind == ref.DATA:
                self.last_data_tx[l] = self.now
                self.since_data[l] = [0, 0, 0]
            else:
                since = self.since_data.setdefault(l, [0, 0, 0])
                since[0] += ref.ser_ps(p.wire, self.link_rate[l])
                since[1] += 1
                since[2] += p.kind == ref.TRIM
        super().on_tx_done(l)

    def forward(self, node, l, p):
        drops, trims = sum(self.link_drops), sum(self.link_trims)
        is_data, wire = p.kind == ref.DATA, p.wire
        egress = self.route(node, p) if is_data else -1  # routing changes no state
        q = self.q_bytes[egress][ref.DATA_Q] if is_data else -1
        ce, rng, ingress, used = p.ce, self.rng.state, self.ingress[l], self.used[node]
        super().forward(node, l, p)
        if sum(self.link_drops) > drops:
            self.drops.append((self.now, p.flow, p.seq))
        if sum(self.link_trims) > trims:
            self.trims.append((self.now, p.flow, p.seq))
        if is_data:
            outcome = ("dropped" if sum(self.link_drops) > drops else
                       "trimmed" if sum(self.link_trims) > trims else "enqueued")
            self.at_switch.append((self.now, p.flow, p.seq, egress, q, wire, outcome))
            self.effects.append((outcome, p.ce and not ce, self.rng.state != rng,
                                 self.ingress[l] - ingress, self.used[node] - used))

    def receive_trim(self, h, p):
        self.trims_received.append((self.now, p.flow, p.seq, h))
        super().receive_trim(h, p)

    def receive_nack(self, h, p):
        self.nacks.append((self.now, p.flow, p.seq))
        super().receive_nack(h, p)

    def enqueue(self, l, q, p):
        if not self.is_switch(self.link_src[l]) and p.kind in (ref.ACK, ref.NACK, ref.CNP):
            self.replies[p.flow][p.kind] += 1
        super().enqueue(l, q, p)

    def receive_data(self, h, p):
        if p.seq > self.rcv_nxt[p.flow]:
            self.out_of_order[p.flow] += 1
        super().receive_data(h, p)

    def receive_ack(self, p):
        self.acks.append((self.now, p.flow, p.seq, p.sack))
        super().receive_ack(p)


def traced(doc) -> tuple:
    model, flows = build(doc)
    sim = Traced(model, flows)
    return model, flows, sim, sim.run()


def with_transport(doc: dict, transport: str, **host) -> dict:
    return {**doc, "host": {**doc["host"], "transport": transport, **host}}


# ---- (1) one path, no loss: sr is go-back-N --------------------------------------------------------


STAR = {"kind": "star", "hosts": 6, "host_rate": "100Gbps", "link_delay": "1us"}
ONE_PATH_TRAFFIC = [  # an incast that PAUSEs its senders, and flows across it
    {"kind": "incast", "receiver": 0, "senders": 4, "size": 150_000},
    {"kind": "flow", "flows": [{"src": 5, "dst": 1, "size": 90_500, "start": "3us"},
                               {"src": 0, "dst": 5, "size": 40_000, "start": "2us"},
                               {"src": 1, "dst": 0, "size": 7_777, "start": "10us"}]},
]
DCQCN = {"paper": {"algorithm": "dcqcn", "preset": "paper", "cnp_interval": "2us", "alpha_timer": "3us",
                   "rate_timer": "3us", "byte_counter": "20KB", "min_rate": "1Gbps"},
         "hpcc": {"algorithm": "dcqcn", "preset": "hpcc", "alpha_timer": "1us", "rate_timer": "5us",
                  "rate_decrease_interval": "2us"}}


@pytest.mark.parametrize("cc", ["none", "paper", "hpcc"])
@pytest.mark.parametrize("ack_every", [1, 3])
@pytest.mark.parametrize("topology", ["star", "leaf_spine"])
def test_sr_is_go_back_n_on_one_path_without_loss(topology, ack_every, cc):
    """On one path per flow (a star; a leaf-spine with ``ecmp = "flow"``) without loss (PFC on,
    a deep buffer, a long RTO), no packet is overtaken or lost, so sr sends and delivers exactly
    what go-back-N does (docs/packet-engine.md § Selective repeat, last paragraph): the two
    results dicts are equal, every key (times, counts, bytes, events, rates samples). The
    window (W = 1,024 packets, the default) is larger than any flow here, so it never binds.
    Checked first: PFC paused ports, nothing was dropped or timed out, and with DCQCN the
    senders were signalled (so pacing ran)."""
    doc = {
        "run": {"seed": 7},
        "topology": STAR if topology == "star" else {**LEAF_SPINE, "hosts_per_leaf": 3, "links_per_pair": 2},
        "switch": {"pfc": True, "buffer": "16MiB", "pfc_xoff": 20_000, "pfc_xon": 10_000,
                   "ecn_kmin": 2_000, "ecn_kmax": 8_000, "ecn_pmax": 0.5},
        "host": {"mtu": MTU, "header": HEADER, "rto": "10ms", "ack_every": ack_every},
        "routing": {"ecmp": "flow"},
        "output": {"cc_sample": "1us"} if cc != "none" else {},
        "cc": DCQCN[cc] if cc != "none" else {"algorithm": "none"},
        "traffic": ONE_PATH_TRAFFIC,
    }
    model, flows = build(with_transport(doc, "gbn"))
    gbn = ref.simulate(model, flows)
    assert_complete(gbn, flows)
    assert sum(gbn["flow_drops"]) == 0 and sum(gbn["flow_timeouts"]) == 0
    assert sum(gbn["link_pause_ps"]) > 0
    if cc != "none":
        assert sum(gbn["flow_cnps"]) > 0 and gbn["rate_samples"]
    model, flows = build(with_transport(doc, "sr"))
    sr = ref.simulate(model, flows)
    assert sr.keys() == gbn.keys()
    for key in gbn:
        assert sr[key] == gbn[key], key


# ---- (2) a dropped packet is resent once, when its SACK R beyond arrives -----------------------------

# Two senders into one receiver on a star of three hosts (100 Gb/s, 1 µs links, no PFC, static
# buffer of C packets per port: a packet is admitted if the port's data queue + it ≤ C packets).
# Flow A (h1, packet 0 at t = 0) and flow B (h2, half a serialisation s later) send full packets
# back to back. The receiver's downlink serves one packet per s and gets two: from A's first
# packet on, it holds one more packet per s. A's packet k reaches the switch at (k+1)·s + d and
# finds A's k earlier packets and B's k, less the k − 1 the downlink has finished: k + 1
# packets (the downlink finishes another one at that same time, but the arrival's event was
# scheduled first, so it runs first); it is admitted while k + 2 ≤ C. B's packet j finds j + 1
# and is admitted while j + 2 ≤ C. With B of C − 1 packets, the first packet to find the port
# full is A's packet C − 1, at C·s + d; after it B has nothing left, the queue stops growing,
# and nothing else is dropped.
C_PACKETS = 8
HOLE = C_PACKETS - 1


def two_senders(a_packets: int, reorder: int, transport: str = "sr") -> dict:
    s = ser(W, 100 * GBPS)
    return {
        "run": {"seed": 1},
        "topology": {"kind": "star", "hosts": 3, "host_rate": "100Gbps", "link_delay": "1us"},
        "switch": {"pfc": False, "ecn": False, "buffer": 3 * C_PACKETS * W, "buffer_policy": "static"},
        "host": {"mtu": MTU, "header": HEADER, "transport": transport, "sr_reorder": reorder},
        "cc": {"algorithm": "none"},
        "traffic": [{"kind": "flow", "flows": [
            {"src": 1, "dst": 0, "size": a_packets * MTU},
            {"src": 2, "dst": 0, "size": (C_PACKETS - 1) * MTU, "start": f"{s // 2}ps"},
        ]}],
    }


def assert_hole_resent_after(sim, t_signal: int, a_packets: int, s: int) -> int:
    """Flow A's packet HOLE is pulled again in reaction to a signal that reached A's NIC at
    ``t_signal``: at once if the NIC was idle (A of 20 packets had sent them all), else at the end
    of the packet it was sending (A sends back to back, one per ``s``). Returns the resend's time."""
    resend = [t for t, f, seq, _ in sim.pulls if (f, seq) == (0, HOLE)][1]
    if a_packets == 20:
        assert max(t for t, f, _, _ in sim.pulls if f == 0 and t < resend) + s < t_signal  # the NIC is idle
        assert resend == t_signal
    else:
        assert t_signal % s != 0
        assert resend == -(-t_signal // s) * s
    return resend


def assert_hole_resent_once(sim, res, a_packets: int) -> None:
    """In ``two_senders``: flow A's packet HOLE was sent twice and every other packet of both
    flows once, A resent one payload, and no timer fired."""
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    assert sends[(0, HOLE)] == 2
    assert all(n == 1 for (f, seq), n in sends.items() if (f, seq) != (0, HOLE))
    assert sorted(sends) == [(0, k) for k in range(a_packets)] + [(1, k) for k in range(C_PACKETS - 1)]
    assert res["flow_retx_bytes"] == [MTU, 0]
    assert res["flow_packets"] == [a_packets + 1, C_PACKETS - 1]
    assert res["flow_timeouts"] == [0, 0]


@pytest.mark.parametrize("reorder", [1, 5, 12])
@pytest.mark.parametrize("a_packets", [20, 200], ids=["nic-idle", "nic-busy"])
def test_a_dropped_packet_is_resent_once_when_a_sack_r_beyond_it_arrives(a_packets, reorder):
    """Exactly one packet is dropped (flow A's packet C − 1, at C·s + d: see the comment above).
    Under sr it is sent exactly twice, every other packet of A and B exactly once; A's
    ``flow_retx_bytes`` is one payload (B's 0); nothing times out.

    The timing, exactly: let ``t_sack`` be the arrival at A's host of A's first ACK whose SACK
    is ≥ hole + R (the loss rule's trigger: it carries cumulative number hole and SACK hole + R;
    the ACKs before it SACK A's packets in order up to the hole, then those after it, each
    below hole + R). The resend starts its serialisation on A's NIC (is pulled from the send ring)

    - at ``t_sack`` itself when the NIC is idle then (A, of 20 packets, has sent them all), and
    - when the NIC is busy (A, of 200 packets, sends back to back from t = 0, so its packet k
      occupies the NIC over [k·s, (k+1)·s)), at the end of the packet in transmission,
      ``⌈t_sack / s⌉·s`` (``t_sack`` is checked not to be a multiple of s), i.e. after less
      than one serialisation; the resend goes before A's next new packet.

    Its last bit leaves the NIC one serialisation after it started."""
    s = ser(W, 100 * GBPS)
    d = 1 * US
    model, flows, sim, res = traced(two_senders(a_packets, reorder))
    assert_complete(res, flows)
    assert sim.drops == [(C_PACKETS * s + d, 0, HOLE)]
    assert res["flow_drops"] == [1, 0]
    assert_hole_resent_once(sim, res, a_packets)
    # the trigger: the first ACK of A with SACK ≥ hole + R; those before it were ACKs of A's
    # packets in order up to the hole, then SACKs below hole + R
    acks_a = [(t, cum, sack) for t, f, cum, sack in sim.acks if f == 0]
    i = next(i for i, (_, _, sack) in enumerate(acks_a) if sack >= HOLE + reorder)
    t_sack, cum, sack = acks_a[i]
    assert (cum, sack) == (HOLE, HOLE + reorder)
    assert [sack for _, _, sack in acks_a[:i]] == [*range(HOLE), *range(HOLE + 1, HOLE + reorder)]
    resend = assert_hole_resent_after(sim, t_sack, a_packets, s)
    if a_packets != 20:
        assert 0 < resend - t_sack < s
        assert all(t == seq * s for t, f, seq, _ in sim.pulls if f == 0 and t < resend)  # back to back
        assert [seq for t, f, seq, _ in sim.pulls if f == 0 and t >= resend][:2] == [HOLE, resend // s]
    assert [t for t, f, seq in sim.host_tx_done if (f, seq) == (0, HOLE)] == [HOLE * s + s, resend + s]


def test_go_back_n_resends_more_than_the_hole_in_the_same_scenario():
    """The same scenario under go-back-N resends every packet from the hole on (the NACK sends
    the flow back): the sr test above can tell the two apart."""
    model, flows = build(two_senders(20, 4, "gbn"))
    res = ref.simulate(model, flows)
    assert_complete(res, flows)
    assert res["flow_drops"] == [1, 0]
    assert res["flow_retx_bytes"][0] == (20 - HOLE) * MTU


# ---- (3) reordering is not loss ---------------------------------------------------------------------


def test_reordering_by_packet_spraying_is_not_loss_under_sr():
    """A lossless fat-tree k = 4 permutation (PFC on, a deep buffer, a long RTO) with
    ``routing.ecmp = "packet"``: every packet of a flow is hashed afresh, so packets overtake
    each other (checked: receivers see packets beyond ``rcv_nxt``). Under sr every flow
    completes with zero retransmitted bytes, no drops and no timeouts (the overtaking stays
    under the reorder allowance, default R = 32). Under go-back-N the same run retransmits (its
    receiver discards what arrives out of order, and the NACK sends the sender back)."""
    doc = {"run": {"seed": 3}, "topology": FAT_TREE,
           "switch": {"pfc": True, "buffer": "4MiB", "pfc_xoff": 20_000, "pfc_xon": 15_000},
           "host": {"mtu": MTU, "header": HEADER, "rto": "1ms"},
           "routing": {"ecmp": "packet"}, "cc": {"algorithm": "none"},
           "traffic": [{"kind": "permutation", "size": 100_000}]}
    model, flows, sim, sr = traced(with_transport(doc, "sr"))
    assert_complete(sr, flows)
    assert_conservation(model, flows, sr)
    assert sum(sr["flow_drops"]) == 0 and sum(sr["flow_timeouts"]) == 0
    assert sum(sim.out_of_order) > 0, "no packet was overtaken: the test shows nothing"
    assert sr["flow_retx_bytes"] == [0] * len(flows)
    assert sr["flow_packets"] == [n_packets(int(x)) for x in flows.size_bytes]
    model, flows = build(with_transport(doc, "gbn"))
    gbn = ref.simulate(model, flows)
    assert_complete(gbn, flows)
    assert sum(gbn["flow_drops"]) == 0
    assert sum(gbn["flow_retx_bytes"]) > 0


# ---- (4) random small scenarios --------------------------------------------------------------------


@st.composite
def sr_scenarios(draw, trim: bool = False):
    """``tiny_scenarios`` (tests/test_packet_reference.py: stars and leaf-spines, small buffers
    that drop, PFC on and off, every ECMP mode, sometimes a collective; congestion control none
    or DCQCN, flows that may give up or not) with sr: W = 64 or 128 packets, R = 1..8; with PFC,
    half the time a 4 MiB buffer (in practice nothing is dropped); and half the time one more flow of
    65–300 packets, so that the window binds. With ``trim``, half the time ``switch.trim = true``
    and, half of those, a ``switch.trim_queue`` of 2–6 full packets' wire bytes, and a quarter
    of them with ``host.pace_trim_nacks = false``, ``switch.trims_per_data`` 10 (half), 1 or 0
    (drawn after everything else: without ``trim`` the draws are exactly those of before). A scenario that
    trims runs for 2 ms at most (``run.until``): all of them end within 0.3 ms (816 drawn) but
    those caught in the trim livelock of strict priority
    (``test_trims_with_strict_priority_starve_the_data_behind_them``),
    whose flows give up only after ``(retries + 1)·rto`` of trims, up to 26 ms, which takes
    the reference a minute and a half."""
    algorithm, preset = draw(st.sampled_from([("none", None), ("none", None), ("dcqcn", "paper"), ("dcqcn", "hpcc")]))
    doc = draw(tiny_scenarios(algorithm, preset, may_give_up=draw(st.booleans())))
    doc["host"].update(transport="sr", sr_window=draw(st.sampled_from([64, 128])), sr_reorder=draw(st.integers(1, 8)))
    if doc["switch"]["pfc"] and draw(st.booleans()):  # PFC with a deep buffer: lossless
        doc["switch"]["buffer"] = 4 * 2**20
    if draw(st.booleans()):
        topo = doc["topology"]
        n_hosts = topo["hosts"] if topo["kind"] == "star" else 2 * topo["hosts_per_leaf"]
        src = draw(st.integers(0, n_hosts - 1))
        dst = (src + draw(st.integers(1, n_hosts - 1))) % n_hosts
        size = draw(st.integers(65, 300)) * doc["host"]["mtu"]
        doc["traffic"][0]["flows"].append({"src": src, "dst": dst, "size": size, "start": "0ps"})
    if trim and draw(st.booleans()):
        doc["switch"]["trim"] = True
        if draw(st.booleans()):
            doc["switch"]["trim_queue"] = draw(st.integers(2, 6)) * (doc["host"]["mtu"] + doc["host"]["header"])
        doc["host"]["pace_trim_nacks"] = draw(st.sampled_from([True, True, True, False]))
        doc["switch"]["trims_per_data"] = draw(st.sampled_from([10, 10, 1, 0]))
        doc["run"]["until"] = "2ms"
    return doc


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=sr_scenarios())
def test_sr_random_scenarios(doc):
    """On random small scenarios under sr:

    - the run ends on its own, and every flow that started is received or gave up
      (``host.retries``; or both: received, and its sender timed out for the last time before
      the last ACK came back); one that never started has a predecessor that was never
      received; without a flow that gave up, every flow is received; nothing is left in the
      fabric;
    - conservation: every data packet sent was received or dropped (``flow_packets −
      flow_drops == flow_received``), the ports' drops are the flows' drops; packets sent are
      the pulls seen; a flow that started and did not give up sent every sequence number, and its
      retransmitted bytes are the payloads of its repeated sequence numbers;
    - the receivers send no NACK; a receiver answers every data packet that reached it except
      accepted ones coalesced by ``host.ack_every`` (with N = 1, every one); a host's uplink
      carries its flows' data (first sends and resends) and its ACKs and CNPs, byte for byte;
      every CNP sent for a flow that did not give up reached its sender;
    - the window: a new packet ``seq`` is sent only when ``seq < snd_una + W``;
    - a hole is judged once: a flow that never timed out sent no sequence number more than twice;
    - reordering without loss: with ``ecmp = "flow"`` (one path per flow) a flow with no drop
      and no timeout retransmits nothing (so with PFC on, nothing dropped and no timeout, nothing is resent).
    """
    model, flows, sim, res = traced(doc)
    host = model.scenario.host
    mtu, header, n_ack, window = host.mtu_bytes, host.header_bytes, host.ack_every, host.sr_window
    assert host.transport == "sr"
    n = len(flows)
    assert not res["stopped_at_until"]
    assert res["residual_bytes"] == 0
    received = [t >= 0 for t in res["t_finish_ps"]]
    for f in range(n):
        if res["t_start_ps"][f] >= 0:  # both when the sender timed out while the last ACK was on its way
            assert received[f] or res["flow_gave_up"][f], f
        else:  # never started: a predecessor was never received (it, or one of its own, gave up)
            preds = [g for g in range(n) if f in flows.succ[flows.succ_ptr[g] : flows.succ_ptr[g + 1]]]
            assert not received[f] and not res["flow_gave_up"][f]
            assert any(not received[g] for g in preds), f
    assert any(res["flow_gave_up"]) or all(received)
    P, D = res["flow_packets"], res["flow_drops"]
    assert [P[f] - D[f] for f in range(n)] == res["flow_received"]
    assert sum(res["link_drops"]) == sum(D)
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    npk = [n_packets(int(s), mtu) for s in flows.size_bytes]
    paper = model.scenario.cc.algorithm == "dcqcn" and model.scenario.cc.preset == "paper"
    up = [0] * model.fabric.n_hosts
    for f in range(n):
        assert P[f] == sum(k for (g, _), k in sends.items() if g == f)
        payload = [min(mtu, int(flows.size_bytes[f]) - seq * mtu) for seq in range(npk[f])]
        resent = sum((sends[(f, seq)] - 1) * payload[seq] for seq in range(npk[f]) if sends[(f, seq)] > 1)
        assert res["flow_retx_bytes"][f] == resent
        assert sim.replies[f][ref.NACK] == 0
        acks = sim.replies[f][ref.ACK]
        if not res["flow_gave_up"][f]:
            assert sim.replies[f][ref.CNP] == (res["flow_cnps"][f] if paper else 0)
            if res["t_start_ps"][f] >= 0:  # (a successor of a flow that gave up never starts)
                assert all(sends[(f, seq)] >= 1 for seq in range(npk[f]))
            # accepted packets: npk of them, the last always answered
            assert P[f] - D[f] - (npk[f] - 1) <= acks <= P[f] - D[f]
            if n_ack == 1:
                assert acks == P[f] - D[f]
        if res["flow_timeouts"][f] == 0:
            assert max((sends[(f, seq)] for seq in range(npk[f])), default=0) <= 2, f
        s, d = int(flows.src[f]), int(flows.dst[f])
        if npk[f] > 0:  # fabric flows (compute tasks and scale-up transfers send nothing)
            up[s] += sum(sends[(f, seq)] * (payload[seq] + header) for seq in range(npk[f]))
            up[d] += CTRL * (acks + sim.replies[f][ref.CNP])
    fab = model.fabric
    assert [res["link_tx_bytes"][int(fab.host_uplink[h])] for h in range(fab.n_hosts)] == up
    seen: set = set()
    for _, f, seq, una in sim.pulls:
        if (f, seq) not in seen:  # a first send: the next new packet, inside the window
            seen.add((f, seq))
            assert seq < una + window
    if model.scenario.routing.ecmp == "flow":
        for f in range(n):
            if D[f] == 0 and res["flow_timeouts"][f] == 0:
                assert res["flow_retx_bytes"][f] == 0, f
        if model.scenario.switch.pfc and sum(D) == 0 and sum(res["flow_timeouts"]) == 0:
            assert sum(res["flow_retx_bytes"]) == 0


# ---- the window -------------------------------------------------------------------------------------


def test_the_window_bounds_the_packets_beyond_the_oldest_unacknowledged_one():
    """One flow of 300 packets on a star with 10 µs links and W = 64: the sender sends packets
    0–63 back to back (packet k at k·s), then can send nothing (``snd_nxt = snd_una + W``) and
    leaves its ring; the first ACK (cumulative 1) brings it back, and packet 64 is pulled at that
    ACK's arrival, 2·(s + d) + 2·(s_ack + d); from then on every new packet k
    goes out only when ``k < snd_una + W``. Under go-back-N (no window) the same flow sends all
    300 back to back."""
    s, s_ack, d = ser(W, 100 * GBPS), ser(CTRL, 100 * GBPS), 10 * US
    doc = {"run": {"seed": 1},
           "topology": {"kind": "star", "hosts": 2, "host_rate": "100Gbps", "link_delay": "10us"},
           "switch": {"pfc": False, "ecn": False},
           "host": {"mtu": MTU, "header": HEADER, "transport": "sr", "sr_window": 64},
           "cc": {"algorithm": "none"},
           "traffic": [{"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": 300 * MTU}]}]}
    model, flows, sim, res = traced(doc)
    assert_complete(res, flows)
    assert res["flow_packets"] == [300] and res["flow_retx_bytes"] == [0]
    pulls = [(t, seq, una) for t, _, seq, una in sim.pulls]
    assert [seq for _, seq, _ in pulls] == list(range(300))
    assert [t for t, _, _ in pulls[:64]] == [k * s for k in range(64)]
    first_ack = 2 * (s + d) + 2 * (s_ack + d)
    assert sim.acks[0][0] == first_ack and sim.acks[0][2:] == (1, 0)
    assert pulls[64][0] == first_ack
    assert all(seq < una + 64 for _, seq, una in pulls)
    assert sum(seq == una + 63 for _, seq, una in pulls) > 100  # the window binds all along
    model, flows = build(with_transport(doc, "gbn"))
    gbn = Traced(model, flows)
    gbn.run()
    assert [t for t, _, _, _ in gbn.pulls] == [k * s for k in range(300)]


# ---- (5) the kernel agrees -------------------------------------------------------------------------


def test_kernel_matches_reference_under_sr():
    """The Numba kernel runs selective repeat exactly as this reference does: the fixed cases
    above (a drop repaired by the loss rule, at both NIC states, and one the window binds), then
    100 random scenarios of ``sr_scenarios`` (every ECMP mode, PFC on and off, drops, DCQCN,
    flows that give up), field by field. Contexts start with room for one flow, so they are
    reused and grow (``room_for_one_flow_context``)."""
    for a_packets in (20, 200):
        for reorder in (1, 5, 12):
            assert_kernel_matches_reference(two_senders(a_packets, reorder))
    assert_kernel_matches_reference_on(sr_scenarios())


@pytest.mark.slow
def test_kernel_matches_reference_under_sr_on_many_scenarios():
    """The comparison above on 1,000 random scenarios (``pytest -m slow``)."""
    @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(doc=sr_scenarios())
    def check(doc):
        assert_kernel_matches_reference(doc)

    check()


# ---- (6) trimming (switch.trim, switch.trim_queue) ---------------------------------------------------


def with_trim(doc: dict, **switch) -> dict:
    return {**doc, "switch": {**doc["switch"], "trim": True, **switch}}


def assert_trim_conservation(model, flows, res, sim) -> None:
    """The accounting of a run that ended on its own, trims included (``assert_conservation`` of
    tests/test_packet_reference.py extended; it holds with trim off too):

    - every data packet sent was received, dropped or trimmed: ``P − D − T == received`` per
      flow; the ports' drops and trims are the flows'; the logged trims are the counted ones;
    - packets sent are the pulls seen, and retransmitted bytes are the payloads of repeated
      sequence numbers; a flow that started and did not give up sent every sequence number;
    - every trim reached its flow's receiver (unless the flow gave up), which answered each trim
      it got with one NACK, and every such NACK reached the sender (sr sends no other NACK);
    - a host's uplink carries its flows' data (first sends and resends) and its ACKs, NACKs and
      CNPs, byte for byte;
    - packet-hops: a data packet that was received or trimmed crossed its path's h links (as data
      up to the trimming port, then as a trim), a dropped one 1 to h − 1, every ACK, NACK and CNP
      h; PFC frames (one hop each) are the rest, an even number (each PAUSE has its RESUME); without
      PFC there are none.
    """
    host = model.scenario.host
    mtu, header = host.mtu_bytes, host.header_bytes
    n = len(flows)
    assert not res["stopped_at_until"] and res["residual_bytes"] == 0
    P, D, T = res["flow_packets"], res["flow_drops"], res["flow_trims"]
    assert [P[f] - D[f] - T[f] for f in range(n)] == res["flow_received"]
    assert sum(res["link_drops"]) == sum(D) and sum(res["link_trims"]) == sum(T)
    assert Counter(f for _, f, _ in sim.trims) == Counter({f: T[f] for f in range(n) if T[f]})
    assert all(h == int(flows.dst[f]) for _, f, _, h in sim.trims_received)  # the data packet's way
    trims_in = Counter(f for _, f, _, _ in sim.trims_received)
    nacks_in = Counter(f for _, f, _ in sim.nacks)
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    npk = [n_packets(int(size), mtu) for size in flows.size_bytes]
    h = hops(model, flows)
    up = [0] * model.fabric.n_hosts
    lo = hi = 0
    for f in range(n):
        assert P[f] == sum(k for (g, _), k in sends.items() if g == f)
        payload = [min(mtu, int(flows.size_bytes[f]) - seq * mtu) for seq in range(npk[f])]
        resent = sum((sends[(f, seq)] - 1) * payload[seq] for seq in range(npk[f]) if sends[(f, seq)] > 1)
        assert res["flow_retx_bytes"][f] == resent
        replies = sim.replies[f]
        assert replies[ref.NACK] == trims_in[f]
        if not res["flow_gave_up"][f]:
            if res["t_start_ps"][f] >= 0:  # (a successor of a flow that gave up never starts)
                assert all(sends[(f, seq)] >= 1 for seq in range(npk[f]))
            assert trims_in[f] == T[f] and nacks_in[f] == replies[ref.NACK]
        if npk[f] > 0:  # fabric flows (compute tasks and scale-up transfers send nothing)
            up[int(flows.src[f])] += sum(sends[(f, seq)] * (payload[seq] + header) for seq in range(npk[f]))
            up[int(flows.dst[f])] += CTRL * (replies[ref.ACK] + replies[ref.NACK] + replies[ref.CNP])
            answers = replies[ref.ACK] + replies[ref.NACK] + replies[ref.CNP]
            lo += (P[f] - D[f] + answers) * h[f] + D[f]
            hi += (P[f] - D[f] + answers) * h[f] + D[f] * (h[f] - 1)
    fab = model.fabric
    assert [res["link_tx_bytes"][int(fab.host_uplink[x])] for x in range(fab.n_hosts)] == up
    if not model.scenario.switch.pfc:
        assert lo <= res["packet_hops"] <= hi
    elif sum(D) == 0:
        assert res["packet_hops"] >= lo and (res["packet_hops"] - lo) % 2 == 0


@pytest.mark.parametrize("a_packets", [20, 200], ids=["nic-idle", "nic-busy"])
def test_a_packet_that_would_be_dropped_is_trimmed_and_resent_at_its_trim_nack(a_packets):
    """The scenario of the drop test above (``two_senders``) with ``switch.trim = true`` and the
    default reorder allowance R = 128. A's packet C − 1 (the hole), which found the receiver's
    downlink full at t0 = C·s + d, is trimmed instead of dropped: it is the only trim (on that
    port and on flow A), nothing is dropped, and the trim is not a received packet
    (``flow_received`` counts every sequence number once).

    The timing, by hand (s = ser(1048 B), c = ser(64 B) at 100 Gb/s, d = 1 µs, no switch
    latency): at t0 the downlink finishes the packet ahead of the hole (A's packet C/2 − 1; the
    arrival runs first, so the trim waits behind it and starts at t0), and the trim reaches the
    receiver at t0 + c + d. There its NACK joins the uplink just as the ACK of that same packet
    ahead ends (they left the switch c apart and each takes c), and again at the switch's port to
    A: every hop costs c + d, no waiting. So the trim NACK reaches A's host at

        t_nack = t0 + 3·(c + d) = C·s + 4·d + 3·c.

    The hole is then resent exactly once, at once (as a hole repaired by the loss rule): at
    ``t_nack`` when A's NIC is idle (A, of 20 packets, has sent them all), else at the end of
    the packet in transmission, ``⌈t_nack / s⌉·s`` (``t_nack`` is not a multiple of s), before
    A's next new packet. Every other packet is sent once, A retransmits one payload, nothing
    times out. (With R ≤ 12 the loss rule would mark the hole again when the SACK of hole + R
    arrives before the resend's SACK: the resend consumed the trim NACK's mark, and the hole has
    not been judged by the loss rule yet. R = 128 keeps that out of this test.)"""
    s, c, d = ser(W, 100 * GBPS), ser(CTRL, 100 * GBPS), 1 * US
    model, flows, sim, res = traced(with_trim(two_senders(a_packets, 128)))
    assert_complete(res, flows)
    assert_trim_conservation(model, flows, res, sim)
    down = int(model.fabric.host_downlink[0])
    t0 = C_PACKETS * s + d
    assert sim.drops == [] and res["flow_drops"] == [0, 0] and sum(res["link_drops"]) == 0
    assert sim.trims == [(t0, 0, HOLE)]
    assert res["flow_trims"] == [1, 0] and res["link_trims"][down] == sum(res["link_trims"]) == 1
    assert res["flow_received"] == [a_packets, C_PACKETS - 1]
    assert sim.trims_received == [(t0 + c + d, 0, HOLE, 0)]  # at the receiver, host 0
    t_nack = C_PACKETS * s + 4 * d + 3 * c
    assert sim.nacks == [(t_nack, 0, HOLE)]
    assert sim.replies[0][ref.NACK] == 1 and sim.replies[1][ref.NACK] == 0
    assert_hole_resent_once(sim, res, a_packets)
    resend = assert_hole_resent_after(sim, t_nack, a_packets, s)
    if a_packets != 20:
        assert [seq for t, f, seq, _ in sim.pulls if f == 0 and t >= resend][:2] == [HOLE, resend // s]
    assert [t for t, f, seq in sim.host_tx_done if (f, seq) == (0, HOLE)] == [HOLE * s + s, resend + s]


def incast_with_trim_queue(trim_queue: int, policy: str = "static") -> dict:
    return {
        "run": {"seed": 2},
        "topology": {"kind": "star", "hosts": 4, "host_rate": "100Gbps", "link_delay": "1us"},
        "switch": {"pfc": False, "ecn": False, "buffer": "16MiB", "buffer_policy": policy,
                   "trim": True, "trim_queue": trim_queue},
        "host": {"mtu": MTU, "header": HEADER, "transport": "sr", "rto": "1ms"},
        "cc": {"algorithm": "none"},
        "traffic": [{"kind": "incast", "receiver": 0, "senders": 3, "size": 100 * MTU},
                    {"kind": "flow", "flows": [{"src": 1, "dst": 2, "size": 30 * MTU, "start": "2us"}]}],
    }


@pytest.mark.parametrize("policy", ["static", "dynamic"])
@pytest.mark.parametrize("k", [2, 4, 6])
def test_trim_queue_trims_above_the_threshold_and_every_packet_is_accounted_for(k, policy):
    """A 3-to-1 incast of 100-packet flows (and one flow beside it) on a star with a 16 MiB buffer
    (admission never fails) and ``trim_queue`` = k full packets: every data packet that reaches a
    switch is trimmed exactly when the egress data queue before it plus its wire bytes exceed
    ``trim_queue``, and enqueued otherwise (never dropped); so the receiver's downlink never holds
    more than ``trim_queue`` data bytes, every trim is on it, and the flow beside the incast is
    never trimmed. Every flow completes without a timeout; the accounting holds
    (``assert_trim_conservation``): every packet sent was received or trimmed. Trimmed and
    never-trimmed transmissions add up per sequence number: R = 128 exceeds the flows' packets,
    so the loss rule never runs, and each sequence number is sent once plus once per trim of it
    (every trim NACK finds its packet neither SACKed nor marked lost)."""
    wire_k = k * W
    model, flows, sim, res = traced(incast_with_trim_queue(wire_k, policy))
    assert_complete(res, flows)
    assert_trim_conservation(model, flows, res, sim)
    down = int(model.fabric.host_downlink[0])
    assert sum(res["flow_drops"]) == 0 and sum(res["flow_timeouts"]) == 0
    assert sum(res["flow_trims"]) > 0 and res["flow_trims"][3] == 0
    assert res["link_trims"][down] == sum(res["link_trims"]) == sum(res["flow_trims"])
    for _, _, _, egress, q, w, outcome in sim.at_switch:
        assert outcome == ("trimmed" if q + w > wire_k else "enqueued")
    assert res["link_max_queue"][down] <= wire_k
    trimmed = Counter((f, seq) for _, f, seq in sim.trims)
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    assert sum(sends.values()) == sum(res["flow_received"]) + sum(trimmed.values())
    assert all(sends[key] == 1 + trimmed[key] for key in sends)
    assert len(sim.nacks) == sum(res["flow_trims"])


def test_trim_queue_without_trim_changes_nothing():
    """``switch.trim_queue`` acts only with ``switch.trim`` (Interpretation 19): the incast above
    with trim off (and the threshold left in) is the same run as without the key, field by field,
    and it queues beyond the threshold."""
    doc = incast_with_trim_queue(2 * W)
    doc["switch"]["trim"] = False
    model, flows = build(doc)
    with_key = ref.simulate(model, flows)
    del doc["switch"]["trim_queue"]
    model, flows = build(doc)
    assert ref.simulate(model, flows) == with_key
    assert max(with_key["link_max_queue"]) > 2 * W and sum(with_key["flow_trims"]) == 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=sr_scenarios(trim=True))
def test_sr_random_scenarios_with_trimming(doc):
    """On random small sr scenarios (``sr_scenarios(trim=True)``: half of them trim, half of
    those with a ``trim_queue`` too):

    - the run ends on its own, or (trim on) is stopped at ``until`` (2 ms) in the trim livelock
      (``assert_trim_livelock``: then nothing below is checked); every flow that started is
      received or gave up; without a flow that gave up, every flow is received;
    - the accounting, trims included (``assert_trim_conservation``);
    - with trim off nothing is trimmed and no NACK is sent; with it on nothing is dropped (these
      scenarios have no failures), and each sequence number of a flow that never timed out is
      sent at most twice plus once per trim of it (the first send, one resend by the loss rule,
      one per trim NACK);
    - a packet trimmed at a switch is not ECN-marked there, takes no number from the ECN random
      stream, adds nothing to the PFC ingress counter of its link (so sends no PAUSE) and adds
      exactly its 64 bytes to the switch's buffer; an enqueued one adds its wire bytes to the
      ingress counter;
    - with trim on nothing is lost: nothing is dropped, every trim reaches its receiver and every
      trim NACK its sender (``assert_trim_conservation``), so the timer is never needed: the
      same scenario with the timer out of the way (``rto`` = 40 ms, unlimited retries) completes
      within its 2 ms (every ECMP mode) — unless trims livelock it: then ``assert_trim_livelock``
      must find the port whose data its trims starve (see
      ``test_a_flow_completes_when_its_trims_saturate_the_bottleneck``; about 1 in 200 scenarios
      that trim).

    Not checked: "no timeout" in the scenario as drawn, with trim on and ``ecmp = "flow"``. It
    does not hold, and not because anything is lost: ``tiny_scenarios`` draws ``rto`` = 10 µs
    with base round trips up to ~12 µs (4 hops of 1.23 µs links at 25 Gb/s), and PFC pauses,
    queues and trim repairs (a trim NACK moves neither ``snd_una`` nor ``t_progress``; the resend
    takes one more round trip) add to that, so timers fire spuriously. Found by this test: a
    leaf-spine, ``rto`` = 10 µs, PFC with ``xoff`` = one packet, no trim at all in the run; a
    one-packet flow starting at 2.5 µs waits on its paused NIC until 4.45 µs, its ACK arrives at
    12.597 µs > 2.5 + 10 µs, it times out (and gives up, ``retries`` = 0) although its packet
    was received at 8.515 µs."""
    model, flows, sim, res = traced(doc)
    sw = model.scenario.switch
    n = len(flows)
    if res["stopped_at_until"]:
        assert sw.trim
        assert_trim_livelock(sim, res)
        return
    received = [t >= 0 for t in res["t_finish_ps"]]
    for f in range(n):
        if res["t_start_ps"][f] >= 0:
            assert received[f] or res["flow_gave_up"][f], f
    assert any(res["flow_gave_up"]) or all(received)
    assert_trim_conservation(model, flows, res, sim)
    trimmed = Counter((f, seq) for _, f, seq in sim.trims)
    if not sw.trim:
        assert sum(res["flow_trims"]) == 0 and not sim.nacks
        return
    assert sum(res["flow_drops"]) == 0 and not sim.drops
    for (_, _, _, _, _, w, _), (outcome, marked, drew, ingress, used) in zip(sim.at_switch, sim.effects):
        if outcome == "trimmed":
            assert (marked, drew, ingress, used) == (False, False, 0, CTRL)
        else:
            assert ingress == w
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    for (f, seq), k in sends.items():
        if res["flow_timeouts"][f] == 0:
            assert k <= 2 + trimmed[(f, seq)], (f, seq)
    patient = {**doc, "host": {**doc["host"], "rto": "40ms", "retries": 255}}
    _, _, psim, calm = traced(patient)
    assert sum(calm["flow_drops"]) == 0
    if calm["stopped_at_until"]:
        assert_trim_livelock(psim, calm)
    else:
        assert all(t >= 0 for t in calm["t_finish_ps"]) and sum(calm["flow_timeouts"]) == 0


def assert_trim_livelock(sim, res, window_ps: int = 10**9) -> None:
    """A run stopped at ``until`` by the trim livelock: some switch port, not paused, still holds
    data but has sent no data packet for the last ``window_ps`` (1 ms), and in all that time it
    sent control frames back to back (their serialisation fills it, less at most 1 µs for the
    one in transmission), at least half of them trims (made there, or upstream and forwarded:
    the port that trims is not always the one starved). A data queue not paused waits only
    behind control frames."""
    end = res["end_ps"]
    starved = []
    for l in range(sim.n_links):
        if not sim.is_switch(sim.link_src[l]) or sim.paused[l] or sim.q_bytes[l][ref.DATA_Q] == 0:
            continue
        idle_data = end - sim.last_data_tx.get(l, 0)
        busy_ps, frames, trims = sim.since_data.get(l, [0, 0, 0])
        if idle_data >= window_ps and busy_ps >= idle_data - US and 2 * trims >= frames:
            starved.append(l)
    assert starved, "stopped at until without a port starved by trims"


LIVELOCK = {  # one 400 Gb/s sender behind a 25 Gb/s fabric link, no link delays, 3-packet ports
    "run": {"seed": 1, "until": "200us"},
    "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 1, "hosts_per_leaf": 1,
                 "host_rate": "400Gbps", "fabric_rate": "25Gbps", "link_delay": "0ps"},
    "switch": {"pfc": False, "ecn": False, "buffer": 6 * 304, "buffer_policy": "static", "trim": True},
    "host": {"mtu": 256, "header": 48, "transport": "sr", "sr_window": 64, "rto": "40ms"},
    "cc": {"algorithm": "none"},
    "traffic": [{"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": 64 * 256}]}],
}


def test_trims_with_strict_priority_starve_the_data_behind_them():
    """One flow of 64 packets (W = 64, 304 wire bytes each) from a 400 Gb/s host through a
    leaf-spine whose fabric links run at 25 Gb/s, without link delays, with 3 packets of buffer
    per port, trims at strict priority (``switch.trims_per_data = 0``): at line rate it would
    take ~7 µs, but it never completes (docs/packet-engine.md, "Trimming").

    The leaf's 25 Gb/s uplink admits 3 packets and trims the other 61 of the window. The trims
    take its control queue (strict priority, never dropped); each comes back as a trim NACK
    after ~4 control serialisations and is resent at once at 400 Gb/s, finds the data queue
    still full, and is trimmed again. ~60 trims circulate, more than the trim loop holds
    outside that queue, so the queue never empties, the port sends nothing but trims (one per
    20.48 ns, its full rate) and the data queued behind them never leaves: ``snd_una`` stays at
    1 and the timer cannot help (an RTO marks lost what the NACKs mark already). Pacing the
    NACKs at the receiver's 400 Gb/s does not help either. The conditions: senders that can
    resend ``64/wire`` times faster than the port drains trims, and a trim loop shorter than the
    circulating trims (with 100 ns links it still livelocks; with 300 ns or 1 µs links the same
    flow completes, in 44 µs or 137 µs, after 481 trims)."""
    doc = {**LIVELOCK, "switch": {**LIVELOCK["switch"], "trims_per_data": 0}}
    model, flows, sim, res = traced(doc)
    assert res["stopped_at_until"] and sim.snd_una[0] <= 1
    assert_trim_livelock(sim, res, window_ps=150 * US)


def test_a_flow_completes_when_its_trims_saturate_the_bottleneck():
    """The same flow with the default ``switch.trims_per_data = 10``: after ten trims the
    congested port sends a waiting data packet, so data moves at a third of the port's rate at
    worst (304 bytes for every 640 of trims) and the flow completes, in 18 µs after 554 trims, and the kernel
    agrees with the reference."""
    from .test_packet_reference import assert_kernel_matches_reference

    model, flows, sim, res = traced(LIVELOCK)
    assert not res["stopped_at_until"] and res["t_finish_ps"][0] < 100 * US, res["t_finish_ps"]
    assert res["flow_received"][0] >= n_packets(64 * 256, 256) and sum(res["flow_timeouts"]) == 0
    assert_kernel_matches_reference(LIVELOCK)


def test_a_repaired_hole_is_acknowledged_when_the_window_is_full():
    """The drop scenario above (``two_senders``, A of 200 packets, R = 4) with 10 µs links,
    W = 64 and ``host.ack_every = 8``: A's packet 7 is dropped; by the time the loss rule's resend
    (sent at 41.6 µs) reaches the receiver, A has sent its whole window (``snd_nxt = snd_una + W``)
    and the receiver holds all of it, so the resend moves ``rcv_nxt`` from 7 to 71. 71 is not a
    multiple of 8, but the packet filled a hole, so it is answered at once (§ Selective repeat);
    were it coalesced, the sender, its window full, would wait for its RTO (1 ms) and finish at
    1.18 ms instead of 0.18 ms."""
    doc = two_senders(200, 4)
    doc["topology"]["link_delay"] = "10us"
    doc["host"].update(ack_every=8, sr_window=64)
    model, flows, sim, res = traced(doc)
    assert_complete(res, flows)
    assert res["flow_drops"] == [1, 0]
    assert res["flow_timeouts"] == [0, 0], f"A waited for its timer: finished at {res['t_finish_ps'][0]} ps"
