"""The sweep root's ``runs.parquet`` (one row per run: parameters, status, summary figures) and
the typed dataset view of one trace over every run of a sweep."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError

MANIFEST_FILE = "sweep.json"
RUNS_FILE = "runs.parquet"

_ARROW_TYPES = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
_PERCENTILES = ("p50", "p90", "p99", "p99_9", "max", "mean")
_NETWORK = (
    "drops", "retransmitted_bytes", "ecn_marked", "cc_signals", "ports_paused", "pause_ns_max", "max_queue_bytes",
)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")

#: Summary figures of the runs table, after the parameter and status columns, in order.
FIGURES: tuple[tuple[str, pa.DataType], ...] = (
    ("engine", pa.string()),
    ("simulated_ns", pa.int64()),
    ("events", pa.int64()),
    ("packet_hops", pa.int64()),
    ("flows", pa.int64()),
    ("flows_completed", pa.int64()),
    ("flows_unreachable", pa.int64()),
    ("flows_unfinished", pa.int64()),
    ("flows_not_started", pa.int64()),
    ("flows_retries_exceeded", pa.int64()),
    *((f"fct_{p}_ns", pa.float64()) for p in _PERCENTILES),
    *((f"slowdown_{p}", pa.float64()) for p in _PERCENTILES),
    *((name, pa.int64()) for name in _NETWORK),
    ("iteration_ns", pa.float64()),
    ("idle_fraction", pa.float64()),
    ("added_ns", pa.int64()),
)


def summary_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The runs-table figures of one run's ``summary.json`` (per-job columns included)."""
    row: dict[str, Any] = {name: summary.get(name) for name in
                           ("engine", "simulated_ns", "events", "packet_hops", "flows", "flows_completed",
                            "flows_unreachable")}
    status = summary.get("flow_status") or {}
    for name in ("unfinished", "not_started", "retries_exceeded"):
        row[f"flows_{name}"] = status.get(name)
    for p in _PERCENTILES:
        row[f"fct_{p}_ns"] = summary["fct_ns"].get(p)
        row[f"slowdown_{p}"] = summary["slowdown"].get(p)
    network = summary.get("network") or {}
    for name in _NETWORK:
        row[name] = network.get(name)
    jobs = summary.get("jobs") or {}
    iteration = [j["mean_iteration_ns"] for j in jobs.values() if j.get("mean_iteration_ns") is not None]
    idle = [j["idle_fraction"] for j in jobs.values() if j.get("idle_fraction") is not None]
    row["iteration_ns"] = max(iteration, default=None)
    row["idle_fraction"] = max(idle, default=None)
    baseline = summary.get("baseline")
    row["added_ns"] = None if baseline is None else baseline["completion_ns"] - baseline["baseline_completion_ns"]
    for name, job in jobs.items():
        column = "job_" + _NOT_ALNUM.sub("_", name).strip("_")
        row[f"{column}_iteration_ns"] = job.get("mean_iteration_ns")
        row[f"{column}_idle_fraction"] = job.get("idle_fraction")
    return row


def runs_table(manifest: dict[str, Any], rows: dict[int, dict[str, Any]]) -> pa.Table:
    """The runs table of a sweep: every run of ``manifest``, with ``rows[run_id]`` (status,
    error, wall_s and the summary figures) where known, ``status = "pending"`` otherwise."""
    runs = manifest["runs"]
    columns: dict[str, tuple[pa.DataType, list]] = {
        "run_id": (pa.int32(), [r["run_id"] for r in runs]),
        "path": (pa.string(), [r["path"] for r in runs]),
    }
    for p in manifest["parameters"]:
        values = [r["params"][p["key"]] for r in runs]
        if p["type"] == "float64":
            values = [float(v) for v in values]
        columns[p["column"]] = (_ARROW_TYPES[p["type"]], values)
    columns["seed"] = (pa.int64(), [r["seed"] for r in runs])
    got = [rows.get(r["run_id"], {}) for r in runs]
    columns["status"] = (pa.string(), [g.get("status", "pending") for g in got])
    columns["error"] = (pa.string(), [g.get("error") for g in got])
    columns["wall_s"] = (pa.float64(), [g.get("wall_s") for g in got])
    for name, dtype in FIGURES:
        columns[name] = (dtype, [g.get(name) for g in got])
    job_columns = sorted({k for g in got for k in g if k.startswith("job_")})
    for name in job_columns:
        columns[name] = (pa.float64(), [g.get(name) for g in got])
    return pa.table({name: pa.array(values, type=dtype) for name, (dtype, values) in columns.items()})


def write_runs_table(root: Path, table: pa.Table) -> None:
    """Replace ``root/runs.parquet`` atomically (readers never see half a file)."""
    tmp = root / f".{RUNS_FILE}.tmp-{os.getpid()}"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, root / RUNS_FILE)


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    tmp = root / f".{MANIFEST_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST_FILE)


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """The ``sweep.json`` of a sweep directory (``UsageError`` if there is none)."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        raise UsageError(f"{root} is not a fabsim sweep directory (no {MANIFEST_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def is_sweep_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST_FILE).is_file()


def partition_schema(manifest: dict[str, Any]) -> pa.Schema:
    """The hive partition columns of a sweep's run directories, typed as in the runs table."""
    fields = [pa.field(p["column"], _ARROW_TYPES[p["type"]]) for p in manifest["parameters"]]
    return pa.schema(fields + [pa.field("seed", pa.int64())])


def sweep_dataset(root: str | os.PathLike, trace: str = "flows"):
    """One trace over every finished run of a sweep, as a ``pyarrow.dataset.Dataset`` whose
    partition columns (the parameters and ``seed``) carry the runs table's types.

    ``sweep_dataset("sweeps/x", "flows").to_table()`` is every flow of every run.
    """
    import pyarrow.dataset as ds

    from ..trace.schema import SCHEMAS
    from ..trace.writer import FORMATS, SUMMARY_FILE

    if trace not in SCHEMAS:
        raise UsageError(f"unknown trace {trace!r} (known: {', '.join(SCHEMAS)})")
    root = Path(root)
    manifest = read_manifest(root)
    ext = FORMATS[manifest["format"]]
    files = [str(root / r["path"] / f"{trace}{ext}") for r in manifest["runs"]
             if (root / r["path"] / SUMMARY_FILE).is_file() and (root / r["path"] / f"{trace}{ext}").is_file()]
    schema = None
    if not files:  # no finished run yet: an empty dataset with the columns it will have
        schema = pa.unify_schemas([SCHEMAS[trace], partition_schema(manifest)])
    return ds.dataset(
        files, schema=schema, format="ipc" if ext == ".arrow" else "parquet",
        partitioning=ds.partitioning(partition_schema(manifest), flavor="hive"),
        partition_base_dir=str(root),
    )
