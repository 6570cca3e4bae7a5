"""The benchmark harness itself (``pytest -m bench``): each suite prints one JSON document whose
records carry the figures docs/performance.md quotes. Excluded by default: the cases compile
kernels and build large fabrics. Nothing here asserts on a time; the figures are for people."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "tools" / "bench"

pytestmark = pytest.mark.bench


def bench(*args: str) -> list[dict]:
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["results"]


def test_topology_suite_reports_build_times_and_memory():
    (record,) = bench("topology", "--k", "8")
    assert record["hosts"] == 128 and record["peak_rss_bytes"] > 0
    assert {"fabric_s", "routing_s", "rebuild_after_failure_s", "routing_table_bytes"} <= set(record)


def test_flow_suite_reports_the_allreduce_against_its_ideal():
    (record,) = bench("flow", "--k", "8")
    assert record["flows"] == 128 * 127 * 2 and record["allreduce_ms"] >= record["ideal_ms"] > 0
    (sprayed,) = bench("flow", "--k", "8", "--ecmp", "spray")
    assert sprayed["case"].endswith("ecmp=spray") and sprayed["flows"] == record["flows"]
    assert sprayed["allreduce_ms"] >= sprayed["ideal_ms"] == record["ideal_ms"]
    assert sprayed["events"] > record["events"]  # it ran one sub-flow per path, not the transfers


def test_memory_suite_reports_the_peak_of_a_long_packet_run_and_the_memory_per_flow():
    long, per_flow = bench("memory")
    assert "error" not in long and "error" not in per_flow, (long, per_flow)
    assert long["simulated_ms"] == 200 and long["queue_samples"] > 0 and long["peak_rss_bytes"] > 0
    # twice the simulated time, about twice the flows: the growth per added flow
    assert per_flow["flows"][1] > 1.9 * per_flow["flows"][0] > 0
    assert per_flow["engine_bytes_per_flow"] > 0 and per_flow["process_bytes_per_flow"] > 0


def test_packet_case_of_a_small_job_on_a_large_fabric_runs():
    """Each kind of traffic the packet cases use is shrunk for the warm-up (here a collective)."""
    out = subprocess.run([sys.executable, str(BENCH), "--child", "packet", "packet-ring-k32", "-", "-"],
                         capture_output=True, text=True, check=True)
    record = json.loads(out.stdout)
    assert record["case"] == "packet-ring-k32" and record["hosts"] == 8192 and record["packet_hops"] > 0


def test_the_packet_warm_up_child_only_compiles():
    """The warm-up child the driver starts before each packet case compiles and measures nothing,
    so the measuring child's peak RSS is the simulation's, not the compiler's."""
    out = subprocess.run([sys.executable, str(BENCH), "--child", "packet-warm", "packet-permutation-k8", "-", "-"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"suite": "packet", "case": "packet-permutation-k8", "warm": True}
