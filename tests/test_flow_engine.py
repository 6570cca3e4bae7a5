"""The flow engine end to end against the analytic results of DESIGN §7."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fabsim
from fabsim.api import simulate

GBPS = 10**9
MIB = 2**20
MTU, HEADER = 4096, 48


def scenario(topology: dict, traffic: list[dict], **sections) -> fabsim.Scenario:
    doc = {"run": {"engine": "flow", "seed": 3}, "topology": topology, "traffic": traffic, **sections}
    return fabsim.load_scenario(doc)


def wire(size: int) -> int:
    return size + math.ceil(size / MTU) * HEADER


STAR_DELAY_PS = 500_000  # 0.5 µs per link: α = 2 links host → switch → host


@pytest.mark.parametrize("n", [8, 16, 64])
@pytest.mark.parametrize(
    "op,algorithm,steps,factor",
    [
        ("allreduce", "ring", lambda n: 2 * (n - 1), lambda n: 2 * (n - 1) / n),
        ("reduce_scatter", "ring", lambda n: n - 1, lambda n: (n - 1) / n),
        ("all_gather", "ring", lambda n: n - 1, lambda n: (n - 1) / n),
    ],
)
def test_ring_collectives_on_a_star_match_the_cost_model(n, op, algorithm, steps, factor):
    S, rate = 256 * MIB, 400 * GBPS
    sc = scenario(
        {"kind": "star", "hosts": n, "host_rate": "400Gbps", "link_delay": "0.5us"},
        [{"kind": "collective", "op": op, "algorithm": algorithm, "size": S}],
    )
    res = simulate(sc)
    row = res.collectives.to_pylist()[0]
    alpha_s = 2 * STAR_DELAY_PS / 1e12
    B = rate / 8 * MTU / (MTU + HEADER)  # payload bytes/s on the wire
    expect_s = steps(n) * (alpha_s + S / (n * B))
    assert row["duration_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-6)
    assert row["ideal_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-6)
    assert row["algbw_gbps"] == pytest.approx(S * 8 / (row["duration_ns"] / 1e9) / 1e9, rel=1e-6)
    assert row["busbw_gbps"] / row["algbw_gbps"] == pytest.approx(factor(n), rel=1e-12)


@pytest.mark.parametrize("n", [8, 16])
def test_concurrent_flows_of_a_step_share_the_nic_in_the_ideal_time(n):
    """A direct all-to-all sends its n − 1 blocks at once, and channels split each ring transfer
    into parallel flows: on an idle star the iteration takes the NIC's serialization of all of
    them, and ideal_ns says so."""
    S, rate = 64 * MIB, 400 * GBPS
    alpha_s = 2 * STAR_DELAY_PS / 1e12
    star = {"kind": "star", "hosts": n, "host_rate": "400Gbps", "link_delay": "0.5us"}
    a2a = simulate(scenario(star, [{"kind": "collective", "op": "all_to_all", "algorithm": "direct", "size": S}]))
    row = a2a.collectives.to_pylist()[0]
    expect_s = (n - 1) * wire(S // n) * 8 / rate + alpha_s
    assert row["duration_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-6)
    assert row["ideal_ns"] == row["duration_ns"]

    ring = [{"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": S, "channels": 4}]
    row = simulate(scenario(star, ring)).collectives.to_pylist()[0]
    B = rate / 8 * MTU / (MTU + HEADER)
    expect_s = 2 * (n - 1) * (alpha_s + S / (n * B))
    assert row["duration_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-5)
    assert row["ideal_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-5)


@pytest.mark.parametrize("n", [8, 16, 64])
def test_halving_doubling_allreduce_on_a_star(n):
    S, rate = 256 * MIB, 400 * GBPS
    sc = scenario(
        {"kind": "star", "hosts": n, "host_rate": "400Gbps", "link_delay": "0.5us"},
        [{"kind": "collective", "op": "allreduce", "algorithm": "halving_doubling", "size": S}],
    )
    row = simulate(sc).collectives.to_pylist()[0]
    alpha_s = 2 * STAR_DELAY_PS / 1e12
    B = rate / 8 * MTU / (MTU + HEADER)
    expect_s = 2 * math.log2(n) * alpha_s + 2 * (n - 1) * S / (n * B)
    assert row["duration_ns"] / 1e9 == pytest.approx(expect_s, rel=1e-6)
    assert row["busbw_gbps"] / row["algbw_gbps"] == pytest.approx(2 * (n - 1) / n, rel=1e-12)


def test_processor_sharing_on_one_bottleneck():
    # N flows into one receiver start together; sizes ascending. Flow i (from 1) finishes at
    # (sum_{j<i} s_j + (N - i + 1) s_i) / B + path latency, with s counted on the wire.
    sizes = [100_000, 250_000, 400_000, 1_000_000]
    sc = scenario(
        {"kind": "star", "hosts": 5, "host_rate": "100Gbps", "link_delay": "1us"},
        [{"kind": "flow", "flows": [{"src": i + 1, "dst": 0, "size": s} for i, s in enumerate(sizes)]}],
    )
    flows = simulate(sc).flows.to_pylist()
    B = 100 * GBPS / 8
    w = [wire(s) for s in sizes]
    for i in range(1, len(sizes) + 1):
        expect_ns = (sum(w[: i - 1]) + (len(sizes) - i + 1) * w[i - 1]) / B * 1e9 + 2000
        assert flows[i - 1]["fct_ns"] == pytest.approx(expect_ns, abs=2)
        assert flows[i - 1]["completed"]


def test_lone_flow_has_slowdown_one_and_fills_its_path():
    sc = scenario(
        {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps", "link_delay": "1us"},
        [{"kind": "flow", "src": 0, "dst": 15, "size": "10MB"}],
    )
    res = simulate(sc)
    f = res.flows.to_pylist()[0]
    assert f["slowdown"] == 1.0
    assert f["fct_ns"] == f["ideal_fct_ns"] == pytest.approx(wire(10**7) * 8 / 100 + 6000, abs=1)
    links = res.links.to_pandas()
    used = links[links.tx_bytes > 0]
    assert len(used) == 6 and (used.tx_bytes == wire(10**7)).all()
    assert res.summary["flows_completed"] == 1


def test_oversubscribed_uplinks_halve_throughput():
    # shift permutation on a 2:1 leaf-spine: every flow crosses the leaf uplinks
    sc = scenario(
        {"kind": "leaf_spine", "leaves": 4, "spines": 2, "hosts_per_leaf": 4,
         "host_rate": "100Gbps", "fabric_rate": "100Gbps"},
        [{"kind": "permutation", "pattern": "shift", "size": "10MB"}],
    )
    res = simulate(sc)
    fct = np.array(res.flows.column("fct_ns").to_pylist())
    # flows collide under ECMP, so some are slower than 2x; none can beat the 2:1 share
    assert fct.min() >= 2 * wire(10**7) * 8 / 100 * (1 - 1e-6)
    tx_ns, prop_ns = wire(10**7) * 8 / 100, 4000
    assert res.summary["slowdown"]["p50"] >= (2 * tx_ns + prop_ns) / (tx_ns + prop_ns) - 1e-6


def test_until_stops_the_run_with_incomplete_flows():
    sc = scenario(
        {"kind": "star", "hosts": 2, "host_rate": "100Gbps"},
        [{"kind": "flow", "src": 0, "dst": 1, "size": "100MB"}],
        run={"engine": "flow", "until": "1ms"},
    )
    res = simulate(sc)
    f = res.flows.to_pylist()[0]
    assert not f["completed"] and f["finish_ns"] is None
    assert res.summary["simulated_ns"] == 1_000_000 and res.summary["stopped_at_until"]
    # 1 ms at 100 Gb/s went onto the wire: 12.5 MB on each of the two links
    tx = res.links.to_pandas().set_index("link_id").tx_bytes
    assert tx.max() == pytest.approx(12.5e6, rel=1e-6)


def test_compute_and_idle_fraction():
    sc = scenario(
        {"kind": "star", "hosts": 4, "host_rate": "100Gbps", "link_delay": "1us"},
        [{"kind": "collective", "op": "allreduce", "size": "4MiB", "iterations": 3, "compute": "1ms", "job": "dp"}],
    )
    res = simulate(sc)
    rows = res.collectives.to_pylist()
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    d = rows[0]["duration_ns"]
    assert all(r["duration_ns"] == pytest.approx(d, abs=2) for r in rows)
    # iteration i+1 starts `compute` after iteration i ends (every rank ends together on a star)
    assert rows[1]["start_ns"] - rows[0]["finish_ns"] == pytest.approx(1_000_000, abs=2)
    assert rows[0]["idle_fraction"] == pytest.approx(d / (d + 1_000_000))
    job = res.summary["jobs"]["dp"]
    assert job["iterations_completed"] == 3 and job["idle_fraction"] == pytest.approx(d / (d + 1_000_000), rel=1e-6)


def test_labels_shared_by_generators_and_null_jobs():
    sc = scenario(
        {"kind": "star", "hosts": 4},
        [{"kind": "flow", "src": 0, "dst": 1, "size": 1000, "tag": "x"},
         {"kind": "flow", "src": 2, "dst": 3, "size": 1000, "tag": "x"},
         {"kind": "collective", "op": "allreduce", "size": 4000, "job": "dp"}],
    )
    flows = simulate(sc).flows
    frame = flows.to_pandas()  # categories must be unique for pandas
    assert list(frame.tag[:2]) == ["x", "x"] and frame.tag.cat.categories.tolist() == ["x", "collective"]
    assert frame.job[:2].isna().all() and (frame.job[2:] == "dp").all()
    assert flows.column("job").null_count == 2
