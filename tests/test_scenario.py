"""Scenario loading: defaults, overrides, error messages, reference checks (DESIGN §2–§4, §6)."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabsim.errors import ScenarioError
from fabsim.scenario import (
    CollectiveTraffic,
    FatTreeTopology,
    FileTopology,
    FlowSpec,
    FlowTraffic,
    IncastTraffic,
    PermutationTraffic,
    PoissonTraffic,
    Scenario,
    check_references,
    load_scenario,
    parse_set_option,
)

PS_PER_US = 10**6
PS_PER_MS = 10**9

FULL = """
[run]
name = "full"
engine = "flow"
seed = 7
until = "100ms"

[topology]
kind = "fat_tree"
k = 8
host_rate = "400Gbps"
fabric_rate = "800G"
link_delay = "500ns"

[switch]
buffer = "16MiB"
buffer_policy = "static"
dt_alpha = 2
latency = "300ns"
ecn = false
ecn_at = "dequeue"
ecn_kmin = "100KB"
ecn_kmax = "400KB"
ecn_pmax = 0.5
pfc = false
pfc_xoff = "300KB"
pfc_xon = "250KB"

[host]
mtu = "1KiB"
header = 64
rto = "2ms"

[routing]
ecmp = "adaptive"
detect = "50us"

[cc]
algorithm = "dcqcn"
preset = "paper"
cnp_interval = "50us"
alpha_timer = "55us"
rate_timer = "55us"
rate_decrease_interval = "0"
byte_counter = 0
g = 0.00390625
initial_alpha = 1
fast_recovery = 5
rai = "40Mbps"
rhai = "200Mbps"
min_rate = "100Mbps"

[[traffic]]
kind = "flow"
src = "h0"
dst = 5
size = "1MB"
start = "10us"

[[traffic]]
kind = "flow"
tag = "pairs"
start = "1us"
flows = [
  { src = 1, dst = 2, size = "64KB" },
  { src = "h3", dst = "h4", size = 1000, start = "2us" },
]

[[traffic]]
kind = "incast"
receiver = "h7"
senders = [1, 2, 3]
size = "256KB"

[[traffic]]
kind = "incast"
receiver = 0
senders = 15
size = "4KB"

[[traffic]]
kind = "permutation"
pattern = "shift"
size = "2MB"

[[traffic]]
kind = "poisson"
load = 0.5
sizes = "websearch"
duration = "1ms"
hosts = 16

[[traffic]]
kind = "poisson"
load = 0.3
sizes = "cdf/mine.txt"
duration = "2ms"
hosts = ["h0", "h1", 2]

[[traffic]]
kind = "collective"
op = "allreduce"
algorithm = "halving_doubling"
size = "64MiB"
ranks = 16
placement = "strided"
channels = 4
iterations = 3
compute = "200us"
gap = "1us"

[[traffic]]
kind = "collective"
op = "broadcast"
algorithm = "tree"
size = "1MB"
ranks = [0, 1, 2]
root = 2
job = "bcast"

[[traffic]]
kind = "collective"
op = "all_to_all"
size = "8MB"

[[failures]]
target = "link:tor0-agg1"
at = "2ms"
duration = "1ms"

[[failures]]
target = "switch:core3"
at = 0

[[failures]]
target = "random_link:agg-core"
at = "1ms"

[[failures]]
target = "random_switch:tor"
at = "1ms"

[output]
format = "parquet"
queue_sample = "0"
cc_sample = "5us"
"""

MINIMAL = """
[topology]
kind = "star"
hosts = 4

