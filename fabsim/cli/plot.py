"""PNG figures of a finished run or sweep (``fabsim plot``).

For a run directory (see ``docs/traces.md``):

- ``fct_cdf.png``: the CDF of flow completion times, one line per traffic tag;
- ``slowdown_by_size.png``: every flow's slowdown against its size, with the p50 and p99 of each
  size bucket of :data:`fabsim.analysis.flows.SIZE_BUCKETS`;
- ``queues.png``: egress queue depth over time at the ports with the deepest queues (``queues``
  trace);
- ``rates.png``: DCQCN sending and target rate over time of the sampled flows (``rates`` trace);
- ``collectives.png``: every collective iteration of every job as a bar from start to finish;
- ``jobs.png``: per training job, where a rank's iteration went (compute, exposed communication
  by kind, pipeline bubble) as a stacked bar, with the ideal iteration time marked (``jobs``
  trace).

A figure whose trace is absent or empty is not drawn. For a sweep directory, one figure per
metric and parameter, ``<metric>_vs_<column>.png``: the metric's mean over seeds against the
parameter's values, error bars from the smallest to the largest seed, one line per combination
of the other parameters.

matplotlib is an optional dependency (``pip install 'fabsim[plot]'``), imported on first use.
Figures are ``matplotlib.figure.Figure`` objects rendered by the Agg canvas, without pyplot, so
plotting needs no display and leaves pyplot's global state alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UsageError
from ..analysis.flows import SIZE_BUCKETS, flows_by_size, link_name
from ..analysis.training import BREAKDOWN, training_figures
from ..analysis.sweeps import (
    GridPoint,
    SweepResults,
    directory_kind,
    format_value,
    grid_stats,
    is_numeric,
    metric_kind,
    position,
    read_sweep,
)
from ..sweep import Parameter
from ..trace.writer import read_run, read_summary
from ..units import human_bytes, human_duration_ns

#: Figure size (inches) and resolution (dots per inch): 1040 × 650 pixels.
FIGSIZE_IN = (8.0, 5.0)
DPI = 130

#: Ports drawn in ``queues.png`` and flows drawn in ``rates.png``.
TOP_QUEUES = 5
MAX_RATE_FLOWS = 6

#: Points drawn per CDF line or scatter; larger data sets are thinned evenly (by rank for a CDF).
MAX_POINTS = 20_000

#: Horizontal shift (points) between neighbouring lines of a sweep figure, so error bars at the
#: same parameter value stay apart.
DODGE_PT = 5.0

#: ``slowdown_by_size.png`` uses a log slowdown axis when the largest slowdown reaches this.
LOG_SLOWDOWN_FROM = 8.0

#: Sample periods drawn per queue line, zero-filled between samples; beyond it, the raw samples.
MAX_QUEUE_PERIODS = 200_000

_TIME_UNITS = (("s", 1e9), ("ms", 1e6), ("µs", 1e3))
_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("KB", 1e3))


def plot_dir(path: str | Path, out_dir: str | Path | None = None, metric: str | None = None) -> list[Path]:
    """``fabsim plot``: draw the figures of a run or sweep directory into ``out_dir``.

    ``out_dir`` defaults to ``<path>/plots`` and is created. ``metric`` (a runs-table column)
    applies to sweeps only. Returns the PNG files written. Raises
    :class:`~fabsim.errors.UsageError` for a path that is neither, an unknown metric, or when
    matplotlib is not installed.
    """
    kind = directory_kind(path)
    if kind == "run" and metric is not None:
        raise UsageError(f"{path} is a run; --metric applies to a sweep directory")
    sweep = read_sweep(path) if kind == "sweep" else None
    metrics = sweep.metrics(metric) if sweep is not None else []
    out = _out_dir(Path(path), out_dir)
    if sweep is not None:
        return plot_sweep(sweep, out, metrics)
    return plot_run(path, out)


def plot_run(run_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """The figures of a run directory that its traces allow, written into ``out_dir``."""
    traces = read_run(run_dir)
    summary = read_summary(run_dir)
    written = []
    for name, draw in _RUN_FIGURES:
        fig = _figure()
        if draw(fig, traces, summary):
            written.append(_save(fig, Path(out_dir) / name))
    return written


def plot_sweep(sweep: SweepResults, out_dir: str | Path, metrics: list[str]) -> list[Path]:
    """``<metric>_vs_<column>.png`` for every metric with a value and every parameter."""
    written = []
    for metric in metrics:
        points = grid_stats(sweep, metric)
        if all(p.mean is None for p in points):
            continue
        for axis, param in enumerate(sweep.parameters):
            fig = _figure()
            _metric_vs_parameter(fig, sweep, metric, points, axis)
            written.append(_save(fig, Path(out_dir) / f"{metric}_vs_{param.column}.png"))
    return written


# ---- figure plumbing -------------------------------------------------------------------------------

def _figure():
    """An empty figure on an Agg canvas; UsageError when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise UsageError("fabsim plot needs matplotlib: pip install 'fabsim[plot]'") from exc
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def _out_dir(root: Path, out_dir: str | Path | None) -> Path:
    out = Path(out_dir) if out_dir is not None else root / "plots"
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _unit(value: float, units: tuple[tuple[str, float], ...], base: str) -> tuple[str, float]:
    """The largest unit of ``units`` in which ``value`` is at least 1, else ``base``."""
    return next(((name, scale) for name, scale in units if abs(value) >= scale), (base, 1.0))


