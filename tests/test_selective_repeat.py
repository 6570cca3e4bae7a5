"""Selective repeat in the packet engine (host.transport = "sr"; docs/packet-engine.md, "Selective
repeat"): the same packets as go-back-N where nothing is reordered or lost, no resend where
packets are only reordered, and loss repaired by resending the lost packets alone."""

from __future__ import annotations

import numpy as np
import pytest

import fabsim
from fabsim.api import simulate
from fabsim.errors import ScenarioError

ROOT = fabsim.__file__.rsplit("/", 2)[0]


def run(doc, **host):
    doc = {**doc, "host": {**doc.get("host", {}), **host}}
    return simulate(fabsim.load_scenario(doc))


def test_on_one_path_without_loss_sr_sends_what_gbn_sends():
    """ecmp = "flow", PFC on: every flow keeps its order and nothing is lost, so selective
    repeat sends exactly go-back-N's packets: the flows and links traces are equal."""
    doc = {"run": {"engine": "packet", "seed": 3}, "topology": {"kind": "fat_tree", "k": 4},
           "switch": {"pfc": True}, "cc": {"algorithm": "dcqcn"},
           "traffic": [{"kind": "permutation", "size": "300KB"},
                       {"kind": "incast", "receiver": 5, "senders": 6, "size": "200KB", "start": "20us"}]}
    gbn, sr = run(doc, transport="gbn"), run(doc, transport="sr")
    assert gbn.summary["flow_status"]["completed"] == len(gbn.flows)
    assert sr.flows.equals(gbn.flows)
    assert sr.tables["links"].equals(gbn.tables["links"])


def test_spraying_a_permutation_resends_nothing_and_finishes_near_ideal():
    """Fat-tree k = 8, a permutation of 2 MB flows at 100 G, PFC on, no congestion control,
    per-packet spraying: go-back-N resends gigabytes (every overtaken packet is a gap); selective
    repeat resends nothing, and its slowest flow is within 1.2 × its ideal FCT."""
    path = f"{ROOT}/scenarios/bench/packet-permutation-k8.toml"
    sprayed = {"routing.ecmp": "packet", "output.queue_sample": "0"}
    gbn = simulate(fabsim.load_scenario(path, overrides=sprayed))
    sr = simulate(fabsim.load_scenario(path, overrides={**sprayed, "host.transport": "sr"}))
    assert gbn.flows["retransmitted_bytes"].to_numpy().sum() > 1e9
    assert sr.summary["flow_status"]["completed"] == len(sr.flows) == 128
    assert sr.flows["retransmitted_bytes"].to_numpy().sum() == 0
    assert np.percentile(sr.flows["slowdown"].to_numpy(), 99) <= 1.2


def test_a_lossy_incast_completes_and_resends_less_than_go_back_n():
    """PFC off, a small buffer: packets are dropped. Selective repeat completes every flow and
    resends fewer bytes than go-back-N, which resends everything after each gap."""
    doc = {"run": {"engine": "packet", "seed": 1}, "topology": {"kind": "star", "hosts": 9, "link_delay": "1us"},
           "switch": {"pfc": False, "buffer": "400KB"}, "cc": {"algorithm": "none"},
           "host": {"rto": "100us", "sr_reorder": 16}, "output": {"queue_sample": "0"},
           "traffic": [{"kind": "incast", "receiver": 0, "senders": 8, "size": "1MB"}]}
    gbn, sr = run(doc, transport="gbn"), run(doc, transport="sr")
    for res in (gbn, sr):
        assert res.summary["flow_status"]["completed"] == 8
    resent = {name: res.flows["retransmitted_bytes"].to_numpy().sum() for name, res in (("gbn", gbn), ("sr", sr))}
    assert 0 < resent["sr"] < resent["gbn"], resent


@pytest.mark.parametrize("host,key", [
    ({"transport": "tcp"}, "host.transport"),
    ({"transport": "sr", "sr_window": 100}, "host.sr_window"),
    ({"transport": "sr", "sr_window": 32}, "host.sr_window"),
    ({"transport": "sr", "sr_window": 128, "sr_reorder": 129}, "host.sr_reorder"),
    ({"transport": "sr", "sr_reorder": 0}, "host.sr_reorder"),
])
def test_bad_transport_settings_name_their_key(host, key):
    doc = {"topology": {"kind": "star", "hosts": 2}, "host": host,
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 100}]}
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        fabsim.load_scenario(doc)


