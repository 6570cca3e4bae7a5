"""tools/ab, the kernel A/B driver: both sides run what they were given, in turns, and bad input
is refused with exit 2. Nothing here asserts on a time; the figures are for people."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AB = ROOT / "tools" / "ab"
# the k = 8 benchmark permutation shrunk to k = 4 and 64 KB flows: a fraction of a second a run
SMALL = [str(ROOT / "scenarios" / "bench" / "packet-permutation-k8.toml"), "--set", "topology.k=4",
         "--set", 'traffic.0.size="64KB"']


def ab(*args):
    return subprocess.run([sys.executable, str(AB), *SMALL, *args], capture_output=True, text=True)


def test_a_against_a_times_the_same_run_on_both_sides():
    out = ab("--pairs", "3")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    a, b = doc["a"], doc["b"]
    assert a["events"] == b["events"] > 0 and a["packet_hops"] == b["packet_hops"] > 0
    assert len(a["times_s"]) == len(b["times_s"]) == 3 and min(a["times_s"] + b["times_s"]) > 0
    ratios = [tb / ta for ta, tb in zip(a["times_s"], b["times_s"])]  # pair by pair
    assert doc["ratio_b_over_a"]["median"] == round(statistics.median(ratios), 4)
    assert doc["ratio_b_over_a"]["pairs_b_faster"] == sum(r < 1 for r in ratios)
    assert out.stderr.count("pair ") == 3  # a progress line per pair


def test_b_set_changes_only_b():
    out = ab("--pairs", "1", "--b-set", 'traffic.0.size="128KB"')
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["b"]["set"][-1] == 'traffic.0.size="128KB"' and doc["a"]["set"] == SMALL[2::2]
    assert doc["b"]["packet_hops"] > 1.8 * doc["a"]["packet_hops"]  # twice the bytes, about twice the hops


def test_bad_input_exits_2_naming_the_side_and_the_key():
    out = ab("--pairs", "1", "--b-set", "switch.pfc_xoff=1KB")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("tools/ab: B: ") and "switch.pfc_xon" in out.stderr
    out = ab("--set", "run.engine=flow")
    assert out.returncode == 2 and "tools/ab: A: " in out.stderr and "run.engine" in out.stderr
