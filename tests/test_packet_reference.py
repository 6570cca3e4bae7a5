"""The reference packet simulator (tests/reference/packet_ref.py) against analytic results, and
the packet kernel against the reference (``test_kernel_matches_reference``, and with DCQCN
``test_kernel_matches_reference_with_dcqcn``).

The analytic tests use ``cc.algorithm = "none"`` (line rate), what docs/packet-engine.md
specifies; the DCQCN comparisons (docs/dcqcn.md) use both presets with small ECN thresholds and
short timers, so that tiny scenarios see cuts, recoveries and paced senders.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fabsim
from fabsim.native.ecmp import ecmp_hash as native_ecmp_hash
from fabsim.native.ecmp import mix64 as native_mix64
from fabsim.run.packet import run_packet_engine
from fabsim.traffic import build_flow_table

from .reference import packet_ref as ref

# Every kernel run here starts with room for one flow context (tests/conftest.py), so that
# contexts are given back and taken again, and grow, in every case compared.
pytestmark = pytest.mark.usefixtures("room_for_one_flow_context")

GBPS = 10**9
US = 10**6  # ps
NS = 10**3
MTU, HEADER = 1000, 48
W = MTU + HEADER  # wire bytes of a full packet
CTRL = 64


# ---- helpers ----------------------------------------------------------------------------------


def load(topology: dict, traffic: list[dict], *, switch=None, host=None, routing=None, cc=None, run=None):
    doc = {
        "run": {"seed": 5, **(run or {})},
        "topology": topology,
        "switch": {"buffer": "64MiB", **(switch or {})},
        "host": {"mtu": MTU, "header": HEADER, **(host or {})},
        "routing": routing or {},
        "cc": {"algorithm": "none", **(cc or {})},
        "traffic": traffic,
    }
    sc = fabsim.load_scenario(doc)
    model = fabsim.build_model(sc)
    return model, build_flow_table(sc, model.fabric)


def run(topology, traffic, **kw):
    model, flows = load(topology, traffic, **kw)
    return model, flows, ref.simulate(model, flows)


def ser(wire: int, rate_bps: int) -> int:
    return -((-8 * wire * 10**12) // rate_bps)


def n_packets(size: int, mtu: int = MTU) -> int:
    return -(-size // mtu)


def wire_of(size: int, mtu: int = MTU, header: int = HEADER) -> int:
    return size + n_packets(size, mtu) * header


def hops(model, flows) -> list[int]:
    return [model.routing.hop_count(int(s), int(d)) for s, d in zip(flows.src, flows.dst)]


def assert_complete(res, flows):
    assert not res["stopped_at_until"]
    assert all(t >= 0 for t in res["t_finish_ps"]), res["t_finish_ps"]
    assert res["residual_bytes"] == 0
    for s, e in zip(res["t_start_ps"], res["t_finish_ps"]):
        assert e > s >= 0


def assert_conservation(model, flows, res):
    """Invariants of a completed run (see the test docstrings for the accounting)."""
    mtu, header = model.scenario.host.mtu_bytes, model.scenario.host.header_bytes
    fab = model.fabric
    P = res["flow_packets"]
    D = res["flow_drops"]
    cc = model.scenario.cc
    # CNP packets (DCQCN, paper): 64 bytes from the receiver back over the flow's h links, never
    # dropped; every one sent has reached the sender when a run completes.
    C = res["flow_cnps"] if cc.algorithm == "dcqcn" and cc.preset == "paper" else [0] * len(flows)
    if cc.algorithm == "none":
        assert sum(res["flow_cnps"]) == 0
    npk = [n_packets(int(s), mtu) for s in flows.size_bytes]
    # Every sequence number is sent once for the first time; the rest are go-back-N resends.
    for f in range(len(flows)):
        assert P[f] >= npk[f]
        assert (res["flow_retx_bytes"][f] > 0) == (P[f] > npk[f])
    assert sum(res["link_drops"]) == sum(D)
    assert sum(res["link_ecn"]) == sum(res["flow_ecn"])  # a packet is marked at most once
    assert [P[f] - D[f] for f in range(len(flows))] == res["flow_received"]  # nothing left in flight
    # ACKs and NACKs: one per data packet delivered (a data packet is delivered unless dropped;
    # control packets are never dropped), less the in-order ones host.ack_every leaves unanswered:
    # each sequence number but the last is accepted in order once, and answered if it makes
    # rcv_nxt a multiple of N.
    n = model.scenario.host.ack_every
    A = [P[f] - D[f] - ((npk[f] - 1) - (npk[f] - 1) // n) for f in range(len(flows))]
    # A host's uplink carries its flows' data (first sends + resends) and their ACKs.
    up = [0] * fab.n_hosts
    for f in range(len(flows)):
        s, d, size = int(flows.src[f]), int(flows.dst[f]), int(flows.size_bytes[f])
        up[s] += wire_of(size, mtu, header) + res["flow_retx_bytes"][f] + header * (P[f] - npk[f])
        up[d] += CTRL * (A[f] + C[f])
    assert [res["link_tx_bytes"][int(fab.host_uplink[h])] for h in range(fab.n_hosts)] == up
    # Packet-hops: a delivered data packet and an ACK cross h links each; a dropped one crosses
    # between 1 and h − 1; PFC frames one each.
    h = hops(model, flows)
    lo = sum((P[f] - D[f] + A[f]) * h[f] + D[f] + C[f] * h[f] for f in range(len(flows)))
    hi = sum((P[f] - D[f] + A[f]) * h[f] + D[f] * (h[f] - 1) + C[f] * h[f] for f in range(len(flows)))
    pfc_frames = res["packet_hops"] - lo
    if not model.scenario.switch.pfc:
        assert lo <= res["packet_hops"] <= hi
        assert sum(res["link_pause_ps"]) == 0
    if sum(D) == 0:
        # No drops: every data packet crossed its whole path, so PFC frames are the remainder,
        # and the bytes agree: Σ tx = Σ_f h_f·(data wire sent) + 64·(ACK hops + PFC frames).
        assert pfc_frames >= 0 and pfc_frames % 2 == 0  # every PAUSE is followed by a RESUME
        data_wire = [wire_of(int(flows.size_bytes[f]), mtu, header) + res["flow_retx_bytes"][f]
                     + header * (P[f] - npk[f]) for f in range(len(flows))]
        expect = sum(h[f] * (data_wire[f] + CTRL * (A[f] + C[f])) for f in range(len(flows))) + CTRL * pfc_frames
        assert sum(res["link_tx_bytes"]) == expect
        assert (pfc_frames > 0) == (sum(res["link_pause_ps"]) > 0)
    if not model.scenario.switch.ecn:
        assert sum(res["link_ecn"]) == 0


STAR = {"kind": "star", "hosts": 4, "host_rate": "100Gbps", "link_delay": "1us"}
LEAF_SPINE = {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 2,
              "host_rate": "100Gbps", "fabric_rate": "100Gbps", "link_delay": "1us"}
FAT_TREE = {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps", "fabric_rate": "100Gbps", "link_delay": "1us"}
# (topology, destination of a flow from h0, links on its path)
PATHS = [(STAR, 3, 2), (LEAF_SPINE, 1, 2), (LEAF_SPINE, 3, 4), (FAT_TREE, 1, 2), (FAT_TREE, 2, 4), (FAT_TREE, 15, 6)]
PATH_IDS = ["star", "leaf-same", "leaf-other", "ft-tor", "ft-pod", "ft-core"]


# ---- the hash and the stream ------------------------------------------------------------------


def test_python_hash_matches_native():
    rng = np.random.default_rng(0)
    for _ in range(200):
        x = [int(v) for v in rng.integers(0, 2**31, 6)]
        x[4] += 65536 * int(rng.integers(1, 10_000))  # per-packet channels are large
        assert ref.ecmp_hash(*x) == int(native_ecmp_hash(*x))
        assert ref.mix64(x[0]) == int(native_mix64(np.uint64(x[0])))
    # The ECN stream is mix64 of seed + k·golden: draw k+1 = mix64 of the state before it.
    s = ref.SplitMix64(7)
    assert s.next_u() == int(native_mix64(np.uint64(7))) / 2**64


# ---- (1) latency of one packet and of a message -------------------------------------------------


@pytest.mark.parametrize("latency_ns", [0, 300])
@pytest.mark.parametrize("topo,dst,h", PATHS, ids=PATH_IDS)
def test_one_packet_takes_h_serialisations_and_delays(topo, dst, h, latency_ns):
    size = 700  # one packet, smaller than the MTU
    model, flows, res = run(
        topo, [{"kind": "flow", "src": 0, "dst": dst, "size": size, "start": "3us"}],
        switch={"latency": f"{latency_ns}ns"},
    )
    assert hops(model, flows) == [h]
    d, lam = 1 * US, latency_ns * NS
    w = size + HEADER
    assert res["t_start_ps"] == [3 * US]
    assert res["t_finish_ps"][0] - 3 * US == h * (ser(w, 100 * GBPS) + d) + (h - 1) * lam
    assert res["flow_packets"] == [1] and res["flow_drops"] == [0] and res["flow_retx_bytes"] == [0]
    assert res["packet_hops"] == 2 * h  # the packet and its ACK
    assert sorted(x for x in res["link_tx_bytes"] if x) == sorted([w] * h + [CTRL] * h)
    assert_complete(res, flows)
    assert_conservation(model, flows, res)


@pytest.mark.parametrize("last", [MTU, 1, 333])
@pytest.mark.parametrize("m", [2, 3, 17])
@pytest.mark.parametrize("topo,dst,h", PATHS, ids=PATH_IDS)
def test_message_pipelines_over_the_path(topo, dst, h, m, last):
    # First m − 1 full packets pipeline behind each other; the last one (payload `last`) leaves
    # the host (m − 1)·s + s' after the start and, at every later hop, waits for the full packet
    # ahead of it: it arrives at (m + h − 2)·s + s' + h·d (+ (h − 1)·latency).
    size = (m - 1) * MTU + last
    for latency_ns in (0, 250):
        model, flows, res = run(
            topo, [{"kind": "flow", "src": 0, "dst": dst, "size": size}], switch={"latency": f"{latency_ns}ns"}
        )
        s, s_last = ser(W, 100 * GBPS), ser(last + HEADER, 100 * GBPS)
        expect = (m + h - 2) * s + s_last + h * 1 * US + (h - 1) * latency_ns * NS
        assert res["t_finish_ps"][0] - res["t_start_ps"][0] == expect
        assert res["flow_packets"] == [m] and sum(res["flow_drops"]) == 0
        assert res["packet_hops"] == 2 * m * h
        assert_complete(res, flows)
        assert_conservation(model, flows, res)


def test_non_integer_serialisation_rounds_up():
    # 30 Gb/s: 8·1048·10¹²/(3·10¹⁰) = 279,466.67 ps → 279,467 per link.
    topo = {"kind": "star", "hosts": 2, "host_rate": "30Gbps", "link_delay": "100ns"}
    model, flows, res = run(topo, [{"kind": "flow", "src": 0, "dst": 1, "size": MTU}])
    assert ser(W, 30 * GBPS) == 279_467
    assert res["t_finish_ps"][0] == 2 * (279_467 + 100 * NS)


# ---- (2) incast, deep buffer -----------------------------------------------------------------------


INCAST_N, INCAST_S = 8, 300_000


def incast(n=INCAST_N, size=INCAST_S, **kw):
    topo = {"kind": "star", "hosts": n + 1, "host_rate": "100Gbps", "link_delay": "1us"}
    return run(topo, [{"kind": "incast", "receiver": 0, "senders": n, "size": size}], **kw)


def test_incast_with_pfc_keeps_the_receiver_link_busy():
    model, flows, res = incast(switch={"pfc": True, "ecn": False})
    assert_complete(res, flows)
    assert sum(res["flow_drops"]) == 0
    busy = ser(INCAST_N * wire_of(INCAST_S), 100 * GBPS)  # receiver link busy time
    s, d = ser(W, 100 * GBPS), 1 * US
    # The receiver link starts when the first packet reaches the switch (s + d) and the last
    # packet lands d after it is sent.
    fct = max(res["t_finish_ps"]) - min(res["t_start_ps"])
    assert busy + s + 2 * d <= fct <= 1.01 * busy + s + 2 * d
    assert sum(res["link_pause_ps"]) > 0  # each sender's ingress went above xoff
    assert_conservation(model, flows, res)


def test_incast_without_pfc_queues_all_but_one_senders_bytes():
    model, flows, res = incast(switch={"pfc": False, "ecn": False})
    assert_complete(res, flows)
    assert sum(res["flow_drops"]) == 0 and sum(res["link_pause_ps"]) == 0
    down = int(model.fabric.host_downlink[0])
    expect = (INCAST_N - 1) * wire_of(INCAST_S)
    assert abs(res["link_max_queue"][down] - expect) <= INCAST_N * W
    assert max(res["link_max_queue"][l] for l in range(model.fabric.n_links) if l != down) <= W
    assert_conservation(model, flows, res)


# ---- (3) small buffer, no PFC: drops and go-back-N ---------------------------------------------------


@pytest.mark.parametrize("policy", ["dynamic", "static"])
def test_drops_are_recovered_by_go_back_n(policy):
    buffer = 60_000 if policy == "dynamic" else 9 * 8 * W  # static: 8 packets per port
    # The last sender in the static case times out more than 7 times in a row (its oldest
    # packet keeps finding a full port): with unlimited patience every flow completes.
    model, flows, res = incast(
        switch={"pfc": False, "buffer": buffer, "buffer_policy": policy}, host={"rto": "20us", "retries": 255}
    )
    assert_complete(res, flows)
    assert sum(res["flow_drops"]) > 0
    assert sum(res["flow_retx_bytes"]) > 0
    P, D = sum(res["flow_packets"]), sum(res["flow_drops"])
    assert res["packet_hops"] == 4 * P - 3 * D  # star: data 2 hops (1 if dropped), ACK 2 hops
    down = int(model.fabric.host_downlink[0])
    assert res["link_drops"][down] == D
    if policy == "static":
        assert res["link_max_queue"][down] <= buffer // 9
    else:
        assert res["link_max_queue"][down] <= buffer
    assert_conservation(model, flows, res)


# ---- (4) PFC with headroom: lossless ---------------------------------------------------------------


def test_pfc_with_headroom_is_lossless():
    # 8 ingresses × (xoff 50 KB + ~30 KB in flight during a pause round trip) ≈ 640 KB, under
    # the dynamic threshold's ~1 MB at a 2 MB buffer; without PFC the same buffer drops.
    sw = {"buffer": 2_000_000, "pfc_xoff": 50_000, "pfc_xon": 40_000}
    model, flows, res = incast(switch={**sw, "pfc": True}, host={"rto": "1ms"})
    assert_complete(res, flows)
    assert sum(res["flow_drops"]) == 0 and sum(res["link_drops"]) == 0
    assert sum(res["flow_retx_bytes"]) == 0
    assert sum(res["link_pause_ps"]) > 0
    P = sum(res["flow_packets"])
    pfc_frames = res["packet_hops"] - 4 * P
    assert pfc_frames > 0 and pfc_frames % 2 == 0
    # PAUSE/RESUME go from the switch to the senders only.
    senders = [int(model.fabric.host_downlink[h]) for h in range(1, INCAST_N + 1)]
    assert sum(res["link_tx_bytes"][l] for l in senders) == CTRL * (P + pfc_frames)
    assert_conservation(model, flows, res)
    _, _, lossy = incast(switch={**sw, "pfc": False}, host={"rto": "1ms"})
    assert sum(lossy["flow_drops"]) > 0


# ---- (5) conservation on multi-hop fabrics; ECN; dependencies; until ---------------------------------


@pytest.mark.parametrize("ecmp", ["flow", "packet", "adaptive"])
@pytest.mark.parametrize("pfc", [False, True])
def test_conservation_on_a_fat_tree_permutation(ecmp, pfc):
    model, flows, res = run(
        FAT_TREE, [{"kind": "permutation", "size": 40_000}],
        routing={"ecmp": ecmp}, switch={"pfc": pfc, "buffer": 300_000, "pfc_xoff": 20_000, "pfc_xon": 15_000},
        host={"rto": "30us"},
    )
    assert_complete(res, flows)
    assert_conservation(model, flows, res)


def test_ecn_marks_follow_the_thresholds():
    base = {"pfc": True, "ecn_kmin": 0, "ecn_kmax": 0}
    _, flows, res = incast(switch={**base, "ecn": False})
    assert sum(res["link_ecn"]) == 0
    # Kmin = Kmax = 0: every data packet that finds data queued is marked, at one switch only.
    model, flows, res = incast(switch={**base, "ecn": True})
    down = int(model.fabric.host_downlink[0])
    assert res["link_ecn"][down] == sum(res["link_ecn"]) == sum(res["flow_ecn"]) > 0
    assert sum(res["flow_ecn"]) <= sum(res["flow_packets"])
    # Pmax = 0 over a huge band: never marked (draws happen, u < 0 never).
    _, _, res = incast(switch={"ecn": True, "ecn_kmin": 0, "ecn_kmax": 10**9, "ecn_pmax": 0.0})
    assert sum(res["link_ecn"]) == 0
    # Pmax = 1 over the band: marks in proportion to the queue; at dequeue too.
    for at in ("enqueue", "dequeue"):
        _, _, res = incast(switch={"ecn": True, "ecn_at": at, "ecn_kmin": 10_000, "ecn_kmax": 10**7, "ecn_pmax": 1.0})
        assert 0 < sum(res["flow_ecn"]) < sum(res["flow_packets"])


def test_ecn_preset_thresholds():
    # paper: absolute values on every port; hpcc: scaled to the port rate
    model, flows = load(STAR, [{"kind": "flow", "src": 0, "dst": 1, "size": 1}], cc={"preset": "paper"})
    sim = ref.PacketSim(model, flows)
    assert set(sim.kmin) == {5_000} and set(sim.kmax) == {200_000}
    assert sim.pmax == 0.01
    model, flows = load({**STAR, "host_rate": "40Gbps"}, [{"kind": "flow", "src": 0, "dst": 1, "size": 1}])
    sim = ref.PacketSim(model, flows)
    assert set(sim.kmin) == {160_000} and set(sim.kmax) == {640_000} and sim.pmax == 0.2


def test_successors_start_after_their_last_predecessor_plus_gap():
    model, flows, res = run(
        LEAF_SPINE,
        [{"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": 24_000, "ranks": 4,
          "gap": "700ns", "iterations": 2, "compute": "5us", "channels": 2}],
    )
    assert_complete(res, flows)
    preds = [[] for _ in range(len(flows))]
    for f in range(len(flows)):
        for s in flows.succ[flows.succ_ptr[f] : flows.succ_ptr[f + 1]]:
            preds[int(s)].append(f)
    for f in range(len(flows)):
        if preds[f]:
            last = max(res["t_finish_ps"][p] for p in preds[f])
            assert res["t_start_ps"][f] == max(last + int(flows.gap_ps[f]), int(flows.start_ps[f]))
        else:
            assert res["t_start_ps"][f] == int(flows.start_ps[f])
    assert_conservation(model, flows, res)


def test_until_stops_the_run():
    model, flows = load(STAR, [{"kind": "flow", "src": 0, "dst": 1, "size": 200_000},
                               {"kind": "flow", "src": 2, "dst": 3, "size": 1000, "start": "50us"}])
    full = ref.simulate(model, flows)
    cut = ref.simulate(model, flows, until_ps=10 * US)
    assert cut["stopped_at_until"] and cut["end_ps"] == 10 * US
    assert cut["t_finish_ps"] == [-1, -1] and cut["t_start_ps"] == [0, -1]
    assert 0 < cut["events"] < full["events"]
    assert full == ref.simulate(model, flows)  # deterministic


# ---- the kernel against the reference ---------------------------------------------------------------
#
# Tiny random scenarios (≤ 8 hosts; a star or a 2-leaf/2-spine leaf-spine; ≤ 20 flows of 1–30
# packets with coinciding start times; ECN with small thresholds set in [switch]; buffers small
# enough to drop; PFC on and off; every ECMP mode; sometimes a collective for DAG starts). The
# kernel must agree with the reference on every field, exactly. With DCQCN the thresholds are
# always a few packets, the timers 0.5–5 µs, the rate floor 1–7 Gb/s (so a paced flow still
# finishes within a few hundred µs), and the rates trace is sampled and compared too.

COMPARED = [
    "t_start_ps", "t_finish_ps", "flow_packets", "flow_retx_bytes", "flow_retx_trim_bytes", "flow_ecn", "flow_drops",
    "flow_trims", "flow_cnps", "flow_gave_up", "flow_duplicates", "link_tx_bytes", "link_max_queue", "link_drops",
    "link_trims", "link_ecn", "link_pause_ps",
]  # fmt: skip


def dcqcn_parameters(draw, preset: str, wire: int) -> dict:
    """``[cc]`` keys that make DCQCN act within a few µs (docs/dcqcn.md; overrides of the preset)."""
    def short_time():
        return f"{draw(st.integers(1, 10)) * 500_000}ps"  # 0.5–5 µs

    cc = {
        "algorithm": "dcqcn",
        "preset": preset,
        "alpha_timer": short_time(),
        "rate_timer": short_time(),
        "g": draw(st.sampled_from([1 / 256, 1 / 16, 0.5])),
        "initial_alpha": draw(st.sampled_from([1.0, 0.5])),
        "fast_recovery": draw(st.sampled_from([0, 1, 2, 5])),
        "min_rate": draw(st.sampled_from(["1Gbps", "3Gbps", "7Gbps"])),
    }
    if draw(st.booleans()):  # explicit (absolute) steps, large enough to see; else the preset's
        cc["rai"] = draw(st.sampled_from(["100Mbps", "1Gbps", "5Gbps"]))
        cc["rhai"] = draw(st.sampled_from(["1Gbps", "10Gbps"]))
    if preset == "paper":
        cc["cnp_interval"] = draw(st.sampled_from(["0ps", "500ns", "2us", "5us"]))
        # 0 turns the byte counter off; else a few packets to 100 KB
        cc["byte_counter"] = draw(st.sampled_from([0, draw(st.integers(2 * wire, 100_000))]))
    else:
        cc["rate_decrease_interval"] = short_time()
    return cc


@st.composite
def tiny_scenarios(draw, algorithm: str = "none", preset: str | None = None, may_give_up: bool = False):
    """A scenario document (dict) for ``fabsim.load_scenario``; ``algorithm = "dcqcn"`` with
    ``preset`` adds the parameters of ``dcqcn_parameters`` and a rates trace. Flows give up
    after ``host.retries`` consecutive timeouts: with ``may_give_up`` the count is drawn small
    enough for that to happen, else it is the largest allowed (every flow completes)."""
    rates = ["25Gbps", "30Gbps", "100Gbps", "400Gbps"]
    host_rate = draw(st.sampled_from(rates))
    common = {
        "host_rate": host_rate,
        "fabric_rate": draw(st.sampled_from([host_rate, *rates])),
        "link_delay": f"{draw(st.sampled_from([0, 100_000, 1_000_000, 1_234_567]))}ps",
    }
    if draw(st.booleans()):
        n_hosts = draw(st.integers(2, 8))
        topology = {"kind": "star", "hosts": n_hosts, **common}
        ports = n_hosts
    else:
        hpl = draw(st.integers(1, 4))  # 2–8 hosts
        lpp = draw(st.integers(1, 2))
        n_hosts = 2 * hpl
        topology = {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": hpl,
                    "links_per_pair": lpp, **common}
        ports = max(hpl + 2 * lpp, 2 * lpp)
    mtu = draw(st.sampled_from([256, 1000, 1500]))
    header = draw(st.sampled_from([0, 48]))
    wire = mtu + header
    # Small enough to drop, large enough for a full packet at every port (static) and more.
    buffer = draw(st.integers(ports * wire * 2, ports * wire * 12))
    kmin = draw(st.integers(0, 8 * wire))
    xoff = draw(st.integers(wire, 6 * wire))
    switch = {
        "buffer": buffer,
        "buffer_policy": draw(st.sampled_from(["dynamic", "static"])),
        "dt_alpha": draw(st.sampled_from([0.5, 1.0, 2.0])),
        "latency": f"{draw(st.sampled_from([0, 300_000]))}ps",
        "ecn": draw(st.booleans()) or draw(st.booleans()),  # mostly on
        "ecn_at": draw(st.sampled_from(["enqueue", "dequeue"])),
        "pfc": draw(st.booleans()),
        "pfc_xoff": xoff,
        "pfc_xon": draw(st.integers(1, xoff)),
    }
    if algorithm == "dcqcn":  # thresholds of a few packets, marks likely
        switch["ecn"] = draw(st.integers(0, 7)) > 0  # rarely off: then DCQCN never acts
        switch["ecn_kmin"] = draw(st.integers(0, 4 * wire))
        switch["ecn_kmax"] = switch["ecn_kmin"] + draw(st.integers(0, 8 * wire))
        switch["ecn_pmax"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    elif draw(st.integers(0, 2)):  # thresholds set in [switch] (else from the cc preset)
        switch["ecn_kmin"] = kmin
        switch["ecn_kmax"] = kmin + draw(st.integers(0, 10 * wire))
        switch["ecn_pmax"] = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    traffic = []
    n_flows = draw(st.integers(1, 20))
    flows = []
    for _ in range(n_flows):
        src = draw(st.integers(0, n_hosts - 1))
        dst = draw(st.integers(0, n_hosts - 2))
        dst = dst + 1 if dst >= src else dst
        packets = draw(st.integers(1, 30))
        size = (packets - 1) * mtu + draw(st.integers(1, mtu))
        start = draw(st.integers(0, 40)) * 500_000  # on a 0.5 µs grid: starts coincide
        flows.append({"src": src, "dst": dst, "size": size, "start": f"{start}ps"})
    traffic.append({"kind": "flow", "flows": flows})
    if draw(st.integers(0, 3)) == 0:
        ranks = draw(st.integers(2, min(3, n_hosts)))
        traffic.append({
            "kind": "collective", "op": "allreduce", "algorithm": "ring", "ranks": ranks,
            "size": draw(st.integers(ranks, 8 * ranks * mtu)), "gap": f"{draw(st.sampled_from([0, 700_000]))}ps",
            "placement": "random", "start": f"{draw(st.integers(0, 20)) * 500_000}ps",
        })
    doc = {
        "run": {"seed": draw(st.integers(0, 2**32)), "until": "50ms"},
        "topology": topology,
        "switch": switch,
        "host": {"mtu": mtu, "header": header, "rto": f"{draw(st.sampled_from([10, 30, 100]))}us",
                 "nack": draw(st.booleans()),
                 "retries": draw(st.sampled_from([0, 1, 7, 255])) if may_give_up else 255,
                 "ack_every": draw(st.sampled_from([1, 1, 2, 3, 8]))},
        "routing": {"ecmp": draw(st.sampled_from(["flow", "packet", "adaptive"]))},
        "traffic": traffic,
    }
    if algorithm == "dcqcn":
        doc["cc"] = dcqcn_parameters(draw, preset, wire)
        # rates samples every cc_sample, at the driver's slice ends (gcd with queue_sample)
        doc["output"] = {"cc_sample": f"{draw(st.sampled_from([0, 1_000_000, 2_500_000, 10_000_000]))}ps",
                         "queue_sample": f"{draw(st.sampled_from([0, 1_500_000, 10_000_000]))}ps"}
    else:
        doc["cc"] = {"algorithm": "none", "preset": draw(st.sampled_from(["hpcc", "paper", "paper"]))}
    return doc


def build(doc):
    sc = fabsim.load_scenario(doc)
    model = fabsim.build_model(sc)
    return model, build_flow_table(sc, model.fabric)


def compare(raw, expect: dict, doc) -> None:
    """Field-by-field exact comparison of a kernel RawRun with the reference's lists."""
    for name in COMPARED:
        got = np.asarray(getattr(raw, name)).tolist()
        want = expect[name]
        if got != want:
            bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
            first = bad[0] if bad else None
            raise AssertionError(
                f"{name} differs at {len(bad)} of {len(want)} entries (lengths {len(got)}/{len(want)}); "
                f"first at index {first}: kernel {got[first] if bad else got} vs reference "
                f"{want[first] if bad else want}\nscenario: {doc}"
            )
    if getattr(raw, "flow_received", None) is not None:
        got = np.asarray(raw.flow_received).tolist()
        assert got == expect["flow_received"], f"flow_received {got} vs {expect['flow_received']}\n{doc}"
    for name in ("packet_hops", "events", "end_ps", "stopped_at_until"):
        got = getattr(raw, name)
        assert got == expect[name], f"{name}: kernel {got} vs reference {expect[name]}\n{doc}"
    # the rates trace (DCQCN with output.cc_sample): (t, flow, Rc, Rt, α), floats bit for bit
    got = [] if raw.rate_samples is None else list(zip(*(c.tolist() for c in raw.rate_samples.columns())))
    want = [(t // 1000, *rest) for t, *rest in expect["rate_samples"]]  # the trace's times are ns
    if got != want:
        bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise AssertionError(
            f"rate_samples differ ({len(got)} vs {len(want)} samples); first at {bad}: kernel "
            f"{got[bad] if bad < len(got) else None} vs reference {want[bad] if bad < len(want) else None}"
            f"\nscenario: {doc}"
        )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=tiny_scenarios())
def test_reference_completes_random_scenarios(doc):
    # The scenario generator itself, and the reference's invariants on what it generates.
    model, flows = build(doc)
    res = ref.simulate(model, flows)
    assert_complete(res, flows)
    assert_conservation(model, flows, res)


# Fixed cases first (each once found a disagreement, or pins down a spec choice), then random ones.
KERNEL_CASES = [
    # ECN at enqueue on three switches in a row: a packet is counted once (Interpretation 3).
    {"run": {"seed": 0}, "topology": {**LEAF_SPINE, "hosts_per_leaf": 1, "host_rate": "25Gbps",
                                      "fabric_rate": "25Gbps", "link_delay": "0ps"},
     "switch": {"buffer": 1536, "dt_alpha": 0.5, "pfc": False, "ecn_kmin": 0, "ecn_kmax": 0, "ecn_pmax": 0.0},
     "host": {"mtu": 256, "header": 0, "rto": "10us"}, "cc": {"algorithm": "none"},
     "traffic": [{"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": 257}]}]},
    # "paper" preset thresholds are absolute, not scaled to the port rate like "hpcc" ones
    # (docs/packet-engine.md § ECN marking): 5 KB and 200 KB on 100 Gb/s ports too.
    {"run": {"seed": 3}, "topology": {"kind": "star", "hosts": 5, "host_rate": "100Gbps", "link_delay": "1us"},
     "cc": {"algorithm": "none", "preset": "paper"}, "switch": {"buffer": "1MiB"},
     "traffic": [{"kind": "incast", "receiver": 0, "senders": 4, "size": "100KB"}]},
    # PFC, drops, go-back-N and ECN together on a leaf-spine.
    {"run": {"seed": 11}, "topology": {**LEAF_SPINE, "links_per_pair": 2},
     "switch": {"buffer": 40_000, "pfc": True, "pfc_xoff": 6_000, "pfc_xon": 3_000, "ecn_kmin": 2_000,
                "ecn_kmax": 20_000, "ecn_pmax": 0.5},
     "host": {"mtu": MTU, "header": HEADER, "rto": "20us"}, "routing": {"ecmp": "adaptive"},
     "cc": {"algorithm": "none"},
     "traffic": [{"kind": "incast", "receiver": 3, "senders": 3, "size": 30_000},
                 {"kind": "permutation", "size": 12_000, "start": "2us"}]},
    # Every flow received before run.until, its retransmission timer still pending after it: the
    # run was not stopped there, and it ends at the last reception (docs/packet-engine.md § What
    # is measured).
    {"run": {"seed": 1, "until": "50us"}, "topology": {"kind": "star", "hosts": 2, "link_delay": "1us"},
     "host": {"rto": "100us"}, "cc": {"algorithm": "none"},
     "traffic": [{"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": 1000}]}]},
    # No retries, no NACKs, a buffer that drops: senders whose packet is lost give up at their
    # first timeout, and what they still have in flight is discarded at the receiver.
    {"run": {"seed": 5}, "topology": {"kind": "star", "hosts": 5, "link_delay": "1us"},
     "switch": {"buffer": 30_000, "pfc": False}, "host": {"mtu": MTU, "header": HEADER, "rto": "20us",
                                                          "nack": False, "retries": 0},
     "cc": {"algorithm": "none"},
     "traffic": [{"kind": "incast", "receiver": 0, "senders": 4, "size": 40_000}]},
    # Cut by run.until while ports are paused: open pause intervals are charged up to until.
    {"run": {"seed": 2, "until": "30us"}, "topology": {"kind": "star", "hosts": 5, "link_delay": "1us"},
     "switch": {"pfc": True, "pfc_xoff": 20_000, "pfc_xon": 10_000},
     "host": {"mtu": MTU, "header": HEADER}, "cc": {"algorithm": "none"},
     "traffic": [{"kind": "incast", "receiver": 0, "senders": 4, "size": 500_000}]},
]


