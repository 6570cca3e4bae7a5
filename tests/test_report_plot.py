"""``fabsim report`` and ``fabsim plot`` on run and sweep directories.

The runs are tiny: a flow-engine leaf-spine run with a collective job, an incast and Poisson
background; a packet-engine run of the same fabric with queue and DCQCN rate samples; and a
2 × 2 × 2-seed sweep of flow-engine runs written one by one into the layout of ``fabsim sweep``
(one hive-style run directory per grid point and seed, and ``sweep.json`` and ``runs.parquet``
made by ``fabsim.sweep.table``), with one failed run.
"""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import fabsim
from fabsim.cli import main
from fabsim.errors import UsageError
from fabsim.analysis.flows import SIZE_BUCKETS, flows_by_size
from fabsim.analysis.sweeps import grid_stats, is_numeric, read_sweep
from fabsim.cli.report import print_report
from fabsim.sweep.table import runs_table, summary_figures, write_manifest, write_runs_table
from fabsim.trace import read_run, read_summary
from fabsim.units import human_duration_ns

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_WIDTH_PX, MIN_HEIGHT_PX = 400, 300
# Every figure draws its first line, bar or segment in matplotlib's first colour, C0 (#1f77b4).
FIRST_LINE_RGB = np.array([0x1F, 0x77, 0xB4])
MIN_DATA_PIXELS = 300

BASE = {
    "topology": {"kind": "leaf_spine", "leaves": 2, "spines": 2, "hosts_per_leaf": 4, "link_delay": "1us"},
    "traffic": [
        {"kind": "collective", "job": "train", "op": "allreduce", "size": "256KiB", "ranks": 4,
         "placement": "strided", "iterations": 3, "compute": "20us"},
        {"kind": "poisson", "tag": "background", "load": 0.3, "sizes": "websearch", "duration": "100us"},
        {"kind": "incast", "tag": "incast", "receiver": 0, "senders": 5, "size": "300KB"},
        {"kind": "flow", "tag": "elephant", "flows": [{"src": 1, "dst": 6, "size": "12MB"},
                                                      {"src": 3, "dst": 5, "size": "3MB"}]},
        {"kind": "flow", "tag": "mouse", "flows": [{"src": 2, "dst": 7, "size": "4KB"},
                                                   {"src": 7, "dst": 2, "size": "100KB"}]},
    ],
}

SWEEP_PARAMETERS = [
    {"key": "topology.fabric_rate", "column": "topology_fabric_rate", "type": "string", "values": ["50Gbps", "100Gbps"]},
    {"key": "traffic.1.load", "column": "traffic_1_load", "type": "float64", "values": [0.2, 0.5]},
]
SWEEP_SEEDS = [1, 2]
FAILED = ("50Gbps", 0.5, 2)
FAILED_ERROR = "SimulationError: the packet pool is exhausted (raise run.packet_pool)"


def scenario(**sections) -> fabsim.Scenario:
    doc = {**BASE, **sections}
    return fabsim.load_scenario(doc)


def cli(argv, capsys) -> tuple[int, str]:
    """Exit code and stderr of ``fabsim ARGV``."""
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def report_text(path: Path, metric: str | None = None) -> str:
    console = Console(file=io.StringIO(), width=200)
    print_report(path, console, metric=metric)
    return console.file.getvalue()


def table_rows(text: str, title: str) -> list[list[str]]:
    """The body rows (stripped cells) of the first table printed after ``title``."""
    lines = text.split(title, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("┡", "├")))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("└"):
            return rows
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.split("│")[1:-1]])
    return rows


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG file's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_png(path: Path) -> None:
    """A readable PNG of sensible size that is not a blank canvas."""
    from matplotlib.image import imread

    width, height = png_size(path)
    assert width >= MIN_WIDTH_PX and height >= MIN_HEIGHT_PX, (path.name, width, height)
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    rgb = (pixels[..., :3] * 255).round().astype(np.int64)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert colours.size > 10, f"{path.name} is blank"
    near_c0 = (np.abs(rgb - FIRST_LINE_RGB) <= 8).all(axis=-1).sum()
    assert near_c0 >= MIN_DATA_PIXELS, f"{path.name}: no data drawn in the first line colour ({near_c0} pixels)"


# ---- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flow_run(tmp_path_factory) -> Path:
    """A finished flow-engine run with a collective job, four tags and sizes in every bucket."""
    path = tmp_path_factory.mktemp("flow") / "run"
    fabsim.simulate(scenario(run={"engine": "flow", "name": "flowrun", "seed": 1})).write(path)
    return path


