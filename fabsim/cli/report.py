"""Rich tables about a finished run or sweep, printed on stderr.

- :func:`print_run_summary`: the tables ``fabsim run`` prints after a run, from its ``Result``.
- :func:`print_report`: ``fabsim report DIR``, for a run directory (``summary.json`` and traces,
  see ``docs/traces.md``) or a sweep directory (``sweep.json``, ``runs.parquet`` and one run
  directory per grid point and seed).

The figures in the tables are computed in :mod:`fabsim.analysis` (which ``fabsim plot`` draws
as well); this module only lays them out. What they describe is in ``docs/reports.md``.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..analysis.flows import HOTTEST_LINKS, FlowGroup, flows_by_size, flows_by_tag, flows_overall, hottest_links, link_name
from ..analysis.jobs import JobFigures, job_figures
from ..analysis.training import BREAKDOWN, TrainingFigures, training_figures
from ..analysis.sweeps import SweepResults, directory_kind, format_value, grid_stats, metric_kind, read_sweep
from ..errors import UsageError
from ..trace.writer import read_run, read_summary
from ..units import human_bytes, human_duration_ns

#: Percentile keys of ``percentiles()`` shown in the tables, and their column headers.
PERCENTILE_COLUMNS = {"p50": "p50", "p90": "p90", "p99": "p99", "p99_9": "p99.9", "max": "max"}


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
    """Headline figures, FCT and slowdown percentiles, per-job iteration figures of collective
    jobs, and where the GPU time of training jobs went."""
    s = result.summary
    console.print(_headline_table(s, path))
    console.print(_tail_table(s))
    if s.get("network"):
        console.print(_network_table(s["network"]))
    _print_failures(result.failures.to_pylist(), s, console)
    if _collective_jobs(s):
        console.print(_jobs_table(s))
    training = result.extra.get("jobs")
    if training is not None and training.num_rows:
        console.print(_training_table(training_figures(training), s))


def print_run_report(run_dir: str | Path, console: Console) -> None:
    """The tables of a run directory: headline, FCT and slowdown by flow size and tag, network,
    collectives per job, training jobs, the hottest links and the failures."""
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
    if "jobs" in traces and traces["jobs"].num_rows:
        console.print(_training_table(training_figures(traces["jobs"]), s))
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
    if net.get("retransmitted_trim_bytes"):
        table.add_row("  of those, resent on a trim NACK", human_bytes(net["retransmitted_trim_bytes"]))
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


def _collective_jobs(s: dict) -> dict:
    """The summary's jobs that are collective jobs (``[[traffic]]`` ``job``), not training jobs."""
    return {name: j for name, j in (s.get("jobs") or {}).items() if j.get("kind") != "training"}


def _jobs_table(s: dict) -> Table:
    jobs = Table(title="jobs")
    cols = ["job", "iterations", "iteration time", "collective time", "GPU idle"]
    if "baseline" in s:
        cols.append("added by failures")
    for col in cols:
        jobs.add_column(col, justify="right")
    for name, j in _collective_jobs(s).items():
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


def _share(ns: float | None, of: float | None) -> str:
    """A time and its share of ``of``: ``"169.4 µs (8.9 %)"``."""
    if ns is None:
        return "—"
    if not of:
        return human_duration_ns(ns)
    return f"{human_duration_ns(ns)} ({100 * ns / of:.1f} %)"


def _training_table(figures: list[TrainingFigures], s: dict) -> Table:
    """Per training job (a column each): iterations, iteration time, ideal, network cost, and
    where a rank's iteration went (compute, exposed communication by kind, pipeline bubble)."""
    table = Table(
        title="training jobs (mean per iteration and rank)",
        caption="compute + exposed + bubble = iteration",
    )
    table.add_column("", justify="left")
    for f in figures:
        table.add_column(escape(f.job), justify="right")
    rows = [
        ("iterations", [f"{f.completed}/{f.iterations}" for f in figures]),
        ("iteration time", [human_duration_ns(f.iteration_ns) for f in figures]),
        ("ideal (idle network)", [human_duration_ns(f.ideal_ns) for f in figures]),
        ("network cost (− ideal)", [_share(f.network_cost_ns, f.iteration_ns) for f in figures]),
    ]
    for label, _ in BREAKDOWN:
        rows.append((label, [_share(f.breakdown_ns[label], f.iteration_ns) for f in figures]))
    rows.append(("GPU idle", [format_metric("idle_fraction", f.idle_fraction) for f in figures]))
    jobs = s.get("jobs") or {}
    if "baseline" in s:
        rows.append(("added by failures", [human_duration_ns(jobs.get(f.job, {}).get("added_ns")) for f in figures]))
    for k, (label, cells) in enumerate(rows):
        table.add_row(label, *cells, end_section=k == 3)
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