def assert_kernel_matches_reference(doc) -> None:
    """The Numba kernel's run of ``doc`` equals this reference's, field by field."""
    model, flows = build(doc)
    compare(run_packet_engine(model, flows), ref.simulate(model, flows), doc)


def assert_kernel_matches_reference_on(scenarios) -> None:
    """The same for 100 scenarios drawn from the hypothesis strategy ``scenarios``."""

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(doc=scenarios)
    def check(doc):
        assert_kernel_matches_reference(doc)

    check()


def test_a_flow_survives_more_timeouts_than_retries_when_they_are_not_consecutive():
    """host.retries counts consecutive timeouts of one packet: progress in between starts the
    count again (docs/packet-engine.md § RTO). With retries = 1, every sender of this lossy
    incast completes although one times out three times in all; the kernel agrees."""
    doc = {"run": {"seed": 0}, "topology": {"kind": "star", "hosts": 5, "link_delay": "1us"},
           "switch": {"buffer": 30_000, "pfc": False},
           "host": {"mtu": 1000, "header": 48, "rto": "20us", "nack": False, "retries": 1},
           "cc": {"algorithm": "none"},
           "traffic": [{"kind": "incast", "receiver": 0, "senders": 4, "size": 40_000}]}
    model, flows = build(doc)
    res = ref.simulate(model, flows)
    assert_complete(res, flows)
    assert max(res["flow_timeouts"]) == 3 > model.scenario.host.retries
    compare(run_packet_engine(model, flows), res, doc)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm,preset", [("none", None), ("dcqcn", "paper"), ("dcqcn", "hpcc")])
