"""Sweeps: the sweep file, its runs and layout, local and Dask execution, resume, and reading
the result back with pyarrow, DuckDB and Polars."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from fabsim.cli import main
from fabsim.errors import ScenarioError
from fabsim.sweep import load_sweep, sweep_dataset

SCENARIO = """
[run]
engine = "flow"
[topology]
kind = "leaf_spine"
leaves = 4
spines = 2
hosts_per_leaf = 4
[[traffic]]
kind = "permutation"
size = "1MB"
"""

GRID = """
[sweep]
seeds = 3
[sweep.grid]
"topology.fabric_rate" = ["100Gbps", "50Gbps"]
"topology.spines" = [2, 4]
"""

# slower runs (about half a second each), so that a sweep can be stopped half-way
SLOW = """
[run]
engine = "flow"
[topology]
kind = "fat_tree"
k = 8
[[traffic]]
kind = "poisson"
load = 0.5
sizes = "websearch"
duration = "5ms"
[sweep]
seeds = 3
[sweep.grid]
"topology.fabric_rate" = ["100Gbps", "50Gbps"]
"switch.buffer" = ["16MiB", "32MiB"]
"""


def _write(tmp_path: Path, text: str, name: str = "sw.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _fabsim(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fabsim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _summaries(root: Path) -> list[str]:
    return sorted(glob.glob(str(root / "**" / "summary.json"), recursive=True))


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """The 2 × 2 grid × 3 seeds sweep, run with --jobs 2."""
    tmp = tmp_path_factory.mktemp("grid")
    file = _write(tmp, SCENARIO + GRID)
    root = tmp / "out"
    assert main(["sweep", str(file), "--out", str(root), "--jobs", "2", "--quiet"]) == 0
    return file, root


# --- the sweep file ------------------------------------------------------------------------------


def test_grid_times_seeds_gives_one_run_per_point_and_seed(tmp_path):
    sweep = load_sweep(_write(tmp_path, SCENARIO + GRID))
    assert len(sweep.runs) == 12
    assert [p.column for p in sweep.parameters] == ["topology_fabric_rate", "topology_spines"]
    assert [p.type for p in sweep.parameters] == ["string", "int64"]
    assert sweep.seeds == (1, 2, 3)
    assert sweep.runs[0].path == "topology_fabric_rate=100Gbps/topology_spines=2/seed=1"
    assert sweep.runs[-1].path == "topology_fabric_rate=50Gbps/topology_spines=4/seed=3"
    assert len({r.path for r in sweep.runs}) == 12
    scenario = sweep.scenario(sweep.runs[-1])
    assert scenario.topology.fabric_rate_bps == 50e9 and scenario.topology.spines == 4
    assert scenario.run.seed == 3 and scenario.output.format == "parquet"


def test_zip_lists_vary_together_and_seed_lists_are_kept(tmp_path):
    sweep = load_sweep(_write(tmp_path, SCENARIO + """
        [sweep]
        seeds = [7, 11]
        [sweep.grid]
        "topology.spines" = [2, 4]
        [sweep.zip]
        "switch.pfc_xoff" = ["200KB", "400KB", "800KB"]
        "switch.pfc_xon" = ["180KB", "360KB", "720KB"]
    """))
    assert len(sweep.runs) == 2 * 3 * 2
    pairs = {(r.params["switch.pfc_xoff"], r.params["switch.pfc_xon"]) for r in sweep.runs}
    assert pairs == {("200KB", "180KB"), ("400KB", "360KB"), ("800KB", "720KB")}
    assert {r.seed for r in sweep.runs} == {7, 11}


def test_seed_count_starts_at_the_scenario_seed(tmp_path):
    sweep = load_sweep(_write(tmp_path, SCENARIO.replace('engine = "flow"', 'engine = "flow"\nseed = 10') + """
        [sweep]
        seeds = 2
    """))
    assert sweep.seeds == (10, 11) and [r.path for r in sweep.runs] == ["seed=10", "seed=11"]


@pytest.mark.parametrize("sweep_table, path, words", [
    ('[sweep.grid]\n"topology.spinez" = [2, 4]', 'sweep.grid."topology.spinez"', "did you mean spines"),
    ("[sweep.grid]", "sweep.grid", "empty"),
    ('[sweep.grid]\n"topology.spines" = []', 'sweep.grid."topology.spines"', "empty list"),
    ('[sweep.grid]\n"topology.spines" = [2, "four"]', 'sweep.grid."topology.spines"[1]', "integer"),
    ('[sweep.grid]\n"topology.host_rate" = ["100Gbs"]', 'sweep.grid."topology.host_rate"[0]', "did you mean Gbps"),
    ('[sweep.grid]\n"switch.buffer" = ["16MiB", 33554432]', 'sweep.grid."switch.buffer"', "one type"),
    ('[sweep.grid]\n"topology.spines" = [2, 2]', 'sweep.grid."topology.spines"', "twice"),
    ('[sweep.grid]\n"run.seed" = [1, 2]', 'sweep.grid."run.seed"', "sweep.seeds"),
    ('[sweep.grid]\n"topology.spines" = 4', 'sweep.grid."topology.spines"', "list"),
    ("[sweep.grid]\ntopology.spines = [2, 4]", 'sweep.grid."topology"', "quote the dotted key"),
    ('[sweep.zip]\n"switch.pfc_xoff" = ["200KB", "400KB"]\n"switch.pfc_xon" = ["180KB"]',
     'sweep.zip."switch.pfc_xon"', "same length"),
    ('[sweep.grid]\n"traffic[3].size" = ["1MB"]', 'sweep.grid."traffic[3].size"', "no element traffic[3]"),
    ('[sweep.grid]\n"topology..k" = [4]', 'sweep.grid."topology..k"', "malformed key"),
    ("[sweep]\nseeds = 0", "sweep.seeds", "≥ 1"),
    ('[sweep]\nseeds = [1, "2"]', "sweep.seeds[1]", "integer"),
    ("[sweep]\nsedes = 3", "sweep.sedes", "did you mean seeds"),
    ('[sweep.grid]\n"switch.pfc_xon" = ["180KB", "300KB"]', 'sweep.grid."switch.pfc_xon"[1]', "must be ≤ pfc_xoff"),
    ('[sweep.grid]\n"switch.ecn_kmin" = ["50KB", "300KB"]\n"switch.ecn_kmax" = ["200KB", "400KB"]', "sweep",
     "the run switch_ecn_kmin=300KB/switch_ecn_kmax=200KB/seed=1 is invalid: switch.ecn_kmin: ecn_kmin"),
])
def test_bad_sweep_files_exit_2_naming_the_key_path(tmp_path, capsys, sweep_table, path, words):
    file = _write(tmp_path, SCENARIO + sweep_table)
    assert main(["sweep", str(file), "--out", str(tmp_path / "out")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{file}: {path}: " in err and words in err
    assert not (tmp_path / "out").exists()


def test_a_file_without_a_sweep_table_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match=r"sw.toml: sweep: missing \[sweep\] table"):
        load_sweep(_write(tmp_path, SCENARIO))


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path, capsys):
    file = _write(tmp_path, SCENARIO + GRID)
    root = tmp_path / "out"
    assert main(["sweep", str(file), "--out", str(root), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["runs"]) == 12 and not root.exists()
    assert plan["runs"][4] == {
        "run_id": 4, "topology.fabric_rate": "100Gbps", "topology.spines": 4, "seed": 2,
        "path": str(root / "topology_fabric_rate=100Gbps/topology_spines=4/seed=2"), "done": False,
    }
    assert main(["sweep", str(file), "--out", str(root), "--dry-run"]) == 0
    assert "12 runs" in capsys.readouterr().err


# --- running it ----------------------------------------------------------------------------------


def test_grid_sweep_writes_twelve_runs_and_a_runs_table(grid_sweep):
    file, root = grid_sweep
    summaries = _summaries(root)
    assert len(summaries) == 12
    runs = pq.read_table(root / "runs.parquet")
    assert runs.num_rows == 12
    assert runs.schema.field("topology_spines").type == pa.int64()
    assert runs.schema.field("topology_fabric_rate").type == pa.string()
    assert runs.schema.field("seed").type == pa.int64()
    assert set(runs.column("status").to_pylist()) == {"ok"}
    for row in runs.to_pylist():
        summary = json.loads((root / row["path"] / "summary.json").read_text())
        assert summary["seed"] == row["seed"]
        assert summary["scenario"]["topology"]["spines"] == row["topology_spines"]
        assert row["fct_p99_ns"] == summary["fct_ns"]["p99"] and row["flows"] == summary["flows"] == 16
        assert row["wall_s"] == summary["wall_s"]
    # the slower fabric gives longer flows: the table carries the runs' own figures
    by_rate = {r: [x["fct_max_ns"] for x in runs.to_pylist() if x["topology_fabric_rate"] == r and x["topology_spines"] == 2]
               for r in ("100Gbps", "50Gbps")}
    assert min(by_rate["50Gbps"]) > max(by_rate["100Gbps"])


def test_the_sweep_reads_as_one_dataset_with_typed_partitions(grid_sweep):
    _, root = grid_sweep
    flows = sweep_dataset(root, "flows").to_table()
    assert flows.num_rows == 12 * 16
    assert flows.schema.field("topology_spines").type == pa.int64()
    assert flows.schema.field("seed").type == pa.int64()
    assert flows.schema.field("topology_fabric_rate").type == pa.string()
    assert sorted(set(flows.column("topology_spines").to_pylist())) == [2, 4]
    # plain pyarrow.dataset with hive partitioning infers the integer columns too
    files = sorted(glob.glob(str(root / "**" / "flows.parquet"), recursive=True))
    plain = ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=str(root)).to_table()
    assert plain.num_rows == 12 * 16
    assert pa.types.is_integer(plain.schema.field("seed").type)
    assert pa.types.is_integer(plain.schema.field("topology_spines").type)


def test_duckdb_reads_the_sweep(grid_sweep):
    duckdb = pytest.importorskip("duckdb")
    _, root = grid_sweep
    rows = duckdb.sql(
        f"select topology_spines, seed, count(*), typeof(seed) from read_parquet('{root}/**/flows.parquet', "
        "hive_partitioning=true) group by all order by all"
    ).fetchall()
    assert len(rows) == 6 and all(r[2] == 2 * 16 and r[3] == "BIGINT" for r in rows)
    assert duckdb.sql(f"select count(*) from '{root}/runs.parquet' where status = 'ok'").fetchall()[0][0] == 12


def test_polars_reads_the_sweep(grid_sweep):
    pl = pytest.importorskip("polars")
    _, root = grid_sweep
    flows = pl.scan_parquet(str(root / "**" / "flows.parquet"), hive_partitioning=True).collect()
    assert flows.height == 12 * 16
    assert flows.schema["seed"].is_integer() and flows.schema["topology_spines"].is_integer()
    assert pl.read_parquet(root / "runs.parquet").height == 12


def test_dask_local_cluster_gives_identical_results(grid_sweep, tmp_path):
    pytest.importorskip("dask.distributed")
    file, root = grid_sweep
    other = tmp_path / "dask"
    assert main(["sweep", str(file), "--out", str(other), "--scheduler", "local", "--jobs", "2", "--quiet"]) == 0
    traces = sorted(p.relative_to(root) for p in root.rglob("*.parquet") if p.name != "runs.parquet")
    assert len(traces) >= 12 * 4
    for rel in traces:
        assert (other / rel).read_bytes() == (root / rel).read_bytes(), rel
    mine, theirs = (pq.read_table(r / "runs.parquet").drop_columns(["wall_s"]) for r in (root, other))
    assert mine.equals(theirs)


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    file = _write(tmp_path, SCENARIO + """
        [[failures]]
        target = "link:leaf0-spine0"
        at = "10us"
        [sweep]
        [sweep.grid]
        "failures[0].target" = ["link:leaf0-spine0", "link:leaf0-spine7"]
    """)
    root = tmp_path / "out"
    assert main(["sweep", str(file), "--out", str(root), "--jobs", "1", "--json"]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["ok"], outcome["failed"]) == (1, 1)
    runs = pq.read_table(root / "runs.parquet").to_pylist()
    assert [r["status"] for r in runs] == ["ok", "failed"]
    assert "spine7" in runs[1]["error"] and runs[1]["flows"] is None
    assert runs[0]["error"] is None and runs[0]["flows"] == 16
    # the value's ":" is URI-escaped in the directory name and decoded by the readers
    assert runs[0]["path"] == "failures_0_target=link%3Aleaf0-spine0/seed=1"
    flows = sweep_dataset(root, "flows").to_table()
    assert set(flows.column("failures_0_target").to_pylist()) == {"link:leaf0-spine0"}


def test_killed_sweep_resumes_with_only_the_rest(tmp_path):
    file = _write(tmp_path, SLOW)
    root = tmp_path / "out"
    proc = _fabsim("sweep", str(file), "--out", str(root), "--jobs", "2", "--quiet", start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_summaries(root)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = {p: os.stat(p).st_mtime_ns for p in _summaries(root)}
    assert 3 <= len(before) < 12, "the sweep finished before it could be killed"

    proc = _fabsim("sweep", str(file), "--out", str(root), "--jobs", "2", "--resume", "--quiet", "--json")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["skipped"] == len(before) and outcome["ran"] == 12 - len(before) and outcome["ok"] == 12
    assert all(os.stat(p).st_mtime_ns == t for p, t in before.items())
    assert len(_summaries(root)) == 12
    assert not list(root.rglob(".*partial*"))
    assert pq.read_table(root / "runs.parquet").column("status").to_pylist() == ["ok"] * 12


def test_ctrl_c_stops_the_sweep_and_says_how_to_resume(tmp_path):
    file = _write(tmp_path, SLOW)
    root = tmp_path / "out"
    proc = _fabsim("sweep", str(file), "--out", str(root), "--jobs", "2")
    deadline = time.monotonic() + 300
    while len(_summaries(root)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    done = len(_summaries(root))
    assert proc.returncode == 130, err
    assert f"interrupted: {done} of 12 runs are finished" in " ".join(err.split()) and "--resume" in err
    runs = pq.read_table(root / "runs.parquet").column("status").to_pylist()
    assert runs.count("ok") == done and runs.count("pending") == 12 - done


def test_resume_refuses_another_sweep_and_a_plain_rerun_refuses_a_full_directory(grid_sweep, tmp_path, capsys):
    file, root = grid_sweep
    assert main(["sweep", str(file), "--out", str(root), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    other = _write(tmp_path, SCENARIO + GRID.replace("seeds = 3", "seeds = 2"))
    assert main(["sweep", str(other), "--out", str(root), "--resume", "--quiet"]) == 2
    assert "different sweep" in capsys.readouterr().err
    assert main(["sweep", str(file), "--out", str(root), "--resume", "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 12


def test_a_sweep_without_finished_runs_reads_as_an_empty_dataset(tmp_path):
    sweep = load_sweep(_write(tmp_path, SCENARIO + GRID))
    root = tmp_path / "out"
    root.mkdir()
    (root / "sweep.json").write_text(json.dumps(sweep.manifest()))
    flows = sweep_dataset(root, "flows").to_table()
    assert flows.num_rows == 0
    assert flows.schema.field("topology_spines").type == pa.int64() and "slowdown" in flows.schema.names


def _die_on_run_1(task):
    if task["run_id"] == 1:
        os._exit(3)  # a worker killed outright, e.g. by the kernel's OOM killer
    return {"run_id": task["run_id"], "status": "ok", "error": None, "wall_s": 0.0}


def test_a_worker_that_dies_fails_its_run_instead_of_the_sweep():
    from fabsim.sweep.execute import LocalPool

    pool = LocalPool(1)
    try:
        results = list(pool.map_unordered(_die_on_run_1, [{"run_id": i} for i in range(3)]))
    finally:
        pool.close()
    by_id = {r["run_id"]: r for r in results}
    assert sorted(by_id) == [0, 1, 2]
    assert by_id[1]["status"] == "failed" and "BrokenProcessPool" in by_id[1]["error"]


def test_a_cold_sweep_says_it_compiles_before_the_runs(tmp_path, capsys, monkeypatch):
    import fabsim.api

    monkeypatch.setattr(fabsim.api, "is_compiled", lambda engine: False)  # checked here, warmed in the worker
    file = _write(tmp_path, SCENARIO + "[sweep]\nseeds = 1\n")
    assert main(["sweep", str(file), "--out", str(tmp_path / "out"), "--jobs", "1", "--quiet"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "compiling the flow engine — first run on this machine, about 15 s"
    ]