def test_trimming_repairs_a_lossy_incast_without_timeouts():
    """32-to-1 incast of 256 KiB at 100 G, PFC off, 100 packets of buffer per port, selective
    repeat, no congestion control. Without trimming the port drops thousands of packets and
    the timer (1 ms) repairs the last of them: the incast takes over 10 × its ideal (the
    receiver link busy with every byte once). With trimming nothing is dropped and every lost
    payload is resent on its trim NACK. The receiver paces those NACKs at its link's rate
    (``host.pace_trim_nacks``, the default), so the resends arrive as fast as its link drains
    them: each packet is trimmed about once (1,963 trims of 2,048 packets) and the incast ends
    within 1.1 × its ideal (1.015 ×). Answered at once, the resends come back together and are
    trimmed again, about 9 times a packet: the receiver link spends an eighth of its time on
    64-byte trims and the incast takes 1.14 × its ideal (with trims at strict priority,
    ``switch.trims_per_data = 0``, 23 times and 1.36 ×) — still before any timer could fire
    (docs/packet-engine.md, "Trimming")."""
    wire = 4096 + 48
    doc = {"run": {"engine": "packet", "seed": 1},
           "topology": {"kind": "star", "hosts": 33, "host_rate": "100Gbps", "link_delay": "1us"},
           "switch": {"pfc": False, "buffer_policy": "static", "buffer": 33 * 100 * wire},
           "cc": {"algorithm": "none"}, "host": {"transport": "sr", "rto": "1ms"}, "output": {"queue_sample": "0"},
           "traffic": [{"kind": "incast", "receiver": 0, "senders": 32, "size": "256KiB"}]}
    ideal_ns = 32 * 64 * wire * 8 / 100 + 2 * 1000 + wire * 8 / 100  # the receiver link, then one packet's path
    results = {}
    for trim, pace in ((False, True), (True, True), (True, False)):
        res = simulate(fabsim.load_scenario({**doc, "switch": {**doc["switch"], "trim": trim},
                                             "host": {**doc["host"], "pace_trim_nacks": pace}}))
        f = res.flows
        assert res.summary["flow_status"]["completed"] == 32
        results[trim, pace] = (f["finish_ns"].to_numpy().max() - f["start_ns"].to_numpy().min(),
                               {name: f[name].to_numpy() for name in ("drops", "trimmed", "retransmitted_bytes",
                                                                      "retransmitted_trim_bytes")})
    lossy_ns, lossy = results[False, True]
    assert lossy["drops"].sum() > 1000 and lossy_ns > 10 * ideal_ns
    # the lossy run resends after losses only
    assert lossy["retransmitted_bytes"].sum() > 0 == lossy["retransmitted_trim_bytes"].sum()
    for pace in (True, False):
        span_ns, trimmed = results[True, pace]
        assert trimmed["drops"].sum() == 0
        # every resend is a trim's, each trim's payload resent once
        assert np.array_equal(trimmed["retransmitted_trim_bytes"], trimmed["retransmitted_bytes"])
        assert np.array_equal(trimmed["retransmitted_trim_bytes"], 4096 * trimmed["trimmed"])
        assert span_ns < 1_000_000  # before any flow's timer could fire
    paced_ns, paced = results[True, True]
    at_once_ns, at_once = results[True, False]
    assert paced_ns <= 1.1 * ideal_ns
    assert paced["trimmed"].sum() < 32 * 64 < 5 * 32 * 64 < at_once["trimmed"].sum()
    assert at_once_ns > 1.1 * ideal_ns


@pytest.mark.usefixtures("room_for_one_flow_context")
def test_kernel_matches_reference_with_trimming():
    """The kernel trims, routes trims, NACKs them and resends exactly as the reference does
    (tests/reference/packet_ref.py): 100 random selective-repeat scenarios of which about half
    trim (some with a trim_queue), field by field, trims per flow and per port included."""
    from .test_packet_reference import assert_kernel_matches_reference_on
    from .test_sr_reference import sr_scenarios

    assert_kernel_matches_reference_on(sr_scenarios(trim=True))


@pytest.mark.slow
@pytest.mark.usefixtures("room_for_one_flow_context")
def test_kernel_matches_reference_with_trimming_on_many_scenarios():
    """The comparison above on 1,000 random scenarios (``pytest -m slow``)."""
    from hypothesis import HealthCheck, given, settings

    from .test_packet_reference import assert_kernel_matches_reference
    from .test_sr_reference import sr_scenarios

    @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(doc=sr_scenarios(trim=True))
    def check(doc):
        assert_kernel_matches_reference(doc)

    check()


@pytest.mark.parametrize("transport", ["gbn", "sr"])
def test_a_timer_shorter_than_the_round_trip_resends_spuriously(transport):
    """One flow of 200 packets, 2 µs links, ``rto`` = 5 µs (the round trip is longer): the
    timer fires while the first copies are on their way, and the resends reach a receiver that
    has them already. The summary counts them (``spurious_retransmissions``); with the timer out
    of the way (1 ms) nothing is resent and nothing counted."""
    doc = {"run": {"engine": "packet", "seed": 1}, "topology": {"kind": "star", "hosts": 2, "link_delay": "2us"},
           "cc": {"algorithm": "none"}, "output": {"queue_sample": "0"},
           "traffic": [{"kind": "flow", "src": 0, "dst": 1, "size": 200 * 4096}]}
    hasty = run(doc, transport=transport, rto="5us", retries=255)
    calm = run(doc, transport=transport, rto="1ms")
    assert hasty.summary["flow_status"]["completed"] == calm.summary["flow_status"]["completed"] == 1
    assert hasty.summary["network"]["spurious_retransmissions"] > 0
    assert calm.summary["network"]["spurious_retransmissions"] == 0
    assert calm.summary["network"]["retransmitted_bytes"] == 0