def test_kernel_matches_reference_on_many_scenarios(algorithm, preset):
    """The comparison below on 1,000 random scenarios per case (``pytest -m slow``)."""
    @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(doc=tiny_scenarios(algorithm, preset, may_give_up=True))
    def check(doc):
        assert_kernel_matches_reference(doc)

    check()


def test_kernel_matches_reference():
    """The Numba kernel and this reference agree exactly: fixed cases, then random tiny ones."""
    for doc in KERNEL_CASES:
        assert_kernel_matches_reference(doc)
    assert_kernel_matches_reference_on(tiny_scenarios(may_give_up=True))


# ---- the kernel against the reference with DCQCN (docs/dcqcn.md) -------------------------------------


def dcqcn_doc(preset: str, *, cc=None, switch=None, host=None, routing=None, topology=None, traffic=None,
              run=None, output=None) -> dict:
    """A small incast (4 × 60 KB into one 100 Gb/s host) with ECN at a few KB and µs timers."""
    timers = ({"cnp_interval": "2us", "alpha_timer": "3us", "rate_timer": "3us", "byte_counter": "20KB",
               "min_rate": "1Gbps"} if preset == "paper" else
              {"alpha_timer": "1us", "rate_timer": "5us", "rate_decrease_interval": "2us"})
    return {
        "run": {"seed": 3, **(run or {})},
        "topology": topology or {"kind": "star", "hosts": 5, "host_rate": "100Gbps", "link_delay": "1us"},
        "switch": {"buffer": "1MiB", "ecn_kmin": 2_000, "ecn_kmax": 8_000, "ecn_pmax": 0.5, "pfc": True,
                   **(switch or {})},
        "host": {"mtu": MTU, "header": HEADER, **(host or {})},
        "routing": routing or {},
        "output": {"cc_sample": "1us", **(output or {})},
        "cc": {"algorithm": "dcqcn", "preset": preset, **timers, **(cc or {})},
        "traffic": traffic or [{"kind": "incast", "receiver": 0, "senders": 4, "size": 60_000}],
    }


