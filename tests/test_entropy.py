"""Sender-chosen entropy (routing.ecmp = "spray" and "reps"; docs/packet-engine.md, "ECMP"): the
kernel agrees with the reference, spraying spreads a flow over its paths, selective repeat with
spraying finishes a permutation near its ideal without resending, and REPS steers off a slow
path where oblivious spraying does not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fabsim
from fabsim.api import simulate
from fabsim.errors import ScenarioError

from .reference import packet_ref as ref
from .test_packet_reference import assert_kernel_matches_reference_on, build, tiny_scenarios
from .test_sr_reference import sr_scenarios

ROOT = fabsim.__file__.rsplit("/", 2)[0]


@st.composite
def entropy_scenarios(draw):
    """``tiny_scenarios`` under go-back-N or ``sr_scenarios`` (trimming half the time), with
    ``ecmp = "spray"`` or ``"reps"``, 1–3, 8 or 256 entropy values and a REPS buffer of 1–8
    slots: few values and slots make values repeat, buffers wrap and freezes (the small
    buffers' drops, ``rto`` of 10–100 µs) cycle through what they hold."""
    if draw(st.booleans()):
        doc = draw(sr_scenarios(trim=True))
    else:
        algorithm, preset = draw(st.sampled_from([("none", None), ("dcqcn", "paper"), ("dcqcn", "hpcc")]))
        doc = draw(tiny_scenarios(algorithm, preset, may_give_up=draw(st.booleans())))
    doc["routing"] = {"ecmp": draw(st.sampled_from(["spray", "reps"])),
                      "entropies": draw(st.sampled_from([1, 2, 3, 8, 256])),
                      "reps_buffer": draw(st.integers(1, 8))}
    return doc


@pytest.mark.usefixtures("room_for_one_flow_context")
def test_kernel_matches_reference_with_sender_entropy():
    """The kernel chooses, carries, echoes and recycles entropy values exactly as the reference
    does (tests/reference/packet_ref.py), on 100 random scenarios, field by field."""
    assert_kernel_matches_reference_on(entropy_scenarios())


@pytest.mark.slow
@pytest.mark.usefixtures("room_for_one_flow_context")
def test_kernel_matches_reference_with_sender_entropy_on_many_scenarios():
    """The same on 1,000 scenarios (``pytest -m slow``)."""

    @settings(max_examples=1000, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(doc=entropy_scenarios())
    def check(doc):
        from .test_packet_reference import assert_kernel_matches_reference

        assert_kernel_matches_reference(doc)

    check()


def test_reps_freezes_and_recycles_in_the_reference():
    """The reference's REPS state machine on its own (§ ECMP, reps), B = 3: the first B packets
    explore; unmarked ACKs write their values as fresh, oldest first taken; with none fresh a
    random value; a timeout freezes the flow, which cycles through what the buffer holds without
    consuming it, until the freeze ends: the buffer is emptied and the flow explores again."""
    doc = {"run": {"seed": 5}, "topology": {"kind": "star", "hosts": 2},
           "routing": {"ecmp": "reps", "reps_buffer": 3, "entropies": 1000},
           "host": {"rto": "10us"}, "cc": {"algorithm": "none"},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100_000}]}
    model, flows = build(doc)
    sim = ref.PacketSim(model, flows)
    rand = [sim.random_entropy(0, k) for k in range(20)]
    assert len(set(rand)) > 15  # values spread over the 1,000
    picks = [sim.next_entropy(0, k) for k in range(3)]
    assert picks == rand[:3]  # exploring
    for ev, marked in ((7, False), (8, True), (9, False)):
        ack = ref.Packet(ref.ACK, 0, 0, ref.CTRL_BYTES)
        ack.ev, ack.ce = ev, marked
        sim.recycle_entropy(ack)
    assert [sim.next_entropy(0, k) for k in range(3, 6)] == [7, 9, rand[5]]  # fresh first, then random
    sim.now = 1_000
    sim.reps[0]["freeze"] = sim.now + sim.rto  # what on_rto does
    assert [sim.next_entropy(0, k) for k in range(6, 10)] == [7, 9, 7, 9]  # frozen: cycles, keeps
    sim.now += sim.rto
    assert [sim.next_entropy(0, k) for k in range(10, 14)] == rand[10:14]  # thawed: explores afresh
    assert sim.reps[0]["slots"] == [None] * 3


def run(doc: dict):
    return simulate(fabsim.load_scenario(doc))


def uplink_bytes(res, leaf: str) -> np.ndarray:
    links = res.links.to_pandas()
    up = links[(links["src_node"] == leaf) & links["dst_node"].str.startswith("spine")]
    return up.sort_values("dst_node")["tx_bytes"].to_numpy()


LEAF_SPINE = {"kind": "leaf_spine", "leaves": 2, "spines": 4, "hosts_per_leaf": 1,
              "host_rate": "100Gbps", "fabric_rate": "100Gbps", "link_delay": "1us"}


