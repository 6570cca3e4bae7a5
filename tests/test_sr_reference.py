"""Selective repeat (``host.transport = "sr"``, docs/packet-engine.md § Selective repeat) in the
reference packet simulator (tests/reference/packet_ref.py). The kernel does not run sr yet: these
tests check the reference alone, against what the specification says sr must do.

Some tests watch the simulator from inside: ``Traced`` is a ``PacketSim`` whose methods are
wrapped to log what happens (each pull of a data packet into a NIC, each drop, each ACK reaching
a sender, each data packet that reaches its receiver out of order); nothing in the reference
changes.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .reference import packet_ref as ref
from .test_packet_reference import (
    FAT_TREE, LEAF_SPINE, assert_complete, assert_conservation, assert_kernel_matches_reference,
    assert_kernel_matches_reference_on, build, n_packets, ser, tiny_scenarios,
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
    - ``out_of_order``: per flow, data packets that arrived beyond ``rcv_nxt``.
    """

    def __init__(self, model, flows):
        super().__init__(model, flows)
        self.pulls: list[tuple] = []
        self.host_tx_done: list[tuple] = []
        self.drops: list[tuple] = []
        self.acks: list[tuple] = []
        self.replies = [Counter() for _ in range(self.n_flows)]
        self.out_of_order = [0] * self.n_flows

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
        super().on_tx_done(l)

    def forward(self, node, l, p):
        drops = sum(self.link_drops)
        super().forward(node, l, p)
        if sum(self.link_drops) > drops:
            self.drops.append((self.now, p.flow, p.seq))

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
    sends = Counter((f, seq) for _, f, seq, _ in sim.pulls)
    assert sends[(0, HOLE)] == 2
    assert all(n == 1 for (f, seq), n in sends.items() if (f, seq) != (0, HOLE))
    assert sorted(sends) == [(0, k) for k in range(a_packets)] + [(1, k) for k in range(C_PACKETS - 1)]
    assert res["flow_retx_bytes"] == [MTU, 0]
    assert res["flow_packets"] == [a_packets + 1, C_PACKETS - 1]
    assert res["flow_timeouts"] == [0, 0]
    # the trigger: the first ACK of A with SACK ≥ hole + R; those before it were ACKs of A's
    # packets in order up to the hole, then SACKs below hole + R
    acks_a = [(t, cum, sack) for t, f, cum, sack in sim.acks if f == 0]
    i = next(i for i, (_, _, sack) in enumerate(acks_a) if sack >= HOLE + reorder)
    t_sack, cum, sack = acks_a[i]
    assert (cum, sack) == (HOLE, HOLE + reorder)
    assert [sack for _, _, sack in acks_a[:i]] == [*range(HOLE), *range(HOLE + 1, HOLE + reorder)]
    resend = [t for t, f, seq, _ in sim.pulls if (f, seq) == (0, HOLE)][1]
    if a_packets == 20:
        assert max(t for t, f, _, _ in sim.pulls if f == 0 and t < resend) + s < t_sack  # the NIC is idle
        assert resend == t_sack
    else:
        assert t_sack % s != 0
        assert resend == -(-t_sack // s) * s
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
def sr_scenarios(draw):
    """``tiny_scenarios`` (tests/test_packet_reference.py: stars and leaf-spines, small buffers
    that drop, PFC on and off, every ECMP mode, sometimes a collective; congestion control none
    or DCQCN, flows that may give up or not) with sr: W = 64 or 128 packets, R = 1..8; with PFC,
    half the time a 4 MiB buffer (in practice nothing is dropped); and half the time one more flow of
    65–300 packets, so that the window binds."""
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
      the pulls seen; a flow that did not give up sent every sequence number, and its
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
