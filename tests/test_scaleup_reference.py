"""Compute tasks and scale-up transfers (docs/packet-engine.md § Tasks that are not fabric flows):
the reference simulators against analytic results, then the engines against the references.

A compute task occupies its GPU for its duration; a transfer between two GPUs of one server
(``topology.gpus_per_server`` > 1) goes through the server's non-blocking scale-up switch, fluid
and max-min fair over the GPUs' egress and ingress ports of rate ``scaleup_rate``, and is
received ``scaleup_latency`` after its last byte left. Neither touches the fabric. The flow
engine models the same domain as 2N extra links after the fabric's links and its black-hole
link (docs/engines.md); ``flow_inputs`` below builds the flow reference's inputs that way.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fabsim
from fabsim.traffic import build_flow_table
from fabsim.traffic.block import FlowBlock, merge_blocks
from fabsim.traffic.table import NO_INDEX, TASK_COMPUTE, TASK_TRANSFER

from .reference import flow_ref
from .reference import packet_ref as ref
from .test_packet_reference import compare, tiny_scenarios

GBPS = 10**9
US = 10**6  # ps
NS = 10**3
PS = 10**12
MTU, HEADER = 1000, 48

STAR = {"kind": "star", "hosts": 8, "host_rate": "100Gbps", "link_delay": "1us"}


# ---- helpers ----------------------------------------------------------------------------------


def scenario(topology: dict, *, traffic=None, switch=None, host=None, run=None, **topo_keys):
    """A loaded scenario; ``topo_keys`` (gpus_per_server, scaleup_rate, …) go into [topology]."""
    doc = {
        "run": {"seed": 5, **(run or {})},
        "topology": {**topology, **topo_keys},
        "switch": {"buffer": "64MiB", **(switch or {})},
        "host": {"mtu": MTU, "header": HEADER, **(host or {})},
        "cc": {"algorithm": "none"},
        "traffic": traffic or [{"kind": "flow", "src": 0, "dst": 1, "size": 1}],
    }
    return doc, fabsim.load_scenario(doc)


def tasks(rows: list[tuple], edges=(), gap=None) -> object:
    """A FlowTable of tasks ``(kind, src, dst, size, start, duration)``, edges ``(pred, succ)``."""
    n = len(rows)
    kind, src, dst, size, start, duration = (list(c) for c in zip(*rows)) if rows else ([],) * 6
    none = np.full(n, NO_INDEX, np.int32)
    edges = sorted(edges)
    block = FlowBlock(
        src=np.asarray(src, np.int32),
        dst=np.asarray(dst, np.int32),
        size_bytes=np.asarray(size, np.int64),
        start_ps=np.asarray(start, np.int64),
        gap_ps=np.asarray(gap if gap is not None else [0] * n, np.int64),
        channel=np.zeros(n, np.int32),
        iteration=none,
        step=none.copy(),
        edge_pred=np.asarray([p for p, _ in edges], np.int64),
        edge_succ=np.asarray([s for _, s in edges], np.int64),
        kind=np.asarray(kind, np.int8),
        duration_ps=np.asarray(duration, np.int64),
    )
    return merge_blocks([block], ["tasks"])


def compute(gpu: int, duration: int, start: int = 0) -> tuple:
    return (TASK_COMPUTE, gpu, gpu, 0, start, duration)


def transfer(src: int, dst: int, size: int, start: int = 0) -> tuple:
    return (TASK_TRANSFER, src, dst, size, start, 0)


def simulate(topology, rows, edges=(), gap=None, **topo_keys):
    _, sc = scenario(topology, **topo_keys)
    model = fabsim.build_model(sc)
    flows = tasks(rows, edges, gap)
    return model, flows, ref.simulate(model, flows)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def su_time(size: int, rate_bps: int) -> int:
    """⌈size·8·10¹²/rate⌉: one transfer alone at ``rate``, exact in integers."""
    return ceil_div(size * 8 * PS, rate_bps)


def assert_no_fabric(res, flows, fabric_tasks=()):
    """Every task that is not in ``fabric_tasks`` sent no packet."""
    for f in range(len(flows)):
        if f not in fabric_tasks:
            for name in ("flow_packets", "flow_retx_bytes", "flow_ecn", "flow_drops", "flow_received", "flow_cnps"):
                assert res[name][f] == 0, (name, f)
    if not fabric_tasks:
        assert res["packet_hops"] == 0
        assert not any(res["link_tx_bytes"]) and not any(res["link_max_queue"])


def test_task_codes():
    assert (ref.TASK_COMPUTE, TASK_TRANSFER) == (TASK_COMPUTE, 0)


# ---- the packet reference alone -----------------------------------------------------------------


def test_a_chain_of_compute_tasks_takes_the_sum_of_durations():
    durations = [3 * US, 0, 1_234_567, 5, 2 * US]
    gaps = [0, 700, 0, 11, 0]
    rows = [compute(2, d, start=100) for d in durations]
    model, flows, res = simulate(STAR, rows, edges=[(i, i + 1) for i in range(len(rows) - 1)], gap=gaps)
    t = 100
    for f, d in enumerate(durations):
        t += gaps[f] if f else 0
        assert res["t_start_ps"][f] == t
        t += d
        assert res["t_finish_ps"][f] == t
    assert res["end_ps"] == 100 + sum(durations) + sum(gaps[1:])
    assert res["events"] == 2 * len(rows)  # START and DONE of each
    assert not res["stopped_at_until"] and res["residual_bytes"] == 0
    assert_no_fabric(res, flows)


def test_compute_tasks_on_one_gpu_do_not_queue():
    # Compute tasks are not serialised on their GPU: the DAG orders them, nothing else does.
    model, flows, res = simulate(STAR, [compute(0, 5 * US), compute(0, 3 * US, start=US)])
    assert res["t_start_ps"] == [0, US] and res["t_finish_ps"] == [5 * US, 4 * US]


def test_a_start_time_later_than_the_predecessor():
    rows = [compute(1, US), compute(1, US, start=10 * US), transfer(0, 1, 1000, start=0)]
    model, flows, res = simulate(STAR, rows, edges=[(0, 1), (1, 2)], gap=[0, 0, 500], gpus_per_server=2,
                                 scaleup_rate="800Gbps")
    assert res["t_start_ps"] == [0, 10 * US, 11 * US + 500]
    assert res["t_finish_ps"][2] == 11 * US + 500 + su_time(1000, 800 * GBPS)


@pytest.mark.parametrize("rate,latency_ns", [("800Gbps", 500), ("7200Gbps", 0), ("900Gbps", 77)])
def test_a_ring_all_gather_in_one_server(rate, latency_ns):
    # 8 ranks on the 8 GPUs of one server: every step, each GPU sends S/8 to the next and
    # receives S/8 from the previous one, at the full port rate R; 7 steps in a chain.
    S = 8 * 1_000_000
    _, sc = scenario({**STAR, "hosts": 16}, gpus_per_server=8, scaleup_rate=rate,
                     scaleup_latency=f"{latency_ns}ns",
                     traffic=[{"kind": "collective", "op": "all_gather", "algorithm": "ring", "ranks": 8,
                               "size": S}])
    model = fabsim.build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    assert len(flows) == 7 * 8 and set(flows.size_bytes.tolist()) == {S // 8}
    res = ref.simulate(model, flows)
    R = sc.topology.scaleup_rate_bps
    step = su_time(S // 8, R) + latency_ns * NS
    assert res["end_ps"] == max(res["t_finish_ps"]) == 7 * step
    for f in range(len(flows)):
        assert res["t_finish_ps"][f] - res["t_start_ps"][f] == step
    assert_no_fabric(res, flows)
    if rate == "800Gbps":
        assert step == 10 * US + 500 * NS  # 1 MB at 800 Gb/s


def test_two_transfers_from_one_gpu_get_half_the_rate_each():
    R = 800 * GBPS
    X = 1_000_000
    model, flows, res = simulate(STAR, [transfer(0, 1, X), transfer(0, 2, X), transfer(3, 2, X, start=10**9)],
                                 gpus_per_server=4, scaleup_rate="800Gbps", scaleup_latency="1us")
    assert res["t_finish_ps"][:2] == [su_time(X, R // 2) + US] * 2 == [21 * US] * 2
    assert res["t_finish_ps"][2] == 10**9 + su_time(X, R) + US  # alone later: the full rate
    assert_no_fabric(res, flows)


def test_max_min_over_an_ingress_port():
    # A (0→2) and B (1→2) share GPU 2's ingress: R/2 each. C (0→1, 3X) shares GPU 0's egress
    # with A: it gets the rest, R/2. When A and B end (2X·8/R), C has 2X left, alone at R.
    R, X = 800 * GBPS, 1_000_000
    model, flows, res = simulate(STAR, [transfer(0, 2, X), transfer(1, 2, X), transfer(0, 1, 3 * X)],
                                 gpus_per_server=4, scaleup_rate="800Gbps")
    t1 = su_time(2 * X, R)
    assert res["t_finish_ps"] == [t1, t1, t1 + su_time(2 * X, R)] == [20 * US, 20 * US, 40 * US]


def test_three_into_one_and_the_rest_of_an_egress():
    # Three transfers into GPU 2 get R/3 each (R = 7200 Gb/s: R/3 is exact); 0→1 shares GPU 0's
    # egress with 0→2 and gets 2R/3: with twice the bytes, all four end together.
    R, X = 7200 * GBPS, 1_000_000
    rows = [transfer(0, 2, X), transfer(1, 2, X), transfer(3, 2, X), transfer(0, 1, 2 * X)]
    model, flows, res = simulate(STAR, rows, gpus_per_server=4)
    end = su_time(X, R // 3)
    assert end == su_time(2 * X, 2 * R // 3)
    assert res["t_finish_ps"] == [end] * 4
    # START ×4; the CHECK scheduled when 0→2 was alone (at X·8/R) finds nothing done and
    # schedules the next; that one ends all four; DONE ×4
    assert res["events"] == 4 + 2 + 4


def test_a_later_start_slows_a_transfer_down():
    # A (0→1, X) alone at R; at τ, B (0→2, X) shares GPU 0's egress. A's first projected end
    # falls before its real one: that CHECK finds nothing done and waits for the new end.
    R, X, tau = 800 * GBPS, 1_000_000, 4 * US  # A has sent 400 KB at τ
    model, flows, res = simulate(STAR, [transfer(0, 1, X), transfer(0, 2, X, start=tau)],
                                 gpus_per_server=4, scaleup_rate="800Gbps")
    a_end = tau + su_time(X - 400_000, R // 2)  # 600 KB at R/2: 12 µs
    b_end = a_end + su_time(X - 600_000, R)  # B sent 600 KB meanwhile, then alone at R
    assert res["t_finish_ps"] == [a_end, b_end] == [16 * US, 20 * US]
    # START A, START B, CHECK at 10 µs (A's first projection: nothing has ended; it schedules
    # the next), CHECK at 16 µs, DONE A, CHECK at 20 µs, DONE B.
    assert res["events"] == 7


def test_servers_are_independent():
    # Same pattern in servers 0 and 1 (GPUs 0–3, 4–7): the same times.
    R, X = 800 * GBPS, 1_000_000
    rows = [transfer(0, 1, X), transfer(2, 1, X), transfer(4, 5, X), transfer(6, 5, X)]
    model, flows, res = simulate(STAR, rows, gpus_per_server=4, scaleup_rate="800Gbps")
    assert res["t_finish_ps"] == [su_time(X, R // 2)] * 4


def test_scale_up_transfers_cross_no_fabric_link():
    # A fabric flow 0→4 (another server) and scale-up transfers 0→1, 2→0: the fabric sees the
    # fabric flow alone, exactly as in a run without the scale-up transfers.
    X = 300_000
    rows = [transfer(0, 4, X), transfer(0, 1, 5 * X), transfer(2, 0, 5 * X, start=US), compute(0, 3 * US)]
    model, flows, res = simulate(STAR, rows, gpus_per_server=4)
    _, _, alone = simulate(STAR, rows[:1], gpus_per_server=4)
    for name in ("link_tx_bytes", "link_max_queue", "packet_hops"):
        assert res[name] == alone[name], name
    assert res["t_finish_ps"][0] == alone["t_finish_ps"][0]
    assert res["flow_packets"][0] == -(-X // MTU) and res["flow_packets"][1:] == [0, 0, 0]
    assert_no_fabric(res, flows, fabric_tasks=(0,))


def test_without_servers_a_transfer_is_a_fabric_flow():
    X = 5_000
    for g, packets in ((1, 5), (2, 0)):
        model, flows, res = simulate(STAR, [transfer(0, 1, X)], gpus_per_server=g)
        assert res["flow_packets"] == [packets]
        assert (res["packet_hops"] > 0) == (g == 1)
    # and with G = 2, GPUs 1 and 2 are in different servers: a fabric flow
    model, flows, res = simulate(STAR, [transfer(1, 2, X)], gpus_per_server=2)
    assert res["flow_packets"] == [5]


def test_dependencies_across_kinds():
    # compute on GPU 0 → scale-up 0→1 → fabric 1→5 → compute on GPU 5, with gaps.
    R, X = 800 * GBPS, 100_000
    rows = [compute(0, 2 * US), transfer(0, 1, X), transfer(1, 5, X), compute(5, 3 * US)]
    gaps = [0, 100, 200, 300]
    model, flows, res = simulate(STAR, rows, edges=[(0, 1), (1, 2), (2, 3)], gap=gaps, gpus_per_server=4,
                                 scaleup_rate="800Gbps", scaleup_latency="250ns")
    s, e = res["t_start_ps"], res["t_finish_ps"]
    assert e[0] == 2 * US and s[1] == 2 * US + 100
    assert e[1] == s[1] + su_time(X, R) + 250 * NS
    assert s[2] == e[1] + 200 and e[2] > s[2] and res["flow_packets"][2] == 100
    assert s[3] == e[2] + 300 and e[3] == s[3] + 3 * US
    assert res["end_ps"] == e[3]


def test_until_cuts_scale_up_and_compute_tasks():
    X = 1_000_000
    _, sc = scenario(STAR, gpus_per_server=4, scaleup_rate="800Gbps", run={"until": "5us"})
    model = fabsim.build_model(sc)
    flows = tasks([transfer(0, 1, X), compute(3, 10 * US), compute(2, 2 * US)])
    res = ref.simulate(model, flows)
    assert res["stopped_at_until"] and res["end_ps"] == 5 * US
    assert res["t_start_ps"] == [0, 0, 0] and res["t_finish_ps"] == [-1, -1, 2 * US]


# ---- the flow reference ----------------------------------------------------------------------------


def fabric_path(model, src: int, dst: int, hid: int, channel: int) -> list[int]:
    """The flow-hashed path (docs/packet-engine.md § ECMP, ``ecmp = "flow"``), walked switch by
    switch with the reference hash."""
    fab, seed = model.fabric, int(model.scenario.run.seed)
    link = int(fab.host_uplink[src])
    path = [link]
    node = int(fab.link_dst[link])
    while node != dst:
        cands = [int(x) for x in model.routing.candidates(node, dst)]
        link = cands[ref.ecmp_hash(seed, src, dst, hid, channel, node) % len(cands)] if len(cands) > 1 else cands[0]
        path.append(link)
        node = int(fab.link_dst[link])
    return path


def flow_inputs(model, flows):
    """``flow_ref.simulate``'s arguments for ``flows`` on ``model``: the fabric's links, the
    black-hole link, then GPU h's scale-up egress (L + 1 + h) and ingress (L + 1 + N + h)."""
    from fabsim.run.paths import hash_ids

    sc, fab = model.scenario, model.fabric
    L, N = int(fab.n_links), int(fab.n_hosts)
    G, R = int(sc.topology.gpus_per_server), int(sc.topology.scaleup_rate_bps)
    capacity = [int(x) for x in fab.link_rate_bps] + [0] + [R] * (2 * N)
    hid = hash_ids(flows)
    paths, wire, delay = [], [], []
    for f in range(len(flows)):
        s, d, size = int(flows.src[f]), int(flows.dst[f]), int(flows.size_bytes[f])
        if int(flows.kind[f]) == TASK_COMPUTE:
            paths.append([])
            wire.append(0)
            delay.append(int(flows.duration_ps[f]))
        elif G > 1 and s // G == d // G:
            paths.append([L + 1 + s, L + 1 + N + d])
            wire.append(size)
            delay.append(int(sc.topology.scaleup_latency_ps) * int(flows.steps[f]))  # one latency a step
        else:
            p = fabric_path(model, s, d, int(hid[f]), int(flows.channel[f]))
            paths.append(p)
            wire.append(size + ceil_div(size, sc.host.mtu_bytes) * sc.host.header_bytes)
            hop_delay = sum(int(fab.link_delay_ps[l]) for l in p) + (len(p) - 1) * sc.switch.latency_ps
            delay.append(hop_delay * int(flows.steps[f]))
    succ = [[int(x) for x in flows.succ[flows.succ_ptr[f] : flows.succ_ptr[f + 1]]] for f in range(len(flows))]
    return capacity, paths, wire, [int(x) for x in flows.start_ps], delay, [int(x) for x in flows.gap_ps], succ