@pytest.fixture(scope="module")
def packet_run(tmp_path_factory) -> Path:
    """A finished packet-engine run with DCQCN and queue and rate samples."""
    path = tmp_path_factory.mktemp("packet") / "run"
    sc = scenario(
        run={"engine": "packet", "name": "packetrun", "seed": 1},
        traffic=BASE["traffic"][:3],
        cc={"algorithm": "dcqcn"},
        output={"queue_sample": "10us", "cc_sample": "10us"},
    )
    fabsim.simulate(sc).write(path)
    return path


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A 2 × 2 grid × 2 seeds sweep of flow-engine runs; run ``FAILED`` failed."""
    root = tmp_path_factory.mktemp("sweep") / "grid"
    runs, rows = [], {}
    grid = itertools.product(*(p["values"] for p in SWEEP_PARAMETERS), SWEEP_SEEDS)
    for run_id, (rate, load, seed) in enumerate(grid):
        rel = f"topology_fabric_rate={rate}/traffic_1_load={load}/seed={seed}"
        params = {"topology.fabric_rate": rate, "traffic.1.load": load}
        runs.append({"run_id": run_id, "path": rel, "params": params, "seed": seed})
        failed = (rate, load, seed) == FAILED
        if not failed:
            traffic = [dict(t) for t in BASE["traffic"]]
            traffic[1]["load"] = load
            sc = scenario(
                run={"engine": "flow", "name": "grid", "seed": seed},
                topology={**BASE["topology"], "fabric_rate": rate},
                traffic=traffic,
                output={"format": "parquet"},
            )
            result = fabsim.simulate(sc)
            result.write(root / rel)
            summary = result.summary
        rows[run_id] = (
            {"status": "failed", "error": FAILED_ERROR, "wall_s": 0.5} if failed
            else {"status": "ok", "error": None, "wall_s": 0.5, **summary_figures(summary)}
        )
    manifest = {
        "fabsim_version": fabsim.__version__, "name": "grid", "source": "grid.toml", "format": "parquet",
        "baseline": False, "parameters": SWEEP_PARAMETERS, "axes": [["topology_fabric_rate"], ["traffic_1_load"]],
        "seeds": SWEEP_SEEDS, "runs": runs,
    }
    write_manifest(root, manifest)
    write_runs_table(root, runs_table(manifest, rows))
    return root


# ---- report: runs --------------------------------------------------------------------------------

def test_report_of_a_flow_run(flow_run, capsys):
    code, err = cli(["report", flow_run], capsys)
    assert code == 0, err
    summary = read_summary(flow_run)
    text = report_text(flow_run)
    for label, _, _ in SIZE_BUCKETS:
        assert label in text, label
    for tag in ("collective", "background", "incast", "elephant", "mouse"):
        assert tag in text
    rows = {r[0]: r for r in table_rows(text, "flow completion time")}
    assert rows["all"][1] == f"{summary['flows_completed']:,}"
    assert rows["all"][4] == human_duration_ns(summary["fct_ns"]["p99"])
    assert list(rows)[1:6] == [label for label, _, _ in SIZE_BUCKETS]
    links = read_run(flow_run)["links"].to_pandas().sort_values("utilization", ascending=False)
    top = links.iloc[0]
    assert f"{top.src_node}→{top.dst_node}" in text
    assert "train" in text and "allreduce ring ×4, 256 KiB" in text
    assert "3/3" in text


def test_bucket_percentiles_match_pandas(flow_run):
    flows = read_run(flow_run)["flows"]
    df = flows.to_pandas()
    df = df[df.completed]
    edges = [0, 10_000, 100_000, 1_000_000, 10_000_000, np.inf]  # a flow of exactly 100 KB is in 100 KB–1 MB
    labels = ["< 10 KB", "10–100 KB", "100 KB–1 MB", "1–10 MB", "≥ 10 MB"]
    df["bucket"] = pd.cut(df.size_bytes, edges, right=False, labels=labels)
    expected = df.groupby("bucket", observed=True).agg(n=("fct_ns", "size"), p99=("fct_ns", lambda x: x.quantile(0.99)),
                                                        s50=("slowdown", "median"))
    groups = flows_by_size(flows)
    assert [g.label for g in groups] == list(expected.index)
    for g in groups:
        row = expected.loc[g.label]
        assert g.completed == row.n
        assert g.fct_ns["p99"] == pytest.approx(row.p99)
        assert g.slowdown["p50"] == pytest.approx(row.s50)


def test_report_of_a_packet_run_shows_the_hottest_link_and_its_queue(packet_run, capsys):
    code, err = cli(["report", packet_run], capsys)
    assert code == 0, err
    text = report_text(packet_run)
    links = read_run(packet_run)["links"].to_pandas()
    top = links.sort_values(["utilization", "max_queue_bytes"], ascending=False).iloc[0]
    line = next(line for line in text.splitlines() if f"│ {top.src_node}→{top.dst_node} " in line)
    assert f"{100 * top.utilization:.1f} %" in line
    assert "network" in text and "PFC paused" in text and "ECN" in text


def test_report_lists_failures(tmp_path):
    sc = scenario(
        run={"engine": "flow", "name": "broken", "seed": 1},
        failures=[{"target": "switch:spine0", "at": "20us", "duration": "50us"}],
    )
    fabsim.simulate(sc, baseline=True).write(tmp_path / "run")
    text = report_text(tmp_path / "run")
    assert "failures (added delay against the run without them)" in text
    assert "switch:spine0" in text and "20 µs → 70 µs" in text
    assert "added by failures" in text


# ---- report: sweeps ------------------------------------------------------------------------------

def test_report_of_a_sweep(sweep_dir, capsys):
    code, err = cli(["report", sweep_dir], capsys)
    assert code == 0, err
    text = report_text(sweep_dir)
    assert "sweep grid" in text and "8: 7 ok, 1 failed, 0 pending" in text
    assert "slowdown_p99 over seeds" in text and "iteration_ns over seeds" in text
    assert FAILED_ERROR in text and "topology_fabric_rate=50Gbps/traffic_1_load=0.5/seed=2" in text
    rows = table_rows(text, "slowdown_p99 over seeds")
    assert [r[:3] for r in rows] == [  # in the manifest's order of values, not sorted
        ["50Gbps", "0.2", "2"], ["50Gbps", "0.5", "1"], ["100Gbps", "0.2", "2"], ["100Gbps", "0.5", "2"],
    ]
    assert rows[1][4] == "—"  # one seed: no standard deviation


def test_sweep_statistics_match_pandas(sweep_dir):
    df = pq.read_table(sweep_dir / "runs.parquet").to_pandas()
    df = df[df.status == "ok"]
    by_point = df.groupby(["topology_fabric_rate", "traffic_1_load"]).iteration_ns
    expected = by_point.agg(["count", "mean", "std", "min", "max"])
    points = grid_stats(read_sweep(sweep_dir), "iteration_ns")
    assert [p.values for p in points] == [("50Gbps", 0.2), ("50Gbps", 0.5), ("100Gbps", 0.2), ("100Gbps", 0.5)]
    for p in points:
        row = expected.loc[p.values]
        assert p.seeds_ok == row["count"]
        assert p.mean == pytest.approx(row["mean"]) and p.min == row["min"] and p.max == row["max"]
        assert p.std == (pytest.approx(row["std"]) if row["count"] > 1 else None)
    failed = points[1]
    assert failed.seeds_ok == 1 and failed.std is None


def test_sweep_report_with_a_chosen_metric(sweep_dir):
    text = report_text(sweep_dir, metric="fct_p50_ns")
    assert "fct_p50_ns over seeds" in text and "slowdown_p99" not in text
    df = pq.read_table(sweep_dir / "runs.parquet").to_pandas()
    first = df[(df.topology_fabric_rate == "100Gbps") & (df.traffic_1_load == 0.2)].fct_p50_ns
    assert human_duration_ns(first.mean()) in text


def test_unknown_metric_is_a_usage_error_listing_the_columns(sweep_dir, capsys):
    code, err = cli(["report", sweep_dir, "--metric", "nonsense"], capsys)
    assert code == 2
    assert "nonsense" in err and "slowdown_p99" in err and "iteration_ns" in err and "wall_s" in err
    assert "topology_fabric_rate" not in err.split("numeric columns")[1]
    code, err = cli(["plot", sweep_dir, "--metric", "nonsense"], capsys)
    assert code == 2 and "slowdown_p99" in err


@pytest.mark.parametrize("command", ["report", "plot"])
def test_a_directory_that_is_neither_is_a_usage_error(tmp_path, capsys, command):
    (tmp_path / "stuff").mkdir()
    code, err = cli([command, tmp_path / "stuff"], capsys)
    assert code == 2 and "stuff" in err and "neither a fabsim run" in err
    code, err = cli([command, tmp_path / "missing"], capsys)
    assert code == 2 and "missing" in err


def test_metric_on_a_run_is_a_usage_error(flow_run, capsys):
    code, err = cli(["report", flow_run, "--metric", "slowdown_p99"], capsys)
    assert code == 2 and "--metric" in err


# ---- plot ----------------------------------------------------------------------------------------

def test_plot_of_a_flow_run(flow_run, tmp_path, capsys):
    out = tmp_path / "figs"
    code, err = cli(["plot", flow_run, "--out", out], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["collectives.png", "fct_cdf.png", "slowdown_by_size.png"]
    for name in names:
        assert str(out / name) in err.replace("\n", "")
        check_png(out / name)


def test_plot_of_a_packet_run_defaults_to_its_plots_directory(packet_run, capsys):
    code, err = cli(["plot", packet_run], capsys)
    assert code == 0, err
    out = packet_run / "plots"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["collectives.png", "fct_cdf.png", "queues.png", "rates.png", "slowdown_by_size.png"]
    for name in names:
        check_png(out / name)


def test_plot_of_a_sweep(sweep_dir, tmp_path, capsys):
    out = tmp_path / "sweep-figs"
    code, err = cli(["plot", sweep_dir, "--out", out], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{m}_vs_{c}.png" for m in ("iteration_ns", "slowdown_p99")
                     for c in ("topology_fabric_rate", "traffic_1_load")]
    for name in names:
        check_png(out / name)
    code, err = cli(["plot", sweep_dir, "--out", out, "--metric", "wall_s"], capsys)
    assert code == 0, err
    assert (out / "wall_s_vs_traffic_1_load.png").is_file()


def test_plot_without_matplotlib_says_how_to_install_it(flow_run, tmp_path, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(__import__("sys").modules, module, None)
    from fabsim.cli.plot import plot_dir

    with pytest.raises(UsageError, match=r"pip install 'fabsim\[plot\]'"):
        plot_dir(flow_run, out_dir=tmp_path / "none")


# ---- a sweep written by fabsim sweep -------------------------------------------------------------

ZIP_SWEEP = """
[run]
name = "zipped"
engine = "flow"