def _time_unit(ns: float) -> tuple[str, float]:
    """(name, ns per unit) for showing times around ``ns``."""
    return _unit(ns, _TIME_UNITS, "ns")


def _byte_unit(n_bytes: float) -> tuple[str, float]:
    return _unit(n_bytes, _BYTE_UNITS, "B")


def _thin(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` evenly spread items of ``n``, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _labels(column: pa.ChunkedArray) -> np.ndarray:
    """A dictionary-encoded label column as a NumPy array of str."""
    return np.asarray(pc.cast(column, pa.string()).to_pylist(), dtype=object)


def _count(n: int, noun: str) -> str:
    """``"1 flow"``, ``"1,234 flows"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _title(ax, summary: dict, text: str) -> None:
    ax.set_title(f"{summary['name']} ({summary['engine']} engine): {text}")


# ---- run figures -------------------------------------------------------------------------------------

def _fct_cdf(fig, traces: dict, summary: dict) -> bool:
    """CDF of the FCT of completed flows, log time axis, one line per tag when there are several."""
    flows = traces["flows"]
    done = flows.filter(flows["completed"])
    fct = done["fct_ns"].to_numpy().astype(np.float64)
    if not (fct > 0).any():
        return False
    tags = _labels(done["tag"])
    positive = fct > 0
    names = list(dict.fromkeys(tags[positive].tolist()))
    unit, scale = _time_unit(float(np.sqrt(fct[positive].min() * fct.max())))
    ax = fig.add_subplot()
    for name in names:
        x = np.sort(fct[(tags == name) & positive]) / scale
        y = np.arange(1, x.size + 1) / x.size
        keep = _thin(x.size)
        ax.step(np.r_[x[0], x[keep]], np.r_[0.0, y[keep]], where="post", linewidth=1.8,
                label=f"{name} ({_count(x.size, 'flow')})")
    for q in (0.5, 0.99):
        ax.axhline(q, color="0.6", linestyle=":", linewidth=1)
        ax.annotate(f"p{q * 100:g}", (1.0, q), xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=9, color="0.4")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_plain_formatter())
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"flow completion time ({unit}, log scale)")
    ax.set_ylabel("fraction of completed flows")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="tag" if len(names) > 1 else None, loc="lower right")
    _title(ax, summary, "FCT CDF")
    return True


def _plain_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:g}")


def _slowdown_by_size(fig, traces: dict, summary: dict) -> bool:
    """Slowdown against flow size (log x), and each size bucket's p50 and p99 as segments."""
    flows = traces["flows"]
    done = flows.filter(flows["completed"])
    if done.num_rows == 0:
        return False
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    size = done["size_bytes"].to_numpy().astype(np.float64)
    slowdown = done["slowdown"].to_numpy()
    ax = fig.add_subplot()
    keep = _thin(size.size)
    ax.scatter(size[keep], slowdown[keep], s=8, color="0.35", alpha=0.4, edgecolors="none", zorder=3,
               label=f"one flow ({size.size:,} completed)", rasterized=True)
    lo = 10.0 ** np.floor(np.log10(max(size.min(), 1) / 1.5))
    hi = 10.0 ** np.ceil(np.log10(size.max() * 1.5))
    bounds = {label: (low, high) for label, low, high in SIZE_BUCKETS}
    for i, group in enumerate(g for g in flows_by_size(flows) if g.completed):
        low, high = bounds[group.label]
        x0, x1 = max(low, lo), min(high or hi, hi)
        ax.hlines(group.slowdown["p99"], x0, x1, color="C3", linewidth=3.5,
                  label="p99 of the size bucket" if i == 0 else None)
        ax.hlines(group.slowdown["p50"], x0, x1, color="C0", linewidth=2.0,
                  label="p50 of the size bucket" if i == 0 else None)
        ax.annotate(f"{group.label}\n{_count(group.completed, 'flow')}", (np.sqrt(x0 * x1), 1.0),
                    xycoords=("data", "axes fraction"), xytext=(0, -4), textcoords="offset points",
                    ha="center", va="top", fontsize=8, color="0.35")
    for _, low, _ in SIZE_BUCKETS[1:]:
        if lo < low < hi:
            ax.axvline(low, color="0.8", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: human_bytes(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    top = float(np.nanmax(slowdown))
    bottom = min(0.9, float(np.nanmin(slowdown)))
    if top >= LOG_SLOWDOWN_FROM:
        ax.set_yscale("log")
        ax.set_ylim(bottom, top * 2.0)  # headroom for the bucket labels
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(_plain_formatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom, top * 1.2 + 0.1)
    ax.set_xlabel("flow size (payload bytes, log scale)")
    ax.set_ylabel("slowdown (FCT / ideal FCT)")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize=9)
    _title(ax, summary, "slowdown by flow size")
    return True


def _queues(fig, traces: dict, summary: dict) -> bool:
    """Queue depth over time at the :data:`TOP_QUEUES` ports with the largest sampled queue."""
    queues = traces.get("queues")
    if queues is None or queues.num_rows == 0:
        return False
    t_ns = queues["t_ns"].to_numpy()
    link_id = queues["link_id"].to_numpy()
    depth = queues["queue_bytes"].to_numpy().astype(np.float64)
    peak = np.zeros(int(link_id.max()) + 1)
    np.maximum.at(peak, link_id, depth)
    top = np.argsort(-peak, kind="stable")[:TOP_QUEUES]
    top = top[peak[top] > 0]
    if top.size == 0:
        return False
    links = {row["link_id"]: row for row in traces["links"].to_pylist()}
    period = _queue_period(summary, t_ns)
    t_unit, t_scale = _time_unit(float(t_ns.max()))
    b_unit, b_scale = _byte_unit(float(peak.max()))
    ax = fig.add_subplot()
    for link in top:
        t, q = _zero_filled(t_ns[link_id == link], depth[link_id == link], period)
        row = links[int(link)]
        ax.plot(t / t_scale, q / b_scale, drawstyle="steps-pre", linewidth=1.5,
                label=f"{link_name(row)} ({row['tier']}), peak {human_bytes(peak[link])}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"time ({t_unit})")
    ax.set_ylabel(f"egress queue ({b_unit}, largest in each {human_duration_ns(period)} sample)")
    ax.grid(True, alpha=0.3)
    ax.legend(title="egress port (tier)", fontsize=9)
    _title(ax, summary, f"the {top.size} deepest queues")
    return True


def _queue_period(summary: dict, t_ns: np.ndarray) -> int:
    """The queue-sample period in ns: ``output.queue_sample`` of the run, else the smallest gap."""
    sample_ps = ((summary.get("scenario") or {}).get("output") or {}).get("queue_sample_ps")
    if sample_ps:
        return max(int(sample_ps) // 1000, 1)
    gaps = np.diff(np.unique(t_ns))
    return int(gaps.min()) if gaps.size else 1


def _zero_filled(t_ns: np.ndarray, depth: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """One port's samples on the full grid of sample times, 0 where the trace has none (an
    empty queue is not written)."""
    slots = t_ns // period
    if slots.max() > MAX_QUEUE_PERIODS:
        return t_ns, depth
    filled = np.zeros(int(slots.max()) + 2)
    filled[slots] = depth
    return np.arange(filled.size) * period, filled


def _rates(fig, traces: dict, summary: dict) -> bool:
    """DCQCN rate (solid) and target rate (dashed) over time, for the flows sampled longest."""
    rates = traces.get("rates")
    if rates is None or rates.num_rows == 0:
        return False
    flow_id = rates["flow_id"].to_numpy()
    t_ns = rates["t_ns"].to_numpy()
    ids, counts = np.unique(flow_id, return_counts=True)
    shown = ids[np.argsort(-counts, kind="stable")[:MAX_RATE_FLOWS]]
    flows = traces["flows"].take(pa.array(shown)).to_pylist()
    unit, scale = _time_unit(float(t_ns.max()))
    rate = rates["rate_bps"].to_numpy() / 1e9
    target = rates["target_bps"].to_numpy() / 1e9
    ax = fig.add_subplot()
    for k, flow in enumerate(flows):
        mine = flow_id == flow["flow_id"]
        color = f"C{k % 10}"
        ax.plot(t_ns[mine] / scale, rate[mine], color=color, linewidth=1.6,
                label=f"flow {flow['flow_id']}: h{flow['src']}→h{flow['dst']} ({flow['tag']})")
        ax.plot(t_ns[mine] / scale, target[mine], color=color, linewidth=1.0, linestyle="--", alpha=0.8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("rate (Gbit/s)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, title="solid: rate Rc, dashed: target Rt", title_fontsize=9)
    which = "sampled flows"
    if shown.size < ids.size:
        which = f"{shown.size} of {ids.size} sampled flows, the longest sampled"
    _title(ax, summary, f"DCQCN rates ({which})")
    return True


def _collectives(fig, traces: dict, summary: dict) -> bool:
    """Top: per job, every iteration as a bar from start to finish (hatched: unfinished).
    Bottom: each iteration's duration, and the cost model's ideal (dashed)."""
    collectives = traces.get("collectives")
    if collectives is None or collectives.num_rows == 0:
        return False
    rows = collectives.to_pylist()
    jobs = list(dict.fromkeys(r["job"] for r in rows))
    end_ns = max(summary["simulated_ns"], 1)
    timeline, durations = fig.subplots(2, 1, height_ratios=[1, 2])
    _iteration_timeline(timeline, rows, jobs, end_ns)
    _iteration_durations(durations, rows, jobs)
    _title(timeline, summary, "collective iterations")
    return True


def _iteration_timeline(ax, rows: list[dict], jobs: list[str], end_ns: int) -> None:
    unit, scale = _time_unit(float(end_ns))
    for j, job in enumerate(jobs):
        mine = [r for r in rows if r["job"] == job]
        done = [r for r in mine if r["finish_ns"] is not None]
        color = f"C{j % 10}"
        shades = [color if r["iteration"] % 2 == 0 else _lighter(color) for r in done]
        ax.broken_barh([(r["start_ns"] / scale, r["duration_ns"] / scale) for r in done], (j - 0.3, 0.6),
                       facecolors=shades, edgecolor="white", linewidth=0.4)
        unfinished = [(r["start_ns"] / scale, (end_ns - r["start_ns"]) / scale) for r in mine
                      if r["finish_ns"] is None and r["start_ns"] is not None]
        if unfinished:
            ax.broken_barh(unfinished, (j - 0.3, 0.6), facecolors="none", edgecolor=color, hatch="//")
    ax.set_yticks(range(len(jobs)), labels=jobs)
    ax.set_ylim(len(jobs) - 0.5, -0.5)
    ax.set_xlim(0, end_ns / scale)
    ax.set_xlabel(f"time ({unit}); bars: iteration start → finish, gaps: compute")
    ax.grid(True, axis="x", alpha=0.3)


def _iteration_durations(ax, rows: list[dict], jobs: list[str]) -> None:
    done = [r for r in rows if r["duration_ns"] is not None]
    unit, scale = _time_unit(float(max((r["duration_ns"] for r in done), default=1)))
    for j, job in enumerate(jobs):
        mine = [r for r in rows if r["job"] == job]
        finished = [r for r in mine if r["duration_ns"] is not None]
        color = f"C{j % 10}"
        label = f"{job}: {mine[0]['op']} {mine[0]['algorithm']} ({len(finished)}/{len(mine)} finished)"
        ax.plot([r["iteration"] for r in finished], [r["duration_ns"] / scale for r in finished],
                marker="o", markersize=4, color=color, linewidth=1.5, label=label)
        ax.plot([r["iteration"] for r in mine], [r["ideal_ns"] / scale for r in mine],
                color=color, linestyle="--", linewidth=1, alpha=0.8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"duration ({unit})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    ax.legend(title="solid: duration, dashed: ideal", fontsize=9, title_fontsize=9, loc="lower right")


def _lighter(color: str) -> tuple[float, float, float]:
    """``color`` mixed halfway with white, to tell neighbouring iterations apart."""
    from matplotlib.colors import to_rgb

    return tuple(0.5 + 0.5 * c for c in to_rgb(color))


#: ``jobs.png``: the colour of each part of :data:`fabsim.analysis.training.BREAKDOWN`
#: (compute first, in C0; the bubble grey).
BREAKDOWN_COLORS = ("C0", "C1", "C2", "C3", "C4", "0.75")


def _training_jobs(fig, traces: dict, summary: dict) -> bool:
    """Per training job, one horizontal bar of its mean iteration split into compute, exposed
    tp / pp / dp / ep and bubble (means over ranks), the ideal iteration marked on it."""
    jobs = traces.get("jobs")
    if jobs is None or jobs.num_rows == 0:
        return False
    figures = [f for f in training_figures(jobs) if f.completed]
    if not figures:
        return False
    unit, scale = _time_unit(max(f.iteration_ns for f in figures))
    ax = fig.add_subplot()
    y = np.arange(len(figures))
    left = np.zeros(len(figures))
    for (label, _), color in zip(BREAKDOWN, BREAKDOWN_COLORS):
        width = np.array([f.breakdown_ns[label] for f in figures]) / scale
        if label != "compute" and not width.any():
            continue  # a kind the jobs do not use (no EP, no pipeline)
        ax.barh(y, width, left=left, height=0.6, color=color, edgecolor="white", linewidth=0.5, label=label)
        left += width
    ideal = np.array([f.ideal_ns for f in figures]) / scale
    ax.vlines(ideal, y - 0.38, y + 0.38, color="black", linewidth=2.2, zorder=4,
              label="ideal iteration (idle network)")
    for k, f in enumerate(figures):
        ax.annotate(f"{human_duration_ns(f.iteration_ns)}, network cost "
                    f"{100 * (f.network_cost_fraction or 0):.0f} %",
                    (left[k], k), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_yticks(y, labels=[f"{f.job}\n({_count(f.completed, 'iteration')})" for f in figures])
    ax.set_ylim(len(figures) - 0.4, -0.6)
    ax.set_xlim(0, max(left.max(), ideal.max()) * 1.3)
    ax.set_xlabel(f"time per iteration ({unit}; mean over ranks and completed iterations)")
    ax.grid(True, axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("ideal"))  # the marker last
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside lower center",
               ncols=4, fontsize=9)
    _title(ax, summary, "where the GPU time went")
    return True


_RUN_FIGURES = (
    ("fct_cdf.png", _fct_cdf),
    ("slowdown_by_size.png", _slowdown_by_size),
    ("queues.png", _queues),
    ("rates.png", _rates),
    ("collectives.png", _collectives),
    ("jobs.png", _training_jobs),
)


# ---- sweep figures -----------------------------------------------------------------------------------

def _metric_vs_parameter(fig, sweep: SweepResults, metric: str, points: list[GridPoint], axis: int) -> None:
    """``metric`` (mean over seeds, min–max bars) against parameter ``axis``, one line per
    combination of the parameters that do not vary with it."""
    params = sweep.parameters
    param = params[axis]
    partners = sweep.zipped_with(axis)
    others = [i for i in range(len(params)) if i != axis and i not in partners]
    lines: dict[tuple, list[GridPoint]] = {}
    for point in points:
        lines.setdefault(tuple(point.values[i] for i in others), []).append(point)
    unit, scale = _metric_unit(metric, points)
    categories = None if is_numeric(param) else _categories(param, points, axis)
    ax = fig.add_subplot()
    for k, (rest, line) in enumerate(lines.items()):
        line = [p for p in line if p.mean is not None]
        if not line:
            continue
        x = [_x_position(p.values[axis], categories) for p in line]
        mean = np.array([p.mean for p in line]) / scale
        low = mean - np.array([p.min for p in line]) / scale
        high = np.array([p.max for p in line]) / scale - mean
        label = ", ".join(format_value(v) for v in rest) if rest else "all runs"
        bars = ax.errorbar(x, mean, yerr=[low, high], marker="o", capsize=4, linewidth=1.6, label=label)
        _shift(bars, fig, DODGE_PT * (k - (len(lines) - 1) / 2))
    _parameter_axis(ax, param, categories, _tick_notes(sweep, points, axis, partners))
    ax.set_ylabel(_metric_label(metric, unit))
    ax.grid(True, alpha=0.3)
    legend_title = "mean over seeds,\nbars: min–max"
    if others:
        legend_title += "\n\n" + ", ".join(params[i].key for i in others)
    ax.legend(title=legend_title, fontsize=9, title_fontsize=9, alignment="left",
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"{sweep.name}: {metric} vs {param.key}")


def _tick_notes(sweep: SweepResults, points: list[GridPoint], axis: int, partners: list[int]) -> dict:
    """Per value of parameter ``axis``: the values of the parameters zipped with it, as
    ``"key=value"`` lines under its tick label."""
    params = sweep.parameters
    notes = {}
    for point in points:
        lines = [f"{params[j].key}={format_value(point.values[j])}" for j in partners]
        notes.setdefault(_hashable(point.values[axis]), "\n".join(lines))
    return notes


def _hashable(value: object) -> tuple:
    """A dict key that tells ``True`` from ``1``."""
    return type(value) is bool, value


def _shift(container, fig, points: float) -> None:
    """Move every artist of an errorbar ``container`` right by ``points`` (data limits unchanged)."""
    from matplotlib.transforms import ScaledTranslation

    offset = ScaledTranslation(points / 72, 0, fig.dpi_scale_trans)
    for artist in container.get_children():
        artist.set_transform(artist.get_transform() + offset)


def _metric_unit(metric: str, points: list[GridPoint]) -> tuple[str, float]:
    """(unit label, scale) for the y axis of ``metric``."""
    largest = max((abs(p.max) for p in points if p.max is not None), default=0.0)
    kind = metric_kind(metric)
    if kind == "time":
        return _time_unit(largest)
    if kind == "bytes":
        return _byte_unit(largest)
    if kind == "fraction":
        return "%", 0.01
    return "", 1.0


def _metric_label(metric: str, unit: str) -> str:
    """The y-axis label: ``"iteration (ms)"`` for ``iteration_ns`` shown in ms."""
    if not unit:
        return metric
    if metric_kind(metric) == "time":
        return f"{metric.removesuffix('_ns')} ({unit})"
    if metric_kind(metric) == "bytes":
        return f"{metric.removesuffix('_bytes')} ({unit})"
    return f"{metric} ({unit})"


def _categories(param: Parameter, points: list[GridPoint], axis: int) -> list:
    """The values of a non-numeric parameter in axis order: sweep-file order, then any others."""
    seen = dict.fromkeys(p.values[axis] for p in points)
    return sorted(seen, key=lambda value: position(param, value))


def _x_position(value: object, categories: list | None) -> float:
    if categories is None:
        return float(value)
    return float(next(i for i, c in enumerate(categories) if c == value and type(c) is type(value)))


def _parameter_axis(ax, param: Parameter, categories: list | None, notes: dict) -> None:
    """Ticks at the parameter's values (with ``notes`` under them): category names, or numbers
    (log scale when they span two decades or more)."""
    ax.set_xlabel(param.key)

    def label(value):
        note = notes.get(_hashable(value))
        return f"{format_value(value)}\n{note}" if note else format_value(value)

    if categories is not None:
        ax.set_xticks(range(len(categories)), labels=[label(v) for v in categories])
        ax.set_xlim(-0.5, len(categories) - 0.5)
        return
    values = sorted(param.values, key=float)
    if float(values[0]) > 0 and float(values[-1]) / float(values[0]) >= 100:
        ax.set_xscale("log")
    ax.margins(x=0.08)
    ax.set_xticks([float(v) for v in values], labels=[label(v) for v in values])
    ax.minorticks_off()
