"""Flowlet switching (routing.ecmp = "flowlet", routing.flowlet_gap; docs/packet-engine.md, "ECMP"):
a switch moves a flow to its least-loaded next hop only after a pause longer than the gap, never
within a burst; the kernel agrees with the reference."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from .reference import packet_ref as ref
from .test_packet_reference import (
    assert_kernel_matches_reference, assert_kernel_matches_reference_on, build, tiny_scenarios,
)
from .test_sr_reference import sr_scenarios

US = 1_000_000


class Decisions(ref.PacketSim):
    """The reference, recording every choice a switch with several candidates makes for a data
    packet: ``(t, switch, flow, port)``."""

    def __init__(self, model, flows):
        super().__init__(model, flows)
        self.decisions: list[tuple] = []

    def route(self, node, p):
        port = super().route(node, p)
        if p.kind == ref.DATA and len(self.routing.candidates(node, self.f_dst[p.flow])) > 1:
            self.decisions.append((self.now, node, p.flow, port))
        return port


def ring(flowlet_gap: str) -> dict:
    """An 8-rank ring allreduce of 800 KB, ranks alternating between the two leaves of a
    leaf-spine with 4 spines (4 connections each way cross between the leaves), 20 µs between a
    step's reception and the next step: each step of a connection is a burst, and the ring's
    connections (one hash each: the job's, on one channel) pause between them."""
    return {"run": {"engine": "packet", "seed": 1},
            "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 4, "hosts_per_leaf": 4,
                         "host_rate": "100Gbps", "fabric_rate": "100Gbps", "link_delay": "1us"},
            "switch": {"pfc": True}, "cc": {"algorithm": "none"},
            "routing": {"ecmp": "flowlet", "flowlet_gap": flowlet_gap},
            "traffic": [{"kind": "collective", "op": "allreduce", "algorithm": "ring",
                         "ranks": [0, 4, 1, 5, 2, 6, 3, 7], "size": "800KB", "gap": "20us"}]}


def port_changes(doc: dict, gap_ps: int) -> tuple[int, int]:
    """Per connection (its hosts) and switch, the changes of port between consecutive packets:
    (after a pause longer than ``gap_ps``, within one)."""
    model, flows = build(doc)
    sim = Decisions(model, flows)
    sim.run()
    last: dict[tuple, tuple] = {}
    at_gap = inside = 0
    for t, node, f, port in sim.decisions:
        key = (node, int(flows.src[f]), int(flows.dst[f]))
        if key in last and last[key][1] != port:
            if t - last[key][0] > gap_ps:
                at_gap += 1
            else:
                inside += 1
        last[key] = (t, port)
    return at_gap, inside


def test_flowlets_change_path_at_a_pause_and_never_inside_a_burst():
    """With a 10 µs gap the ring's connections change spine between steps (some of them, where
    another connection loads the port they had) and never within a step; with a gap of 0 every
    packet is a flowlet of its own and connections change spine within their bursts hundreds of
    times (per-packet adaptive routing). The kernel agrees with the reference on both."""
    at_gap, inside = port_changes(ring("10us"), 10 * US)
    assert at_gap > 0 and inside == 0, (at_gap, inside)
    _, inside_adaptive = port_changes(ring("0us"), 10 * US)
    assert inside_adaptive > 100
    for gap in ("10us", "0us"):
        assert_kernel_matches_reference(ring(gap))


@st.composite
def flowlet_scenarios(draw):
    """``tiny_scenarios`` (go-back-N) or ``sr_scenarios`` (with trimming half the time) with
    ``ecmp = "flowlet"`` and a gap of 0, 1 µs, 10 µs or 1 s."""
    if draw(st.booleans()):
        doc = draw(sr_scenarios(trim=True))
    else:
        algorithm, preset = draw(st.sampled_from([("none", None), ("dcqcn", "paper"), ("dcqcn", "hpcc")]))
        doc = draw(tiny_scenarios(algorithm, preset, may_give_up=draw(st.booleans())))
    doc["routing"] = {"ecmp": "flowlet", "flowlet_gap": draw(st.sampled_from(["0us", "1us", "10us", "1s"]))}
    return doc


@pytest.mark.usefixtures("room_for_one_flow_context")
def test_kernel_matches_reference_with_flowlets():
    """The kernel's flowlet tables make the reference's choices on 100 random scenarios."""
    assert_kernel_matches_reference_on(flowlet_scenarios())
