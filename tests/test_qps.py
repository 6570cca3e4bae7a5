"""Queue-pair scaling (routing.qps; fabsim/run/qps.py, docs/engines.md "Queue pairs"): a transfer's
packets dealt round-robin over N queue pairs that hash apart, the DAG kept, the traces folded back
to one row per transfer, and a ring allreduce whose flows collide under per-flow ECMP finishing
sooner with more QPs, in both engines."""

from __future__ import annotations

import numpy as np
import pytest

import fabsim
from fabsim.api import simulate
from fabsim.errors import ScenarioError
from fabsim.run import qps
from fabsim.run.paths import hash_ids
from fabsim.run.record import wire_bytes
from fabsim.traffic import build_flow_table

MTU = 4096
LEAF_SPINE = {"kind": "leaf_spine", "leaves": 2, "spines": 4, "hosts_per_leaf": 4,
              "host_rate": "100Gbps", "fabric_rate": "100Gbps", "link_delay": "1us"}
#: every ring step crosses between the leaves: 4 flows each way over 4 spines
CROSSING_RING = {"kind": "collective", "op": "allreduce", "algorithm": "ring",
                 "ranks": [0, 4, 1, 5, 2, 6, 3, 7], "size": "16MB"}


def model_and_flows(doc):
    sc = fabsim.load_scenario(doc)
    model = fabsim.build_model(sc)
    return model, build_flow_table(sc, model.fabric)


def test_split_deals_packets_round_robin():
    """Four QPs: a flow of 11 packets (the last 100 bytes) has QPs carrying packets {0,4,8},
    {1,5,9}, {2,6,10}, {3,7}; a flow of 2 packets has two QPs (one per packet); a QP's channel
    is its transfer's plus q·QP_CHANNEL_STRIDE."""
    doc = {"topology": {"kind": "star", "hosts": 3},
           "traffic": [{"kind": "flow", "flows": [
               {"src": 0, "dst": 1, "size": 10 * MTU + 100},
               {"src": 1, "dst": 2, "size": 2 * MTU},
               {"src": 2, "dst": 0, "size": 5 * MTU}]}]}
    model, flows = model_and_flows(doc)
    s = qps.split(model, flows, 4)
    sub = s.flows
    assert s.first.tolist() == [0, 4, 6, 10]
    assert s.parent.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert sub.size_bytes.tolist() == [3 * MTU, 3 * MTU, 2 * MTU + 100, 2 * MTU, MTU, MTU, 2 * MTU, MTU, MTU, MTU]
    base = flows.channel[0]
    assert (sub.channel[:4] - base).tolist() == [q * qps.QP_CHANNEL_STRIDE for q in range(4)]


def test_every_qp_waits_for_every_qp_of_each_predecessor():
    """On a ring allreduce (each step waits for the step before): the QPs' DAG is the
    transfers' DAG with every edge f → s made an edge from each QP of f to each QP of s, in
    flow-id order, and a QP's predecessor count is the QPs of its transfer's predecessors."""
    doc = {"topology": LEAF_SPINE, "traffic": [{**CROSSING_RING, "size": "300KB"}]}
    model, flows = model_and_flows(doc)
    s = qps.split(model, flows, 4)
    sub = s.flows

    def succ(table, f):
        return table.succ[table.succ_ptr[f]:table.succ_ptr[f + 1]].tolist()

    assert flows.pred_count.max() > 0 and (s.n_sub > 1).all()
    for f in range(len(flows)):
        want = [u for g in succ(flows, f) for u in range(s.first[g], s.first[g + 1])]
        for u in range(s.first[f], s.first[f + 1]):
            assert succ(sub, u) == want
            assert sub.pred_count[u] == sum(s.n_sub[p] for p in range(len(flows)) if f in succ(flows, p))
    assert all(u < v for u in range(len(sub)) for v in succ(sub, u))


