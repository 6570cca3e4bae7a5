"""Rich tables about a finished run or sweep, printed on stderr, and the figures behind them.

- :func:`print_run_summary`: the tables ``fabsim run`` prints after a run, from its ``Result``.
- :func:`print_report`: ``fabsim report DIR``, for a run directory (``summary.json`` and traces,
  see ``docs/traces.md``) or a sweep directory (``sweep.json``, ``runs.parquet`` and one run
  directory per grid point and seed).

The figures are computed by small public functions that :mod:`fabsim.plot` draws as well:
flow statistics per size bucket and per tag, per-job collective figures and the hottest links of
a run; for a sweep, its manifest and runs table (:class:`SweepResults`) and a metric's mean,
standard deviation and range over seeds at every grid point (:func:`grid_stats`). They use
pyarrow and NumPy only; what they describe is in ``docs/reports.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import UsageError
from .sweep.spec import Parameter
from .sweep.table import MANIFEST_FILE as SWEEP_MANIFEST  # a sweep directory holds these two files
from .sweep.table import RUNS_FILE as SWEEP_RUNS
from .sweep.table import is_sweep_dir, read_manifest
from .trace.stats import percentiles
from .trace.writer import SUMMARY_FILE, is_complete_run, read_run, read_summary
from .units import format_size, human_bytes, human_duration_ns

#: Flow-size buckets of the reports: (label, lowest size in bytes, first size above; None = no bound).
SIZE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("< 10 KB", 0, 10_000),
    ("10–100 KB", 10_000, 100_000),
    ("100 KB–1 MB", 100_000, 1_000_000),
    ("1–10 MB", 1_000_000, 10_000_000),
    ("≥ 10 MB", 10_000_000, None),
)

#: Percentile keys of ``percentiles()`` shown in the tables, and their column headers.
PERCENTILE_COLUMNS = {"p50": "p50", "p90": "p90", "p99": "p99", "p99_9": "p99.9", "max": "max"}

#: How many links the hottest-links table shows.
HOTTEST_LINKS = 10

#: Runs-table columns that identify a run rather than measure it.
_RUN_ID_COLUMNS = ("run_id", "seed")


# ---- what a directory holds ----------------------------------------------------------------------

def directory_kind(path: str | Path) -> str:
    """``"run"`` for a finished run directory, ``"sweep"`` for a sweep directory.

    Anything else raises :class:`~fabsim.errors.UsageError` naming ``path``.
    """
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    if is_sweep_dir(root):
        if not (root / SWEEP_RUNS).is_file():
            raise UsageError(f"{root}: {SWEEP_MANIFEST} without {SWEEP_RUNS}; the sweep has not written its runs table")
        return "sweep"
    if is_complete_run(root):
        return "run"
    raise UsageError(
        f"{root} is neither a fabsim run ({SUMMARY_FILE}) nor a sweep ({SWEEP_MANIFEST} and {SWEEP_RUNS})"
    )


# ---- flows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowGroup:
    """FCT and slowdown statistics of a group of flows (completed flows only).

    ``fct_ns`` and ``slowdown`` are :func:`fabsim.trace.percentiles` dicts (``p50`` … ``max``,
    ``mean``, ``count``); ``flows`` counts every flow of the group, ``completed`` the finished ones.
    """

    label: str
    flows: int
    completed: int
    fct_ns: dict
    slowdown: dict


def _group(label: str, select: np.ndarray, done: np.ndarray, fct_ns: np.ndarray, slowdown: np.ndarray) -> FlowGroup:
    mine = select & done
    return FlowGroup(label, int(select.sum()), int(mine.sum()), percentiles(fct_ns[mine]), percentiles(slowdown[mine]))


def _flow_columns(flows: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``size_bytes``, ``completed``, ``fct_ns`` and ``slowdown`` as NumPy arrays (nulls → 0)."""
    size = flows["size_bytes"].to_numpy()
    done = flows["completed"].to_numpy()
    fct = pc.fill_null(flows["fct_ns"], 0).to_numpy().astype(np.float64)
    slowdown = pc.fill_null(flows["slowdown"], 0.0).to_numpy()
    return size, done, fct, slowdown


def bucket_index(size_bytes: np.ndarray) -> np.ndarray:
    """The :data:`SIZE_BUCKETS` index of each flow size."""
    edges = [lo for _, lo, _ in SIZE_BUCKETS[1:]]
    return np.searchsorted(edges, np.asarray(size_bytes), side="right")


