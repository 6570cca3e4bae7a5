"""Fabric structure, routing tables against a BFS reference, and the ECMP hash."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fabsim.native.ecmp import ecmp_hash
from fabsim.topology import Routing, TopologyError, fat_tree, from_file, leaf_spine, rail_optimized, star
from tests.reference.routing_ref import bfs_hops, shortest_next_hops

G = 10**9
US = 10**6


# ---- structure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [4, 8, 16, 48])
def test_fat_tree_counts_and_paths(k):
    f = fat_tree(k, 100 * G, 100 * G, US)
    assert f.n_hosts == k**3 // 4
    assert f.n_switches == 5 * k**2 // 4
    assert f.n_cables == 3 * k**3 // 4
    assert f.switch_roles == {"tor", "agg", "core"}
    assert f.link_tiers == {"host", "tor-agg", "agg-core"}
    r = Routing.build(f)
    half = k // 2
    same_edge, same_pod, other_pod = 1, half, k**2 // 4  # first hosts of: own ToR, next ToR, next pod
    assert r.count_paths(0, same_edge) == 1
    assert r.count_paths(0, same_pod) == half
    assert r.count_paths(0, other_pod) == half**2
    assert r.count_paths(0, f.n_hosts - 1) == half**2
    assert [r.hop_count(0, h) for h in (same_edge, same_pod, other_pod)] == [2, 4, 6]
    assert f.oversubscription() == 1.0
    assert f.bisection_bps() == f.n_hosts * 100 * G // 2


def test_fat_tree_names_and_wiring():
    f = fat_tree(4, 100 * G, 400 * G, US)
    assert f.node_names[:2] == ["h0", "h1"]
    assert f.node_name(16) == "tor0" and f.node_name(24) == "agg0" and f.node_name(32) == "core0"
    # h0, h1 on tor0; tor0 joins agg0, agg1; agg0 joins core0, core1; agg1 joins core2, core3
    assert f.link_between(f.node_id("h1"), f.node_id("tor0")) is not None
    assert f.link_between(f.node_id("tor0"), f.node_id("agg1")) is not None
    assert f.link_between(f.node_id("tor0"), f.node_id("agg2")) is None
    assert f.link_between(f.node_id("agg1"), f.node_id("core2")) is not None
    assert f.link_between(f.node_id("agg1"), f.node_id("core0")) is None
    link = f.link_between(f.node_id("tor0"), f.node_id("agg0"))
    assert f.link_rate_bps[link] == 400 * G and f.link_tier(link) == "tor-agg"
    assert f.link_src[f.link_rev[link]] == f.link_dst[link]
    # every directed link sits in its source node's port range
    src_of_port = np.repeat(np.arange(f.n_nodes), np.diff(f.port_start))
    assert np.array_equal(src_of_port, f.link_src)
    assert f.tier_oversubscription() == {"tor": 0.25, "agg": 1.0}


@pytest.mark.parametrize("leaves,spines,hpl,lpp", [(4, 2, 8, 1), (8, 4, 16, 2), (3, 3, 5, 3)])
def test_leaf_spine(leaves, spines, hpl, lpp):
    f = leaf_spine(leaves, spines, hpl, lpp, 100 * G, 400 * G, US)
    assert f.n_hosts == leaves * hpl and f.n_switches == leaves + spines
    assert f.n_cables == leaves * hpl + leaves * spines * lpp
    r = Routing.build(f)
    # S·lpp uplinks from the leaf, then lpp parallel downlinks from the spine
    assert len(r.candidates(f.host_switch[0], hpl)) == spines * lpp
    assert r.count_paths(0, hpl) == spines * lpp * lpp
    assert r.count_paths(0, 1) == 1
    assert f.oversubscription() == pytest.approx((hpl * 100) / (spines * lpp * 400))
    assert f.bisection_bps() == min(leaves * hpl * 100 * G, leaves * spines * lpp * 400 * G) // 2


def test_star():
    f = star(8, 400 * G, 500_000)
    assert (f.n_hosts, f.n_switches, f.n_cables) == (8, 1, 8)
    assert f.node_name(8) == "sw0"
    r = Routing.build(f)
    assert r.count_paths(0, 7) == 1 and r.hop_count(0, 7) == 2
    assert f.oversubscription() == 1.0
    assert f.bisection_bps() == 4 * 400 * G


def test_rail_optimized():
    servers, rails, spl, spines = 8, 4, 2, 3
    f = rail_optimized(servers, rails, spl, spines, 400 * G, 400 * G, US)
    assert f.n_hosts == servers * rails
    assert f.n_switches == (servers // spl) * rails + spines
    assert f.n_cables == servers * rails + (servers // spl) * rails * spines
    r = Routing.build(f)
    # server 0 NIC 1 and server 1 NIC 1: same rail, same group → one leaf
    assert r.hop_count(0 * rails + 1, 1 * rails + 1) == 2
    # same server, different rails → through a spine
    assert r.hop_count(0, 1) == 4 and r.count_paths(0, 1) == spines
    # same rail, other group → through a spine
    assert r.hop_count(1, spl * rails + 1) == 4
    assert f.node_name(f.host_switch[rails * spl + 2]) == f"leaf{rails + 2}"
    assert f.oversubscription() == pytest.approx(spl * 400 / (spines * 400))
    with pytest.raises(TopologyError, match="multiple of servers_per_leaf"):
        rail_optimized(5, 2, 2, 1, G, G, US)


def test_fat_tree_rejects_odd_k():
    with pytest.raises(TopologyError) as err:
        fat_tree(5, G, G, US)
    assert err.value.path == "topology.k"


# ---- file topologies ---------------------------------------------------------------------------

def _write(tmp_path, text):
    p = tmp_path / "fabric.csv"
    p.write_text(text)
    return str(p)


def test_file_topology(tmp_path):
    path = _write(
        tmp_path,
        "a,b,rate,delay\n# two switches\nh0,tor0,,\nh1,tor0,,\nh2,tor1,25Gbps,2us\nh3,tor1,,\n"
        "tor0,spine0,400Gbps,\ntor1,spine0,,\ntor0,core_a,,\ncore_a,tor1,,500ns\n",
    )
    f = from_file(path, 100 * G, 200 * G, US)
    assert (f.n_hosts, f.n_switches, f.n_cables) == (4, 4, 8)
    assert f.node_names == ["h0", "h1", "h2", "h3", "tor0", "tor1", "spine0", "core_a"]
    link = f.link_between(f.node_id("h2"), f.node_id("tor1"))
    assert f.link_rate_bps[link] == 25 * G and f.link_delay_ps[link] == 2 * US
    link = f.link_between(f.node_id("tor1"), f.node_id("spine0"))
    assert f.link_rate_bps[link] == 200 * G and f.link_delay_ps[link] == US
    assert Routing.build(f).count_paths(0, 2) == 2


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("a,b\nh0,sw0\n", "header"),
        ("a,b,rate,delay\nh0,sw0,100Gbs,\n", "did you mean Gbps"),
        ("a,b,rate,delay\nh0,sw0,,\nh2,sw0,,\n", "h1 is missing"),
        ("a,b,rate,delay\nh0,sw0,,\nh0,sw1,,\n", "exactly one link"),
        ("a,b,rate,delay\nh0,h1,,\n", "linked to another host"),
        ("a,b,rate,delay\nh0,bad-name,,\n", "bad node name"),
        ("a,b,rate,delay\nh0,sw0,,1us,9\n", "expected 4 fields"),
    ],
)
def test_file_topology_errors(tmp_path, text, fragment):
    with pytest.raises(TopologyError) as err:
        from_file(_write(tmp_path, text), G, G, US)
    assert fragment in str(err.value) and err.value.path == "topology.path"
    assert "fabric.csv" in str(err.value)


def test_file_topology_unreadable(tmp_path):
    with pytest.raises(TopologyError, match="cannot read fabric file"):
        from_file(str(tmp_path / "nope.csv"), G, G, US)


# ---- routing against the BFS reference (hypothesis) ---------------------------------------------

@st.composite
def fabrics(draw):
    kind = draw(st.sampled_from(["leaf_spine", "fat_tree", "file"]))
    if kind == "leaf_spine":
        return leaf_spine(
            draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
            draw(st.integers(1, 2)), G, G, US,
        )
    if kind == "fat_tree":
        return fat_tree(draw(st.sampled_from([2, 4, 6])), G, G, US)
    # A random connected switch graph (parallel cables allowed), hosts hung off random switches.
    n_sw = draw(st.integers(1, 7))
    lines = ["a,b,rate,delay"]
    for s in range(1, n_sw):
        lines.append(f"s{s},s{draw(st.integers(0, s - 1))},,")
    for _ in range(draw(st.integers(0, 6))):
        a, b = draw(st.integers(0, n_sw - 1)), draw(st.integers(0, n_sw - 1))
        if a != b:
            lines.append(f"s{a},s{b},,")
    n_hosts = draw(st.integers(2, 8))
    lines += [f"h{h},s{draw(st.integers(0, n_sw - 1))},," for h in range(n_hosts)]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f.csv")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return from_file(path, G, G, US)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fabric=fabrics(), data=st.data())
def test_routing_matches_bfs_reference(fabric, data):
    f = fabric
    links = list(zip(f.link_src.tolist(), f.link_dst.tolist()))
    # Take a random set of switch-to-switch cables down (both directions).
    fabric_links = [l for l in range(f.n_links) if f.link_src[l] >= f.n_hosts and f.link_dst[l] >= f.n_hosts]
    down = data.draw(st.lists(st.sampled_from(fabric_links), max_size=3) if fabric_links else st.just([]))
    up = np.ones(f.n_links, bool)
    up[down] = False
    up[f.link_rev[down]] = False
    r = Routing.build(f, up)
    up_list = up.tolist()
    for dst in range(f.n_hosts):
        dist = bfs_hops(f.n_nodes, links, up_list, dst)
        for s in range(f.n_hosts, f.n_nodes):
            expected = shortest_next_hops(f.n_nodes, links, up_list, s, dst)
            assert set(r.candidates(s, dst).tolist()) == expected
        for src in range(f.n_hosts):
            if src == dst:
                continue
            assert r.hop_count(src, dst) == (dist[src] if dist[src] is not None else -1)
            flow = data.draw(st.integers(0, 1000), label="flow")
            path = r.path(src, dst, flow_id=flow, channel=flow % 3, seed=7)
            if dist[src] is None:
                assert path is None
                continue
            assert len(path) == dist[src]
            assert f.link_src[path[0]] == src and f.link_dst[path[-1]] == dst
            assert all(f.link_dst[a] == f.link_src[b] for a, b in zip(path[:-1], path[1:]))
            assert all(up[path])


def test_tables_rebuild_after_failure():
    f = leaf_spine(4, 4, 2, 1, G, G, US)
    r = Routing.build(f)
    assert r.count_paths(0, 2) == 4
    link = f.link_between(f.node_id("leaf0"), f.node_id("spine1"))
    r_down = r.with_links_down([link])
    assert r_down.count_paths(0, 2) == 3
    assert not r_down.link_up[f.link_rev[link]]
    assert r_down.with_links_up([link]).count_paths(0, 2) == 4


def test_failure_moves_only_the_flows_that_crossed_it():
    f = fat_tree(8, G, G, US)
    r = Routing.build(f)
    dead = f.link_between(f.node_id("agg1"), f.node_id("core5"))
    r_down = r.with_links_down([dead])
    moved = kept = 0
    for flow in range(300):
        src, dst = flow % f.n_hosts, (flow * 37 + 64) % f.n_hosts
        if src == dst:
            continue
        before, after = r.path(src, dst, flow), r_down.path(src, dst, flow)
        assert len(after) == len(before)
        crossed = bool(np.isin([dead, f.link_rev[dead]], before).any())
        if crossed:
            moved += 1
            assert not np.isin([dead, f.link_rev[dead]], after).any()
        else:
            kept += 1
            assert np.array_equal(before, after)
    assert moved > 0 and kept > 0
    assert np.array_equal(r_down.with_links_up([dead]).path(0, 127, 3), r.path(0, 127, 3))


# ---- the ECMP hash -----------------------------------------------------------------------------

def test_hash_avalanche_and_balance():
    rng = np.random.default_rng(3)
    flips = []
    for _ in range(2000):
        src, dst, flow, ch, sw = (int(x) for x in rng.integers(0, 2**20, 5))
        bit = int(rng.integers(0, 20))
        field = int(rng.integers(0, 5))
        args = [src, dst, flow, ch, sw]
        h0 = int(ecmp_hash(1, *args))
        args[field] ^= 1 << bit
        h1 = int(ecmp_hash(1, *args))
        flips.append(bin(h0 ^ h1).count("1"))
    assert 31 < np.mean(flips) < 33  # a flipped input bit flips half of the 64 output bits
    # consecutive flow ids spread evenly over 8 ports
    picks = np.array([int(ecmp_hash(1, 0, 5, flow, 0, 99)) % 8 for flow in range(8000)])
    counts = np.bincount(picks, minlength=8)
    assert counts.min() > 900 and counts.max() < 1100
    assert int(ecmp_hash(1, 0, 5, 7, 0, 99)) != int(ecmp_hash(2, 0, 5, 7, 0, 99))


def test_path_is_deterministic_for_a_seed():
    f = fat_tree(8, G, G, US)
    r = Routing.build(f)
    assert np.array_equal(r.path(0, 127, 5, 0, 1), r.path(0, 127, 5, 0, 1))
    paths = {tuple(r.path(0, 127, flow, 0, 1)) for flow in range(200)}
    assert len(paths) == 16  # all (k/2)² inter-pod paths get used
