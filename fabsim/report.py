"""Rich tables about a finished run, printed on stderr."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table



def _ns(value) -> str:
    """A duration in ns, shown with 4 significant digits in a fitting unit."""
    if value is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g} ns"


def print_run_summary(result, console: Console, path: Path | None = None) -> None:
    """Headline figures, FCT and slowdown percentiles, and per-job iteration figures."""
    s = result.summary
    head = Table(title=f"{escape(s['name'])}: {s['engine']} engine", show_header=False)
    head.add_row("flows completed", f"{s['flows_completed']:,} / {s['flows']:,}")
    head.add_row("simulated time", _ns(s["simulated_ns"]))
    head.add_row("wall time", f"{s['wall_s']:.2f} s")
    if s.get("events_per_s"):
        head.add_row("events/s", f"{s['events_per_s']:,.0f}")
    if path is not None:
        head.add_row("traces", escape(str(path)))
    console.print(head)

    tail = Table(title="flow completion")
    for col in ("", "p50", "p90", "p99", "p99.9", "max"):
        tail.add_column(col, justify="right")
    fct, slow = s["fct_ns"], s["slowdown"]
    keys = ("p50", "p90", "p99", "p99_9", "max")
    tail.add_row("FCT", *(_ns(fct.get(k)) for k in keys))
    tail.add_row("slowdown", *("—" if slow.get(k) is None else f"{slow[k]:.3g}" for k in keys))
    console.print(tail)

    if s["jobs"]:
        jobs = Table(title="jobs")
        for col in ("job", "iterations", "iteration time", "collective time", "GPU idle"):
            jobs.add_column(col, justify="right")
        for name, j in s["jobs"].items():
            idle = "—" if j["idle_fraction"] is None else f"{100 * j['idle_fraction']:.1f} %"
            jobs.add_row(
                escape(name), f"{j['iterations_completed']}/{j['iterations']}",
                _ns(j["mean_iteration_ns"]), _ns(j["mean_collective_ns"]), idle,
            )
        console.print(jobs)
