"""``fabsim run`` with the flow engine: output directory, trace files, determinism, safety, flags.

Every run is in-process through ``fabsim.cli.main`` (which returns the exit code) from inside
``tmp_path``, so the default output ``runs/<name>`` lands there; one test starts a real process
and interrupts it with SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

import fabsim
import fabsim.api
import fabsim.run.flow
import fabsim.native
import fabsim.trace.writer
from fabsim.cli import main
from fabsim.trace import METADATA_KEYS, SCHEMA_VERSION, SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
TRACE_NAMES = ("flows", "collectives", "links", "failures")

# A k = 4 fat-tree (16 hosts): two allreduce jobs (ring over 8 ranks, halving-doubling over 4),
# a random permutation and a short Poisson background; ~250 flows, tens of ms of wall time.
SMALL = """
[run]
name = "small"
engine = "flow"
seed = 1

[topology]
kind = "fat_tree"
k = 4
host_rate = "100Gbps"
link_delay = "1us"

[[traffic]]
kind = "collective"
job = "train"
op = "allreduce"
algorithm = "ring"
size = "1MiB"
ranks = 8
placement = "strided"
iterations = 2
compute = "10us"

[[traffic]]
kind = "collective"
job = "hd"
op = "allreduce"
algorithm = "halving_doubling"
size = "512KiB"
ranks = 4
iterations = 2
compute = "5us"

[[traffic]]
kind = "permutation"
tag = "perm"
pattern = "random"
size = "256KB"

[[traffic]]
kind = "poisson"
tag = "background"
load = 0.3
sizes = "websearch"
duration = "200us"
"""

# Runs for ~20 s of wall time here (fat-tree k = 8, ~9,000 Poisson flows): long enough to be
# interrupted well after start-up and kernel loading (~1.6 s).
LONG = """
[run]
name = "long"
engine = "flow"
seed = 1

[topology]
kind = "fat_tree"
k = 8

[[traffic]]
kind = "poisson"
load = 0.5
sizes = "websearch"
duration = "200ms"
"""  # about 25 s of simulation on this machine kind: a real run is still going when interrupted


@pytest.fixture(scope="module", autouse=True)
def flow_engine_warm():
    """The flow engine compiled and marked as such in the kernel cache, as after ``fabsim
    warmup``: no run here (nor the real process below) prints the first-run notice."""
    fabsim.api.warm(("flow",))


@pytest.fixture
def small(tmp_path, monkeypatch):
    """The small scenario's path; the working directory is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def run_ok(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 0, err
    return out, err


