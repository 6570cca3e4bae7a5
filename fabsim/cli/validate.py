"""What ``fabsim validate`` reports about a built model: figures as data, then as rich tables."""

from __future__ import annotations

from collections import Counter

import numpy as np
from rich.console import Console
from rich.table import Table

from fabsim.native import codes

from ..model import Model
from ..scenario.protocol import protocol
from ..topology.fabric import ROLE_NAMES
from ..traffic import FlowTable
from ..traffic.table import PHASE_EP, PHASE_NAMES, PHASE_TP, TASK_TRANSFER
from ..units import format_rate, format_time, human_bytes


def validate_json(model: Model, flows: FlowTable) -> dict:
    """The machine-readable summary of DESIGN §9 (``fabsim validate --json``)."""
    f, topo = model.fabric, model.scenario.topology
    return {
        "hosts": f.n_hosts,
        "switches": f.n_switches,
        "links": f.n_cables,
        "flows": int((flows.kind == TASK_TRANSFER).sum()),
        "oversubscription": f.oversubscription(),
        "bisection_bps": f.bisection_bps(),
        "servers": f.n_hosts // topo.gpus_per_server,
        "gpus_per_server": topo.gpus_per_server,
        "scaleup_rate_bps": topo.scaleup_rate_bps if topo.gpus_per_server > 1 else None,
        "jobs": job_overview(model, flows),
        "protocol": protocol(model.scenario, f),
    }