def flows_overall(flows: pa.Table) -> FlowGroup:
    """Statistics of every flow of a ``flows`` trace."""
    size, done, fct, slowdown = _flow_columns(flows)
    return _group("all", np.ones(size.size, bool), done, fct, slowdown)


def flows_by_size(flows: pa.Table) -> list[FlowGroup]:
    """Statistics per :data:`SIZE_BUCKETS` bucket, smallest first, for buckets that hold flows."""
    size, done, fct, slowdown = _flow_columns(flows)
    bucket = bucket_index(size)
    groups = (_group(label, bucket == i, done, fct, slowdown) for i, (label, _, _) in enumerate(SIZE_BUCKETS))
    return [g for g in groups if g.flows]


def flows_by_tag(flows: pa.Table) -> list[FlowGroup]:
    """Statistics per traffic tag, in the order the tags first occur."""
    size, done, fct, slowdown = _flow_columns(flows)
    tags = pc.cast(flows["tag"], pa.string()).to_numpy(zero_copy_only=False)
    names = list(dict.fromkeys(tags.tolist()))
    return [_group(name, tags == name, done, fct, slowdown) for name in names]


# ---- collectives and links -----------------------------------------------------------------------

@dataclass(frozen=True)
class JobFigures:
    """A collective job's iterations (``collectives`` trace); times in ns, busbw in Gbit/s.

    Means and maxima are over completed iterations (None when none completed).
    ``idle_fraction`` is the share of those iterations' time spent in the collective: the sum
    of their durations over the sum of durations and compute times, as ``summary.json``'s
    per-job ``idle_fraction``.
    """

    job: str
    collective: str
    iterations: int
    completed: int
    mean_duration_ns: float | None
    max_duration_ns: float | None
    mean_ideal_ns: float
    mean_busbw_gbps: float | None
    idle_fraction: float | None


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def _idle_fraction(done: list[dict]) -> float | None:
    busy = sum(r["duration_ns"] for r in done)
    total = busy + sum(r["compute_ns"] for r in done)
    return busy / total if total else None


def job_figures(collectives: pa.Table) -> list[JobFigures]:
    """One :class:`JobFigures` per job, in the order the jobs first occur in ``collectives``."""
    rows = collectives.to_pylist()
    jobs = list(dict.fromkeys(r["job"] for r in rows))
    figures = []
    for job in jobs:
        mine = [r for r in rows if r["job"] == job]
        done = [r for r in mine if r["duration_ns"] is not None]
        kinds = dict.fromkeys(
            f"{r['op']} {r['algorithm']} ×{r['ranks']}, {format_size(r['size_bytes'])}" for r in mine
        )
        figures.append(JobFigures(
            job=job,
            collective="; ".join(kinds),
            iterations=len(mine),
            completed=len(done),
            mean_duration_ns=_mean([r["duration_ns"] for r in done]),
            max_duration_ns=float(max(r["duration_ns"] for r in done)) if done else None,
            mean_ideal_ns=float(np.mean([r["ideal_ns"] for r in mine])),
            mean_busbw_gbps=_mean([r["busbw_gbps"] for r in done]),
            idle_fraction=_idle_fraction(done),
        ))
    return figures


def hottest_links(links: pa.Table, n: int = HOTTEST_LINKS) -> list[dict]:
    """The ``n`` links that sent anything with the highest utilization (ties: the deeper queue),
    as ``links`` rows (dicts)."""
    busy = links.filter(pc.greater(links["tx_bytes"], 0))
    order = pc.sort_indices(busy, sort_keys=[("utilization", "descending"), ("max_queue_bytes", "descending")])
    return busy.take(order[:n]).to_pylist()


def link_name(link: dict) -> str:
    """``"tor0→agg1"``: a ``links`` row's sending and receiving node."""
    return f"{link['src_node']}→{link['dst_node']}"


# ---- sweeps --------------------------------------------------------------------------------------

def position(param: Parameter, value: object) -> tuple[int, str]:
    """Sort key of ``value``: its place in the parameter's values, in sweep-file order (unknown
    values last, by text)."""
    for i, known in enumerate(param.values):
        if known == value and isinstance(known, bool) == isinstance(value, bool):
            return i, ""
    return len(param.values), str(value)


