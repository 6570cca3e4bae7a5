"""Failures: targets resolved on the fabric, and routing tables after a failure (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fabsim
from fabsim.model import build_model
from fabsim.run.failures import FailureSchedule, down_links, resolve_failures
from fabsim.run.paths import flow_paths
from fabsim.traffic import build_flow_table
from fabsim.topology import Routing, fat_tree, leaf_spine

from .test_run_ends import small_scenarios

G = 100 * 10**9
US = 10**6


def hosts_under(fabric, switch: int) -> list[int]:
    return [h for h in range(fabric.n_hosts) if int(fabric.host_switch[h]) == switch]


# ---- equal-cost paths lost to a failure --------------------------------------------------------

@pytest.mark.parametrize("spines", [2, 4, 8])
def test_leaf_spine_link_failure_costs_pairs_behind_it_one_in_s_paths(spines):
    f = leaf_spine(4, spines, 2, 1, G, G, US)
    r = Routing.build(f)
    leaf0, leaf1, spine0 = f.node_id("leaf0"), f.node_id("leaf1"), f.node_id("spine0")
    down = r.with_links_down([f.link_between(leaf0, spine0)])
    for a in hosts_under(f, leaf0):
        for b in hosts_under(f, leaf1):
            for src, dst in ((a, b), (b, a)):
                before, after = r.count_paths(src, dst), down.count_paths(src, dst)
                assert before == spines and (before - after) / before == pytest.approx(1 / spines)
    # pairs not behind the failed link keep every path
    c, d = hosts_under(f, f.node_id("leaf2"))[0], hosts_under(f, f.node_id("leaf3"))[0]
    assert down.count_paths(c, d) == r.count_paths(c, d) == spines


@pytest.mark.parametrize("k", [4, 8])
def test_fat_tree_edge_agg_failure_costs_two_in_k_inter_pod_paths(k):
    f = fat_tree(k, G, G, US)
    r = Routing.build(f)
    tor0, agg0 = f.node_id("tor0"), f.node_id("agg0")
    down = r.with_links_down([f.link_between(tor0, agg0)])
    src = hosts_under(f, tor0)[0]
    for dst in range(f.n_hosts):
        pod = int(f.host_switch[dst] - f.n_hosts) // (k // 2)
        if pod == 0:
            continue
        before, after = r.count_paths(src, dst), down.count_paths(src, dst)
        assert before == k * k // 4
        assert (before - after) / before == pytest.approx(2 / k)


@pytest.mark.parametrize("k", [4, 8])
def test_fat_tree_agg_core_failure_costs_four_in_k_squared_inter_pod_paths(k):
    f = fat_tree(k, G, G, US)
    r = Routing.build(f)
    agg0, core0 = f.node_id("agg0"), f.node_id("core0")
    down = r.with_links_down([f.link_between(agg0, core0)])
    pod0 = [h for h in range(f.n_hosts) if int(f.host_switch[h] - f.n_hosts) < k // 2]
    others = [h for h in range(f.n_hosts) if h not in pod0]
    for src in pod0[:: k // 2]:
        for dst in others[:: k]:
            before, after = r.count_paths(src, dst), down.count_paths(src, dst)
            assert (before - after) / before == pytest.approx(4 / k**2)
            assert (r.count_paths(dst, src) - down.count_paths(dst, src)) / before == pytest.approx(4 / k**2)
    # inter-pod pairs outside pod 0 do not use the link
    assert down.count_paths(others[0], others[-1]) == r.count_paths(others[0], others[-1])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["fat_tree", "leaf_spine"]), st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
       st.integers(0, 10**6))
def test_after_detect_no_candidate_uses_a_down_link_and_untouched_paths_stay(kind, picks, seed):
    f = fat_tree(4, G, G, US) if kind == "fat_tree" else leaf_spine(4, 3, 2, 2, G, G, US)
    r = Routing.build(f)
    switch_links = np.flatnonzero((f.link_src >= f.n_hosts) & (f.link_dst >= f.n_hosts) & (np.arange(f.n_links) < f.link_rev))
    dead = np.unique(switch_links[np.asarray(picks) % switch_links.size])
    down = r.with_links_down(dead)
    is_down = np.zeros(f.n_links, np.bool_)
    is_down[dead] = True
    is_down[f.link_rev[dead]] = True
    for s in range(f.n_hosts, f.n_nodes):
        for h in range(f.n_hosts):
            assert not is_down[down.candidates(s, h)].any()
    rng = np.random.default_rng(seed)
    for flow in range(30):
        src, dst = (int(x) for x in rng.choice(f.n_hosts, 2, replace=False))
        before = r.path(src, dst, flow, seed=seed)
        after = down.path(src, dst, flow, seed=seed)
        if after is None:
            continue  # partitioned
        assert not is_down[after].any()
        if not is_down[before].any():
            assert np.array_equal(before, after), (src, dst, flow)


# ---- resolving [[failures]] ----------------------------------------------------------------------

def scenario(failures, seed=1, detect="100us"):
    return fabsim.load_scenario({
        "run": {"seed": seed},
        "topology": {"kind": "fat_tree", "k": 4},
        "routing": {"detect": detect},
        "traffic": [{"kind": "permutation", "size": "1MB"}],
        "failures": failures,
    })


def resolved(failures, **kw):
    sc = scenario(failures, **kw)
    return resolve_failures(sc, build_model(sc).fabric), build_model(sc).fabric


def test_link_and_switch_targets_and_their_timeline():
    (link, switch), f = resolved([
        {"target": "link:agg1-tor0", "at": "1ms", "duration": "2ms"},
        {"target": "switch:core1", "at": "4ms"},
    ], detect="50us")
    assert link.element == "link:tor0-agg1" and link.tier == "tor-agg" and link.node == -1  # canonical order
    a, b = f.node_id("agg1"), f.node_id("tor0")
    assert sorted(link.links.tolist()) == sorted([f.link_between(a, b), f.link_between(b, a)])
    assert (link.at_ps, link.detected_ps, link.restored_ps, link.restore_detected_ps) == (
        10**9, 10**9 + 50 * US, 3 * 10**9, 3 * 10**9 + 50 * US)
    core = f.node_id("core1")
    assert switch.element == "switch:core1" and switch.tier == "core" and switch.node == core
    assert switch.restored_ps is None and switch.restore_detected_ps is None
    ends = set(f.link_src[switch.links].tolist()) | set(f.link_dst[switch.links].tolist())
    assert core in ends and switch.links.size == 2 * 4  # k = 4 pods, one agg each, both ways
    assert np.all((f.link_src[switch.links] == core) | (f.link_dst[switch.links] == core))


def test_random_targets_follow_the_seed():
    def element(seed):
        (x, y), _ = resolved([{"target": "random_link:agg-core", "at": "1ms"},
                              {"target": "random_switch:agg", "at": "1ms"}], seed=seed)
        assert x.tier == "agg-core" and y.tier == "agg"
        return x.element, y.element

    assert element(7) == element(7)
    assert len({element(seed) for seed in range(20)}) > 5


def test_down_links_over_time_with_overlapping_failures():
    (a, b), f = resolved([
        {"target": "link:agg0-core0", "at": "1ms", "duration": "1ms"},
        {"target": "switch:core0", "at": "1500us", "duration": "2ms"},
    ])
    link = f.link_between(f.node_id("agg0"), f.node_id("core0"))
    def is_down(t_us, detected=False):
        return bool(down_links([a, b], f.n_links, t_us * US, detected)[link])

    assert not is_down(999) and is_down(1000) and is_down(1999)
    assert is_down(2500)  # restored as a link, but its switch is still down
    assert not is_down(3500)
    assert not is_down(1050, detected=True) and is_down(1100, detected=True)
    assert is_down(3550, detected=True) and not is_down(3600, detected=True)


def test_failure_schedule_steps_through_changes_and_converges_at_detections():
    """The one schedule both drivers step through: a failure's links are down from ``at``;
    routing changes (new tables, flows moved off the link) only at its detection, and back at
    the detection of its restoration."""
    sc = scenario([{"target": "link:tor0-agg0", "at": "1ms", "duration": "1ms"}], detect="50us")
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    path_ptr, path_link, hash_id = flow_paths(model, flows)
    schedule = FailureSchedule(model, flows, 2**62, hash_id, path_ptr, path_link)
    (fl,) = schedule.failures
    assert schedule.changes == [10**9, 10**9 + 50 * US, 2 * 10**9, 2 * 10**9 + 50 * US]
    everyone = np.ones(len(flows), np.bool_)
    seen = []
    while schedule.pending():
        t = schedule.advance()
        down = schedule.links_down(t)
        assert down[fl.links].all() == (t < 2 * 10**9)
        assert schedule.failing_at(t) == ([fl] if t == fl.at_ps else [])
        converged = schedule.converge(t, active=everyone, movable=everyone)
        seen.append(converged is not None)
        if converged is not None:
            crosses = np.isin(converged.path_link, fl.links).any()
            assert crosses == (t == fl.restore_detected_ps)  # off the link while routing knows it down
            assert converged.down[fl.links].all() == (t == fl.detected_ps)
    assert seen == [False, True, False, True]
    assert not FailureSchedule(build_model(scenario([])), flows, 2**62, hash_id, path_ptr, path_link)


def test_packet_run_with_a_failure_writes_its_traces(tmp_path, capsys):
    from fabsim.cli import main
    from fabsim.trace import read_run

    path = tmp_path / "fail.toml"
    path.write_text(
        '[run]\nengine = "packet"\n[topology]\nkind = "fat_tree"\nk = 4\n[cc]\nalgorithm = "none"\n'
        '[[traffic]]\nkind = "permutation"\nsize = "1MB"\n'
        '[[failures]]\ntarget = "switch:core0"\nat = "20us"\n'
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    (fl,) = read_run(tmp_path / "out")["failures"].to_pylist()
    assert fl["target"] == "switch:core0" and fl["detected_ns"] == 120_000


def test_validate_shows_which_element_each_failure_takes_down(tmp_path, capsys):
    from fabsim.cli import main

    path = tmp_path / "fail.toml"
    path.write_text(
        '[topology]\nkind = "fat_tree"\nk = 4\n[[traffic]]\nkind = "permutation"\nsize = "1MB"\n'
        '[[failures]]\ntarget = "random_link:agg-core"\nat = "1ms"\nduration = "1ms"\n'
    )
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr()
    (fl,), _ = resolved([{"target": "random_link:agg-core", "at": "1ms", "duration": "1ms"}])
    assert fl.element in out.out + out.err and "2 ms" in out.out + out.err


# ---- the flow engine under failures ---------------------------------------------------------------

from fabsim.api import simulate  # noqa: E402


def leaf_spine_run(failures, flows, spines=2, detect="100us", **run):
    sc = fabsim.load_scenario({
        "run": {"engine": "flow", **run},
        "topology": {"kind": "leaf_spine", "leaves": 2, "spines": spines, "hosts_per_leaf": 2,
                     "host_rate": "100Gbps", "fabric_rate": "100Gbps"},
        "routing": {"detect": detect},
        "traffic": [{"kind": "flow", "flows": flows}],
        "failures": failures,
    })
    return sc, simulate(sc)


def uplink_of(sc, src, dst, flow_id=0):
    """The leaf–spine cable that flow ``flow_id`` (src → dst) uses, as a failure target."""
    model = build_model(sc)
    f = model.fabric
    path = model.routing.path(src, dst, flow_id, seed=sc.run.seed)
    up = int(path[1])
    return f"link:{f.node_name(int(f.link_src[up]))}-{f.node_name(int(f.link_dst[up]))}"


def test_a_flow_stalls_for_the_detect_window_then_moves_to_a_surviving_spine():
    flow = {"src": 0, "dst": 2, "size": "10MB"}
    sc, _ = leaf_spine_run([], [flow])
    target = uplink_of(sc, 0, 2)
    sc, r = leaf_spine_run([{"target": target, "at": "200us"}], [flow], detect="150us")
    (row,) = r.flows.to_pylist()
    assert row["completed"] and row["failure_hit"]
    assert row["fct_ns"] == row["ideal_fct_ns"] + 150_000  # no bytes move while it is stalled
    (fl,) = r.failures.to_pylist()
    assert (fl["target"], fl["at_ns"], fl["detected_ns"], fl["restored_ns"]) == (target, 200_000, 350_000, None)
    assert (fl["flows_hit"], fl["flows_rerouted"], fl["hosts_hit"]) == (1, 1, 2)
    down = [x for x in r.links.to_pylist() if x["down_ns"]]
    assert len(down) == 2 and all(x["down_ns"] == row["finish_ns"] - 200_000 for x in down)


def test_a_flap_moves_the_flow_back_when_the_restoration_is_detected():
    flow = {"src": 0, "dst": 2, "size": "10MB"}
    sc, _ = leaf_spine_run([], [flow])
    target = uplink_of(sc, 0, 2)
    sc, r = leaf_spine_run([{"target": target, "at": "100us", "duration": "300us"}], [flow], detect="50us")
    (row,) = r.flows.to_pylist()
    assert row["fct_ns"] == row["ideal_fct_ns"] + 50_000
    (fl,) = r.failures.to_pylist()
    assert fl["restored_ns"] == 400_000 and fl["flows_rerouted"] == 1
    down = [x["down_ns"] for x in r.links.to_pylist() if x["down_ns"]]
    assert down == [300_000, 300_000]


def test_flows_away_from_the_failure_keep_their_paths_and_are_not_hit():
    flows = [{"src": 0, "dst": 2, "size": "4MB"}, {"src": 1, "dst": 3, "size": "4MB"}]
    for seed in range(1, 100):  # a seed that puts the two flows on different spines
        sc, _ = leaf_spine_run([], flows, spines=4, seed=seed)
        model = build_model(sc)
        if model.routing.path(0, 2, 0, seed=seed)[1] != model.routing.path(1, 3, 1, seed=seed)[1]:
            break
    sc, r = leaf_spine_run([{"target": uplink_of(sc, 0, 2), "at": "100us"}], flows, spines=4, seed=seed)
    hit = [row["failure_hit"] for row in r.flows.to_pylist()]
    assert hit == [True, False]
    assert r.failures.to_pylist()[0]["flows_rerouted"] == 1


def test_an_unreachable_destination_leaves_its_flows_incomplete_and_the_run_ends():
    flows = [{"src": 0, "dst": 2, "size": "10MB"}, {"src": 1, "dst": 3, "size": "1MB"}]
    sc, r = leaf_spine_run([{"target": "link:h2-leaf1", "at": "100us"}], flows)
    rows = r.flows.to_pylist()
    assert not rows[0]["completed"] and rows[0]["failure_hit"] and rows[0]["finish_ns"] is None
    assert rows[1]["completed"] and not rows[1]["failure_hit"]
    assert r.summary["flows_unreachable"] == 1 and r.summary["flows_completed"] == 1


def test_ring_allreduce_survives_an_aggregation_switch_failure():
    def run(failures):
        sc = fabsim.load_scenario({
            "run": {"engine": "flow", "seed": 3},
            "topology": {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps"},
            "traffic": [{"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": "64MB"}],
            "failures": failures,
        })
        return simulate(sc)

    base = run([])
    hit = run([{"target": "switch:agg1", "at": "500us"}])
    assert all(hit.flows["completed"].to_pylist())
    (fl,) = hit.failures.to_pylist()
    assert fl["flows_hit"] > 0 and fl["jobs_hit"] == 1
    t_base = max(base.flows["finish_ns"].to_pylist())
    t_hit = max(hit.flows["finish_ns"].to_pylist())
    assert t_hit >= t_base + 100_000  # at least the detect window (100 µs) of stall


def test_baseline_reports_the_delay_the_failure_adds_to_the_job(tmp_path):
    spec = {
        "run": {"engine": "flow", "seed": 3},
        "topology": {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps"},
        "traffic": [{"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": "64MB", "iterations": 2}],
        "failures": [{"target": "switch:agg1", "at": "500us", "duration": "2ms"}],
    }
    with_baseline = simulate(fabsim.load_scenario(spec), baseline=True)
    failed = simulate(fabsim.load_scenario(spec))
    alone = simulate(fabsim.load_scenario({**spec, "failures": []}))
    last = lambda r: max(r.flows["finish_ns"].to_pylist())  # noqa: E731
    (job,) = with_baseline.summary["jobs"].values()
    assert job["added_ns"] == last(failed) - last(alone) > 0
    assert with_baseline.summary["baseline"]["completion_ns"] == last(failed)
    assert with_baseline.summary["baseline"]["baseline_completion_ns"] == last(alone)
    # per failure: the added FCT of the flows it hit
    (fl,) = with_baseline.failures.to_pylist()
    hit = np.asarray(failed.flows["failure_hit"])
    fct = np.asarray(failed.flows["fct_ns"]) - np.asarray(alone.flows["fct_ns"])
    assert fl["added_delay_ns"] == pytest.approx(int(fct[hit].sum()), abs=int(hit.sum()))
    assert failed.failures.to_pylist()[0]["added_delay_ns"] is None  # only with a baseline
    # the failed run itself is the same with or without the baseline
    assert with_baseline.flows["finish_ns"].to_pylist() == failed.flows["finish_ns"].to_pylist()
    # per flow and per collective iteration, in the baseline trace
    rows = with_baseline.extra["baseline"].to_pylist()
    flows_rows = [r for r in rows if r["kind"] == "flow"]
    assert [r["added_ns"] for r in flows_rows] == [int(x) for x in fct]
    colls = [r for r in rows if r["kind"] == "collective"]
    assert len(colls) == 2 and all(r["added_ns"] == r["time_ns"] - r["baseline_ns"] for r in colls)
    assert colls[0]["time_ns"] == with_baseline.collectives["duration_ns"].to_pylist()[0]


def test_cli_baseline_fills_added_delay(tmp_path, capsys):
    from fabsim.cli import main
    from fabsim.trace import read_run

    out = tmp_path / "run"
    assert main(["run", str(Path(__file__).resolve().parent.parent / "scenarios/failures/link-flap.toml"),
                 "--out", str(out), "--baseline", "--quiet"]) == 0
    (fl,) = read_run(out)["failures"].to_pylist()
    assert fl["added_delay_ns"] is not None and fl["added_delay_ns"] > 0


def test_permutation_over_a_leaf_spine_with_a_dead_uplink_is_balls_into_bins():
    """Per-flow ECMP puts each of a leaf's H flows on one of its n live uplinks uniformly: the
    uplink loads are H balls in n bins, so the expected number of idle uplinks is n(1 − 1/n)^H.
    Averaged over seeds, the flow engine's link bytes match that (and the dead uplink and the
    dead spine's path to its leaf carry nothing)."""
    leaves, spines, hosts = 4, 4, 8
    expected = np.array([(n * (1 - 1 / n) ** hosts) for n in (3, 4, 4, 3)])  # leaf0 lost an uplink;
    # leaf3's flows go to leaf0, which spine0 no longer reaches: 3 candidates, and its live
    # uplink to spine0 stays idle
    expected[3] += 1
    idle = []
    for seed in range(1, 81):
        sc = fabsim.load_scenario({
            "run": {"engine": "flow", "seed": seed},
            "topology": {"kind": "leaf_spine", "leaves": leaves, "spines": spines, "hosts_per_leaf": hosts,
                         "host_rate": "100Gbps", "fabric_rate": "100Gbps"},
            "routing": {"detect": "0"},
            "traffic": [{"kind": "permutation", "pattern": "shift", "size": "1MB"}],
            "failures": [{"target": "link:leaf0-spine0", "at": "0"}],
        })
        r = simulate(sc)
        f = build_model(sc).fabric
        tx = np.asarray(r.links["tx_bytes"])
        dead = f.link_between(f.node_id("leaf0"), f.node_id("spine0"))
        assert tx[dead] == 0 and tx[f.link_rev[dead]] == 0
        per_leaf = []
        for leaf in range(leaves):
            node = f.node_id(f"leaf{leaf}")
            up = [f.link_between(node, f.node_id(f"spine{s}")) for s in range(spines)]
            live = [l for l in up if l != dead]
            assert tx[live].sum() == pytest.approx(hosts * np.asarray(r.flows["size_bytes"])[0] * (1 + 48 / 4096), rel=1e-3)
            per_leaf.append(sum(tx[l] == 0 for l in live))
        idle.append(per_leaf)
    idle = np.asarray(idle, np.float64)
    mean, err = idle.mean(axis=0), idle.std(axis=0, ddof=1) / np.sqrt(len(idle))
    assert np.all(np.abs(mean - expected) <= 3.5 * err + 1e-9), (mean, expected, err)