@pytest.mark.parametrize("engine", ["packet", "flow"])
def test_more_queue_pairs_speed_up_a_ring_allreduce_whose_flows_collide(engine):
    """An 8-rank ring allreduce of 16 MB over a leaf-spine of 2 leaves and 4 spines, ranks
    alternating between the leaves so that every step sends 4 flows each way between them:
    with one QP per connection the flow hash puts several on one spine (6.9 ms); with 4 QPs
    each connection spreads over the spines (4.0 ms, the ideal is 2.3 ms). The QPs of a
    connection hash differently: their paths use more than one spine."""
    doc = {"run": {"engine": engine, "seed": 1}, "topology": LEAF_SPINE, "switch": {"pfc": True},
           "cc": {"algorithm": "none"}, "output": {"queue_sample": "0"}, "traffic": [CROSSING_RING]}
    duration = {}
    for n in (1, 4):
        res = simulate(fabsim.load_scenario({**doc, "routing": {"qps": n}}))
        assert res.summary["flow_status"]["completed"] == len(res.flows) == 112
        duration[n] = res.collectives["duration_ns"].to_numpy()[0]
    assert duration[4] < 0.7 * duration[1], duration
    model, flows = model_and_flows({**doc, "routing": {"qps": 4}})
    s = qps.split(model, flows, 4)
    sub = s.flows
    ptr, link = model.routing.paths(sub.src, sub.dst, hash_ids(sub), sub.channel, model.scenario.run.seed)
    spines_of = [frozenset(int(x) for x in link[ptr[u]:ptr[u + 1]]) for u in range(len(sub))]
    crossing = [f for f in range(len(flows)) if flows.src[f] // 4 != flows.dst[f] // 4]
    spread = [len({spines_of[u] for u in range(s.first[f], s.first[f + 1])}) for f in crossing]
    assert np.mean(np.array(spread) > 1) > 0.9, spread


def test_folded_traces_have_one_row_per_transfer_and_count_every_packet():
    """With 4 QPs the flows trace has the rows of the run without (same ids, hosts, sizes);
    a transfer's packets are the sum of its QPs' (nothing lost: exactly its packet count), and
    it starts when its first QP does and finishes when its last does."""
    doc = {"run": {"engine": "packet", "seed": 3}, "topology": LEAF_SPINE, "cc": {"algorithm": "none"},
           "switch": {"pfc": True}, "output": {"queue_sample": "0"}, "traffic": [CROSSING_RING]}
    one = simulate(fabsim.load_scenario(doc)).flows.to_pandas()
    four = simulate(fabsim.load_scenario({**doc, "routing": {"qps": 4}})).flows.to_pandas()
    for col in ("flow_id", "src", "dst", "size_bytes"):
        assert four[col].tolist() == one[col].tolist()
    assert (four["packets"] == -(-four["size_bytes"] // MTU)).all()
    assert (four["finish_ns"] > four["start_ns"]).all()


def test_queue_pairs_and_the_rates_trace_are_refused_together():
    doc = {"run": {"engine": "packet"}, "topology": {"kind": "star", "hosts": 2}, "routing": {"qps": 2},
           "cc": {"algorithm": "dcqcn"}, "output": {"cc_sample": "10us"},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}]}
    with pytest.raises(ScenarioError, match=r"routing\.qps"):
        fabsim.load_scenario(doc)


@pytest.mark.parametrize("value", [0, 128])
def test_bad_qps_names_its_key(value):
    doc = {"topology": {"kind": "star", "hosts": 2}, "routing": {"qps": value},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}]}
    with pytest.raises(ScenarioError, match=r"routing\.qps"):
        fabsim.load_scenario(doc)


@pytest.mark.parametrize("engine", ["packet", "flow"])
def test_queue_pairs_through_a_failure_report_transfers_hit(engine):
    """A link flap under 3 QPs per connection: the run completes, and the failures trace counts
    the transfers a failure hit (one of their QPs was), never more than there are."""
    path = f"{fabsim.__file__.rsplit('/', 2)[0]}/scenarios/failures/link-flap.toml"
    res = simulate(fabsim.load_scenario(path, overrides={"routing.qps": 3, "run.engine": engine}))
    assert res.summary["flow_status"]["completed"] == len(res.flows)
    hit = res.failures["flows_hit"].to_numpy()
    assert len(hit) > 0 and 0 < hit.max() <= len(res.flows)


def test_flow_engine_links_count_each_queue_pair_on_its_own_path():
    """Flow engine, one 16 MB transfer across the leaf-spine with 4 QPs: the links trace puts
    each QP's wire bytes on the spine its own hash chose (not the whole transfer on its first
    QP's path)."""
    doc = {"run": {"engine": "flow", "seed": 1}, "topology": LEAF_SPINE, "routing": {"qps": 4},
           "traffic": [{"kind": "flow", "src": 0, "dst": 4, "size": "16MB"}]}
    res = simulate(fabsim.load_scenario(doc))
    model, flows = model_and_flows(doc)
    s = qps.split(model, flows, 4)
    sub = s.flows
    ptr, link = model.routing.paths(sub.src, sub.dst, hash_ids(sub), sub.channel, model.scenario.run.seed)
    host = model.scenario.host
    want = np.zeros(model.fabric.n_links, np.int64)
    for u, w in enumerate(wire_bytes(sub.size_bytes, host.mtu_bytes, host.header_bytes)):
        want[link[ptr[u]:ptr[u + 1]]] += w
    assert res.links["tx_bytes"].to_numpy().tolist() == want.tolist()
    assert len({int(x) for u in range(len(sub)) for x in link[ptr[u] + 1:ptr[u] + 2]}) > 1