def is_numeric(param: Parameter) -> bool:
    """Whether the parameter's values are numbers (so plots use a numeric axis)."""
    return param.type in ("int64", "float64")


@dataclass(frozen=True)
class SweepResults:
    """A sweep directory: its manifest (``sweep.json``) and runs table (``runs.parquet``)."""

    root: Path
    manifest: dict
    runs: pa.Table

    @property
    def name(self) -> str:
        return self.manifest.get("name", self.root.name)

    @property
    def parameters(self) -> list[Parameter]:
        return [Parameter(p["key"], p["column"], tuple(p["values"]), p["type"]) for p in self.manifest["parameters"]]

    def zipped_with(self, index: int) -> list[int]:
        """Indices of the parameters that vary together with parameter ``index``: the other keys
        of its ``[sweep.zip]`` group (``sweep.json``'s ``axes``)."""
        params = self.parameters
        axis = next(a for a in self.manifest["axes"] if params[index].column in a)
        return [j for j, p in enumerate(params) if j != index and p.column in axis]

    def status_counts(self) -> dict[str, int]:
        """Runs per status: ``ok``, ``failed`` and ``pending``."""
        status = self.runs["status"].to_pylist()
        return {s: status.count(s) for s in ("ok", "failed", "pending")}

    def metric_columns(self) -> list[str]:
        """The numeric columns of the runs table that measure a run (parameters, ids excluded)."""
        skip = set(_RUN_ID_COLUMNS) | {p.column for p in self.parameters}
        return [
            f.name for f in self.runs.schema
            if f.name not in skip and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
        ]

    def default_metrics(self) -> list[str]:
        """``slowdown_p99``, and ``iteration_ns`` when some run has a job."""
        metrics = ["slowdown_p99"]
        if "iteration_ns" in self.runs.column_names and self.runs["iteration_ns"].null_count < self.runs.num_rows:
            metrics.append("iteration_ns")
        return metrics

    def metrics(self, metric: str | None) -> list[str]:
        """``[metric]`` if it is a metric column, the defaults if it is None; else UsageError."""
        if metric is None:
            return self.default_metrics()
        columns = self.metric_columns()
        if metric not in columns:
            raise UsageError(
                f"{self.root}: no metric {metric!r} in {SWEEP_RUNS}; numeric columns: {', '.join(columns)}"
            )
        return [metric]

    def failed_runs(self) -> list[dict]:
        """Rows of the runs that failed, with their ``path``, ``seed`` and ``error``."""
        return self.runs.filter(pc.equal(self.runs["status"], "failed")).to_pylist()


def read_sweep(root: str | Path) -> SweepResults:
    """The manifest and runs table of a sweep directory (UsageError if they are not readable)."""
    root = Path(root)
    manifest = read_manifest(root)
    try:
        runs = pq.read_table(root / SWEEP_RUNS)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise UsageError(f"{root}: cannot read the sweep: {exc}") from exc
    sweep = SweepResults(root, manifest, runs)
    needed = ["path", "status", "error"] + [p.column for p in sweep.parameters]
    missing = [c for c in needed if c not in runs.column_names]
    if missing:
        raise UsageError(f"{root / SWEEP_RUNS}: no column {', '.join(missing)} (is this a fabsim sweep?)")
    return sweep


@dataclass(frozen=True)
class GridPoint:
    """A metric over the seeds of one grid point: ``values`` are the parameter values in
    manifest order; ``std`` is the sample standard deviation (None with fewer than two seeds)."""

    values: tuple
    seeds_ok: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None


def grid_stats(sweep: SweepResults, metric: str) -> list[GridPoint]:
    """``metric`` per grid point over its ``ok`` runs with a value, grid points in manifest order."""
    params = sweep.parameters
    keys = list(zip(*(sweep.runs[p.column].to_pylist() for p in params))) or [()] * sweep.runs.num_rows
    ok = [s == "ok" for s in sweep.runs["status"].to_pylist()]
    values: dict[tuple, list[float]] = {}
    for key, good, value in zip(keys, ok, sweep.runs[metric].to_pylist()):
        seen = values.setdefault(key, [])
        if good and value is not None and not math.isnan(value):
            seen.append(float(value))
    order = sorted(values, key=lambda key: [position(p, v) for p, v in zip(params, key)])
    return [_grid_point(key, values[key]) for key in order]


