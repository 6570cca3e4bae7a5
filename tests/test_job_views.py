"""What a run shows of its training jobs: the run summary and ``fabsim report`` tables,
``jobs.png`` from ``fabsim plot``, and ``timeline.json`` (``output.timeline_ranks``).

The runs are tiny flow-engine runs of one 8-rank job (tp = pp = dp = 2) beside a collective job
on a 2-leaf fabric of 4-GPU servers.
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import fabsim
from fabsim.errors import ScenarioError
from fabsim.trace import read_run
from fabsim.units import human_duration_ns

from .test_report_plot import check_png, cli, report_text, table_rows

SCENARIO = """
[run]
name = "views"
engine = "flow"
seed = 1

[topology]
kind = "leaf_spine"
leaves = 2
spines = 2
hosts_per_leaf = 4
gpus_per_server = 4

[[traffic]]
kind = "collective"
job = "ar"
op = "allreduce"
size = "256KiB"
ranks = 4
iterations = 2

[[jobs]]
name = "gpt"
layers = 2
hidden = 512
seq_len = 256
microbatches = 2
tp = 2
pp = 2
dp = 2
gpu = "H100"
iterations = 2
"""

RANKS = 8  # tp · pp · dp
KINDS = {"tp", "pp", "dp", "ep"}


def job_scenario(**output) -> fabsim.Scenario:
    doc = tomllib.loads(SCENARIO)
    if output:
        doc["output"] = output
    return fabsim.load_scenario(doc)


@pytest.fixture(scope="module")
def job_run(tmp_path_factory) -> Path:
    """A finished run with the default ``output.timeline_ranks`` (8: every rank of the job)."""
    path = tmp_path_factory.mktemp("jobs") / "run"
    fabsim.simulate(job_scenario()).write(path)
    return path


def timeline_events(run: Path) -> list[dict]:
    doc = json.loads((run / "timeline.json").read_text(encoding="utf-8"))
    assert set(doc) == {"traceEvents", "displayTimeUnit"}
    return doc["traceEvents"]


def compute_by_rank(events: list[dict]) -> dict[tuple[int, int], float]:
    """(rank, iteration) → total duration (ns) of the rank's compute spans."""
    total: dict[tuple[int, int], float] = defaultdict(float)
    for e in events:
        if e["ph"] == "X":
            total[e["tid"], e["args"]["iteration"]] += e["dur"] * 1000
    return total


# ---- timeline.json -------------------------------------------------------------------------------

def test_timeline_holds_every_rank_and_its_compute_matches_the_jobs_trace(job_run):
    events = timeline_events(job_run)
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {"gpt"}  # the collective job is no training job
    threads = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert sorted(threads) == list(range(RANKS))
    assert threads[5] == "rank 5 (h5)"  # packed placement: rank r on host r
    spans = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in spans} == {"forward", "backward", "optimizer"}  # the optimizer step lasts 0 here
    assert {e["cat"] for e in spans} == {"compute"}
    assert {e["tid"] for e in spans} == set(range(RANKS))

    jobs = read_run(job_run)["jobs"].to_pylist()
    assert [r["iteration"] for r in jobs] == [0, 1]
    per_rank = compute_by_rank(events)
    for row in jobs:
        values = [per_rank[r, row["iteration"]] for r in range(RANKS)]
        # the trace's compute_ns is the mean over ranks, truncated to ns
        assert np.mean(values) == pytest.approx(row["compute_ns"], abs=1.0)
        for r in range(RANKS):  # a rank's spans lie inside its iteration and never overlap
            mine = sorted((e["ts"], e["ts"] + e["dur"]) for e in spans
                          if e["tid"] == r and e["args"]["iteration"] == row["iteration"])
            assert all(a[1] <= b[0] + 1e-9 for a, b in zip(mine, mine[1:]))
            assert row["start_ns"] <= mine[0][0] * 1000 + 1 and mine[-1][1] * 1000 <= row["finish_ns"] + 1


def test_timeline_transfers_pair_up_by_id_on_their_sender(job_run):
    events = timeline_events(job_run)
    begins = {e["id"]: e for e in events if e["ph"] == "b"}
    ends = {e["id"]: e for e in events if e["ph"] == "e"}
    assert begins and begins.keys() == ends.keys()
    flows = read_run(job_run)["flows"].to_pandas().set_index("flow_id")
    cats = set()
    for task, b in begins.items():
        e = ends[task]
        assert (e["pid"], e["tid"], e["cat"], e["name"]) == (b["pid"], b["tid"], b["cat"], b["name"])
        assert b["name"] == f"rank {b['tid']} {b['cat']}"
        flow = flows.loc[task]  # the id is the transfer's flow_id
        assert flow.src == b["tid"] and flow.phase == b["cat"] and flow.size_bytes == b["args"]["bytes"]
        assert b["ts"] * 1000 == pytest.approx(flow.start_ns, abs=1)
        assert e["ts"] * 1000 == pytest.approx(flow.finish_ns, abs=1)
        cats.add(b["cat"])
    assert cats == {"tp", "pp", "dp"} and cats <= KINDS
    # every transfer of the job that a rank sends is there
    mine = flows[(flows.job == "gpt")]
    assert set(mine.index) == set(begins)


