"""What the report and the plots read from a directory: whether it holds a run or a sweep, and
for a sweep its manifest and runs table (:class:`SweepResults`) and a metric's mean, standard
deviation and range over seeds at every grid point (:func:`grid_stats`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import UsageError
from ..sweep.spec import Parameter
from ..sweep.table import MANIFEST_FILE as SWEEP_MANIFEST  # a sweep directory holds these two files
from ..sweep.table import RUNS_FILE as SWEEP_RUNS
from ..sweep.table import is_sweep_dir, read_manifest
from ..trace.writer import SUMMARY_FILE, is_complete_run

#: Runs-table columns that identify a run rather than measure it.
_RUN_ID_COLUMNS = ("run_id", "seed")


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


def format_value(value: object) -> str:
    """A parameter value as written in the sweep file (booleans as in TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