def _grid_point(key: tuple, values: list[float]) -> GridPoint:
    if not values:
        return GridPoint(key, 0, None, None, None, None)
    x = np.asarray(values)
    std = float(x.std(ddof=1)) if x.size > 1 else None
    return GridPoint(key, int(x.size), float(x.mean()), std, float(x.min()), float(x.max()))


def metric_kind(metric: str) -> str:
    """How a runs-table column is shown: ``"time"`` (ns), ``"fraction"``, ``"bytes"`` or ``"number"``."""
    if metric.endswith("_ns") or "_ns_" in metric:  # iteration_ns, pause_ns_max
        return "time"
    if metric.endswith("_fraction"):
        return "fraction"
    if metric.endswith("_bytes"):
        return "bytes"
    return "number"


def format_metric(metric: str, value: float | None) -> str:
    """A value of runs-table column ``metric`` for a table cell ("—" for None)."""
    if value is None:
        return "—"
    kind = metric_kind(metric)
    if kind == "time":
        return human_duration_ns(value)
    if kind == "fraction":
        return f"{100 * value:.1f} %"
    if kind == "bytes":
        return human_bytes(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def format_value(value: object) -> str:
    """A parameter value as written in the sweep file (booleans as in TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- printing --------------------------------------------------------------------------------------

def print_report(path: str | Path, console: Console, metric: str | None = None) -> None:
    """``fabsim report``: the tables of a run directory or of a sweep directory.

    ``metric`` (a runs-table column) applies to sweeps only. A path that is neither, or a metric
    the runs table lacks, raises :class:`~fabsim.errors.UsageError`.
    """
    if directory_kind(path) == "sweep":
        print_sweep_report(read_sweep(path), console, metric)
        return
    if metric is not None:
        raise UsageError(f"{path} is a run; --metric applies to a sweep directory")
    print_run_report(path, console)


def print_run_summary(result, console: Console, path: Path | None = None) -> None:
    """Headline figures, FCT and slowdown percentiles, and per-job iteration figures."""
    s = result.summary
    console.print(_headline_table(s, path))
    console.print(_tail_table(s))
    if s.get("network"):
        console.print(_network_table(s["network"]))
    _print_failures(result.failures.to_pylist(), s, console)
    if s["jobs"]:
        console.print(_jobs_table(s))


def print_run_report(run_dir: str | Path, console: Console) -> None:
    """The tables of a run directory: headline, FCT and slowdown by flow size and tag, network,
    collectives per job, the hottest links and the failures."""
    s = read_summary(run_dir)
    traces = read_run(run_dir)
    console.print(_headline_table(s, Path(run_dir)))
    flows = traces["flows"]
    groups = [[flows_overall(flows)], flows_by_size(flows)]
    by_tag = flows_by_tag(flows)
    if len(by_tag) > 1:
        groups.append(by_tag)
    console.print(_groups_table("flow completion time (completed flows)", groups, "fct_ns", human_duration_ns))
    console.print(_groups_table("slowdown: FCT / ideal FCT (completed flows)", groups, "slowdown", _format_slowdown))
    if s.get("network"):
        console.print(_network_table(s["network"]))
    if "collectives" in traces and traces["collectives"].num_rows:
        console.print(_collectives_table(job_figures(traces["collectives"]), s))
    if "links" in traces:
        console.print(_links_table(hottest_links(traces["links"]), packets=bool(s.get("network"))))
    failures = traces.get("failures")
    _print_failures(failures.to_pylist() if failures is not None else [], s, console)


def print_sweep_report(sweep: SweepResults, console: Console, metric: str | None = None) -> None:
    """The tables of a sweep: its runs, then per metric its statistics over seeds at every grid
    point, then the failed runs with their errors."""
    metrics = sweep.metrics(metric)
    console.print(_sweep_table(sweep))
    for name in metrics:
        console.print(_grid_table(sweep, name))
    failed = sweep.failed_runs()
    if failed:
        table = Table(title="failed runs")
        for col in ("run", "error"):
            table.add_column(col, overflow="fold")
        for row in failed:
            table.add_row(escape(row["path"]), escape(row["error"] or "—"))
        console.print(table)


def _format_slowdown(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _headline_table(s: dict, path: Path | None) -> Table:
    head = Table(title=f"{escape(s['name'])}: {s['engine']} engine", show_header=False)
    head.add_row("flows completed", f"{s['flows_completed']:,} / {s['flows']:,}")
    others = [(name, n) for name, n in (s.get("flow_status") or {}).items() if n and name != "completed"]
    if others:  # why the rest did not complete (flows.status)
        head.add_row("flows not completed", ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in others))
    head.add_row("simulated time", human_duration_ns(s["simulated_ns"]))
    head.add_row("wall time", f"{s['wall_s']:.2f} s")
    if s.get("events_per_s"):
        head.add_row("events/s", f"{s['events_per_s']:,.0f}")
    if path is not None:
        head.add_row("traces", escape(str(path)))
    return head


def _tail_table(s: dict) -> Table:
    tail = Table(title="flow completion")
    for col in ("", *PERCENTILE_COLUMNS.values()):
        tail.add_column(col, justify="right")
    fct, slow = s["fct_ns"], s["slowdown"]
    tail.add_row("FCT", *(human_duration_ns(fct.get(k)) for k in PERCENTILE_COLUMNS))
    tail.add_row("slowdown", *(_format_slowdown(slow.get(k)) for k in PERCENTILE_COLUMNS))
    return tail


def _network_table(net: dict) -> Table:
    table = Table(title="network", show_header=False)
    table.add_row("packets dropped", f"{net['drops']:,}")
    if net.get("data_packets", {}).get("in_flight"):
        table.add_row("packets in flight at the end", f"{net['data_packets']['in_flight']:,}")
    table.add_row("bytes retransmitted", human_bytes(net["retransmitted_bytes"]))
    table.add_row("packets ECN-marked", f"{net['ecn_marked']:,}")
    if net.get("cc_signals"):
        table.add_row("DCQCN signals (CNPs or echoes)", f"{net['cc_signals']:,}")
    table.add_row("ports paused by PFC", f"{net['ports_paused']:,} (longest {human_duration_ns(net['pause_ns_max'])})")
    table.add_row("deepest queue", human_bytes(net["max_queue_bytes"]))
    return table


def _when(ns: int | None) -> str:
    return "—" if ns is None else human_duration_ns(ns)


def _print_failures(failures: list[dict], s: dict, console: Console) -> None:
    """The failures table, and how many flows a failure left unable to complete."""
    if not failures:
        return
    impact = Table(title="failures" + (" (added delay against the run without them)" if "baseline" in s else ""))
    for col in ("element", "down", "flows hit", "rerouted", "added delay"):
        impact.add_column(col, overflow="fold")
    for fl in failures:
        restored = _when(fl["restored_ns"]) if fl["restored_ns"] is not None else "end"
        impact.add_row(
            escape(fl["target"]), f"{_when(fl['at_ns'])} → {restored}",
            f"{fl['flows_hit']:,}", f"{fl['flows_rerouted']:,}", _when(fl["added_delay_ns"]),
        )
    console.print(impact)
    if s.get("flows_unreachable"):
        console.print(f"[bold]{s['flows_unreachable']:,} flows could not complete[/]: their destination became unreachable")


def _jobs_table(s: dict) -> Table:
    jobs = Table(title="jobs")
    cols = ["job", "iterations", "iteration time", "collective time", "GPU idle"]
    if "baseline" in s:
        cols.append("added by failures")
    for col in cols:
        jobs.add_column(col, justify="right")
    for name, j in s["jobs"].items():
        idle = "—" if j["idle_fraction"] is None else f"{100 * j['idle_fraction']:.1f} %"
        row = [
            escape(name), f"{j['iterations_completed']}/{j['iterations']}",
            human_duration_ns(j["mean_iteration_ns"]), human_duration_ns(j["mean_collective_ns"]), idle,
        ]
        if "baseline" in s:
            row.append("—" if j.get("added_ns") is None else human_duration_ns(j["added_ns"]))
        jobs.add_row(*row)
    return jobs


def _groups_table(title: str, sections: list[list[FlowGroup]], stat: str, fmt) -> Table:
    """Percentiles of ``stat`` (``fct_ns`` or ``slowdown``), one row per group, sections ruled off."""
    table = Table(title=title)
    table.add_column("flows", justify="left")
    table.add_column("count", justify="right")
    for col in PERCENTILE_COLUMNS.values():
        table.add_column(col, justify="right")
    for section in sections:
        for g in section:
            count = f"{g.completed:,}" if g.completed == g.flows else f"{g.completed:,} / {g.flows:,}"
            table.add_row(escape(g.label), count, *(fmt(getattr(g, stat)[k]) for k in PERCENTILE_COLUMNS))
        table.add_section()
    return table


def _collectives_table(figures: list[JobFigures], s: dict) -> Table:
    """Per job: iterations, collective duration (mean, max, ideal), busbw, GPU idle, iteration time."""
    table = Table(
        title="collectives per job (durations of completed iterations)",
        caption="; ".join(f"{escape(f.job)}: {escape(f.collective)}" for f in figures),
    )
    cols = ["job", "iterations", "mean", "max", "ideal", "busbw Gbit/s", "GPU idle", "iteration time"]
    if "baseline" in s:
        cols.append("added by failures")
    for col in cols:
        table.add_column(col, justify="left" if col == "job" else "right")
    jobs = s.get("jobs") or {}
    for f in figures:
        job = jobs.get(f.job, {})
        row = [
            escape(f.job), f"{f.completed}/{f.iterations}",
            human_duration_ns(f.mean_duration_ns), human_duration_ns(f.max_duration_ns),
            human_duration_ns(f.mean_ideal_ns),
            "—" if f.mean_busbw_gbps is None else f"{f.mean_busbw_gbps:.4g}",
            format_metric("idle_fraction", f.idle_fraction), human_duration_ns(job.get("mean_iteration_ns")),
        ]
        if "baseline" in s:
            row.append(human_duration_ns(job.get("added_ns")))
        table.add_row(*row)
    return table


def _links_table(links: list[dict], packets: bool) -> Table:
    """The hottest links: bytes sent for a flow-engine run, queues, drops, ECN marks and PFC
    pauses for a packet-engine run, and time down when a link failed."""
    table = Table(title=f"hottest links (top {HOTTEST_LINKS} by utilization)")
    table.add_column("link", no_wrap=True)
    table.add_column("tier", no_wrap=True)
    cols = ["utilization"] + (["max queue", "mean queue", "drops", "ECN", "PFC paused"] if packets else ["sent"])
    if any(link["down_ns"] for link in links):
        cols.append("down")
    for col in cols:
        table.add_column(col, justify="right")
    for link in links:
        row = [escape(link_name(link)), escape(link["tier"]), f"{100 * link['utilization']:.1f} %"]
        if packets:
            row += [
                human_bytes(link["max_queue_bytes"]), human_bytes(link["mean_queue_bytes"]),
                f"{link['drops']:,}", f"{link['ecn_marked']:,}", human_duration_ns(link["pause_ns"]),
            ]
        else:
            row.append(human_bytes(link["tx_bytes"]))
        if "down" in cols:
            row.append(human_duration_ns(link["down_ns"]))
        table.add_row(*row)
    return table


def _sweep_table(sweep: SweepResults) -> Table:
    counts = sweep.status_counts()
    table = Table(title=f"sweep {escape(sweep.name)}", show_header=False)
    if sweep.manifest.get("source"):
        table.add_row("source", escape(str(sweep.manifest["source"])))
    runs = f"{counts['ok']:,} ok, {counts['failed']:,} failed, {counts['pending']:,} pending"
    table.add_row("runs", f"{sweep.runs.num_rows:,}: {runs}")
    for p in sweep.parameters:
        table.add_row(escape(p.key), escape(", ".join(format_value(v) for v in p.values)))
    seeds = sweep.manifest.get("seeds")
    if seeds:
        table.add_row("seeds", ", ".join(str(s) for s in seeds))
    table.add_row("directory", escape(str(sweep.root)))
    return table


def _grid_table(sweep: SweepResults, metric: str) -> Table:
    """``metric`` over seeds at every grid point: seeds ok, mean, standard deviation, min, max."""
    points = grid_stats(sweep, metric)
    empty = all(p.mean is None for p in points)
    table = Table(
        title=f"{metric} over seeds (std: sample standard deviation)",
        caption=f"no finished run has a value of {metric}" if empty else None,
    )
    for p in sweep.parameters:
        table.add_column(escape(p.key), justify="left", overflow="fold")
    for col in ("seeds ok", "mean", "std", "min", "max"):
        table.add_column(col, justify="right")
    for point in points:
        stats = (point.mean, point.std, point.min, point.max)
        table.add_row(
            *(escape(format_value(v)) for v in point.values), str(point.seeds_ok),
            *(format_metric(metric, v) for v in stats),
        )
    return table
