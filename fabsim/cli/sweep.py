"""``fabsim sweep``: dry run, progress bar and the closing table."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import EXIT_INTERRUPTED
from ..sweep.runner import run_sweep
from ..sweep.spec import Sweep, load_sweep
from ..trace.writer import is_complete_run



def run_sweep_command(args, console: Console) -> int:
    sweep = load_sweep(args.sweep)
    root = Path(args.out) if args.out else Path("sweeps") / sweep.name
    if args.jobs is not None and args.jobs < 1:
        from ..errors import UsageError

        raise UsageError(f"--jobs must be ≥ 1, got {args.jobs}")
    if args.dry_run:
        _dry_run(sweep, root, args, console)
        return 0
    progress = _SweepProgress(console, enabled=not args.quiet)
    with progress:
        outcome = run_sweep(sweep, root, jobs=args.jobs, scheduler=args.scheduler, resume=args.resume,
                            on_start=progress.start, on_result=progress.result, on_warm=progress.warming)
    if args.json:
        print(json.dumps(outcome.as_json(), indent=2))
    if outcome.interrupted:
        console.print(
            f"[bold red]interrupted[/]: {outcome.ok} of {outcome.total} runs are finished and kept in "
            f"{escape(str(root))}; run the same command with --resume to do the other {outcome.pending}",
            highlight=False, soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    if not args.quiet:
        _print_outcome(outcome, console)
    return 1 if outcome.failed else 0


def _dry_run(sweep: Sweep, root: Path, args, console: Console) -> None:
    rows = [
        {"run_id": r.run_id, **r.params, "seed": r.seed, "path": str(root / r.path),
         "done": is_complete_run(root / r.path)}
        for r in sweep.runs
    ]
    if args.json:
        print(json.dumps({"root": str(root), "runs": rows}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{escape(sweep.name)}: {len(rows)} runs into {escape(str(root))}")
    keys = [p.key for p in sweep.parameters]
    for col in ("run", *keys, "seed", "directory", "done"):
        table.add_column(escape(col), overflow="fold")
    for row in rows:
        table.add_row(str(row["run_id"]), *(escape(str(row[k])) for k in keys), str(row["seed"]),
                      escape(row["path"]), "yes" if row["done"] else "")
    console.print(table)


def _print_outcome(outcome, console: Console) -> None:
    table = Table(title=f"sweep: {escape(str(outcome.root))}", show_header=False)
    table.add_row("runs", f"{outcome.total}")
    table.add_row("finished", f"{outcome.ok}" + (f" ({outcome.skipped} from before)" if outcome.skipped else ""))
    table.add_row("failed", f"{len(outcome.failed)}")
    if outcome.pending:
        table.add_row("not run", f"{outcome.pending}")
    table.add_row("wall time", f"{outcome.wall_s:.1f} s")
    table.add_row("runs table", escape(str(outcome.root / "runs.parquet")))
    console.print(table)
    if outcome.failed:
        failed = Table(title="failed runs")
        failed.add_column("run")
        failed.add_column("error", overflow="fold")
        for f in outcome.failed:
            failed.add_row(escape(f["path"]), escape(f["error"] or ""))
        console.print(failed)


class _SweepProgress:
    """A progress bar of runs (done, failed, ETA) on a terminal; one line per run otherwise."""

    def __init__(self, console: Console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task = None
        self.failed = 0
        self.done = 0
        self.total = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int) -> None:
        self.total = total
        self.t0 = time.perf_counter()
        if not self.enabled or not total:
            return
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]sweep[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self.task = self.bar.add_task("sweep", total=total, failed=0)
            self.bar.start()

    @contextlib.contextmanager
    def warming(self, engines: list[str]):
        """The notice of a first run's compile while the workers warm ``engines``, unless their
        kernels are cached on this machine (a remote cluster's workers may differ)."""
        from ..api import is_compiled
        from .progress import compile_notice

        cold = [e for e in engines if not is_compiled(e)]
        if not cold:
            yield
            return
        if self.bar is not None:
            self.bar.stop()  # one live display at a time: the spinner, then the bar again
        with compile_notice(self.console, cold):
            yield
        if self.bar is not None:
            self.bar.start()

    def result(self, run, result) -> None:
        self.done += 1
        self.failed += result["status"] != "ok"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, failed=self.failed)
        elif self.enabled:
            wall = "" if result["wall_s"] is None else f" {result['wall_s']:.1f} s"
            self.console.print(
                f"[{self.done}/{self.total}] {escape(run.path)} {result['status']}{wall}",
                highlight=False, soft_wrap=True,
            )