# Fixed cases first (deferred CNPs; drops and go-back-N while paced; CNPs sprayed per packet over a
# leaf-spine; a run cut by until with samples up to it; hyper increase), then random ones.
DCQCN_CASES = [
    *[dcqcn_doc(p) for p in ("paper", "hpcc")],
    *[dcqcn_doc(p, switch={"pfc": False, "buffer": 12_000}, host={"rto": "10us", "nack": nack},
                cc={"min_rate": "2Gbps"})
      for p in ("paper", "hpcc") for nack in (False, True)],
    *[dcqcn_doc(p, topology={**LEAF_SPINE, "links_per_pair": 2}, routing={"ecmp": "packet"},
                traffic=[{"kind": "permutation", "size": 30_000},
                         {"kind": "incast", "receiver": 3, "senders": 3, "size": 20_000, "start": "1us"}])
      for p in ("paper", "hpcc")],
    *[dcqcn_doc(p, run={"until": "9us"}, output={"cc_sample": "2us", "queue_sample": "3us"}) for p in ("paper", "hpcc")],
    dcqcn_doc("paper", cc={"fast_recovery": 0, "byte_counter": 3_000, "rai": "1Gbps", "rhai": "5Gbps", "g": 0.5,
                           "cnp_interval": "0us"},
              traffic=[{"kind": "incast", "receiver": 0, "senders": 2, "size": 90_000}]),
]


