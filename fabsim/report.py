"""Rich tables about a finished run, printed on stderr."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .units import human_bytes, human_duration_ns


def print_run_summary(result, console: Console, path: Path | None = None) -> None:
    """Headline figures, FCT and slowdown percentiles, and per-job iteration figures."""
    s = result.summary
    head = Table(title=f"{escape(s['name'])}: {s['engine']} engine", show_header=False)
    head.add_row("flows completed", f"{s['flows_completed']:,} / {s['flows']:,}")
    head.add_row("simulated time", human_duration_ns(s["simulated_ns"]))
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
    tail.add_row("FCT", *(human_duration_ns(fct.get(k)) for k in keys))
    tail.add_row("slowdown", *("—" if slow.get(k) is None else f"{slow[k]:.3g}" for k in keys))
    console.print(tail)

    net = s.get("network")
    if net:
        table = Table(title="network", show_header=False)
        table.add_row("packets dropped", f"{net['drops']:,}")
        table.add_row("bytes retransmitted", human_bytes(net["retransmitted_bytes"]))
        table.add_row("packets ECN-marked", f"{net['ecn_marked']:,}")
        if net.get("cc_signals"):
            table.add_row("DCQCN signals (CNPs or echoes)", f"{net['cc_signals']:,}")
        table.add_row("ports paused by PFC", f"{net['ports_paused']:,} (longest {human_duration_ns(net['pause_ns_max'])})")
        table.add_row("deepest queue", human_bytes(net["max_queue_bytes"]))
        console.print(table)

    failures = result.failures.to_pylist()
    if failures:
        impact = Table(title="failures" + (" (added delay against the run without them)" if "baseline" in s else ""))
        for col in ("element", "down", "flows hit", "rerouted", "added delay"):
            impact.add_column(col, overflow="fold")
        for fl in failures:
            def when(ns):
                return "—" if ns is None else human_duration_ns(ns)

            down = f"{when(fl['at_ns'])} → {when(fl['restored_ns']) if fl['restored_ns'] is not None else 'end'}"
            impact.add_row(
                escape(fl["target"]), down, f"{fl['flows_hit']:,}", f"{fl['flows_rerouted']:,}", when(fl["added_delay_ns"]),
            )
        console.print(impact)
        if s.get("flows_unreachable"):
            console.print(f"[bold]{s['flows_unreachable']:,} flows could not complete[/]: their destination became unreachable")

    if s["jobs"]:
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
        console.print(jobs)