def job_overview(model: Model, flows: FlowTable) -> list[dict]:
    """Per ``[[jobs]]`` entry: its parallelism, servers, tasks and the bytes of one iteration
    by kind, split between the scale-up domains and the fabric."""
    g = model.scenario.topology.gpus_per_server
    out = []
    for spec, rows in zip(model.scenario.jobs, flows.job_rows):
        mine = (flows.job == flows.jobs.index(rows.name)) & (flows.iteration == 0)
        transfer = mine & (flows.kind == TASK_TRANSFER)
        inside = (flows.src // g) == (flows.dst // g)
        by_kind = {}
        for code, name in enumerate(PHASE_NAMES[PHASE_TP : PHASE_EP + 1], start=PHASE_TP):
            sel = transfer & (flows.phase == code)
            by_kind[name] = {
                "transfers": int(sel.sum()),
                "scaleup_bytes": int(flows.size_bytes[sel & inside].sum()),
                "fabric_bytes": int(flows.size_bytes[sel & ~inside].sum()),
            }
        out.append({
            "name": rows.name, "ranks": int(rows.hosts.size), "tp": spec.tp, "pp": spec.pp, "dp": spec.dp,
            "ep": spec.ep, "servers": sorted({int(h) // g for h in rows.hosts}), "microbatches": spec.microbatches,
            "iterations": rows.iterations, "tasks_per_iteration": int(mine.sum()), "bytes_per_iteration": by_kind,
        })
    return out


def sample_pairs(model: Model, src: int = 0) -> list[tuple[int, int]]:
    """One destination host per distinct switch distance from host ``src`` (nearest first)."""
    f, r = model.fabric, model.routing
    row = r.dist[f.host_switch[src] - f.n_hosts]
    pairs = []
    for d in np.unique(row[row != codes.DIST_UNREACHABLE]):
        column = int(np.flatnonzero(row == d)[0])
        hosts = np.flatnonzero((r.host_edge == column) & (np.arange(f.n_hosts) != src))
        if hosts.size:
            pairs.append((src, int(hosts[0])))
    return pairs


def print_validate(model: Model, flows: FlowTable, console: Console) -> None:
    """Rich tables: nodes, links by tier, capacity figures, sample equal-cost paths, traffic."""
    f, sc = model.fabric, model.scenario
    roles = Counter(ROLE_NAMES[int(r)] for r in f.node_role[f.n_hosts :])
    head = Table(title=f"{sc.run.name}: {f.kind} fabric", show_header=False)
    head.add_row("hosts", str(f.n_hosts))
    head.add_row("switches", f"{f.n_switches} (" + ", ".join(f"{n} {r}" for r, n in sorted(roles.items())) + ")")
    head.add_row("cables", str(f.n_cables))
    head.add_row("bisection bandwidth", format_rate(f.bisection_bps()))
    head.add_row("oversubscription", f"{f.oversubscription():.3g}:1")
    g = sc.topology.gpus_per_server
    if g > 1:
        head.add_row("servers", f"{f.n_hosts // g} × {g} GPUs (host index = GPU index; each GPU has its own NIC)")
        head.add_row("scale-up domain", f"per server, {format_rate(sc.topology.scaleup_rate_bps)} per GPU each way, "
                     f"latency {format_time(sc.topology.scaleup_latency_ps)}")
    console.print(head)

    tiers = Table(title="links by tier")
    for col in ("tier", "cables", "rate", "delay", "oversubscription"):
        tiers.add_column(col)
    over = f.tier_oversubscription()
    for code, name in enumerate(f.tier_names):
        sel = f.link_tier_code == code
        rates = sorted({int(x) for x in f.link_rate_bps[sel]})
        delays = sorted({int(x) for x in f.link_delay_ps[sel]})
        upper = name.split("-")[0] if "-" in name else None
        tiers.add_row(
            name,
            str(int(sel.sum()) // 2),
            ", ".join(format_rate(x) for x in rates),
            ", ".join(format_time(x) for x in delays),
            f"{over[upper]:.3g}:1" if upper in over else "",
        )
    console.print(tiers)

    paths = Table(title="equal-cost paths from h0")
    for col in ("to", "hops", "paths"):
        paths.add_column(col)
    for src, dst in sample_pairs(model):
        paths.add_row(f.node_name(dst), str(model.routing.hop_count(src, dst)), str(model.routing.count_paths(src, dst)))
    console.print(paths)

    if sc.traffic:
        _print_traffic(sc, flows, console)

    if sc.jobs:
        jobs = Table(title="training jobs (one iteration)")
        for col in ("job", "ranks", "servers", "tasks", "tp", "pp", "dp", "ep"):
            jobs.add_column(col, justify="right" if col != "job" else "left")
        for j in job_overview(model, flows):
            servers = j["servers"]
            where = f"{servers[0]}–{servers[-1]}" if servers == list(range(servers[0], servers[-1] + 1)) else str(len(servers))
            cells = []
            for kind in ("tp", "pp", "dp", "ep"):
                b = j["bytes_per_iteration"][kind]
                if not b["transfers"]:
                    cells.append("—")
                    continue
                cells.append(f"{human_bytes(b['scaleup_bytes'])} in servers" if not b["fabric_bytes"] else
                             f"{human_bytes(b['fabric_bytes'])} fabric"
                             + (f" + {human_bytes(b['scaleup_bytes'])} in servers" if b["scaleup_bytes"] else ""))
            shape = f"{j['tp']}·{j['pp']}·{j['dp']}" + (f" (ep {j['ep']})" if j["ep"] > 1 else "")
            jobs.add_row(j["name"], f"{j['ranks']} = {shape}", where, f"{j['tasks_per_iteration']:,}", *cells)
        console.print(jobs)

    print_protocol(protocol(sc, f), console)

    if sc.failures:
        from ..run.failures import resolve_failures

        table = Table(title=f"failures (routing detects them after {format_time(sc.routing.detect_ps)})")
        for col in ("#", "target", "fails", "tier", "at", "restored"):
            table.add_column(col)
        for fl in resolve_failures(sc, model.fabric):
            restored = "never" if fl.restored_ps is None else format_time(fl.restored_ps)
            table.add_row(str(fl.index), fl.target, fl.element, fl.tier, format_time(fl.at_ps), restored)
        console.print(table)


def print_protocol(proto: dict, console: Console) -> None:
    """The resolved protocol parameters (:func:`fabsim.scenario.protocol.protocol`): ECN per port rate, DCQCN."""
    cc, ecn = proto["cc"], proto["ecn"]
    marking = f"at {ecn['at']}" if ecn["enabled"] else "off"
    table = Table(title=f"ECN {marking} ({cc['preset']})")
    for col in ("port rate", "Kmin", "Kmax", "Pmax"):
        table.add_column(col)
    for row in ecn["thresholds"]:
        table.add_row(format_rate(row["rate_bps"]), human_bytes(row["kmin_bytes"]), human_bytes(row["kmax_bytes"]),
                      f"{row['pmax']:g}")
    console.print(table)
    d = cc["dcqcn"]
    if d is None:
        console.print(f"congestion control: {cc['algorithm']}")
        return
    table = Table(title=f"DCQCN, {d['dialect']} dialect", show_header=False)
    times = ("cnp_interval_ps", "alpha_timer_ps", "rate_timer_ps", "rate_decrease_interval_ps")
    for name in times:
        table.add_row(name.removesuffix("_ps"), format_time(d[name]) if d[name] else "—")
    table.add_row("byte_counter", human_bytes(d["byte_counter_bytes"]) if d["byte_counter_bytes"] else "—")
    table.add_row("g", f"{d['g']:g}")
    table.add_row("initial_alpha", f"{d['initial_alpha']:g}")
    table.add_row("fast_recovery", str(d["fast_recovery"]))
    table.add_row("min_rate", format_rate(round(d["min_rate_bps"])))
    for step in d["steps"]:
        table.add_row(f"rai, rhai at {format_rate(step['line_rate_bps'])}",
                      f"{format_rate(round(step['rai_bps']))}, {format_rate(round(step['rhai_bps']))}")
    console.print(table)


def _print_traffic(sc, flows: FlowTable, console: Console) -> None:
    traffic = Table(title="traffic generators")
    for col in ("#", "kind", "tag", "what", "flows", "bytes"):
        traffic.add_column(col)
    counts = np.bincount(flows.generator, minlength=len(sc.traffic))
    volume = np.bincount(flows.generator, weights=flows.size_bytes, minlength=len(sc.traffic))
    for i, gen in enumerate(sc.traffic):
        what = f"{gen.op} / {gen.algorithm} ({gen.job})" if gen.kind == "collective" else ""
        traffic.add_row(str(i), gen.kind, gen.tag, what, f"{int(counts[i]):,}", human_bytes(volume[i]))
    console.print(traffic)