# ---- the packet engine under failures -------------------------------------------------------------

def packet_run(failures, flows, until=None, detect="50us", **extra):
    run = {"engine": "packet"}
    if until:
        run["until"] = until
    sc = fabsim.load_scenario({
        "run": run,
        "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 2,
                     "host_rate": "100Gbps", "fabric_rate": "100Gbps"},
        "routing": {"detect": detect},
        "host": {"rto": "100us"},
        "cc": {"algorithm": "none"},
        "switch": {"pfc": True},
        "traffic": [{"kind": "flow", "flows": flows}],
        "failures": failures,
        **extra,
    })
    return sc, simulate(sc)


FLOW = {"src": 0, "dst": 2, "size": "4MB"}


def test_packet_flow_loses_packets_to_a_failure_and_recovers_over_the_other_spine():
    sc, _ = packet_run([], [FLOW])
    target = uplink_of(sc, 0, 2)
    sc, r = packet_run([{"target": target, "at": "100us"}], [FLOW])
    (row,) = r.flows.to_pylist()
    assert row["completed"] and row["failure_hit"] and row["drops"] > 0 and row["retransmitted_bytes"] > 0
    assert row["fct_ns"] >= row["ideal_fct_ns"] + 50_000  # at least the black-hole window
    (fl,) = r.failures.to_pylist()
    assert fl["dropped_packets"] >= row["drops"] and fl["dropped_bytes"] > 0
    assert (fl["flows_hit"], fl["flows_rerouted"], fl["detected_ns"]) == (1, 1, 150_000)
    assert 0 < r.summary["black_holed_packets"] < fl["dropped_packets"]  # during the 50 µs window
    # go-back-N: every lost data packet was sent again at least once
    assert row["packets"] >= -(-4_000_000 // 4096) + row["drops"]


def test_no_packet_crosses_a_down_link_after_detection():
    sc, _ = packet_run([], [FLOW])
    target = uplink_of(sc, 0, 2)
    fail = [{"target": target, "at": "100us"}]
    _, early = packet_run(fail, [FLOW], until="160us")  # just after detection (150 µs)
    _, late = packet_run(fail, [FLOW])
    down = np.asarray(late.links["down_ns"]) > 0
    assert down.sum() == 2
    assert np.array_equal(np.asarray(early.links["tx_bytes"])[down], np.asarray(late.links["tx_bytes"])[down])


def test_packet_flap_restores_the_link_and_the_flow_completes():
    sc, _ = packet_run([], [FLOW])
    target = uplink_of(sc, 0, 2)
    sc, r = packet_run([{"target": target, "at": "100us", "duration": "60us"}], [FLOW], detect="20us")
    (row,) = r.flows.to_pylist()
    assert row["completed"] and row["failure_hit"]
    (fl,) = r.failures.to_pylist()
    assert fl["restored_ns"] == 160_000 and fl["flows_rerouted"] == 1  # moved off, then back
    assert [x["down_ns"] for x in r.links.to_pylist() if x["down_ns"]] == [60_000, 60_000]


def test_queue_and_rate_samples_stay_on_their_grid_across_failure_times():
    """Failures cut a kernel slice short at their times (here 100, 120, 160 and 180 µs, on the
    10 µs sample grid); the samples must go on at every multiple until the end of the run."""
    sc, _ = packet_run([], [FLOW])
    target = uplink_of(sc, 0, 2)
    sc, r = packet_run([{"target": target, "at": "100us", "duration": "60us"}], [FLOW], detect="20us",
                       cc={"algorithm": "dcqcn"},
                       output={"queue_sample": "10us", "cc_sample": "10us", "queue_hosts": True})
    end = r.summary["simulated_ns"]
    assert end > 300_000
    rates = np.unique(np.asarray(r.extra["rates"]["t_ns"]))
    assert np.array_equal(rates, np.arange(10_000, end + 1, 10_000))
    queues = np.unique(np.asarray(r.extra["queues"]["t_ns"]))
    assert queues.min() == 10_000 and queues.max() >= end - 10_000 and (queues % 10_000 == 0).all()
    assert {100_000, 120_000, 160_000, 180_000} <= set(queues.tolist())


def test_packet_flow_to_an_unreachable_host_ends_incomplete_and_the_run_ends():
    flows = [FLOW, {"src": 1, "dst": 3, "size": "1MB"}]
    sc, r = packet_run([{"target": "link:h2-leaf1", "at": "100us"}], flows)
    rows = r.flows.to_pylist()
    assert not rows[0]["completed"] and rows[0]["failure_hit"]
    assert rows[1]["completed"]
    assert r.summary["flows_unreachable"] == 1


def test_packet_ring_allreduce_survives_an_agg_switch_and_baseline_measures_it():
    spec = {
        "run": {"engine": "packet", "seed": 3},
        "topology": {"kind": "fat_tree", "k": 4, "host_rate": "100Gbps"},
        "routing": {"detect": "50us"},
        "host": {"rto": "200us"},
        "cc": {"algorithm": "none"},
        "switch": {"pfc": True},
        "traffic": [{"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": "4MB"}],
        "failures": [{"target": "switch:agg1", "at": "100us"}],
    }
    r = simulate(fabsim.load_scenario(spec), baseline=True)
    assert all(r.flows["completed"].to_pylist())
    alone = simulate(fabsim.load_scenario({**spec, "failures": []}))
    last = lambda x: max(x.flows["finish_ns"].to_pylist())  # noqa: E731
    (job,) = r.summary["jobs"].values()
    assert job["added_ns"] == last(r) - last(alone)
    (fl,) = r.failures.to_pylist()
    assert fl["target"] == "switch:agg1" and fl["jobs_hit"] == 1


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10**6), st.integers(20, 200), st.sampled_from([None, 100, 400]), st.integers(1, 5))
def test_packet_engine_never_transmits_on_a_down_link_after_detection(pick, at_us, duration_us, seed):
    """Random leaf–spine cable, random time and duration: between the detection of the failure
    and its restoration the dead links' byte counters do not move; every flow completes."""
    spec = {
        "run": {"engine": "packet", "seed": seed},
        "topology": {"kind": "leaf_spine", "leaves": 3, "spines": 2, "hosts_per_leaf": 2,
                     "host_rate": "100Gbps", "fabric_rate": "100Gbps"},
        "routing": {"detect": "30us"},
        "host": {"rto": "100us"},
        "cc": {"algorithm": "none"},
        "switch": {"pfc": True},
        "traffic": [{"kind": "permutation", "size": "1MB"}],
    }
    probe = fabsim.load_scenario(spec)
    f = build_model(probe).fabric
    cables = np.flatnonzero((f.link_src >= f.n_hosts) & (f.link_dst >= f.n_hosts) & (np.arange(f.n_links) < f.link_rev))
    cable = int(cables[pick % cables.size])
    target = f"link:{f.node_name(int(f.link_src[cable]))}-{f.node_name(int(f.link_dst[cable]))}"
    failure = {"target": target, "at": f"{at_us}us"}
    if duration_us:
        failure["duration"] = f"{duration_us}us"
    detected = at_us + 30
    end = at_us + duration_us if duration_us else None
    runs = [simulate(fabsim.load_scenario({**spec, "failures": [failure],
                                           "run": {**spec["run"], "until": f"{t}us"}}))
            for t in (detected + 1, (end if end else detected + 400) - 1)]
    full = simulate(fabsim.load_scenario({**spec, "failures": [failure]}))
    dead = [cable, int(f.link_rev[cable])]
    a, b = (np.asarray(r.links["tx_bytes"])[dead] for r in runs)
    assert np.array_equal(a, b)
    assert all(full.flows["completed"].to_pylist())