[topology]
kind = "star"
hosts = 8

[[traffic]]
kind = "collective"
job = "train"
op = "allreduce"
size = "1MiB"
iterations = 2

[[traffic]]
kind = "poisson"
load = 0.3
sizes = "websearch"
duration = "50us"

[sweep]
seeds = 2

[sweep.grid]
"topology.host_rate" = ["100Gbps", "50Gbps"]

[sweep.zip]
"traffic.0.size" = [262144, 4194304]
"traffic.0.compute" = ["10us", "20us"]
"""


def test_report_and_plot_of_a_sweep_written_by_fabsim_sweep(tmp_path, capsys):
    (tmp_path / "zipped.toml").write_text(ZIP_SWEEP)
    root = tmp_path / "out"
    code, err = cli(["sweep", tmp_path / "zipped.toml", "--out", root, "--jobs", "1", "--quiet"], capsys)
    assert code == 0, err
    sweep = read_sweep(root)
    assert [p.column for p in sweep.parameters] == ["topology_host_rate", "traffic_0_size", "traffic_0_compute"]
    assert [sweep.zipped_with(i) for i in range(3)] == [[], [2], [1]]
    assert is_numeric(sweep.parameters[1]) and not is_numeric(sweep.parameters[2])

    text = report_text(root)
    assert "8: 8 ok, 0 failed, 0 pending" in text
    rows = table_rows(text, "iteration_ns over seeds")
    assert [r[:4] for r in rows] == [
        ["100Gbps", "262144", "10us", "2"], ["100Gbps", "4194304", "20us", "2"],
        ["50Gbps", "262144", "10us", "2"], ["50Gbps", "4194304", "20us", "2"],
    ]

    code, err = cli(["plot", root], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (root / "plots").iterdir())
    assert names == sorted(f"{m}_vs_{c}.png" for m in ("slowdown_p99", "iteration_ns")
                           for c in ("topology_host_rate", "traffic_0_size", "traffic_0_compute"))
    for name in names:
        check_png(root / "plots" / name)