[[traffic]]
kind = "flow"
src = 0
dst = 1
size = "1MB"
"""


def write(tmp_path, text: str, name: str = "scenario.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def load_error(source, overrides=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(source, overrides)
    return info.value


# --- valid scenarios ---------------------------------------------------------------------------


def test_full_scenario_resolves_every_section(tmp_path):
    path = write(tmp_path, FULL)
    sc = load_scenario(path)
    assert isinstance(sc, Scenario)
    assert sc.source == path and sc.base_dir == str(tmp_path)
    assert (sc.run.name, sc.run.engine, sc.run.seed, sc.run.until_ps) == ("full", "flow", 7, 100 * PS_PER_MS)

    topo = sc.topology
    assert isinstance(topo, FatTreeTopology) and topo.kind == "fat_tree"
    assert (topo.k, topo.n_hosts) == (8, 128)
    assert (topo.host_rate_bps, topo.fabric_rate_bps, topo.link_delay_ps) == (400 * 10**9, 800 * 10**9, 500_000)

    sw = sc.switch
    assert (sw.buffer_bytes, sw.buffer_policy, sw.dt_alpha, sw.latency_ps) == (16 * 2**20, "static", 2.0, 300_000)
    assert (sw.ecn, sw.ecn_at, sw.ecn_kmin_bytes, sw.ecn_kmax_bytes, sw.ecn_pmax) == (False, "dequeue", 100_000, 400_000, 0.5)
    assert (sw.pfc, sw.pfc_xoff_bytes, sw.pfc_xon_bytes) == (False, 300_000, 250_000)
    assert (sc.host.mtu_bytes, sc.host.header_bytes, sc.host.rto_ps) == (1024, 64, 2 * PS_PER_MS)
    assert (sc.routing.ecmp, sc.routing.detect_ps) == ("adaptive", 50 * PS_PER_US)

    cc = sc.cc
    assert (cc.algorithm, cc.preset, cc.byte_counter_bytes, cc.fast_recovery) == ("dcqcn", "paper", 0, 5)
    assert (cc.cnp_interval_ps, cc.alpha_timer_ps, cc.rate_decrease_interval_ps) == (50 * PS_PER_US, 55 * PS_PER_US, 0)
    assert (cc.g, cc.initial_alpha) == (0.00390625, 1.0)
    assert (cc.rai_bps, cc.rhai_bps, cc.min_rate_bps) == (40 * 10**6, 200 * 10**6, 100 * 10**6)

    single, listed, incast_list, incast_count, perm, poisson, poisson_file, allreduce, bcast, a2a = sc.traffic
    assert isinstance(single, FlowTraffic) and not single.listed and single.tag == "flow"
    assert single.flows == (FlowSpec(0, 5, 1_000_000, 10 * PS_PER_US),)
    assert listed.listed and listed.tag == "pairs"
    assert listed.flows == (FlowSpec(1, 2, 64_000, PS_PER_US), FlowSpec(3, 4, 1000, 2 * PS_PER_US))
    assert isinstance(incast_list, IncastTraffic) and (incast_list.receiver, incast_list.senders) == (7, (1, 2, 3))
    assert (incast_count.senders, incast_count.size_bytes) == (15, 4000)
    assert isinstance(perm, PermutationTraffic) and (perm.pattern, perm.size_bytes) == ("shift", 2_000_000)
    assert isinstance(poisson, PoissonTraffic)
    assert (poisson.load, poisson.sizes, poisson.duration_ps, poisson.hosts) == (0.5, "websearch", PS_PER_MS, 16)
    assert poisson_file.sizes == os.path.join(str(tmp_path), "cdf", "mine.txt")
    assert poisson_file.hosts == (0, 1, 2)
    assert isinstance(allreduce, CollectiveTraffic)
    assert (allreduce.op, allreduce.algorithm, allreduce.ranks, allreduce.placement) == ("allreduce", "halving_doubling", 16, "strided")
    assert (allreduce.channels, allreduce.iterations, allreduce.compute_ps, allreduce.gap_ps) == (4, 3, 200 * PS_PER_US, PS_PER_US)
    assert (allreduce.job, allreduce.root, allreduce.size_bytes) == ("job0", 0, 64 * 2**20)
    assert (bcast.ranks, bcast.root, bcast.job, bcast.placement) == ((0, 1, 2), 2, "bcast", "packed")
    assert (a2a.algorithm, a2a.ranks, a2a.job) == ("pairwise", "all", "job2")

    link, switch, rlink, rswitch = sc.failures
    assert (link.kind, link.a, link.b, link.at_ps, link.duration_ps) == ("link", "tor0", "agg1", 2 * PS_PER_MS, PS_PER_MS)
    assert (switch.kind, switch.name, switch.at_ps, switch.duration_ps) == ("switch", "core3", 0, None)
    assert (rlink.kind, rlink.tier, rswitch.kind, rswitch.role) == ("random_link", "agg-core", "random_switch", "tor")
    assert (sc.output.format, sc.output.queue_sample_ps, sc.output.cc_sample_ps) == ("parquet", 0, 5 * PS_PER_US)


def test_to_json_round_trips(tmp_path):
    path = write(tmp_path, FULL)
    sc = load_scenario(path)
    data = json.loads(sc.to_json())
    assert data == sc.to_dict()
    assert data["source"] == path and "base_dir" not in data
    assert data["topology"] == {
        "kind": "fat_tree", "host_rate_bps": 400 * 10**9, "fabric_rate_bps": 800 * 10**9,
        "link_delay_ps": 500_000, "gpus_per_server": 1, "scaleup_rate_bps": 7200 * 10**9,
        "scaleup_latency_ps": 0, "k": 8,
    }  # fmt: skip
    assert data["traffic"][1]["flows"][1] == {"src": 3, "dst": 4, "size_bytes": 1000, "start_ps": 2 * PS_PER_US}
    assert data["traffic"][2]["senders"] == [1, 2, 3]
    assert [t["kind"] for t in data["traffic"]][:5] == ["flow", "flow", "incast", "incast", "permutation"]
    assert data["failures"][0]["kind"] == "link" and data["failures"][1]["duration_ps"] is None


def test_minimal_scenario_gets_every_default(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL, "tiny.toml"))
    assert (sc.run.name, sc.run.engine, sc.run.seed, sc.run.until_ps) == ("tiny", "packet", 1, None)
    assert sc.topology.kind == "star" and sc.topology.n_hosts == 4
    assert sc.topology.host_rate_bps == sc.topology.fabric_rate_bps == 100 * 10**9
    assert sc.topology.link_delay_ps == PS_PER_US
    assert sc.switch.to_dict() == {
        "buffer_bytes": 32 * 2**20, "buffer_policy": "dynamic", "dt_alpha": 1.0, "latency_ps": 0,
        "ecn": True, "ecn_at": "dequeue", "ecn_kmin_bytes": None, "ecn_kmax_bytes": None,
        "ecn_pmax": None, "pfc": True, "pfc_xoff_bytes": 200_000, "pfc_xon_bytes": 180_000,
        "trim": False, "trim_queue_bytes": 0, "trims_per_data": 10,
    }  # fmt: skip
    assert (sc.host.mtu_bytes, sc.host.header_bytes, sc.host.rto_ps) == (4096, 48, PS_PER_MS)
    assert (sc.host.transport, sc.host.sr_window, sc.host.sr_reorder) == ("gbn", 1024, 128)
    assert (sc.routing.ecmp, sc.routing.detect_ps) == ("flow", 100 * PS_PER_US)
    assert (sc.cc.algorithm, sc.cc.preset) == ("dcqcn", "hpcc")
    assert all(v is None for k, v in sc.cc.to_dict().items() if k not in ("algorithm", "preset"))
    assert sc.traffic == (FlowTraffic(tag="flow", start_ps=0, flows=(FlowSpec(0, 1, 10**6, 0),), listed=False),)
    assert sc.failures == ()
    assert (sc.output.format, sc.output.queue_sample_ps, sc.output.cc_sample_ps) == ("arrow", 10 * PS_PER_US, 0)


def test_dict_source_is_not_modified_and_resolves_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = {"topology": {"kind": "file", "path": "fab.csv"}, "traffic": [{"kind": "permutation", "size": 100}]}
    sc = load_scenario(raw, {"topology.path": "sub/fab.csv"})
    assert raw["topology"]["path"] == "fab.csv"
    assert sc.source == "<dict>" and sc.run.name == "scenario" and sc.base_dir == str(tmp_path)
    assert isinstance(sc.topology, FileTopology) and sc.topology.n_hosts is None
    assert sc.topology.path == os.path.join(str(tmp_path), "sub", "fab.csv")
    assert sc.topology.path_as_given == "sub/fab.csv"


@pytest.mark.parametrize(
    ("topology", "n_hosts"),
    [
        ({"kind": "fat_tree", "k": 4}, 16),
        ({"kind": "leaf_spine", "leaves": 4, "spines": 2, "hosts_per_leaf": 8}, 32),
        ({"kind": "star", "hosts": 3}, 3),
        ({"kind": "rail_optimized", "servers": 8, "nics_per_server": 4, "servers_per_leaf": 2, "spines": 2}, 32),
    ],
)
def test_n_hosts_per_topology_kind(topology, n_hosts):
    sc = load_scenario({"topology": topology, "traffic": [{"kind": "permutation", "size": 1}]})
    assert sc.topology.n_hosts == n_hosts
    if topology["kind"] == "leaf_spine":
        assert sc.topology.links_per_pair == 1


def test_collective_jobs_are_numbered_over_collectives_only():
    coll = {"kind": "collective", "op": "allreduce", "size": "1MB"}
    sc = load_scenario({
        "topology": {"kind": "star", "hosts": 4},
        "traffic": [coll, {"kind": "permutation", "size": 1}, coll, dict(coll, job="named"), coll],
    })  # fmt: skip
    assert [t.job for t in sc.traffic if isinstance(t, CollectiveTraffic)] == ["job0", "job1", "named", "job3"]


# --- overrides ---------------------------------------------------------------------------------


def test_overrides_are_applied_and_validated(tmp_path):
    path = write(tmp_path, FULL)
    sc = load_scenario(path, {
        "topology.k": 16,
        "topology.host_rate": "100Gbps",
        "traffic.0.size": "2MB",
        "traffic[1].flows[0].dst": "h9",
        "cc.algorithm": "none",
    })  # fmt: skip
    assert sc.topology.k == 16 and sc.topology.host_rate_bps == 100 * 10**9
    assert sc.traffic[0].flows[0].size_bytes == 2_000_000
    assert sc.traffic[1].flows[0].dst == 9
    assert sc.cc.algorithm == "none"


def test_override_creates_missing_tables():
    sc = load_scenario({"topology": {"kind": "star", "hosts": 2}, "traffic": [{"kind": "permutation", "size": 1}]},
                       {"switch.buffer": "1MB", "run.until": "1ms"})  # fmt: skip
    assert sc.switch.buffer_bytes == 1_000_000 and sc.run.until_ps == PS_PER_MS


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"topology.kk": 3}, "topology.kk", 'unknown key "kk" for topology kind "star"'),
        ({"swich.buffer": "1MB"}, "swich", "did you mean switch?"),
        ({"topology.hosts": "4"}, "topology.hosts", 'expected an integer, got "4"'),
        ({"traffic.3.size": 1}, "traffic[3].size", "no element traffic[3] (traffic has 1 element)"),
        ({"failures[0].at": 1}, "failures[0].at", "failures is not set"),
        ({"topology.hosts.x": 1}, "topology.hosts.x", "topology.hosts is not a table"),
        ({"topology.0": 1}, "topology[0]", "topology is not an array"),
        ({"traffic.size": 1}, "traffic.size", "traffic is an array: give an index, e.g. traffic[0].size"),
        ({"traffic..size": 1}, None, 'malformed key "traffic..size"'),
        ({"0.size": 1}, None, 'malformed key "0.size"'),
    ],
)
def test_override_errors(overrides, path, fragment):
    err = load_error({"topology": {"kind": "star", "hosts": 2}, "traffic": [{"kind": "permutation", "size": 1}]}, overrides)
    assert err.path == path and err.file == "<dict>"
    assert fragment in err.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("topology.k=16", ("topology.k", 16)),
        ("topology.host_rate=400Gbps", ("topology.host_rate", "400Gbps")),
        ('run.name="x y"', ("run.name", "x y")),
        ("switch.ecn=false", ("switch.ecn", False)),
        ("switch.dt_alpha=0.5", ("switch.dt_alpha", 0.5)),
        ("traffic[0].ranks=[0, 1, 2]", ("traffic[0].ranks", [0, 1, 2])),
        ("routing.ecmp = packet", ("routing.ecmp", "packet")),
        ("run.name=a=b", ("run.name", "a=b")),
        ("run.name=", ("run.name", "")),
    ],
)
def test_parse_set_option(text, expected):
    assert parse_set_option(text) == expected


@pytest.mark.parametrize("text", ["topology.k", "=16", ""])
def test_parse_set_option_needs_key_and_value(text):
    with pytest.raises(ScenarioError) as info:
        parse_set_option(text)
    assert info.value.path is None
    assert str(info.value) == f'--set expects KEY=VALUE, got "{text}"'


# --- malformed scenarios -----------------------------------------------------------------------

STAR = '[topology]\nkind = "star"\nhosts = 8\n'
PERM = '[[traffic]]\nkind = "permutation"\nsize = "1MB"\n'
COLL = '[[traffic]]\nkind = "collective"\nsize = "1MB"\n'

MALFORMED = [
    # (id, toml text, key path, message fragment)
    ("unknown key", STAR + PERM + '[switch]\nbufer = "1MB"\n', "switch.bufer", 'unknown key "bufer" (did you mean buffer?)'),
    ("unknown key no match", STAR + PERM + "[host]\nzzz = 1\n", "host.zzz", "(keys: mtu, header, rto, nack, retries, ack_every, transport, sr_window, sr_reorder, pace_trim_nacks)"),
    ("ack_every zero", STAR + PERM + "[host]\nack_every = 0\n", "host.ack_every", "ack_every must be ≥ 1, got 0"),
    ("ack_every too large", STAR + PERM + "[host]\nack_every = 100000\n", "host.ack_every",
     "ack_every must be ≤ 65536, got 100000"),
    ("key of another kind", '[topology]\nkind = "leaf_spine"\nk = 4\n' + PERM, "topology.k",
     'unknown key "k" for topology kind "leaf_spine" (keys: kind, host_rate'),
    ("topology typo", '[topology]\nkind = "star"\nhots = 4\n' + PERM, "topology.hots", "did you mean hosts?"),
    ("traffic key of kind", STAR + '[[traffic]]\nkind = "incast"\nreceiver = 0\nsenders = 2\nsize = 1\npattern = "x"\n',
     "traffic[0].pattern", 'unknown key "pattern" for traffic kind "incast"'),
    ("unknown table", STAR + PERM + "[rooting]\necmp = \"flow\"\n", "rooting", "did you mean routing?"),
    ("misspelt unit", '[topology]\nkind = "star"\nhosts = 8\nhost_rate = "100Gbs"\n' + PERM, "topology.host_rate",
     'cannot parse "100Gbs" as a rate (did you mean Gbps?)'),
    ("odd k", '[topology]\nkind = "fat_tree"\nk = 7\n' + PERM, "topology.k", "k must be an even integer ≥ 2, got 7"),
    ("huge k", '[topology]\nkind = "fat_tree"\nk = 130\n' + PERM, "topology.k", "k must be at most 128"),
    ("zero rate", STAR.replace("hosts = 8", 'hosts = 8\nfabric_rate = "0Gbps"') + PERM, "topology.fabric_rate", "must be positive"),
    ("negative delay", STAR.replace("hosts = 8", 'hosts = 8\nlink_delay = "-1us"') + PERM, "topology.link_delay", "negative time"),
    ("missing topology", PERM, "topology", "missing required table [topology]"),
    ("missing kind", "[topology]\nk = 4\n" + PERM, "topology.kind", "missing required key"),
    ("misspelt kind", '[topology]\nknd = "star"\nhosts = 4\n' + PERM, "topology.knd", 'unknown key "knd" (did you mean kind?)'),
    ("missing k", '[topology]\nkind = "fat_tree"\n' + PERM, "topology.k", "missing required key"),
    ("missing traffic", STAR, "traffic", "at least one [[traffic]] generator or [[jobs]] entry is required"),
    ("traffic not array", STAR + '[traffic]\nkind = "flow"\n', "traffic", "expected an array of tables ([[traffic]]), got a table"),
    ("wrong type int", '[topology]\nkind = "star"\nhosts = "8"\n' + PERM, "topology.hosts", 'expected an integer, got "8"'),
    ("bool is not int", STAR + PERM + "[run]\nseed = true\n", "run.seed", "expected an integer, got true"),
    ("wrong type bool", STAR + PERM + '[switch]\necn = "yes"\n', "switch.ecn", 'expected true or false, got "yes"'),
    ("section not table", "cc = 3\n" + STAR + PERM, "cc", "expected a table, got 3"),
    ("bad enum", '[topology]\nkind = "fattree"\nk = 4\n' + PERM, "topology.kind", "did you mean fat_tree?"),
    ("bad engine", STAR + PERM + '[run]\nengine = "packets"\n', "run.engine", 'expected one of packet, flow, got "packets" (did you mean packet?)'),
    ("xon above xoff", STAR + PERM + '[switch]\npfc_xoff = "100KB"\n', "switch.pfc_xon", "pfc_xon (180000 bytes) must be ≤ pfc_xoff (100000 bytes)"),
    ("kmin above kmax", STAR + PERM + '[switch]\necn_kmin = "2MB"\necn_kmax = "1MB"\n', "switch.ecn_kmin", "must be ≤ ecn_kmax"),
    ("pmax range", STAR + PERM + "[switch]\necn_pmax = 1.5\n", "switch.ecn_pmax", "ecn_pmax must be in [0, 1], got 1.5"),
    ("alpha positive", STAR + PERM + "[switch]\ndt_alpha = 0\n", "switch.dt_alpha", "dt_alpha must be > 0, got 0"),
    ("g range", STAR + PERM + "[cc]\ng = 0\n", "cc.g", "g must be in (0, 1], got 0"),
    ("nan", STAR + PERM + "[switch]\ndt_alpha = nan\n", "switch.dt_alpha", "dt_alpha must be > 0, got nan"),
    ("mtu too small", STAR + PERM + "[host]\nmtu = 32\n", "host.mtu", "mtu must be ≥ 64 bytes, got 32"),
    ("until zero", STAR + PERM + '[run]\nuntil = "0s"\n', "run.until", "must be positive"),
    ("run name path", STAR + PERM + '[run]\nname = "a/b"\n', "run.name", "path separator"),
    ("rail multiple", '[topology]\nkind = "rail_optimized"\nservers = 10\nnics_per_server = 8\nservers_per_leaf = 4\nspines = 2\n' + PERM,
     "topology.servers", "servers (10) must be a multiple of servers_per_leaf (4)"),
    ("leaf_spine zero", '[topology]\nkind = "leaf_spine"\nleaves = 0\nspines = 1\nhosts_per_leaf = 1\n' + PERM,
     "topology.leaves", "leaves must be ≥ 1, got 0"),
    ("unsupported algorithm", STAR + COLL + 'op = "reduce_scatter"\nalgorithm = "tree"\n', "traffic[0].algorithm",
     'algorithm "tree" is not supported for op "reduce_scatter" (supported for reduce_scatter: ring, halving_doubling)'),
    ("unknown algorithm", STAR + COLL + 'op = "allreduce"\nalgorithm = "rign"\n', "traffic[0].algorithm",
     'unknown algorithm "rign" for op "allreduce" (did you mean ring?)'),
    ("unknown op", STAR + COLL + 'op = "allreduse"\n', "traffic[0].op", "did you mean allreduce?"),
    ("placement with list", STAR + COLL + 'op = "allreduce"\nranks = [0, 1]\nplacement = "random"\n', "traffic[0].placement",
     "placement applies only to"),
    ("halving doubling 6", STAR + COLL + 'op = "allreduce"\nalgorithm = "halving_doubling"\nranks = 6\n', "traffic[0].ranks",
     "halving_doubling needs a power-of-two number of ranks, got 6"),
    ("root not broadcast", STAR + COLL + 'op = "allreduce"\nroot = 1\n', "traffic[0].root", 'root applies only to op = "broadcast"'),
    ("root out of ranks", STAR + COLL + 'op = "broadcast"\nranks = 2\nroot = 2\n', "traffic[0].root", "it must be < 2"),
    ("duplicate rank", STAR + COLL + 'op = "allreduce"\nranks = [0, "h1", 1]\n', "traffic[0].ranks[2]", "host h1 is listed twice"),
    ("one rank", STAR + COLL + 'op = "allreduce"\nranks = 1\n', "traffic[0].ranks", "ranks must be ≥ 2, got 1"),
    ("ranks typo", STAR + COLL + 'op = "allreduce"\nranks = "al"\n', "traffic[0].ranks", 'expected "all", a count or an array of hosts, got "al"'),
    ("bad host name", STAR + '[[traffic]]\nkind = "flow"\nsrc = "tor0"\ndst = 1\nsize = 1\n', "traffic[0].src",
     'expected a host index or a host name like "h3", got "tor0"'),
    ("flow src == dst", STAR + '[[traffic]]\nkind = "flow"\nsrc = "h2"\ndst = 2\nsize = 1\n', "traffic[0].dst", "dst must differ from src (both are h2)"),
    ("both flow forms", STAR + '[[traffic]]\nkind = "flow"\nsize = 1\nflows = [{src = 0, dst = 1, size = 1}]\n', "traffic[0].size",
     "give either src/dst/size or flows = [...], not both"),
    ("listed flow size", STAR + PERM + '[[traffic]]\nkind = "flow"\nflows = [{src = 0, dst = 1, size = 1}, {src = 0, dst = 2, size = "1XB"}]\n',
     "traffic[1].flows[1].size", 'cannot parse "1XB" as a size'),
    ("listed flow key", STAR + '[[traffic]]\nkind = "flow"\nflows = [{src = 0, dst = 1, sise = 1}]\n', "traffic[0].flows[0].sise", "did you mean size?"),
    ("empty flows", STAR + '[[traffic]]\nkind = "flow"\nflows = []\n', "traffic[0].flows", "at least one flow"),
    ("zero size", STAR + '[[traffic]]\nkind = "permutation"\nsize = 0\n', "traffic[0].size", "must be positive"),
    ("receiver in senders", STAR + '[[traffic]]\nkind = "incast"\nreceiver = 3\nsenders = [1, "h3"]\nsize = 1\n', "traffic[0].senders[1]",
     "the receiver h3 cannot also be a sender"),
    ("senders type", STAR + '[[traffic]]\nkind = "incast"\nreceiver = 3\nsenders = "all"\nsize = 1\n', "traffic[0].senders",
     'expected a count or an array of hosts, got "all"'),
    ("missing traffic kind", STAR + '[[traffic]]\nsize = 1\n', "traffic[0].kind", "missing required key"),
    ("misspelt traffic kind", STAR + '[[traffic]]\nkinds = "flow"\n', "traffic[0].kinds", "did you mean kind?"),
    ("poisson load", STAR + '[[traffic]]\nkind = "poisson"\nload = 1.5\nsizes = "hadoop"\nduration = "1ms"\n', "traffic[0].load", "load must be in (0, 1], got 1.5"),
    ("poisson sizes typo", STAR + '[[traffic]]\nkind = "poisson"\nload = 0.5\nsizes = "websarch"\nduration = "1ms"\n', "traffic[0].sizes",
     'unknown size distribution "websarch" (did you mean websearch?)'),
    ("failure target malformed", STAR + PERM + '[[failures]]\ntarget = "link:tor0"\nat = "1ms"\n', "failures[0].target",
     'expected "link:<a>-<b>" with two node names, got "link:tor0"'),
    ("failure prefix", STAR + PERM + '[[failures]]\ntarget = "lnk:a-b"\nat = 0\n', "failures[0].target", "did you mean link?"),
    ("failure no colon", STAR + PERM + '[[failures]]\ntarget = "tor0"\nat = 0\n', "failures[0].target", "expected link:<a>-<b>, switch:<name>"),
    ("failure tier", STAR + PERM + '[[failures]]\ntarget = "random_link:tor-ag"\nat = 0\n', "failures[0].target", "did you mean tor-agg?"),
    ("failure role", STAR + PERM + '[[failures]]\ntarget = "random_switch:x"\nat = 0\n', "failures[0].target", "(roles: tor, agg, core, leaf, spine)"),
    ("failure at missing", STAR + PERM + '[[failures]]\ntarget = "switch:sw0"\n', "failures[0].at", "missing required key"),
    ("failure duration zero", STAR + PERM + '[[failures]]\ntarget = "switch:sw0"\nat = 0\nduration = 0\n', "failures[0].duration", "must be positive"),
    ("output format", STAR + PERM + '[output]\nformat = "csv"\n', "output.format", "expected one of arrow, parquet"),
    ("toml syntax", STAR + PERM + "[host]\nmtu = = 3\n", None, "(at line 8, column"),
]


@pytest.mark.parametrize(("text", "path", "fragment"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_scenario(tmp_path, text, path, fragment):
    file = write(tmp_path, text)
    err = load_error(file)
    assert err.file == file
    assert err.path == path
    assert fragment in err.message
    shown = str(err)
    assert "\n" not in shown
    assert shown.startswith(f"{file}: {path + ': ' if path else ''}")


def test_missing_file(tmp_path):
    file = str(tmp_path / "nope.toml")
    err = load_error(file)
    assert (err.file, err.path) == (file, None)
    assert str(err) == f"{file}: cannot read file: No such file or directory"


def test_non_utf8_file(tmp_path):
    file = tmp_path / "bin.toml"
    file.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in load_error(str(file)).message


# --- reference checks against a built fabric ---------------------------------------------------


@dataclass
class FakeFabric:
    """Fat-tree-like names: h0…h{n-1}, tor0, tor1, agg0, core0; links listed by name."""

    n_hosts: int = 8
    nodes: list[str] = field(default_factory=lambda: ["tor0", "tor1", "agg0", "core0"])
    links: set[frozenset[str]] = field(default_factory=lambda: {frozenset(("tor0", "agg0")), frozenset(("agg0", "core0"))})
    switch_roles: set[str] = field(default_factory=lambda: {"tor", "agg", "core"})
    link_tiers: set[str] = field(default_factory=lambda: {"host", "tor-agg", "agg-core"})

    def names(self) -> list[str]:
        return [f"h{i}" for i in range(self.n_hosts)] + self.nodes

    def node_id(self, name: str) -> int:
        try:
            return self.names().index(name)
        except ValueError:
            raise KeyError(name) from None

    def link_between(self, a: int, b: int) -> int | None:
        pair = frozenset((self.names()[a], self.names()[b]))
        return 0 if pair in self.links else None


def refs_error(traffic=(), failures=(), n_hosts=8) -> ScenarioError:
    sc = load_scenario({
        "topology": {"kind": "star", "hosts": 2},
        "traffic": list(traffic) or [{"kind": "permutation", "size": 1}],
        "failures": list(failures),
    })  # fmt: skip
    with pytest.raises(ScenarioError) as info:
        check_references(sc, FakeFabric(n_hosts=n_hosts))
    assert info.value.file == "<dict>"
    return info.value


def test_check_references_accepts_valid_scenario():
    sc = load_scenario({
        "topology": {"kind": "star", "hosts": 8},
        "traffic": [
            {"kind": "flow", "src": 0, "dst": "h7", "size": 1},
            {"kind": "incast", "receiver": 0, "senders": 7, "size": 1},
            {"kind": "poisson", "load": 0.1, "sizes": "hadoop", "duration": "1ms", "hosts": 8},
            {"kind": "collective", "op": "allreduce", "algorithm": "halving_doubling", "size": 8},
            {"kind": "collective", "op": "broadcast", "root": 7, "size": 8},
        ],
        "failures": [
            {"target": "link:agg0-tor0", "at": 0},
            {"target": "switch:core0", "at": 0},
            {"target": "random_link:tor-agg", "at": 0},
            {"target": "random_switch:core", "at": 0},
        ],
    })  # fmt: skip
    check_references(sc, FakeFabric())


@pytest.mark.parametrize(
    ("traffic", "failures", "n_hosts", "path", "message"),
    [
        ([{"kind": "flow", "src": 300, "dst": 1, "size": 1}], [], 128, "traffic[0].src",
         "host 300 does not exist (the fabric has 128 hosts: h0…h127)"),
        ([{"kind": "permutation", "size": 1}, {"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": 1}, {"src": 0, "dst": "h8", "size": 1}]}],
         [], 8, "traffic[1].flows[1].dst", "host 8 does not exist (the fabric has 8 hosts: h0…h7)"),
        ([{"kind": "incast", "receiver": 9, "senders": 2, "size": 1}], [], 8, "traffic[0].receiver", "host 9 does not exist"),
        ([{"kind": "incast", "receiver": 0, "senders": 8, "size": 1}], [], 8, "traffic[0].senders",
         "8 senders and a receiver need 9 hosts, but the fabric has 8 hosts"),
        ([{"kind": "incast", "receiver": 0, "senders": [1, 12], "size": 1}], [], 8, "traffic[0].senders[1]", "host 12 does not exist"),
        ([{"kind": "poisson", "load": 0.1, "sizes": "hadoop", "duration": 1, "hosts": 9}], [], 8, "traffic[0].hosts",
         "asks for 9 hosts, but the fabric has 8 hosts"),
        ([{"kind": "collective", "op": "allreduce", "size": 1, "ranks": 16}], [], 8, "traffic[0].ranks", "asks for 16 hosts"),
        ([{"kind": "collective", "op": "allreduce", "size": 1, "ranks": [0, 10]}], [], 8, "traffic[0].ranks[1]", "host 10 does not exist"),
        ([{"kind": "collective", "op": "allreduce", "algorithm": "halving_doubling", "size": 1}], [], 6, "traffic[0].algorithm",
         'halving_doubling needs a power-of-two number of ranks; ranks = "all" gives 6'),
        ([{"kind": "collective", "op": "broadcast", "root": 8, "size": 1}], [], 8, "traffic[0].root", "must be < 8"),
        ([{"kind": "collective", "op": "sendrecv", "size": 1}], [], 1, "traffic[0].ranks", "at least 2 ranks, but the fabric has 1 host: h0"),
        ([], [{"target": "link:tor0-tor1", "at": 0}], 8, "failures[0].target", "no link between tor0 and tor1"),
        ([], [{"target": "link:tor0-agg9", "at": 0}], 8, "failures[0].target", 'no node named "agg9"'),
        ([], [{"target": "switch:tor99", "at": 0}], 8, "failures[0].target", 'no switch named "tor99"'),
        ([], [{"target": "switch:h3", "at": 0}], 8, "failures[0].target", '"h3" is a host, not a switch'),
        ([], [{"target": "random_link:leaf-spine", "at": 0}], 8, "failures[0].target",
         'no link of tier "leaf-spine" in this fabric (tiers: agg-core, host, tor-agg)'),
        ([], [{"target": "random_switch:spine", "at": 0}], 8, "failures[0].target",
         'no switch of role "spine" in this fabric (roles: agg, core, tor)'),
    ],
)
def test_check_references_errors(traffic, failures, n_hosts, path, message):
    err = refs_error(traffic, failures, n_hosts)
    assert err.path == path
    assert message in err.message


# --- robustness --------------------------------------------------------------------------------

_KEYS = ["topology.k", "topology.kind", "topology.host_rate", "switch.buffer", "switch.pfc_xon", "host.mtu",
         "cc.g", "run.until", "traffic.0.kind", "traffic.0.size", "traffic.0.ranks", "traffic.0.op",
         "failures", "output", "traffic", "run.name"]  # fmt: skip
_VALUES = st.one_of(
    st.integers(-(2**64), 2**64), st.floats(), st.booleans(), st.text(max_size=12),
    st.lists(st.integers(-3, 20), max_size=4), st.dictionaries(st.sampled_from(["a", "kind", "k"]), st.integers(), max_size=2),
    st.sampled_from(["1MB", "100Gbps", "1us", "all", "ring", "fat_tree", "h3", "1e400s", "-0s"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=3))
def test_any_override_loads_or_raises_a_one_line_scenario_error(overrides):
    base = {"topology": {"kind": "fat_tree", "k": 4}, "traffic": [{"kind": "collective", "op": "allreduce", "size": "1MB"}]}
    try:
        load_scenario(base, overrides)
    except ScenarioError as err:
        assert str(err).startswith("<dict>: ") and "\n" not in str(err)


@pytest.mark.parametrize(("preset", "key", "value"), [
    ("paper", "rate_decrease_interval", "4us"),
    ("hpcc", "cnp_interval", "50us"),
    ("hpcc", "byte_counter", "10MB"),
])
def test_cc_keys_of_the_other_dcqcn_dialect_are_refused(tmp_path, preset, key, value):
    text = MINIMAL + f'\n[cc]\npreset = "{preset}"\n{key} = "{value}"\n'
    with pytest.raises(ScenarioError, match=rf"cc\.{key}: .*does not apply to preset"):
        load_scenario(write(tmp_path, text))