def one_line(err: str) -> str:
    """The message of a failed command: exactly one non-empty line on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def read_trace(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → bytes), hidden ones included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """Hidden partial or old-run directories the writer may have left in ``parent``."""
    return sorted(p.name for p in parent.iterdir() if ".partial" in p.name or ".old" in p.name)


def check_run_dir(run_dir: Path, ext: str, seed: int) -> dict[str, pa.Table]:
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [f"{name}{ext}" for name in TRACE_NAMES] + ["summary.json"]
    )
    tables = {}
    for name in TRACE_NAMES:
        table = read_trace(run_dir / f"{name}{ext}")
        expected = SCHEMAS[name]
        assert table.schema.names == expected.names, name
        assert table.schema.types == expected.types, name
        for field in expected:
            assert table.schema.field(field.name).nullable == field.nullable, (name, field.name)
        meta = table.schema.metadata
        assert set(METADATA_KEYS) <= {k.decode() for k in meta}, name
        assert meta[b"fabsim.version"].decode() == fabsim.__version__
        assert meta[b"fabsim.schema_version"].decode() == str(SCHEMA_VERSION)
        assert meta[b"fabsim.seed"].decode() == str(seed)
        scenario = json.loads(meta[b"fabsim.scenario"])
        assert scenario["run"]["seed"] == seed
        assert scenario["run"]["engine"] == "flow"
        tables[name] = table
    return tables


# --- 1. where and what a run writes ---------------------------------------------------------


def test_default_out_dir_is_runs_name(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet"], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "small.toml"]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["small"]
    tables = check_run_dir(tmp_path / "runs" / "small", ".arrow", seed=1)
    summary = json.loads((tmp_path / "runs" / "small" / "summary.json").read_text())
    assert tables["flows"].num_rows == summary["flows"] > 0
    assert tables["collectives"].num_rows == 4  # 2 jobs × 2 iterations
    assert tables["links"].num_rows > 0 and tables["failures"].num_rows == 0


def test_default_name_is_file_stem(small, tmp_path, capsys):
    stem = tmp_path / "my-scenario.toml"
    stem.write_text(SMALL.replace('name = "small"\n', ""))
    run_ok(["run", stem, "--quiet"], capsys)
    check_run_dir(tmp_path / "runs" / "my-scenario", ".arrow", seed=1)


def test_out_option_creates_parents(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet", "--out", "a/b/c"], capsys)
    assert not (tmp_path / "runs").exists()
    check_run_dir(tmp_path / "a" / "b" / "c", ".arrow", seed=1)
    assert leftovers(tmp_path / "a" / "b") == []


def test_out_option_accepts_an_existing_empty_dir(small, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    run_ok(["run", small, "--quiet", "--out", tmp_path / "empty"], capsys)
    check_run_dir(tmp_path / "empty", ".arrow", seed=1)


def test_parquet_format(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet", "--out", "pq", "--set", 'output.format="parquet"'], capsys)
    tables = check_run_dir(tmp_path / "pq", ".parquet", seed=1)
    # the same rows as the Arrow files of the same run
    run_ok(["run", small, "--quiet", "--out", "ipc"], capsys)
    for name in TRACE_NAMES:
        assert tables[name].equals(read_trace(tmp_path / "ipc" / f"{name}.arrow")), name


# --- 2. determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_files(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet", "--out", "one"], capsys)
    run_ok(["run", small, "--quiet", "--out", "two"], capsys)
    one, two = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    assert one.keys() == two.keys()
    for name in one:
        if name != "summary.json":
            assert one[name] == two[name], name
    s1, s2 = (json.loads(d["summary.json"]) for d in (one, two))
    for s in (s1, s2):
        s.pop("wall_s"), s.pop("events_per_s")
    assert s1 == s2


def test_different_seed_gives_different_flows(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet", "--out", "s1"], capsys)
    run_ok(["run", small, "--quiet", "--out", "s2", "--seed", "2"], capsys)
    f1 = read_trace(tmp_path / "s1" / "flows.arrow")
    f2 = read_trace(tmp_path / "s2" / "flows.arrow")
    cols = ["src", "dst", "size_bytes", "start_ns"]
    assert f1.select(cols).to_pylist() != f2.select(cols).to_pylist()
    # the random permutation alone differs too
    perm1 = [r for r in f1.select(["src", "dst", "tag"]).to_pylist() if r["tag"] == "perm"]
    perm2 = [r for r in f2.select(["src", "dst", "tag"]).to_pylist() if r["tag"] == "perm"]
    assert len(perm1) == len(perm2) == 16 and perm1 != perm2
    assert f2.schema.metadata[b"fabsim.seed"] == b"2"


# --- 3. output safety -------------------------------------------------------------------------


def test_non_empty_out_dir_is_refused(small, tmp_path, capsys):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    code, out, err = run(["run", small, "--out", target], capsys)
    assert code == 2 and out == ""
    line = one_line(err)
    assert str(target) in line and "not empty" in line and "--overwrite" in line
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "small.toml"]


def test_previous_run_is_refused_without_overwrite(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet"], capsys)
    before = snapshot(tmp_path)
    code, _, err = run(["run", small, "--seed", "5"], capsys)
    assert code == 2
    assert str(Path("runs") / "small") in one_line(err)
    assert snapshot(tmp_path) == before


def test_overwrite_replaces_previous_run(small, tmp_path, capsys):
    run_ok(["run", small, "--quiet", "--set", 'output.format="parquet"'], capsys)
    run_ok(["run", small, "--quiet", "--seed", "9", "--overwrite"], capsys)
    run_dir = tmp_path / "runs" / "small"
    check_run_dir(run_dir, ".arrow", seed=9)  # the old .parquet files are gone
    assert json.loads((run_dir / "summary.json").read_text())["seed"] == 9
    assert leftovers(tmp_path / "runs") == []


def test_overwrite_refuses_a_dir_that_holds_no_run(small, tmp_path, capsys):
    target = tmp_path / "data"
    target.mkdir()
    (target / "precious.csv").write_text("1,2,3\n")
    before = snapshot(tmp_path)
    code, _, err = run(["run", small, "--out", target, "--overwrite"], capsys)
    assert code == 2 and str(target) in one_line(err)
    assert snapshot(tmp_path) == before


def test_out_path_that_is_a_file_is_refused(small, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = run(["run", small, "--out", "afile"], capsys)
    assert code == 2 and "afile" in one_line(err)
    assert (tmp_path / "afile").read_text() == "x"


def _interrupt_after(monkeypatch, module, attr, calls):
    """Make ``module.attr`` raise KeyboardInterrupt on its ``calls``-th call."""
    real = getattr(module, attr)
    seen = []

    def wrapper(*args, **kwargs):
        seen.append(1)
        if len(seen) >= calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, wrapper)
    return seen


def assert_interrupted(code, out, err):
    assert code == 130 and out == ""
    line = one_line(err)
    assert "interrupted" in line and "nothing was written" in line


def test_interrupted_simulation_writes_nothing(small, tmp_path, capsys, monkeypatch):
    # the second kernel slice is only asked for when the first did not finish the run
    seen = _interrupt_after(monkeypatch, fabsim.run.flow, "run_until", calls=2)
    code, out, err = run(["run", small, "--json"], capsys)
    assert len(seen) == 2
    assert_interrupted(code, out, err)
    assert one_line(err).endswith(str(Path("runs") / "small"))
    assert not (tmp_path / "runs" / "small").exists()
    assert not (tmp_path / "runs").exists() or leftovers(tmp_path / "runs") == []


def test_interrupted_write_leaves_no_partial_dir(small, tmp_path, capsys, monkeypatch):
    seen = _interrupt_after(monkeypatch, fabsim.trace.writer, "_write_table", calls=3)
    code, out, err = run(["run", small, "--out", "out/x"], capsys)
    assert len(seen) == 3
    assert_interrupted(code, out, err)
    assert not (tmp_path / "out" / "x").exists()
    assert leftovers(tmp_path / "out") == []


def test_interrupted_overwrite_keeps_the_old_run(small, tmp_path, capsys, monkeypatch):
    run_ok(["run", small, "--quiet"], capsys)
    before = snapshot(tmp_path)
    _interrupt_after(monkeypatch, fabsim.trace.writer, "_write_table", calls=2)
    code, out, err = run(["run", small, "--seed", "3", "--overwrite"], capsys)
    assert_interrupted(code, out, err)
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path / "runs") == []


def test_ctrl_c_of_a_real_process(tmp_path):
    path = tmp_path / "long.toml"
    path.write_text(LONG)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fabsim", "run", str(path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # start-up and kernel loading take ~1.6 s; then let it simulate ~1.5 s
        time.sleep(3.0)
        assert proc.poll() is None, "the scenario finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert time.monotonic() - t0 < 10, "SIGINT was not acted on promptly"
    assert proc.returncode == 130, err
    assert out == ""
    line = one_line(err)
    assert "interrupted" in line and "nothing was written" in line and "runs" in line
    assert not (tmp_path / "runs" / "long").exists()
    assert not (tmp_path / "runs").exists() or leftovers(tmp_path / "runs") == []


# --- 4. flags -------------------------------------------------------------------------------


def test_json_prints_summary(small, tmp_path, capsys):
    out, _ = run_ok(["run", small, "--json", "--quiet"], capsys)
    summary = json.loads(out)
    assert summary == json.loads((tmp_path / "runs" / "small" / "summary.json").read_text())
    for key in ("flows", "flows_completed", "fct_ns", "slowdown", "jobs", "events", "simulated_ns",
                "seed", "scenario"):
        assert key in summary, key
    assert summary["flows"] == summary["flows_completed"] > 0
    for stats in (summary["fct_ns"], summary["slowdown"]):
        for key in ("p50", "p90", "p99", "p99_9", "max"):
            assert isinstance(stats[key], (int, float)), key
        assert stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["p99_9"] <= stats["max"]
    assert summary["slowdown"]["p50"] >= 1 - 1e-9
    assert set(summary["jobs"]) == {"train", "hd"}
    for job in summary["jobs"].values():
        assert job["iterations"] == 2
        assert 0 < job["idle_fraction"] < 1
    assert summary["events"] > 0 and summary["simulated_ns"] > 0
    assert summary["seed"] == 1
    assert summary["scenario"]["run"]["name"] == "small"
    assert summary["engine"] == "flow"


def test_json_without_quiet_keeps_stdout_pure(small, capsys):
    out, err = run_ok(["run", small, "--json"], capsys)
    assert json.loads(out)["name"] == "small"
    assert "flows completed" in err


def test_quiet_prints_nothing(small, tmp_path, capsys):
    out, err = run_ok(["run", small, "--quiet"], capsys)
    assert out == "" and err == ""
    assert (tmp_path / "runs" / "small" / "summary.json").is_file()


def test_human_summary(small, capsys):
    out, err = run_ok(["run", small], capsys)
    assert out == ""
    assert "small" in err and "flows completed" in err
    assert "runs/small" in err.replace(os.sep, "/")


def test_names_that_look_like_markup_are_shown_verbatim(small, capsys, monkeypatch):
    out_dir = str(Path("o") / "[bold]x")
    argv = ["run", small, "--out", out_dir, "--set", 'run.name="[red]n"', "--set", 'traffic[0].job="[i]j"']
    _, err = run_ok(argv, capsys)
    assert out_dir in err and "[red]n" in err and "[i]j" in err
    _interrupt_after(monkeypatch, fabsim.run.flow, "run_until", calls=1)
    code, out, err = run([*argv, "--overwrite"], capsys)
    assert_interrupted(code, out, err)
    assert one_line(err).endswith(out_dir)


def test_seed_option(small, tmp_path, capsys):
    out, _ = run_ok(["run", small, "--quiet", "--json", "--seed", "7"], capsys)
    assert json.loads(out)["seed"] == 7
    tables = check_run_dir(tmp_path / "runs" / "small", ".arrow", seed=7)
    assert json.loads(tables["flows"].schema.metadata[b"fabsim.scenario"])["run"]["seed"] == 7


def test_engine_packet_option(small, tmp_path, capsys):
    out, _ = run_ok(["run", small, "--engine", "packet", "--set", 'cc.algorithm="none"', "--quiet", "--json"], capsys)
    summary = json.loads(out)
    assert summary["engine"] == "packet" and summary["packet_hops"] > 0
    assert summary["flows_completed"] == summary["flows"]


def test_engine_flow_option(small, tmp_path, capsys):
    small.write_text(SMALL.replace('engine = "flow"', 'engine = "packet"'))
    out, _ = run_ok(["run", small, "--engine", "flow", "--quiet", "--json"], capsys)
    assert json.loads(out)["engine"] == "flow"


@pytest.mark.parametrize("argv, fragment", [
    (["--set", "run.sede=3"], "run.sede"),
    (["--set", "topology.k=5"], "topology.k"),
    (["--set", "nonsense"], ""),
    (["--engine", "wormhole"], "engine"),
])
def test_bad_option_exits_2(small, tmp_path, capsys, argv, fragment):
    code, out, err = run(["run", small, *argv], capsys)
    assert code == 2 and out == ""
    if fragment != "engine":  # argparse prints a usage line before its message
        assert fragment in one_line(err)
    else:
        assert fragment in err
    assert not (tmp_path / "runs").exists()


def test_missing_scenario_exits_2(small, tmp_path, capsys):
    code, _, err = run(["run", tmp_path / "nope.toml"], capsys)
    assert code == 2 and "nope.toml" in one_line(err)


# --- 5. reading a run like a notebook ---------------------------------------------------------


def test_notebook_reading(small, tmp_path, capsys):
    pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    run_ok(["run", small, "--quiet"], capsys)
    run_dir = tmp_path / "runs" / "small"
    summary = json.loads((run_dir / "summary.json").read_text())

    with pa.memory_map(str(run_dir / "flows.arrow")) as source:
        flows = pa.ipc.open_file(source).read_all()
    df = flows.to_pandas()
    assert len(df) == summary["flows"]
    assert int(df["completed"].sum()) == summary["flows_completed"]
    done = df[df["completed"]]
    assert (done["fct_ns"] >= done["ideal_fct_ns"]).all()
    assert (done["slowdown"] >= 1 - 1e-9).all()
    assert df.loc[~df["completed"], "fct_ns"].isna().all()
    by_tag = df.groupby("tag", observed=True)["slowdown"].mean()
    assert set(by_tag.index) == {"collective", "perm", "background"}
    assert (by_tag >= 1 - 1e-9).all()
    assert df["job"].isna().sum() == (df["tag"] != "collective").sum()

    fl = pl.read_ipc(run_dir / "flows.arrow")
    assert fl.height == summary["flows"]
    assert fl.filter(pl.col("completed") & (pl.col("fct_ns") < pl.col("ideal_fct_ns"))).height == 0
    counts = dict(fl.group_by("tag").len().iter_rows())
    assert counts == df["tag"].value_counts().to_dict()

    coll = pl.read_ipc(run_dir / "collectives.arrow")
    assert coll.height == 4
    assert coll.filter(pl.col("finish_ns").is_null()).height == 0
    for row in coll.iter_rows(named=True):
        assert row["op"] == "allreduce"
        n = row["ranks"]
        assert n == (8 if row["job"] == "train" else 4)
        assert row["busbw_gbps"] / row["algbw_gbps"] == pytest.approx(2 * (n - 1) / n, rel=1e-12)
        assert row["algbw_gbps"] == pytest.approx(8 * row["size_bytes"] / row["duration_ns"], rel=1e-3)
        assert row["duration_ns"] == row["finish_ns"] - row["start_ns"]
        assert row["duration_ns"] >= row["ideal_ns"] > 0
    # every collective flow points at a collectives row of its own job and iteration
    joined = fl.filter(pl.col("collective").is_not_null()).join(
        coll.with_row_index("collective").with_columns(pl.col("collective").cast(pl.Int32)),
        on="collective", suffix="_c",
    )
    assert joined.height == fl.filter(pl.col("collective").is_not_null()).height
    assert (joined["job"].cast(pl.String) == joined["job_c"].cast(pl.String)).all()
    assert (joined["iteration"] == joined["iteration_c"]).all()


def test_a_run_does_not_import_pandas(small, tmp_path):
    """pyarrow.array imports pandas when it is installed (a quarter of a second per run): traces
    are built from NumPy buffers instead. Trivially true where pandas is absent."""
    code = (
        "import sys\n"
        "from fabsim.cli import main\n"
        f"status = main(['run', {str(small)!r}, '--out', {str(tmp_path / 'out')!r}, '--quiet'])\n"
        "sys.exit(3 if 'pandas' in sys.modules else status)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- 5. a first run says it compiles; warmup shows each kernel --------------------------------

NOTICE = "compiling the flow engine — first run on this machine, about 15 s"


def test_a_first_run_says_it_compiles_before_the_wait(small, tmp_path, capsys, monkeypatch):
    warmed = []
    monkeypatch.setattr(fabsim.api, "is_compiled", lambda engine: False)
    monkeypatch.setattr(fabsim.api, "warm", lambda engines, on_step=None: warmed.append(engines))
    out, err = run_ok(["run", small, "--json"], capsys)
    assert warmed == [("flow",)]
    assert err.splitlines()[0] == NOTICE
    assert json.loads(out)["engine"] == "flow"
    assert (tmp_path / "runs" / "small" / "summary.json").is_file()


def test_a_compiled_engine_runs_without_the_notice(small, capsys, monkeypatch):
    def no_warm(engines, on_step=None):
        raise AssertionError("warm called for a compiled engine")

    monkeypatch.setattr(fabsim.api, "is_compiled", lambda engine: True)
    monkeypatch.setattr(fabsim.api, "warm", no_warm)
    _, err = run_ok(["run", small], capsys)
    assert "compiling" not in err


def test_the_notice_names_the_packet_engine_and_its_time():
    from fabsim.cli.progress import compile_message

    assert compile_message(["packet"]) == "compiling the packet engine — first run on this machine, about 1 min"
    assert compile_message(["flow", "packet"]).startswith("compiling the flow and packet engines — ")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A kernel cache directory of its own, no engine warmed in this process, and a ``simulate``
    that compiles nothing."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(fabsim.native, "CACHE_DIR", str(cache))
    monkeypatch.setattr(fabsim.api, "_warm_here", set())
    ran = []
    monkeypatch.setattr(fabsim.api, "simulate", lambda scenario: ran.append(scenario))
    return cache, ran


def test_warmup_prints_one_line_per_kernel_and_marks_the_cache(empty_cache, capsys):
    cache, ran = empty_cache
    assert not fabsim.api.is_compiled("flow") and not fabsim.api.is_compiled("packet")
    out, err = run_ok(["warmup"], capsys)
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [v[1] for v in fabsim.api.WARM_VARIANTS]
    assert all(line.endswith(" s") for line in lines[:-1])
    assert lines[-1].startswith("kernels compiled and cached in ") and str(cache) in lines[-1]
    assert [sc.run.engine for sc in ran] == ["flow"] + ["packet"] * 6
    assert [fabsim.api.kernel_set(sc) for sc in ran] == [v[0] for v in fabsim.api.WARM_VARIANTS]
    assert sorted(p.name for p in cache.iterdir()) == [
        "warm-flow", "warm-packet", "warm-packet-core", "warm-packet-full", "warm-packet-full-core"]


def test_is_compiled_reads_the_marker_of_the_current_cache(empty_cache, monkeypatch):
    cache, _ = empty_cache
    assert not fabsim.api.is_compiled("packet")
    (cache / "warm-packet").touch()
    assert fabsim.api.is_compiled("packet") and not fabsim.api.is_compiled("flow")
    assert fabsim.api.is_compiled("packet-core") and not fabsim.api.is_compiled("packet-full-core")
    (cache / "warm-packet-full").touch()
    assert fabsim.api.is_compiled("packet-full-core")
    monkeypatch.setattr(fabsim.native, "CACHE_DIR", None)  # nothing cached: always a compile
    assert not fabsim.api.is_compiled("packet")


def test_a_run_without_failures_or_rate_samples_compiles_only_the_packet_core(empty_cache):
    from fabsim.cli.progress import compile_message

    cache, ran = empty_cache

    def scenario(**extra):
        return fabsim.load_scenario({
            "run": {"engine": "packet"}, "topology": {"kind": "star", "hosts": 4},
            "traffic": [{"kind": "incast", "receiver": 0, "senders": 2, "size": "8KB"}], **extra,
        })

    assert fabsim.api.kernel_set(scenario()) == "packet-core"
    assert fabsim.api.kernel_set(scenario(failures=[{"target": "link:h1-sw0", "at": "1us"}])) == "packet"
    assert fabsim.api.kernel_set(scenario(output={"cc_sample": "1us"})) == "packet"
    assert fabsim.api.kernel_set(scenario(output={"cc_sample": "1us"}, cc={"algorithm": "none"})) == "packet-core"
    assert fabsim.api.kernel_set(scenario(run={"engine": "flow"})) == "flow"
    assert fabsim.api.kernel_set(scenario(host={"transport": "sr"})) == "packet-full-core"
    assert fabsim.api.kernel_set(scenario(routing={"ecmp": "reps"}, output={"cc_sample": "1us"})) == "packet-full"
    assert compile_message(["packet-full-core"]).startswith("compiling the full packet engine — ")
    with pytest.raises(ValueError, match="no kernel set 'packet-sr'"):
        fabsim.api.warm(("packet-sr",))
    assert compile_message(["packet-core"]) == "compiling the packet engine — first run on this machine, about 50 s"
    fabsim.api.warm(("packet-core",))
    (core,) = ran
    assert core.run.engine == "packet" and not core.failures and core.output.cc_sample_ps == 0
    assert fabsim.api.is_compiled("packet-core") and not fabsim.api.is_compiled("packet")
    fabsim.api.warm(("packet-core",))  # warmed in this process already: nothing runs again
    assert len(ran) == 1
    (cache / "warm-packet").touch()  # the whole packet engine includes its core
    fabsim.api._warm_here.clear()
    (cache / "warm-packet-core").unlink()
    assert fabsim.api.is_compiled("packet-core")


def test_ctrl_c_during_the_first_compile_exits_130_and_writes_nothing(small, tmp_path, capsys, monkeypatch):
    def interrupted(engines, on_step=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(fabsim.api, "is_compiled", lambda engine: False)
    monkeypatch.setattr(fabsim.api, "warm", interrupted)
    code, out, err = run(["run", small], capsys)
    assert code == 130 and out == ""
    assert err.splitlines() == [NOTICE, "interrupted"]
    assert not (tmp_path / "runs").exists()