def test_timeline_ranks_chooses_the_ranks(tmp_path):
    result = fabsim.simulate(job_scenario(timeline_ranks=[6, 1]))
    result.write(tmp_path / "run")
    events = timeline_events(tmp_path / "run")
    assert {e["tid"] for e in events if e["ph"] in ("X", "b", "e")} == {1, 6}
    assert {e["tid"] for e in events if e["name"] == "thread_name"} == {1, 6}
    assert json.loads(json.dumps(result.timeline)) == {"traceEvents": events, "displayTimeUnit": "ns"}

    result = fabsim.simulate(job_scenario(timeline_ranks=3))
    assert {e["tid"] for e in result.timeline["traceEvents"] if e["ph"] == "X"} == {0, 1, 2}


def test_no_timeline_with_timeline_ranks_0(tmp_path):
    result = fabsim.simulate(job_scenario(timeline_ranks=0))
    assert result.timeline is None
    result.write(tmp_path / "run")
    assert (tmp_path / "run" / "jobs.arrow").is_file()
    assert not (tmp_path / "run" / "timeline.json").exists()


@pytest.mark.parametrize(("value", "message"), [
    (-1, "must be ≥ 0"),
    (True, "a count of ranks or a list of rank indices"),
    ([], "at least one rank index"),
    ([0, 0], "rank 0 is listed twice"),
    ([8], "no job has rank 8 (the largest job has 8 ranks)"),
    (["h0"], "expected a rank index"),
])
def test_bad_timeline_ranks(value, message):
    with pytest.raises(ScenarioError, match="timeline_ranks") as info:
        job_scenario(timeline_ranks=value)
    assert message in str(info.value)


# ---- report and run summary ----------------------------------------------------------------------

def training_cells(text: str) -> dict[str, str]:
    """The training-jobs table: row label → the gpt column's cell."""
    return {row[0]: row[1] for row in table_rows(text, "training jobs")}


def check_training_table(cells: dict[str, str], jobs: list[dict]) -> None:
    def mean(column):
        return float(np.mean([r[column] for r in jobs]))

    iteration = mean("iteration_ns")
    assert cells["iterations"] == "2/2"
    assert cells["iteration time"] == human_duration_ns(iteration)
    assert cells["ideal (idle network)"] == human_duration_ns(mean("ideal_ns"))
    cost = iteration - mean("ideal_ns")
    assert cells["network cost (− ideal)"] == f"{human_duration_ns(cost)} ({100 * cost / iteration:.1f} %)"
    for label, column in (("compute", "compute_ns"), ("exposed tp", "exposed_tp_ns"),
                          ("exposed pp", "exposed_pp_ns"), ("exposed dp", "exposed_dp_ns"),
                          ("exposed ep", "exposed_ep_ns"), ("bubble", "bubble_ns")):
        value = mean(column)
        assert cells[label] == f"{human_duration_ns(value)} ({100 * value / iteration:.1f} %)", label
    assert cells["GPU idle"] == f"{100 * mean('idle_fraction'):.1f} %"


def test_report_shows_the_training_job_and_the_collective_job(job_run, capsys):
    code, err = cli(["report", job_run], capsys)
    assert code == 0, err
    text = report_text(job_run)
    check_training_table(training_cells(text), read_run(job_run)["jobs"].to_pylist())
    collectives = table_rows(text, "collectives per job")
    assert [r[0] for r in collectives] == ["ar"]


def test_run_prints_the_training_job(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "views.toml").write_text(SCENARIO)
    code, err = cli(["run", "views.toml", "--out", "out"], capsys)
    assert code == 0, err
    check_training_table(training_cells(err), read_run(tmp_path / "out")["jobs"].to_pylist())
    title = next(line for line in err.splitlines() if line.strip() == "jobs")  # the collective jobs' table
    jobs = table_rows(err, title + "\n")
    assert [r[0] for r in jobs] == ["ar"]
    assert (tmp_path / "out" / "timeline.json").is_file()


# ---- plot ----------------------------------------------------------------------------------------

def test_plot_draws_jobs_png(job_run, tmp_path, capsys):
    out = tmp_path / "figs"
    code, err = cli(["plot", job_run, "--out", out], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert "jobs.png" in names and "collectives.png" in names
    check_png(out / "jobs.png")


def test_a_run_stopped_mid_iteration(tmp_path, capsys):
    doc = tomllib.loads(SCENARIO)
    doc["run"]["until"] = "100us"
    result = fabsim.simulate(fabsim.load_scenario(doc))
    result.write(tmp_path / "run")
    end_us = result.summary["simulated_ns"] / 1000
    events = timeline_events(tmp_path / "run")
    unfinished = [e for e in events if e.get("args", {}).get("unfinished")]
    assert unfinished, "the run stops while tasks are under way"
    ends = {e["id"]: e for e in events if e["ph"] == "e"}
    for e in unfinished:
        stop = e["ts"] + e["dur"] if e["ph"] == "X" else ends[e["id"]]["ts"]
        assert stop == pytest.approx(end_us, abs=1e-3)
    cells = training_cells(report_text(tmp_path / "run"))
    assert cells["iterations"] == "0/2" and cells["iteration time"] == "—"
    code, err = cli(["plot", tmp_path / "run", "--out", tmp_path / "figs"], capsys)
    assert code == 0, err
    assert not (tmp_path / "figs" / "jobs.png").exists()  # no completed iteration to draw
