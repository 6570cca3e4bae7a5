"""tools/ab, the kernel A/B driver: both sides run what they were given, in turns, and bad input
is refused with exit 2. Nothing here asserts on a time; the figures are for people."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AB = Path(__file__).resolve().parent.parent / "tools" / "ab"

SCENARIO = """
[run]
engine = "packet"
seed = 3

[topology]
kind = "fat_tree"
k = 4
host_rate = "100Gbps"
link_delay = "1us"

[[traffic]]
kind = "permutation"
pattern = "random"
size = "64KB"
"""


def ab(tmp_path, *args):
    path = tmp_path / "ab.toml"
    path.write_text(SCENARIO)
    return subprocess.run([sys.executable, str(AB), str(path), *args], capture_output=True, text=True)


def test_a_against_a_times_the_same_run_on_both_sides(tmp_path):
    out = ab(tmp_path, "--pairs", "3")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    a, b = doc["a"], doc["b"]
    assert a["events"] == b["events"] > 0 and a["packet_hops"] == b["packet_hops"] > 0
    assert len(a["times_s"]) == len(b["times_s"]) == 3 and min(a["times_s"] + b["times_s"]) > 0
    ratio = doc["ratio_b_over_a"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"] and 0 <= ratio["pairs_b_faster"] <= 3
    assert out.stderr.count("pair ") == 3  # a progress line per pair


def test_b_set_changes_only_b(tmp_path):
    out = ab(tmp_path, "--pairs", "1", "--b-set", "traffic.0.size=128KB")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["a"]["set"] == [] and doc["b"]["set"] == ["traffic.0.size=128KB"]
    assert doc["b"]["packet_hops"] > 1.8 * doc["a"]["packet_hops"]  # twice the bytes, about twice the hops


def test_bad_input_exits_2_naming_the_side_and_the_key(tmp_path):
    out = ab(tmp_path, "--pairs", "1", "--b-set", "switch.pfc_xoff=1KB")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("tools/ab: B: ") and "switch.pfc_xon" in out.stderr
    out = ab(tmp_path, "--set", "run.engine=flow")
    assert out.returncode == 2 and "tools/ab: A: " in out.stderr and "run.engine" in out.stderr