def test_spray_cycles_a_flow_over_its_paths_and_one_value_is_one_path():
    """One 4 MB flow across a leaf-spine of 4 spines: with 256 entropy values every uplink of
    its leaf carries 15–35 % of it (the switches hash the values, so each uplink gets the
    packets of the values that hash to it: about 64 ± 7 of the 256; here 0.22 to 0.31); with one
    value, one uplink carries it all (the flow's path, as under per-flow ECMP)."""
    doc = {"run": {"engine": "packet", "seed": 2}, "topology": LEAF_SPINE, "cc": {"algorithm": "none"},
           "host": {"transport": "sr"}, "output": {"queue_sample": "0"},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": "4MB"}]}
    many = uplink_bytes(run({**doc, "routing": {"ecmp": "spray"}}), "leaf0")
    assert len(many) == 4 and np.all(np.abs(many / many.sum() - 0.25) < 0.1), many
    one = uplink_bytes(run({**doc, "routing": {"ecmp": "spray", "entropies": 1}}), "leaf0")
    assert sorted(one.tolist())[:3] == [0, 0, 0] and one.max() > 4e6, one


def test_sr_with_spray_finishes_a_permutation_near_ideal_without_resending():
    """Fat-tree k = 8, a permutation of 2 MB flows at 100 G, PFC on, no congestion control,
    ``sr`` + ``spray``: nothing is resent and the p99 FCT is within 1.2 × ideal (the tail target
    of Ultra Ethernet's reference simulator for its permutation experiments)."""
    path = f"{ROOT}/scenarios/bench/packet-permutation-k8.toml"
    res = simulate(fabsim.load_scenario(path, overrides={
        "routing.ecmp": "spray", "host.transport": "sr", "output.queue_sample": "0"}))
    assert res.summary["flow_status"]["completed"] == len(res.flows) == 128
    assert res.flows["retransmitted_bytes"].to_numpy().sum() == 0
    assert res.summary["network"]["spurious_retransmissions"] == 0
    assert np.percentile(res.flows["slowdown"].to_numpy(), 99) <= 1.2


@pytest.mark.parametrize("routing,key", [
    ({"ecmp": "spray", "entropies": 0}, "routing.entropies"),
    ({"ecmp": "spray", "entropies": 65_537}, "routing.entropies"),
    ({"ecmp": "reps", "reps_buffer": 0}, "routing.reps_buffer"),
    ({"ecmp": "random"}, "routing.ecmp"),
])
def test_bad_entropy_settings_name_their_key(routing, key):
    doc = {"topology": {"kind": "star", "hosts": 2}, "routing": routing,
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}]}
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        fabsim.load_scenario(doc)


def test_reps_steers_off_a_slow_spine_link_and_oblivious_spraying_does_not(tmp_path):
    """Two ToRs, four spines, one ToR-spine cable at 10 Gb/s, the others at 100 Gb/s (a ``file``
    topology); one 8 MB flow across, selective repeat, PFC, ECN from 20 KB (marking probability
    1 at 100 KB), no congestion control. Oblivious spraying sends a quarter of the flow over the
    slow cable, whose queue builds: the flow takes 2.8 × its ideal and resends what the queue
    reorders beyond the allowance. REPS recycles only the values whose ACKs came back
    unmarked: under 5 % of the bytes cross the slow cable (about 50 packets, while it explores
    and learns) and the flow finishes at its ideal."""
    csv = tmp_path / "fabric.csv"
    csv.write_text("a,b,rate,delay\nh0,tor0,,\nh1,tor0,,\nh2,tor1,,\nh3,tor1,,\ntor0,spine0,10Gbps,\n"
                   + "".join(f"tor{t},spine{s},100Gbps,\n" for t in (0, 1) for s in range(4) if (t, s) != (0, 0)))
    doc = {"run": {"engine": "packet", "seed": 1},
           "topology": {"kind": "file", "path": str(csv), "host_rate": "100Gbps", "link_delay": "1us"},
           "switch": {"pfc": True, "ecn": True, "ecn_kmin": "20KB", "ecn_kmax": "100KB", "ecn_pmax": 1.0},
           "cc": {"algorithm": "none"}, "host": {"transport": "sr"}, "output": {"queue_sample": "0"},
           "traffic": [{"kind": "flow", "src": "h0", "dst": "h2", "size": "8MB"}]}
    share, slowdown = {}, {}
    for ecmp in ("spray", "reps"):
        res = run({**doc, "routing": {"ecmp": ecmp}})
        up = uplink_bytes(res, "tor0")  # spine0 first: the slow cable
        share[ecmp] = up[0] / up.sum()
        slowdown[ecmp] = res.flows["slowdown"].to_numpy()[0]
    assert share["spray"] > 0.2 and slowdown["spray"] > 2, (share, slowdown)
    assert share["reps"] < 0.05 and slowdown["reps"] < 1.05, (share, slowdown)
