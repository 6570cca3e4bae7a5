"""Every run ends, with traces that say what happened (DESIGN §10).

Flows that never start, are cut by ``run.until``, lose their destination to a failure or give up
after ``host.retries`` timeouts are results (``flows.status``), not crashes; a hypothesis test
runs random small scenarios — traffic with dependencies, random stops, random failures, random
buffer, ECN and PFC settings — through ``fabsim.simulate`` in both engines and checks that each
one ends with a status for every flow and its bytes accounted for.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fabsim
from fabsim.cli import main
from fabsim.trace.assemble import FLOW_STATUSES

ENGINES = ["flow", "packet"]
STAR4 = {"kind": "star", "hosts": 4, "host_rate": "100Gbps", "link_delay": "1us"}
RING = {"kind": "collective", "op": "allreduce", "algorithm": "ring", "size": "1MB", "ranks": 4}


def simulate(doc: dict) -> fabsim.trace.assemble.Result:
    return fabsim.simulate(fabsim.load_scenario(doc))


def statuses(res) -> list[str]:
    return res.flows.column("status").to_pylist()


def status_counts(res) -> dict[str, int]:
    names = statuses(res)
    return {s: names.count(s) for s in FLOW_STATUSES}


# ---- the traps: flows that never start, never finish or never can --------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_until_that_cuts_a_collective_short_leaves_later_steps_not_started(engine):
    res = simulate({"run": {"engine": engine, "until": "5us"}, "topology": STAR4, "traffic": [RING]})
    counts = status_counts(res)
    assert counts["completed"] == 0 and counts["unfinished"] == 4 and counts["not_started"] == 20
    flows = res.flows.to_pydict()
    for status, start, finish in zip(flows["status"], flows["start_ns"], flows["finish_ns"]):
        assert (start is None) == (status == "not_started")
        assert finish is None
    (coll,) = res.collectives.to_pylist()
    assert coll["start_ns"] == 0 and coll["finish_ns"] is None and coll["duration_ns"] is None
    assert res.summary["flow_status"] == counts
    assert res.summary["stopped_at_until"]


@pytest.mark.parametrize("engine", ENGINES)
def test_permanent_failure_that_cuts_a_collective_chain(engine):
    res = simulate({
        "run": {"engine": engine}, "topology": STAR4, "traffic": [RING],
        "routing": {"detect": "1us"}, "failures": [{"target": "link:h2-sw0", "at": "1us"}],
    })
    counts = status_counts(res)
    assert counts["unreachable"] >= 1 and counts["not_started"] >= 1
    assert counts["completed"] + counts["unreachable"] + counts["not_started"] + counts["retries_exceeded"] == 24
    assert res.summary["flows_unreachable"] == counts["unreachable"]
    flows = res.flows.to_pydict()
    for status, src, dst in zip(flows["status"], flows["src"], flows["dst"]):
        if status == "unreachable":
            assert 2 in (src, dst)  # only flows from or to the host cut off
    assert res.collectives.column("start_ns").to_pylist() == [0]


def test_a_black_hole_longer_than_the_retries_ends_flows_with_retries_exceeded():
    # Routing never learns of the failure within the run: every packet into the dead link is
    # black-holed, the sender times out host.retries + 1 times in a row and gives up.
    res = simulate({
        "run": {"engine": "packet"}, "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 1,
                                                  "hosts_per_leaf": 1, "link_delay": "1us"},
        "host": {"rto": "10us", "retries": 3}, "routing": {"detect": "1s"}, "cc": {"algorithm": "none"},
        "traffic": [{"kind": "flow", "flows": [{"src": 0, "dst": 1, "size": "100KB"},
                                                 {"src": 0, "dst": 1, "size": "10KB", "start": "200us"}]}],
        "failures": [{"target": "link:leaf0-spine0", "at": "2us"}],
    })
    assert statuses(res) == ["retries_exceeded", "retries_exceeded"]
    # each gave up at its 4th timeout: 4 RTOs after the start, as nothing ever got through
    assert res.summary["simulated_ns"] <= 200_000 + 4 * 10_000 + 10_000
    assert res.summary["flow_status"]["retries_exceeded"] == 2
    assert res.flows.column("completed").to_pylist() == [False, False]


def test_run_cli_says_why_flows_did_not_complete_and_exits_0(tmp_path, capsys):
    path = tmp_path / "cut.toml"
    path.write_text(
        '[run]\nengine = "flow"\nuntil = "5us"\n[topology]\nkind = "star"\nhosts = 4\n'
        '[[traffic]]\nkind = "collective"\nop = "allreduce"\nsize = "1MB"\nranks = 4\n'
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    assert "flows not completed │ 4 unfinished, 20 not started" in err


# ---- random small scenarios through fabsim.simulate ---------------------------------------------

TOPOLOGIES = {
    "star": ({"kind": "star"}, ["host"], ["sw0"]),
    "leaf_spine": ({"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 3},
                   ["host", "leaf-spine"], ["leaf0", "spine1"]),
    "fat_tree": ({"kind": "fat_tree", "k": 4}, ["host", "tor-agg", "agg-core"], ["tor1", "agg0", "core2"]),
}


@st.composite
def small_scenarios(draw) -> dict:
    kind = draw(st.sampled_from(sorted(TOPOLOGIES)))
    base, tiers, switches = TOPOLOGIES[kind]
    topology = dict(base)
    if kind == "star":
        topology["hosts"] = draw(st.integers(2, 16))
    n_hosts = {"star": topology.get("hosts"), "leaf_spine": 6, "fat_tree": 16}[kind]
    rate = draw(st.sampled_from(["10Gbps", "40Gbps", "100Gbps"]))
    topology.update(host_rate=rate, fabric_rate=draw(st.sampled_from([rate, "100Gbps"])),
                    link_delay=draw(st.sampled_from(["100ns", "1us", "2us"])))
    mtu = draw(st.sampled_from([256, 1000, 4096]))
    wire = mtu + 48
    ports = max(n_hosts, 4) if kind == "star" else 6
    buffer = draw(st.integers(ports * wire, 64 * ports * wire))
    xoff = draw(st.integers(wire, max(wire, buffer // 2)))
    kmin = draw(st.integers(0, 20 * wire))
    switch = {
        "buffer": buffer,
        "buffer_policy": draw(st.sampled_from(["dynamic", "static"])),
        "dt_alpha": draw(st.sampled_from([0.25, 1.0, 4.0])),
        "ecn": draw(st.booleans()),
        "ecn_at": draw(st.sampled_from(["enqueue", "dequeue"])),
        "ecn_kmin": kmin, "ecn_kmax": kmin + draw(st.integers(0, 40 * wire)),
        "ecn_pmax": draw(st.sampled_from([0.01, 0.2, 1.0])),
        "pfc": draw(st.booleans()), "pfc_xoff": xoff, "pfc_xon": draw(st.integers(1, xoff)),
    }
    host = {"mtu": mtu, "rto": draw(st.sampled_from(["5us", "20us", "100us"])),
            "retries": draw(st.sampled_from([0, 1, 7])), "nack": draw(st.booleans())}

    def size():
        return draw(st.integers(1, 60 * mtu))

    def start():
        return f"{draw(st.integers(0, 50))}us"

    traffic = []
    for _ in range(draw(st.integers(1, 3))):
        gen = draw(st.sampled_from(["flow", "incast", "permutation", "collective"]))
        if gen == "flow":
            flows = []
            for _ in range(draw(st.integers(1, 5))):
                src = draw(st.integers(0, n_hosts - 1))
                dst = (src + draw(st.integers(1, n_hosts - 1))) % n_hosts
                flows.append({"src": src, "dst": dst, "size": size(), "start": start()})
            traffic.append({"kind": "flow", "flows": flows})
        elif gen == "incast":
            traffic.append({"kind": "incast", "receiver": draw(st.integers(0, n_hosts - 1)),
                            "senders": draw(st.integers(1, n_hosts - 1)), "size": size(), "start": start()})
        elif gen == "permutation":
            traffic.append({"kind": "permutation", "size": size(), "start": start()})
        else:
            op, algorithm = draw(st.sampled_from([("allreduce", "ring"), ("allreduce", "halving_doubling"),
                                                  ("all_to_all", "pairwise"), ("all_gather", "ring")]))
            ranks = draw(st.sampled_from([2, 4])) if algorithm == "halving_doubling" else draw(st.integers(2, min(6, n_hosts)))
            traffic.append({"kind": "collective", "op": op, "algorithm": algorithm, "ranks": min(ranks, n_hosts),
                            "size": draw(st.integers(ranks, 16 * ranks * mtu)), "placement": "random",
                            "iterations": draw(st.integers(1, 2)), "compute": f"{draw(st.integers(0, 20))}us",
                            "start": start()})
    failures = []
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.one_of(st.sampled_from([f"random_link:{t}" for t in tiers]),
                                st.sampled_from([f"switch:{s}" for s in switches])))
        failure = {"target": target, "at": f"{draw(st.integers(0, 100))}us"}
        if draw(st.booleans()):
            failure["duration"] = f"{draw(st.integers(1, 200))}us"
        failures.append(failure)
    doc = {
        "run": {"engine": draw(st.sampled_from(ENGINES)), "seed": draw(st.integers(0, 2**63 - 1))},
        "topology": topology, "switch": switch, "host": host, "traffic": traffic, "failures": failures,
        "routing": {"ecmp": draw(st.sampled_from(["flow", "packet", "adaptive"])),
                    "detect": draw(st.sampled_from(["1us", "20us", "500us"]))},
        "cc": {"algorithm": draw(st.sampled_from(["none", "dcqcn"])), "preset": draw(st.sampled_from(["hpcc", "paper"]))},
        "output": {"queue_sample": draw(st.sampled_from(["0", "5us"]))},
    }
    if draw(st.booleans()):
        doc["run"]["until"] = f"{draw(st.integers(1, 400))}us"
    return doc


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("the run did not end within its bound")


def check_accounting(res, doc) -> None:
    """Every flow has a status consistent with its columns, and its bytes are accounted for."""
    flows = res.flows.to_pydict()
    n = res.flows.num_rows
    counts = status_counts(res)
    assert sum(counts.values()) == n and None not in flows["status"]
    assert res.summary["flow_status"] == counts
    assert res.summary["flows_completed"] == counts["completed"]
    for i in range(n):
        status, start, finish = flows["status"][i], flows["start_ns"][i], flows["finish_ns"][i]
        assert (status == "completed") == flows["completed"][i] == (finish is not None), (i, status)
        assert (start is None) == (status == "not_started"), (i, status, start)
        if finish is not None:
            # both are truncated from ps: the difference of the truncations is within 1 ns
            assert finish >= start and abs(flows["fct_ns"][i] - (finish - start)) <= 1
    if not res.summary["stopped_at_until"] and not doc["failures"]:
        # with nothing to stop it, a flow that started completes or gives up
        assert counts["unfinished"] == 0 and counts["unreachable"] == 0, counts
    links = res.links.to_pydict()
    if res.summary["engine"] == "packet":
        data = res.summary["network"]["data_packets"]
        assert data["sent"] == sum(flows["packets"])
        assert data["sent"] == data["delivered"] + data["dropped"] + data["in_flight"], data
        assert data["dropped"] == sum(flows["drops"]) == sum(links["drops"]) == res.summary["network"]["drops"]
        if "until" not in doc["run"]:  # the run went on until nothing was left to happen
            assert data["in_flight"] == 0, data
    else:
        # the flow model: a host's uplink carried what its flows sent; finished flows all of it
        host_up = [i for i, tier in enumerate(links["tier"]) if tier == "host" and links["src_node"][i].startswith("h")]
        sent = sum(links["tx_bytes"][i] for i in host_up)
        mtu, header = doc["host"]["mtu"], 48
        wire = [s + -(-s // mtu) * header for s in flows["size_bytes"]]
        done = sum(w for w, c in zip(wire, flows["completed"]) if c)
        begun = sum(w for w, s in zip(wire, flows["start_ns"]) if s is not None)
        assert done - n <= sent <= begun + n, (done, sent, begun)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=small_scenarios())
def test_random_small_scenarios_end_with_every_flow_accounted_for(doc):
    run_and_check(doc)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=small_scenarios())
def test_many_random_small_scenarios_end_with_every_flow_accounted_for(doc):
    """The same, twenty times as many (``pytest -m slow``)."""
    run_and_check(doc)


def run_and_check(doc: dict) -> None:
    try:
        sc = fabsim.load_scenario(doc)
    except fabsim.ScenarioError as err:
        event(f"refused: {err.path}")
        return  # refused with a message naming the key: also an acceptable end
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(120)
    try:
        res = fabsim.simulate(sc)
    except fabsim.ScenarioError as err:
        event(f"refused before the run: {err.path}")
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    event(f"{doc['run']['engine']} engine: {max(res.summary['flow_status'], key=res.summary['flow_status'].get)}")
    check_accounting(res, doc)


def test_summary_counts_every_status():
    res = simulate({"run": {"engine": "flow", "until": "5us"}, "topology": STAR4, "traffic": [RING]})
    assert set(res.summary["flow_status"]) == set(FLOW_STATUSES)
    assert np.sum(list(res.summary["flow_status"].values())) == res.flows.num_rows
