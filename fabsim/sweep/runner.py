"""Run every run of a sweep that is not finished yet, and keep the runs table up to date."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..trace.writer import is_complete_run, read_summary
from .execute import DaskPool, LocalPool, execute_run, warm_kernels
from .spec import RunSpec, Sweep
from .table import MANIFEST_FILE, read_manifest, runs_table, summary_figures, write_manifest, write_runs_table

#: How often the runs table is rewritten while a sweep runs (it is always written at the end).
TABLE_EVERY_S = 5.0


@dataclass
class SweepOutcome:
    """What one ``run_sweep`` call did, and the state of the whole sweep afterwards."""

    root: Path
    total: int
    skipped: int = 0  # finished before this call (--resume)
    ran: int = 0  # attempted in this call
    ok: int = 0  # finished runs in the sweep
    failed: list[dict[str, Any]] = field(default_factory=list)  # {"run_id", "path", "error"}
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def pending(self) -> int:
        return self.total - self.ok - len(self.failed)

    def as_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "runs": self.total, "ok": self.ok, "failed": len(self.failed),
            "pending": self.pending, "skipped": self.skipped, "ran": self.ran,
            "interrupted": self.interrupted, "wall_s": round(self.wall_s, 3), "failures": self.failed,
        }


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    on_warm: Callable[[list[str]], contextlib.AbstractContextManager] | None = None,
) -> SweepOutcome:
    """Run ``sweep`` into the directory ``out``.

    A non-empty ``out`` is refused unless ``resume`` is set and it holds this same sweep; then
    its finished runs are kept and only the others run. ``jobs`` worker processes (default:
    the number of cores) run locally, or on the Dask cluster at ``scheduler`` (``"local"``: a
    LocalCluster). ``on_start(n)`` is called with the number of runs to do, ``on_result(run,
    result)`` after each; ``on_warm(engines)`` returns a context manager entered while the kernels
    of ``engines`` are compiled or loaded, before the runs. Ctrl-C stops the workers, writes the runs table and returns with
    ``interrupted`` set; the finished runs stay and ``resume`` picks up from there.
    """
    started = time.perf_counter()
    root = Path(out)
    manifest = sweep.manifest()
    _prepare(root, manifest, resume)
    outcome = SweepOutcome(root=root, total=len(sweep.runs))
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for run in sweep.runs:
        if is_complete_run(root / run.path):
            rows[run.run_id] = _ok_row(root / run.path)
        else:
            todo.append(run)
    outcome.skipped = len(rows)
    if on_start:
        on_start(len(todo))
    try:
        if todo:
            _execute(sweep, root, todo, rows, outcome, jobs, scheduler, on_result, on_warm, manifest)
    finally:
        for run in todo:  # finished by a worker stopped before it reported (Ctrl-C): on disk, so done
            if run.run_id not in rows and is_complete_run(root / run.path):
                rows[run.run_id] = _ok_row(root / run.path)
        write_runs_table(root, runs_table(manifest, rows))
        outcome.ok = sum(r["status"] == "ok" for r in rows.values())
        outcome.failed = [
            {"run_id": run.run_id, "path": run.path, "error": rows[run.run_id]["error"]}
            for run in sweep.runs if rows.get(run.run_id, {}).get("status") == "failed"
        ]
        outcome.wall_s = time.perf_counter() - started
    return outcome


def _execute(sweep, root, todo, rows, outcome, jobs, scheduler, on_result, on_warm, manifest) -> None:
    from ..api import kernel_set  # the engines' modules load only when a sweep runs

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    pool = DaskPool(scheduler, jobs) if scheduler else LocalPool(jobs)
    by_id = {run.run_id: run for run in todo}
    cancel = True
    try:
        engines = sorted({kernel_set(sweep.scenario(run)) for run in todo})
        with on_warm(engines) if on_warm else contextlib.nullcontext():
            pool.call(warm_kernels, engines)
        tasks = [_task(sweep, root, run) for run in todo]
        last_write = time.perf_counter()
        for result in pool.map_unordered(execute_run, tasks):
            run = by_id[result["run_id"]]
            outcome.ran += 1
            if result["status"] == "ok":
                rows[run.run_id] = _ok_row(root / run.path)
            else:
                rows[run.run_id] = {"status": "failed", "error": result["error"], "wall_s": result["wall_s"]}
            if on_result:
                on_result(run, result)
            if time.perf_counter() - last_write > TABLE_EVERY_S:
                write_runs_table(root, runs_table(manifest, rows))
                last_write = time.perf_counter()
        cancel = False
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        pool.close(cancel=cancel)


def _task(sweep: Sweep, root: Path, run: RunSpec) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "raw": sweep.raw, "file": sweep.file, "base_dir": sweep.base_dir,
        "name": sweep.name, "overrides": sweep.overrides(run), "baseline": sweep.baseline,
        "out_dir": os.path.abspath(root / run.path),
    }


def _ok_row(run_dir: Path) -> dict[str, Any]:
    summary = read_summary(run_dir)
    return {"status": "ok", "error": None, "wall_s": summary.get("wall_s"), **summary_figures(summary)}


def _prepare(root: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Check that ``root`` may hold this sweep, write its manifest, drop half-written runs."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"output path {root} exists and is not a directory")
    if root.exists() and any(root.iterdir()):
        if not resume:
            raise UsageError(f"sweep directory {root} is not empty (use --resume to finish it, or another --out)")
        if not (root / MANIFEST_FILE).is_file():
            raise UsageError(
                f"{root} is not empty and holds no fabsim sweep ({MANIFEST_FILE}); refusing to write there"
            )
        old = read_manifest(root)
        for key in ("runs", "format", "baseline"):
            if old.get(key) != manifest[key]:
                raise UsageError(
                    f"{root} holds a different sweep (its {key} differ from the sweep file's); "
                    "resume it with the sweep file it was started with, or choose another --out"
                )
        for partial in root.rglob(".*.partial-*"):  # a run killed while it wrote its traces
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root, manifest)
