"""Protocol presets (fabsim/scenario/protocol.py, docs/dcqcn.md): a ``cc.preset`` brings the ECN marking point
of the code it follows, the scenario can override it, and every resolved value of a run is
written into its traces, its summary and ``fabsim validate``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fabsim
from fabsim.model import build_model
from fabsim.scenario.protocol import ECN_PRESETS, ecn_thresholds, protocol
from fabsim.cli import main


def incast(cc=None, switch=None, senders=16, size="1MB"):
    """16 → 1 incast at 100 Gb/s on a star: HPCC's ns-3 reference case of DESIGN §5 (1 µs links,
    1000 + 48 B packets, 32 MB buffer), without PFC so that only congestion control holds the
    queue."""
    return fabsim.load_scenario({
        "run": {"engine": "packet", "seed": 1},
        "topology": {"kind": "star", "hosts": senders + 1, "host_rate": "100Gbps", "link_delay": "1us"},
        "switch": {"buffer": "32MB", "pfc": False, **(switch or {})},
        "host": {"mtu": 1000, "header": 48},
        "cc": {"algorithm": "dcqcn", **(cc or {})},
        "output": {"queue_sample": "0"},
        "traffic": [{"kind": "incast", "receiver": 0, "senders": senders, "size": size}],
    })


@pytest.mark.parametrize(("cc", "at"), [
    ({"preset": "hpcc"}, "dequeue"),  # HPCC ns-3: SwitchNotifyDequeue
    ({"preset": "paper"}, "dequeue"),  # htsim's queues and the DCQCN authors' ns-3 code
    ({"algorithm": "none"}, "enqueue"),
    ({"algorithm": "none", "preset": "paper"}, "enqueue"),
])  # fmt: skip
def test_ecn_marking_point_comes_from_the_preset(cc, at):
    assert incast(cc).switch.ecn_at == at


@pytest.mark.parametrize("preset", ["hpcc", "paper"])
@pytest.mark.parametrize("at", ["enqueue", "dequeue"])
def test_an_explicit_ecn_at_wins_over_the_preset(preset, at):
    assert incast({"preset": preset}, switch={"ecn_at": at}).switch.ecn_at == at


def test_ecn_thresholds_stay_importable_from_the_packet_engine():
    from fabsim.run.packet import ecn_thresholds as from_driver

    assert from_driver is ecn_thresholds
    rates = np.array([25, 100, 400], np.int64) * 10**9
    kmin, kmax, pmax = ecn_thresholds(incast(), rates)
    assert kmin.tolist() == [100_000, 400_000, 1_600_000] and kmax.tolist() == [400_000, 1_600_000, 6_400_000]
    assert pmax == ECN_PRESETS["hpcc"].pmax == 0.2


def _receiver_peak(sc) -> int:
    res = fabsim.simulate(sc)
    links = res.links.to_pylist()
    (down,) = [row for row in links if row["src_node"] == "sw0" and row["dst_node"] == "h0"]
    assert res.summary["flows_completed"] == 16
    return down["max_queue_bytes"]


def test_hpcc_incast_queue_peaks_as_in_the_hpcc_code():
    """HPCC's ns-3 model peaks near 5.6 MB on this incast (DESIGN §5). Marking at enqueue, the
    scenario default before the preset brought its marking point, peaked at 14.8 MB."""
    assert _receiver_peak(incast({"preset": "hpcc"})) < 8_000_000
    assert _receiver_peak(incast({"preset": "hpcc"}, switch={"ecn_at": "enqueue"})) > 8_000_000


def test_resolved_protocol_is_in_the_trace_metadata_and_the_summary():
    sc = incast({"preset": "hpcc"}, senders=2, size="100KB")
    res = fabsim.simulate(sc)
    expected = protocol(sc, build_model(sc).fabric)
    assert res.summary["protocol"] == expected
    for table in res.tables.values():
        assert json.loads(table.schema.metadata[b"fabsim.protocol"]) == expected
    assert expected["ecn"] == {
        "enabled": True, "at": "dequeue",
        "thresholds": [{"rate_bps": 100 * 10**9, "kmin_bytes": 400_000, "kmax_bytes": 1_600_000, "pmax": 0.2}],
    }  # fmt: skip
    d = expected["cc"]["dcqcn"]
    assert (d["dialect"], d["alpha_timer_ps"], d["rate_timer_ps"], d["min_rate_bps"]) == ("hpcc", 10**6, 300 * 10**6, 1e9)
    assert d["steps"] == [{"line_rate_bps": 100 * 10**9, "rai_bps": 20e6, "rhai_bps": 200e6}]


def test_protocol_lists_each_switch_port_rate_and_leaves_dcqcn_out_without_it(tmp_path):
    sc = fabsim.load_scenario({
        "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 1, "hosts_per_leaf": 2,
                     "host_rate": "100Gbps", "fabric_rate": "400Gbps"},
        "switch": {"ecn_kmin": "50KB"},
        "cc": {"algorithm": "none", "preset": "paper"},
        "traffic": [{"kind": "permutation", "size": "1MB"}],
    })  # fmt: skip
    proto = protocol(sc, build_model(sc).fabric)
    assert proto["cc"] == {"algorithm": "none", "preset": "paper", "dcqcn": None}
    assert proto["ecn"]["at"] == "enqueue"
    assert proto["ecn"]["thresholds"] == [
        {"rate_bps": 100 * 10**9, "kmin_bytes": 50_000, "kmax_bytes": 200_000, "pmax": 0.01},
        {"rate_bps": 400 * 10**9, "kmin_bytes": 50_000, "kmax_bytes": 200_000, "pmax": 0.01},
    ]


SCENARIO = """
[topology]
kind = "star"
hosts = 3
host_rate = "40Gbps"

[cc]
preset = "paper"

[[traffic]]
kind = "incast"
receiver = 0
senders = 2
size = "1MB"
"""


def test_validate_shows_the_resolved_protocol(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    assert main(["validate", str(path), "--json"]) == 0
    proto = json.loads(capsys.readouterr().out)["protocol"]
    assert proto["ecn"]["at"] == "dequeue"
    assert proto["ecn"]["thresholds"] == [{"rate_bps": 40 * 10**9, "kmin_bytes": 5_000, "kmax_bytes": 200_000, "pmax": 0.01}]
    d = proto["cc"]["dcqcn"]
    assert (d["dialect"], d["cnp_interval_ps"], d["fast_recovery"], d["byte_counter_bytes"]) == ("paper", 50 * 10**6, 5, 10**7)
    assert d["steps"] == [{"line_rate_bps": 40 * 10**9, "rai_bps": 40e6, "rhai_bps": 200e6}]

    assert main(["validate", str(path), "--set", 'switch.ecn_at="enqueue"']) == 0
    err = capsys.readouterr().err
    assert "ECN at enqueue (paper)" in err and "200 KB" in err and "DCQCN, paper dialect" in err
    assert "50 µs" in err and "40 Mbps, 200 Mbps" in err