def flow_simulate(model, flows):
    return flow_ref.simulate(*flow_inputs(model, flows))


def test_flow_reference_compute_chain_and_scale_up():
    # compute 2 µs → scale-up 0→1 (X at R) → compute 1 µs; beside them two transfers from GPU 2
    # at R/2, and a zero-duration compute task joining the last two.
    R, X = 800 * GBPS, 1_000_000
    rows = [compute(0, 2 * US), transfer(0, 1, X), compute(1, US), transfer(2, 3, X), transfer(2, 0, X),
            compute(3, 0)]
    _, sc = scenario(STAR, gpus_per_server=4, scaleup_rate="800Gbps", scaleup_latency="300ns")
    model = fabsim.build_model(sc)
    flows = tasks(rows, edges=[(0, 1), (1, 2), (3, 5), (4, 5)], gap=[0, 0, 50, 0, 0, 0])
    start, finish = flow_simulate(model, flows)
    # 0→1 shares no port with 2→3 and 2→0 (2→0 enters GPU 0, 0→1 leaves it): the full rate
    half = su_time(X, R // 2)  # 20 µs
    assert finish[3] == finish[4] == half + 300 * NS
    assert start[5] == finish[5] == half + 300 * NS
    assert finish[0] == 2 * US and start[1] == 2 * US
    assert finish[1] == 2 * US + su_time(X, R) + 300 * NS
    assert start[2] == finish[1] + 50 and finish[2] == start[2] + US
    # the packet reference agrees here (no fabric flows, all rates exact)
    res = ref.simulate(model, flows)
    assert res["t_start_ps"] == [int(x) for x in start] and res["t_finish_ps"] == [int(x) for x in finish]


def test_flow_reference_compute_tasks_alone():
    durations = [3, 0, 7, 0]
    start, finish = flow_ref.simulate([], [[]] * 4, [0] * 4, [10, 0, 0, 0], durations, [0, 0, 1, 0],
                                      [[1], [2], [3], []])
    assert start == [10, 13, 14, 21] and finish == [13, 13, 21, 21]


def test_flow_reference_paths_are_the_routing_paths():
    # The walked paths of fabric flows are those of the flow engine's routing (fabsim.run.paths).
    from fabsim.run.paths import flow_paths

    _, sc = scenario({"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4, "links_per_pair": 2},
                     gpus_per_server=2)
    model = fabsim.build_model(sc)
    rows = [transfer(s, d, 1000) for s in range(8) for d in range(8) if s // 2 != d // 2]
    flows = tasks(rows)
    _, paths, *_ = flow_inputs(model, flows)
    ptr, link, _ = flow_paths(model, flows)
    assert paths == [link[ptr[f] : ptr[f + 1]].tolist() for f in range(len(flows))]


# ---- the engines against the references -------------------------------------------------------------
#
# Fixed cases, then small random scenarios: the fabric and protocol settings of
# test_packet_reference.tiny_scenarios (a star or a 2-leaf/2-spine leaf-spine of ≤ 8 hosts, small
# buffers, PFC, ECN, every ECMP mode), gpus_per_server ∈ {1, 2, 4} (dividing the host count), and
# ≤ 16 tasks mixing fabric
# flows, scale-up transfers and compute tasks, with random dependencies and gaps. The packet
# kernel must agree with packet_ref on every field, exactly; the flow engine with flow_ref on
# every start and finish, within float64 error (test_flow_kernel).


def flow_tolerance(n: int) -> int:
    """test_flow_kernel's: both round each transmission end up to a whole ps; float64 may still
    put one of the kernel's a picosecond off the reference's."""
    return 2 * n + 2


@st.composite
def task_rows(draw, n_hosts: int, G: int, mtu: int):
    """(rows, edges, gaps) of ≤ 16 tasks on ``n_hosts`` GPUs, ``G`` per server."""
    n = draw(st.integers(1, 16))
    rows = []
    for _ in range(n):
        what = draw(st.sampled_from(["fabric", "scaleup", "scaleup", "compute"]))
        start = draw(st.integers(0, 20)) * 500_000  # on a 0.5 µs grid: starts coincide
        if what == "compute":
            gpu = draw(st.integers(0, n_hosts - 1))
            rows.append(compute(gpu, draw(st.sampled_from([0, 1, 500_000, draw(st.integers(0, 5 * US))])), start))
            continue
        src = draw(st.integers(0, n_hosts - 1))
        server = [h for h in range(n_hosts) if h // G == src // G and h != src]
        other = [h for h in range(n_hosts) if h // G != src // G]
        if what == "scaleup" and server:
            dst = draw(st.sampled_from(server))
            size = draw(st.integers(1, 2_000_000))
        else:
            dst = draw(st.sampled_from(other or server))
            size = (draw(st.integers(1, 30)) - 1) * mtu + draw(st.integers(1, mtu))
        rows.append(transfer(src, dst, size, start))
    edges = set()
    for f in range(1, n):
        for p in draw(st.lists(st.integers(0, f - 1), max_size=2)):
            edges.add((p, f))
    gaps = [draw(st.sampled_from([0, 0, 700_000, 1])) for _ in range(n)]
    return rows, sorted(edges), gaps


@st.composite
def task_scenarios(draw, algorithm: str = "none", preset: str | None = None, may_give_up: bool = False):
    """(doc, rows, edges, gaps): a tiny_scenarios document with servers, and its tasks."""
    doc = draw(tiny_scenarios(algorithm, preset, may_give_up=may_give_up))
    topo = doc["topology"]
    n_hosts = topo["hosts"] if topo["kind"] == "star" else 2 * topo["hosts_per_leaf"]
    G = draw(st.sampled_from([g for g in (1, 2, 4) if n_hosts % g == 0]))  # whole servers
    doc["topology"] = {
        **topo, "gpus_per_server": G,
        "scaleup_rate": draw(st.sampled_from(["100Gbps", "800Gbps", "900Gbps", "7200Gbps"])),
        "scaleup_latency": f"{draw(st.sampled_from([0, 1, 250_000, 1_234_567]))}ps",
    }
    rows, edges, gaps = draw(task_rows(n_hosts, G, doc["host"]["mtu"]))
    return doc, rows, edges, gaps


@st.composite
def crowded_servers(draw):
    """(doc, rows, edges, gaps): up to 24 small scale-up transfers (and compute tasks) crowding
    one or two servers of 4 or 8 GPUs, at rates whose shares round (R/3, R/7, …), starts on a
    coarse grid and small sizes, so that ends coincide, checks are superseded and re-solves
    leave residues; a few fabric flows between the servers."""
    G = draw(st.sampled_from([4, 8]))
    n_hosts = G * draw(st.sampled_from([1, 2]))
    doc = fixed_doc({"kind": "star", "hosts": n_hosts, "host_rate": "100Gbps", "link_delay": "100ns"},
                    gpus_per_server=G,
                    scaleup_rate=draw(st.sampled_from(["100Gbps", "900Gbps", "7200Gbps", "333Gbps"])),
                    scaleup_latency=f"{draw(st.sampled_from([0, 1, 1000]))}ps")
    n = draw(st.integers(1, 24))
    rows = []
    for _ in range(n):
        src = draw(st.integers(0, n_hosts - 1))
        start = draw(st.integers(0, 4)) * 1000
        what = draw(st.integers(0, 9))
        if what == 0:
            rows.append(compute(src, draw(st.integers(0, 3000)), start))
        elif what == 1 and n_hosts > G:
            rows.append(transfer(src, (src + G) % n_hosts, draw(st.integers(1, 3000)), start))
        else:
            dst = draw(st.sampled_from([h for h in range(n_hosts) if h // G == src // G and h != src]))
            rows.append(transfer(src, dst, draw(st.integers(1, 200)), start))
    edges = set()
    for f in range(1, n):
        for p in draw(st.lists(st.integers(0, f - 1), max_size=2)):
            edges.add((p, f))
    gaps = [draw(st.sampled_from([0, 1, 500])) for _ in range(n)]
    return doc, rows, sorted(edges), gaps


def build_tasks(doc, rows, edges, gaps):
    sc = fabsim.load_scenario(doc)
    model = fabsim.build_model(sc)
    return model, tasks(rows, edges, gaps)


def assert_packet_kernel_matches(doc, rows, edges=(), gaps=None) -> None:
    from fabsim.run.packet import run_packet_engine

    model, flows = build_tasks(doc, rows, edges, gaps)
    compare(run_packet_engine(model, flows), ref.simulate(model, flows), {**doc, "tasks": (rows, edges, gaps)})


def assert_flow_engine_matches(doc, rows, edges=(), gaps=None) -> None:
    from fabsim.run.flow import run_flow_engine

    model, flows = build_tasks(doc, rows, edges, gaps)
    raw = run_flow_engine(model, flows)
    start, finish = flow_simulate(model, flows)
    tol = flow_tolerance(len(flows))
    for f in range(len(flows)):
        got_start, got_finish = int(raw.t_start_ps[f]), int(raw.t_finish_ps[f])
        assert abs(got_start - start[f]) <= tol, (f, got_start, start[f], doc, rows, edges, gaps)
        assert abs(got_finish - finish[f]) <= tol, (f, got_finish, finish[f], doc, rows, edges, gaps)


def fixed_doc(topology=None, **topo_keys) -> dict:
    doc, _ = scenario(topology or STAR, **topo_keys)
    return doc


R8 = {"gpus_per_server": 4, "scaleup_rate": "800Gbps"}
SUPERSEDED_DOC = fixed_doc({**STAR, "hosts": 16}, gpus_per_server=16, scaleup_rate="100Gbps")
SUPERSEDED = ([transfer(h, 0, 21) for h in range(1, 8)]
              + [transfer(8, 9, 1, 7000), compute(10, 3000), transfer(10, 11, 5)],
              [(8, 9)], [0] * 9 + [8760])
TASK_CASES = [
    # the analytic cases above
    (fixed_doc(**R8, scaleup_latency="1us"),
     [transfer(0, 1, 10**6), transfer(0, 2, 10**6), transfer(3, 2, 10**6, 10**9)], [], None),
    (fixed_doc(**R8), [transfer(0, 2, 10**6), transfer(1, 2, 10**6), transfer(0, 1, 3 * 10**6)], [], None),
    (fixed_doc(gpus_per_server=4), [transfer(0, 2, 10**6), transfer(1, 2, 10**6), transfer(3, 2, 10**6),
                                    transfer(0, 1, 2 * 10**6)], [], None),
    (fixed_doc(**R8), [transfer(0, 1, 10**6), transfer(0, 2, 10**6, 4 * US)], [], None),
    (fixed_doc(gpus_per_server=4), [transfer(0, 4, 300_000), transfer(0, 1, 1_500_000), transfer(2, 0, 1_500_000, US),
                                    compute(0, 3 * US)], [], None),
    (fixed_doc(**R8, scaleup_latency="250ns"),
     [compute(0, 2 * US), transfer(0, 1, 100_000), transfer(1, 5, 100_000), compute(5, 3 * US)],
     [(0, 1), (1, 2), (2, 3)], [0, 100, 200, 300]),
    (fixed_doc(), [compute(2, d, start=100) for d in (3 * US, 0, 1_234_567, 5, 2 * US)],
     [(i, i + 1) for i in range(4)], [0, 700, 0, 11, 0]),
    # a CHECK superseded by an earlier one, and a new one at its time (docs § CHECK): A
    # (0→1) projects 10 µs; C (2→3) starts at 1 µs and ends first; A re-projects 10 µs; a
    # compute task ending at 1 µs starts D (0→2) at 10 µs, between the two CHECKs
    (fixed_doc(**R8), [transfer(0, 1, 10**6), transfer(2, 3, 50_000, US), compute(5, US), transfer(0, 2, 10**5)],
     [(2, 3)], [0, 0, 0, 9 * US]),
    # a superseded CHECK at the pending time, a START in between (see SUPERSEDED below)
    (SUPERSEDED_DOC, *SUPERSEDED),
    # the same with rates that are not powers of two (rounded projections)
    (fixed_doc(gpus_per_server=4, scaleup_rate="900Gbps"),
     [transfer(0, 1, 999_999), transfer(2, 3, 55_555, US), compute(5, US), transfer(0, 2, 12_345),
      transfer(3, 1, 77_777)],
     [(2, 3)], [0, 0, 0, 9 * US, 0]),
]


# A superseded CHECK(0) and the pending one both at 11,760 ps, and a START in server 0 between
# them (D, 10→11, released by a compute task that ended at 3 µs), while seven 21-byte transfers
# into GPU 0 at R/7 have 4e-15 bytes left. The pending check is a time: the superseded CHECK
# runs first and acts for it, the seven end at 11,760 ps, before D starts. (Had it been the
# pending *event* only, D's START would re-project them to 11,761 ps.)


def test_a_superseded_check_at_the_pending_time_acts_for_it():
    model, flows = build_tasks(SUPERSEDED_DOC, *SUPERSEDED)
    res = ref.simulate(model, flows)
    assert res["t_finish_ps"] == [11_760] * 7 + [7_080, 3_000, 12_160]


def test_the_packet_kernel_matches_the_reference_on_tasks():
    for doc, rows, edges, gaps in TASK_CASES:
        assert_packet_kernel_matches(doc, rows, edges, gaps)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=task_scenarios(may_give_up=True))
    def check(case):
        assert_packet_kernel_matches(*case)

    check()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=crowded_servers())
def test_the_engines_match_the_references_on_crowded_servers(case):
    assert_packet_kernel_matches(*case)
    assert_flow_engine_matches(*case)


@pytest.mark.parametrize("preset", ["paper", "hpcc"])
def test_the_packet_kernel_matches_the_reference_on_tasks_with_dcqcn(preset):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=task_scenarios("dcqcn", preset))
    def check(case):
        assert_packet_kernel_matches(*case)

    check()


def test_the_flow_engine_matches_the_reference_on_tasks():
    for doc, rows, edges, gaps in TASK_CASES:
        assert_flow_engine_matches(doc, rows, edges, gaps)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=task_scenarios())
    def check(case):
        assert_flow_engine_matches(*case)

    check()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=task_scenarios(may_give_up=True))
def test_the_reference_completes_random_task_scenarios(case):
    # every task that is not behind a flow that gave up finishes; non-fabric tasks send nothing
    doc, rows, edges, gaps = case
    model, flows = build_tasks(doc, rows, edges, gaps)
    res = ref.simulate(model, flows)
    G = model.scenario.topology.gpus_per_server
    fabric = {f for f, (k, s, d, *_) in enumerate(rows) if k == TASK_TRANSFER and s // G != d // G}
    assert_no_fabric(res, flows, fabric_tasks=fabric)
    blocked = set(f for f in range(len(rows)) if res["flow_gave_up"][f])
    for p, s in edges:
        if p in blocked:
            blocked.add(s)
    for f in range(len(rows)):
        if f not in blocked:
            assert res["t_finish_ps"][f] >= res["t_start_ps"][f] >= 0, (f, res["t_start_ps"], res["t_finish_ps"])
    # and the flow reference too (no give-ups there)
    start, finish = flow_simulate(model, flows)
    assert all(e >= s >= 0 for s, e in zip(start, finish))


@st.composite
def small_jobs(draw):
    """A small [[jobs]] scenario: a job of 2–8 ranks on servers of 1, 2 or 4 GPUs, with all four
    parallelisms drawn, on a star or a 2-leaf leaf-spine; a few bytes per transfer."""
    g = draw(st.sampled_from([1, 2, 4]))
    tp = draw(st.sampled_from([t for t in (1, 2, 4) if t <= max(g, 2)]))
    pp = draw(st.integers(1, 2))
    dp = draw(st.sampled_from([1, 2]))
    ep = draw(st.sampled_from([1, dp]))
    ranks = tp * pp * dp
    hosts = max(8, -(-ranks // g) * g)
    job = {
        "layers": 2 * pp, "hidden": draw(st.sampled_from([16, 64])), "seq_len": draw(st.sampled_from([8, 32])),
        "microbatches": draw(st.integers(1, 3)), "tp": tp, "pp": pp, "dp": dp,
        "layer_forward": f"{draw(st.integers(1, 2000))}ns", "bucket": f"{draw(st.sampled_from([1000, 10**6]))}B",
        "zero": draw(st.sampled_from([0, 1])), "tp_comm": draw(st.sampled_from(["sequence_parallel", "allreduce"])),
        "tp_overlap": draw(st.booleans()),
    }
    if ep > 1:
        job.update(experts=2 * ep, ep=ep, top_k=draw(st.integers(1, 2)))
    topology = draw(st.sampled_from([
        {"kind": "star", "hosts": hosts},
        {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": hosts // 2},
    ]))
    topology.update(gpus_per_server=g, scaleup_rate=draw(st.sampled_from(["100Gbps", "7200Gbps"])),
                    scaleup_latency=f"{draw(st.integers(0, 1000))}ns")
    placement = draw(st.sampled_from(["packed", "strided", "random"]))
    job["placement"] = placement
    return {
        "run": {"seed": draw(st.integers(0, 99))}, "topology": topology, "jobs": [job],
        "cc": {"algorithm": draw(st.sampled_from(["none", "dcqcn"]))},
        "host": {"mtu": 1024},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=small_jobs())
def test_the_engines_match_the_references_on_small_jobs(doc):
    from fabsim.model import build_model
    from fabsim.run.flow import run_flow_engine
    from fabsim.run.packet import run_packet_engine

    sc = fabsim.load_scenario(doc)
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    compare(run_packet_engine(model, flows), ref.simulate(model, flows), doc)
    # the flow engine, in both collective models (the connection model is the flow engine's)
    for collective_model in ("steps", "connections"):
        sc = fabsim.load_scenario(doc, overrides={"run.engine": "flow", "jobs[0].collective_model": collective_model})
        flows = build_flow_table(sc, model.fabric)
        raw = run_flow_engine(model, flows)
        start, finish = flow_simulate(model, flows)
        tol = flow_tolerance(len(flows))
        assert np.all(np.abs(raw.t_start_ps - np.array(start)) <= tol), (collective_model, doc)
        assert np.all(np.abs(raw.t_finish_ps - np.array(finish)) <= tol), (collective_model, doc)