def test_a_failed_port_forgets_its_pfc_state_and_drops_its_queue():
    """fail_links on a port that is paused, has sent a PAUSE upstream and holds queued packets."""
    from fabsim.native import codes, packet_failures, packet_state, queues
    from fabsim.run.packet import _wheel_geometry, build_net

    sc = fabsim.load_scenario({
        "run": {"engine": "packet"},
        "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 2},
        "cc": {"algorithm": "none"},
        "traffic": [{"kind": "flow", "src": 0, "dst": 2, "size": "64KB"}],
    })
    model = build_model(sc)
    flows = build_flow_table(sc, model.fabric)
    net = build_net(model, flows)
    st = packet_state.new_state(net, flows.pred_count, 256, *_wheel_geometry(model))
    f = model.fabric
    link = f.link_between(f.node_id("leaf0"), f.node_id("spine0"))
    st.paused[link], st.pause_since[link], st.pause_sent[link] = 1, 1_000, 1
    # two data packets queued at the port (the first one on the wire), as the switch enqueues them
    for seq in range(2):
        p = packet_state._alloc(st, 0, codes.PKT_DATA, seq, False)  # full size: 4096 + 48 bytes
        st.pkt[p, codes.PK_IN_LINK] = int(f.host_uplink[0])
        queues._push_data(st, link, p, np.int64(4144), np.int64(0))
        st.used[f.node_id("leaf0")] += 4144
        st.ingress[int(f.host_uplink[0])] += 4144
    st.busy[link] = codes.BUSY_TX
    st.tx_prio[link] = 1
    assert packet_failures.fail_links(net, st, np.array([link], np.int64), np.int64(5_000)) == codes.STATUS_SLICE
    assert st.paused[link] == 0 and st.pause_ps[link] == 4_000 and st.pause_sent[link] == 0
    assert st.busy[link] == codes.BUSY_TX | codes.BUSY_DEAD
    # the queued packet is gone with its buffer bytes; the one on the wire is lost at its TX_DONE
    assert st.dq_head[link] == st.dq_tail[link] >= 0 and st.dq_bytes[link] == 4144
    assert st.used[f.node_id("leaf0")] == 4144 and st.l_fail_pkts[link] == 1 and st.f_fail[0] == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=small_scenarios().filter(lambda d: d["failures"]))
