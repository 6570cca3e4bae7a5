"""The packet engine against the analytic results of DESIGN §5 and §7, and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fabsim
from fabsim.api import simulate

GBPS = 10**9
MTU, HEADER = 4096, 48


def scenario(topology, traffic, **sections):
    """A packet-engine scenario at line rate; ``sections`` are further scenario tables."""
    doc = {"run": {"engine": "packet", "seed": 5}, "cc": {"algorithm": "none"}, **sections}
    return fabsim.load_scenario({**doc, "topology": topology, "traffic": traffic})


def ser_ns(wire, rate_gbps):
    return wire * 8 / rate_gbps


TOPOLOGIES = [
    ({"kind": "star", "hosts": 4}, 0, 3, 2),
    ({"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 2}, 0, 3, 4),
    ({"kind": "fat_tree", "k": 4}, 0, 15, 6),
]


@pytest.mark.parametrize("topo,src,dst,hops", TOPOLOGIES)
@pytest.mark.parametrize("size", [1000, MTU, 10 * MTU, 10 * MTU + 777])
def test_store_and_forward_is_exact(topo, src, dst, hops, size):
    topo = {**topo, "host_rate": "100Gbps", "link_delay": "1us"}
    sc = scenario(topo, [{"kind": "flow", "src": src, "dst": dst, "size": size}])
    f = simulate(sc).flows.to_pylist()[0]
    m = math.ceil(size / MTU)
    full, last = ser_ns(MTU + HEADER, 100), ser_ns(size - (m - 1) * MTU + HEADER, 100)
    if m == 1:  # h·(8w/R + d)
        expect_ns = hops * (last + 1000)
    else:  # (m + h − 1)·8w/R + h·d, where the last, shorter packet trails the full ones on the last hop
        expect_ns = (m + hops - 2) * full + last + hops * 1000
    assert abs(f["fct_ns"] - expect_ns) < 1
    assert f["ideal_fct_ns"] == f["fct_ns"] and f["slowdown"] == 1.0
    assert f["packets"] == m and f["drops"] == 0


def incast_doc(n, size, **switch):
    """An n-to-1 incast of ``size`` bytes per sender on a star, as a scenario dict."""
    return {
        "run": {"engine": "packet", "seed": 5},
        "cc": {"algorithm": "none"},
        "topology": {"kind": "star", "hosts": n + 1, "host_rate": "100Gbps", "link_delay": "1us"},
        "traffic": [{"kind": "incast", "receiver": 0, "senders": list(range(1, n + 1)), "size": size}],
        "switch": {"buffer": "64MiB", **switch},
    }


def incast(n, size, **switch):
    return fabsim.load_scenario(incast_doc(n, size, **switch))


def test_incast_with_pfc_finishes_at_the_receiver_link_busy_time():
    n, size = 16, 10**6
    res = simulate(incast(n, size, pfc=True))
    flows = res.flows.to_pandas()
    assert flows.completed.all() and flows.drops.sum() == 0
    m = math.ceil(size / MTU)
    busy_ns = n * (size + m * HEADER) * 8 / 100  # the receiver link carries every data byte
    # the first packet reaches the receiver link after one serialisation and one link delay;
    # from then on that link never idles, and the last bit takes one more link delay
    first_ns, last_hop_ns = ser_ns(MTU + HEADER, 100) + 1000, 1000
    last = flows.finish_ns.max()
    assert abs(last - (first_ns + busy_ns + last_hop_ns)) <= 1
    assert 1.00 <= last / (busy_ns + first_ns + last_hop_ns - 1) <= 1.01
    links = res.links.to_pandas()
    assert links.pause_ns.sum() > 0  # the senders were paused


def test_incast_without_pfc_queues_everything_but_one_flow():
    n, size = 16, 10**6
    res = simulate(incast(n, size, pfc=False))
    links = res.links.to_pandas()
    to_receiver = links[(links.src_node == "sw0") & (links.dst_node == "h0")].iloc[0]
    m = math.ceil(size / MTU)
    wire_flow = size + m * HEADER
    assert abs(to_receiver.max_queue_bytes - (n - 1) * wire_flow) <= n * (MTU + HEADER)
    assert links.drops.sum() == 0 and links.pause_ns.sum() == 0


def test_small_buffer_drops_and_go_back_n_recovers():
    sc = fabsim.load_scenario({**incast_doc(8, 200_000, pfc=False, buffer="200KB"), "host": {"rto": "50us"}})
    res = simulate(sc)
    flows = res.flows.to_pandas()
    assert flows.completed.all()
    assert flows.drops.sum() > 0 and flows.retransmitted_bytes.sum() > 0
    links = res.links.to_pandas()
    assert links.max_queue_bytes.max() <= 200_000
    net = res.summary["network"]
    assert net["drops"] == flows.drops.sum() == links.drops.sum()
    assert net["retransmitted_bytes"] == flows.retransmitted_bytes.sum()
    assert net["max_queue_bytes"] == links.max_queue_bytes.max() and net["ports_paused"] == 0


def test_pfc_pause_spreads_to_an_innocent_flow():
    """PFC congestion tree: a 4-to-1 incast into h0 (leaf0) fills leaf0's port to h0; leaf0
    pauses the spine, the spine pauses the leaves behind it, and leaf2 pauses h8 — whose flow
    goes to h1, an idle host, over 800 Gb/s fabric links with room to spare."""
    sc = scenario(
        {"kind": "leaf_spine", "leaves": 3, "spines": 1, "hosts_per_leaf": 4,
         "host_rate": "100Gbps", "fabric_rate": "800Gbps", "link_delay": "1us"},
        [
            {"kind": "incast", "receiver": 0, "senders": [4, 5, 6, 7], "size": "2MB"},
            {"kind": "flow", "src": 8, "dst": 1, "size": "2MB", "tag": "victim"},
        ],
        switch={"buffer": "64MiB", "pfc": True, "pfc_xoff": "100KB", "pfc_xon": "80KB"},
    )
    res = simulate(sc)
    pause = res.links.to_pandas().set_index(["src_node", "dst_node"]).pause_ns
    for hop in [("spine0", "leaf0"), ("leaf1", "spine0"), ("leaf2", "spine0"), ("h8", "leaf2")]:
        assert pause[hop] > 0, hop
    assert pause[("leaf0", "h0")] == 0  # hosts never pause their switch here
    flows = res.flows.to_pandas()
    victim = flows[flows.tag == "victim"].iloc[0]
    assert victim.completed and victim.drops == 0
    assert victim.slowdown > 1.3  # alone it would run at line rate (slowdown 1)
    assert flows.drops.sum() == 0


def test_packet_and_flow_engines_agree_on_long_flows():
    doc = {
        "topology": {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps", "link_delay": "1us"},
        "traffic": [{"kind": "permutation", "pattern": "random", "size": "4MB"}],
        "cc": {"algorithm": "none"},
        "switch": {"pfc": True},
    }
    packet = simulate(fabsim.load_scenario({**doc, "run": {"engine": "packet", "seed": 2}}))
    flow = simulate(fabsim.load_scenario({**doc, "run": {"engine": "flow", "seed": 2}}))

    def throughput(res):
        f = res.flows.to_pandas()
        return f.size_bytes.sum() / (f.finish_ns.max() - f.start_ns.min())

    assert throughput(packet) == pytest.approx(throughput(flow), rel=0.10)


def test_identical_seeds_give_identical_traces():
    sc = scenario(
        {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4, "host_rate": "100Gbps"},
        [{"kind": "permutation", "size": "300KB"}, {"kind": "incast", "receiver": 0, "senders": 5, "size": "100KB"}],
        switch={"ecn_kmin": "10KB", "ecn_kmax": "100KB", "buffer": "1MB"},
        routing={"ecmp": "packet"},
    )
    a, b = simulate(sc), simulate(sc)
    for name in ("flows", "links"):
        assert a.tables[name].equals(b.tables[name])


@st.composite
def tiny_scenarios(draw):
    kind = draw(st.sampled_from(["star", "leaf_spine"]))
    topo = ({"kind": "star", "hosts": draw(st.integers(2, 8))} if kind == "star" else
            {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": draw(st.integers(1, 4))})
    topo.update(host_rate=draw(st.sampled_from(["25Gbps", "100Gbps"])), link_delay=draw(st.sampled_from(["0.5us", "1us"])))
    n_hosts = topo["hosts"] if kind == "star" else 2 * topo["hosts_per_leaf"]
    flows = []
    for _ in range(draw(st.integers(1, 12))):
        src = draw(st.integers(0, n_hosts - 1))
        dst = draw(st.integers(0, n_hosts - 2))
        flows.append({"src": src, "dst": dst if dst < src else dst + 1,
                      "size": draw(st.integers(1, 30 * MTU)), "start": f"{draw(st.integers(0, 20))}us"})
    pfc = draw(st.booleans())
    switch = {"buffer": draw(st.sampled_from(["100KB", "300KB", "4MB"])), "pfc": pfc,
              "buffer_policy": draw(st.sampled_from(["dynamic", "static"])),
              "ecn_kmin": "5KB", "ecn_kmax": "50KB", "ecn_pmax": 0.5}
    if pfc:
        switch.update(pfc_xoff="20KB", pfc_xon="10KB")
    return {
        "run": {"engine": "packet", "seed": draw(st.integers(0, 5))},
        "topology": topo,
        "traffic": [{"kind": "flow", "flows": flows}],
        "switch": switch,
        "host": {"rto": "40us"},
        "routing": {"ecmp": draw(st.sampled_from(["flow", "packet", "adaptive"]))},
        "cc": {"algorithm": "none"},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_scenarios())
def test_invariants(doc):
    from fabsim.model import build_model
    from fabsim.run.packet import run_packet_engine
    from fabsim.traffic import build_flow_table

    sc = fabsim.load_scenario(doc)
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    raw = run_packet_engine(model, flows)
    npkts = (flows.size_bytes + MTU - 1) // MTU
    # every flow completes (go-back-N recovers every drop), never before its store-and-forward bound
    assert (raw.t_finish_ps >= 0).all()
    assert (raw.t_finish_ps - raw.t_start_ps >= raw.ideal_fct_ps).all()
    # every data packet sent was either dropped or reached its destination
    assert np.array_equal(raw.flow_packets, raw.flow_received + raw.flow_drops)
    assert (raw.flow_packets >= npkts).all()
    # queues stay within their limits
    buffer = sc.switch.buffer_bytes
    switch_ports = model.fabric.link_src >= model.fabric.n_hosts
    if sc.switch.buffer_policy == "dynamic":
        assert (raw.link_max_queue[switch_ports] <= buffer).all()
    else:
        degree = np.diff(model.fabric.port_start)[model.fabric.link_src]
        assert (raw.link_max_queue[switch_ports] <= buffer // degree[switch_ports]).all()
    assert (raw.link_mean_queue >= 0).all()
    # with one path per flow and no loss, per-port FIFOs deliver every packet in order
    if sc.routing.ecmp == "flow" and raw.flow_drops.sum() == 0:
        assert np.array_equal(raw.flow_received, npkts) and raw.flow_retx_bytes.sum() == 0
    # PFC with headroom (xoff far below the buffer) is lossless
    if sc.switch.pfc and buffer >= 4 * 10**6 and sc.switch.buffer_policy == "dynamic":
        assert raw.flow_drops.sum() == 0


def test_queue_trace_samples_the_peak_of_every_busy_port():
    sc = fabsim.load_scenario({
        "run": {"engine": "packet"}, "cc": {"algorithm": "none"},
        "topology": {"kind": "star", "hosts": 5, "host_rate": "100Gbps", "link_delay": "1us"},
        "traffic": [{"kind": "incast", "receiver": 0, "senders": [1, 2, 3, 4], "size": "1MB"}],
        "switch": {"buffer": "64MiB", "pfc": False},
        "output": {"queue_sample": "20us"},
    })
    res = simulate(sc)
    q = res.tables["queues"].to_pandas()
    links = res.links.to_pandas()
    down = links[(links.src_node == "sw0") & (links.dst_node == "h0")].iloc[0]
    assert (q.t_ns % 20_000 == 0).all() and (q.queue_bytes > 0).all()
    mine = q[q.link_id == down.link_id]
    assert mine.queue_bytes.max() == down.max_queue_bytes
    # the queue builds while 4 senders share one 100 Gb/s port, then drains
    assert mine.queue_bytes.idxmax() not in (mine.index[0], mine.index[-1])
    off = fabsim.load_scenario({**{"run": {"engine": "packet"}, "cc": {"algorithm": "none"}},
                                "topology": {"kind": "star", "hosts": 2}, "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}],
                                "output": {"queue_sample": "0"}})
    assert "queues" not in simulate(off).tables


def test_the_ports_a_queue_sample_reads_are_those_with_a_period_peak():
    from fabsim.native.queues import busy_ports

    peaks = np.zeros(1000, np.int64)
    out = np.full(1000, -1, np.int64)
    assert busy_ports(peaks, out) == 0
    peaks[[0, 7, 999]] = [1, 4096, 3]
    n = busy_ports(peaks, out)
    assert list(out[:n]) == [0, 7, 999] == list(np.flatnonzero(peaks))


def test_packet_pool_grows_and_its_cap_is_named(monkeypatch):
    import fabsim.run.packet as ps
    from fabsim.errors import SimulationError

    sc = incast(8, 300_000, pfc=False)
    reference = simulate(sc).flows
    monkeypatch.setattr(ps, "initial_pool", lambda model, n_flows: 8)
    assert simulate(sc).flows.equals(reference)  # grown from 8 packets, same run
    capped = fabsim.load_scenario({**incast_doc(8, 300_000, pfc=False), "run": {"engine": "packet", "packet_pool": 16}})
    with pytest.raises(SimulationError, match="run.packet_pool"):
        simulate(capped)


def test_event_set_grows_from_its_reserve_and_the_run_is_the_same(monkeypatch):
    """The wheel starts with room for the reserve alone and grows (bucket nodes and overflow
    heap) whenever the kernel asks, between events: the run is event for event the same."""
    import fabsim.native.packet_state as packet_state
    import fabsim.run.packet as driver

    doc = {"run": {"engine": "packet"}, "topology": {"kind": "fat_tree", "k": 4},
           "traffic": [{"kind": "permutation", "size": "200KB"},
                       {"kind": "poisson", "load": 0.3, "sizes": "websearch", "duration": "200us"}]}
    sc = fabsim.load_scenario(doc)
    reference = simulate(sc)
    new_wheel, grow_events = packet_state.new_wheel, packet_state.grow_events
    grown = []

    def tiny(nodes, shift, n_buckets, ovf=None, **pre):
        return new_wheel(65, shift, n_buckets, ovf=65, **pre)

    def counted(st, room):
        grown.append(room)
        return grow_events(st, room)

    monkeypatch.setattr(packet_state, "new_wheel", tiny)
    monkeypatch.setattr(driver.ps, "grow_events", counted)
    again = simulate(sc)
    assert len(grown) >= 2
    assert again.flows.equals(reference.flows)
    assert again.summary["events"] == reference.summary["events"]


def test_the_wheel_is_sized_by_the_links_the_flows_can_use_and_the_run_is_the_same(monkeypatch):
    """Few flows on a large fabric get wider buckets (at most twice their hops are busy links),
    so the wheel does not step through thousands of empty ones between events; any geometry
    gives the same run, event for event."""
    import fabsim.run.packet as driver

    model = fabsim.build_model(scenario({"kind": "fat_tree", "k": 16}, [{"kind": "flow", "src": 0, "dst": 1000,
                                                                          "size": "1MB"}]))
    n_links = model.fabric.n_links
    assert driver._wheel_geometry(model, n_links) == driver._wheel_geometry(model)  # every link may be busy
    narrow, wide = driver._wheel_geometry(model), driver._wheel_geometry(model, 6)
    assert wide[0] >= narrow[0] + 9  # 1,024 links against 12: buckets 2⁹ × or more as wide
    assert wide[1] < narrow[1]

    doc = {"run": {"engine": "packet"}, "topology": {"kind": "fat_tree", "k": 4},
           "traffic": [{"kind": "incast", "receiver": 0, "senders": 3, "size": "100KB"},
                       {"kind": "poisson", "load": 0.2, "sizes": "websearch", "duration": "100us"}]}
    sc = fabsim.load_scenario(doc)
    reference = simulate(sc)
    shifts = []
    geometry = driver._wheel_geometry
    for forced in (0, 20):  # 1 ps buckets; 1 µs buckets
        def fixed(model, hops=None, forced=forced):
            shift, n = geometry(model, hops)
            shifts.append(shift)
            return forced, max(1, (n << shift) >> forced)

        monkeypatch.setattr(driver, "_wheel_geometry", fixed)
        again = simulate(sc)
        assert again.flows.equals(reference.flows)
        assert again.summary["events"] == reference.summary["events"]
    assert 0 < shifts[0] < 20


def test_flow_contexts_are_given_back_and_grow_and_the_run_is_the_same(monkeypatch):
    """A flow's transport and DCQCN state is a context taken at its START and given back at its
    last ACK. Starting from room for one context, the kernel asks for more only while more flows
    are in progress than it has (far fewer than the flows of the run), and the run is event for
    event the one with room to spare — late packets of flows whose context went to another flow
    changed nothing."""
    import fabsim.native.packet_state as packet_state
    import fabsim.run.packet as driver

    doc = {"run": {"engine": "packet"}, "topology": {"kind": "fat_tree", "k": 4},
           "switch": {"buffer": "200KB"}, "host": {"rto": "20us"},  # drops, go-back-N, duplicates, a few give up
           "traffic": [{"kind": "permutation", "size": "200KB"},
                       {"kind": "poisson", "load": 0.5, "sizes": "hadoop", "duration": "300us"}]}
    sc = fabsim.load_scenario(doc)
    reference = simulate(sc)
    grow_contexts = packet_state.grow_contexts
    grown = []

    def counted(st):
        grown.append(st.snd_nxt.shape[0])
        return grow_contexts(st)

    monkeypatch.setattr(packet_state, "CONTEXTS_INITIAL", 1)
    monkeypatch.setattr(driver.ps, "grow_contexts", counted)
    again = simulate(sc)
    n_flows = len(reference.flows)
    assert len(grown) >= 3 and 2 * grown[-1] * 4 <= n_flows, (grown, n_flows)
    assert reference.summary["flow_status"]["completed"] >= 0.9 * n_flows
    assert reference.flows["retransmitted_bytes"].to_numpy().sum() > 0
    assert again.flows.equals(reference.flows)
    assert again.summary["events"] == reference.summary["events"]


def test_coalesced_acks_answer_every_nth_packet_and_the_last():
    """host.ack_every = 8 on a lossless 100-packet flow: ACKs for rcv_nxt = 8, 16, …, 96 and the
    last packet, 13 in all instead of 100 (the receiver's uplink carries exactly those 64-byte
    frames); the data crosses the fabric as before, so the flow ends at the same time."""
    doc = {"run": {"engine": "packet"}, "topology": {"kind": "star", "hosts": 2}, "cc": {"algorithm": "none"},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100 * 4096}]}
    runs = {}
    for n in (1, 8):
        res = simulate(fabsim.load_scenario({**doc, "host": {"ack_every": n}}))
        links = res.links.to_pandas().set_index(["src_node", "dst_node"])
        runs[n] = (res.flows.to_pandas().fct_ns[0], links.loc[("h1", "sw0"), "tx_bytes"])
    assert runs[1][1] == 100 * 64 and runs[8][1] == 13 * 64
    assert runs[8][0] == runs[1][0]


def test_nack_recovers_a_drop_without_waiting_for_the_timeout():
    # 3 senders overflow a 50 KB buffer; a gap is NACKed at once, while without NACKs every loss
    # waits for the 1 ms timer (tail drops, with no later packet to reveal the gap, still do)
    doc = incast_doc(3, 300_000, pfc=False, buffer="50KB")
    runs = {}
    for nack in (True, False):
        res = simulate(fabsim.load_scenario({**doc, "host": {"rto": "1ms", "nack": nack}}))
        flows = res.flows.to_pandas()
        assert flows.completed.all() and flows.drops.sum() > 0
        runs[nack] = flows.fct_ns.max()
    assert runs[True] <= runs[False] - 900_000  # at least one timeout saved
