"""Per-job collective figures of a run, from its ``collectives`` trace (docs/reports.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..units import format_size


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