def test_source_routes_through_failures_give_the_runs_of_per_hop_routing(doc):
    """With ecmp = "flow" the packet engine follows routes traced by the driver, and traces them
    again whenever routing converges after a failure or a restoration; a packet whose route no
    longer passes the link it arrived on is routed hop by hop. Random small scenarios with
    failures run exactly as with per-hop routing throughout: every trace equal."""
    import fabsim.run.packet as driver

    doc = {**doc, "run": {**doc["run"], "engine": "packet"}, "routing": {**doc["routing"], "ecmp": "flow"}}
    try:
        sc = fabsim.load_scenario(doc)
    except fabsim.ScenarioError:
        return
    routed = fabsim.simulate(sc)
    n = len(routed.flows)
    off = {"sr_ptr": np.zeros(n + 1, np.int64), "sr_fwd": np.zeros(0, np.int32), "sr_rev": np.zeros(0, np.int32)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(driver, "_source_routes", lambda *args: off)
        per_hop = fabsim.simulate(sc)
    for name in ("flows", "links", "collectives", "failures"):
        assert getattr(routed, name).equals(getattr(per_hop, name)), name
    assert routed.summary["events"] == per_hop.summary["events"]


def test_routes_leave_out_a_flow_whose_two_directions_differ_in_length():
    """A flow whose ACK path is longer than its data path (an irregular fabric, or one after a
    failure) gets an empty route, to be routed hop by hop; the others keep their data and ACK
    routes paired entry by entry."""
    from types import SimpleNamespace

    from fabsim.run.packet import trace_routes

    class Routing:  # every path is two links named 10·a + b, but h3 → h1 takes three
        dist = np.zeros((1, 1), np.int8)
        host_edge = np.zeros(4, np.int64)

        def paths(self, src, dst, hash_id, channel, seed):
            hops = [3 if (a, b) == (3, 1) else 2 for a, b in zip(src, dst)]
            ptr = np.concatenate([[0], np.cumsum(hops)]).astype(np.int64)
            return ptr, np.concatenate([np.full(h, 10 * a + b, np.int32) for h, a, b in zip(hops, src, dst)])

    class Flows(SimpleNamespace):
        def __len__(self):
            return 3

    fabric = SimpleNamespace(host_switch=np.full(4, 4), n_hosts=4, host_uplink=np.arange(4), host_downlink=np.arange(4) + 4)
    model = SimpleNamespace(fabric=fabric, scenario=SimpleNamespace(run=SimpleNamespace(seed=1)))
    flows = Flows(src=np.array([0, 1, 2]), dst=np.array([1, 3, 3]), channel=np.zeros(3, np.int64))
    routes, complete = trace_routes(model, flows, Routing(), np.ones(3, np.bool_), np.zeros(3, np.int64),
                                    down=np.zeros(8, np.bool_))
    assert not complete  # so the driver passes the per-hop hashes (P_SROUTE = 2)
    assert routes["sr_ptr"].tolist() == [0, 2, 2, 4]
    assert routes["sr_fwd"].tolist() == [1, 1, 23, 23]
    assert routes["sr_rev"].tolist() == [10, 10, 32, 32]