def test_dcqcn_acts_in_a_tiny_incast():
    """DCQCN does something in scenarios this small: signals, cuts, recoveries, paced senders."""
    traffic = [{"kind": "incast", "receiver": 0, "senders": 4, "size": 200_000}]
    for preset, cc in (("paper", {"cnp_interval": "4us", "rate_timer": "1500ns"}),
                       ("hpcc", {"rate_timer": "2us", "rate_decrease_interval": "3us"})):
        doc = dcqcn_doc(preset, cc=cc, traffic=traffic)
        model, flows = build(doc)
        res = ref.simulate(model, flows)
        assert_complete(res, flows)
        assert_conservation(model, flows, res)
        compare(run_packet_engine(model, flows), res, doc)
        assert all(c > 0 for c in res["flow_cnps"]), res["flow_cnps"]
        samples = {(t, f): rc for t, f, rc, _, _ in res["rate_samples"]}
        # every sender was cut well below its 100 Gb/s line rate, so it was paced...
        for f in range(len(flows)):
            assert min(rc for (_, g), rc in samples.items() if g == f) < 100 * GBPS / 4, (preset, f)
        # ...and recovered between cuts: Rc grew from one 1 µs sample to the next
        ups = sum(1 for (t, f), rc in samples.items() if samples.get((t + US, f), 0.0) > rc)
        assert ups >= 10, (preset, ups)
        if preset == "paper":  # the receiver's uplink: an ACK per data packet delivered, and the CNPs
            delivered = sum(res["flow_packets"]) - sum(res["flow_drops"])
            assert res["link_tx_bytes"][int(model.fabric.host_uplink[0])] == CTRL * (delivered + sum(res["flow_cnps"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=st.sampled_from(["paper", "hpcc"]).flatmap(lambda preset: tiny_scenarios("dcqcn", preset)))
def test_reference_completes_random_dcqcn_scenarios(doc):
    model, flows = build(doc)
    res = ref.simulate(model, flows)
    assert_complete(res, flows)
    assert_conservation(model, flows, res)


@pytest.mark.parametrize("preset", ["paper", "hpcc"])
def test_kernel_matches_reference_with_dcqcn(preset):
    """The kernel and the reference agree exactly with DCQCN, rates trace included."""
    for doc in DCQCN_CASES:
        if doc["cc"]["preset"] == preset:
            assert_kernel_matches_reference(doc)
    assert_kernel_matches_reference_on(tiny_scenarios("dcqcn", preset, may_give_up=True))
