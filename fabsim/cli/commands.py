"""The ``fabsim`` command: a thin layer over the Python API.

Human output goes to stderr through rich; ``--json`` puts machine-readable output on stdout.
Exit codes: 0 ok, 1 internal error, 2 bad usage or an invalid scenario, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

from rich.console import Console
from rich.markup import escape

from ..errors import EXIT_INTERRUPTED, FabsimError, ScenarioError

EXIT_INTERNAL = 1


def _add_scenario_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (TOML)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario key, e.g. --set topology.k=16 (repeatable; values are TOML)",
    )
    p.add_argument("--seed", type=int, help="shortcut for --set run.seed=N")


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="fabsim", description="Packet- and flow-level simulator of AI-cluster fabrics.")
    parser.add_argument("--version", action="version", version=f"fabsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="parse a scenario, build its fabric and routing, print a summary")
    _add_scenario_options(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("run", help="simulate a scenario and write its traces")
    _add_scenario_options(p)
    p.add_argument("--out", help="output directory (default: runs/<run.name>)")
    p.add_argument("--engine", choices=["packet", "flow"], help="shortcut for --set run.engine=…")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    p.add_argument("--baseline", action="store_true",
                   help="also run without the [[failures]] (same seed) and report the delay they add")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("sweep", help="run a scenario over a grid of parameters and seeds")
    p.add_argument("sweep", help="sweep file: a scenario with a [sweep] table (TOML)")
    p.add_argument("--out", help="output directory (default: sweeps/<run.name>)")
    p.add_argument("--jobs", type=int, help="worker processes (default: the number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster at ADDRESS, or 'local' for a Dask LocalCluster")
    p.add_argument("--resume", action="store_true", help="keep the finished runs of an earlier attempt")
    p.add_argument("--dry-run", action="store_true", help="print the runs and their directories; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.add_argument("--json", action="store_true", help="print the sweep's outcome (or, with --dry-run, its runs) as JSON")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("report", help="tables about a finished run or sweep")
    p.add_argument("dir", help="a run directory (summary.json) or a sweep directory (runs.parquet)")
    p.add_argument("--metric", help="sweep: the runs-table column to compare (default: slowdown_p99 and, with jobs, iteration_ns)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("plot", help="PNG figures of a finished run or sweep (needs matplotlib: fabsim[plot])")
    p.add_argument("dir", help="a run directory (summary.json) or a sweep directory (runs.parquet)")
    p.add_argument("--out", help="where to write the PNGs (default: DIR/plots)")
    p.add_argument("--metric", help="sweep: the runs-table column to plot against each parameter")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("warmup", help="compile and cache every kernel")
    p.set_defaults(func=_cmd_warmup)
    return parser


def _load(args):
    from ..scenario import load_scenario, parse_set_option

    overrides = dict(parse_set_option(text) for text in args.overrides)
    if args.seed is not None:
        overrides["run.seed"] = args.seed
    if getattr(args, "engine", None):
        overrides["run.engine"] = args.engine
    return load_scenario(args.scenario, overrides=overrides)


def _print_warning(console: Console, line: str) -> None:
    console.print(f"[bold yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _cmd_validate(args, console: Console) -> int:
    from ..api import prepare
    from .validate import print_validate, validate_json

    model, flows, warnings = prepare(_load(args))  # the checks fabsim run applies before an engine
    if args.json:
        print(json.dumps({**validate_json(model, flows), "warnings": warnings}, indent=2))
    else:
        print_validate(model, flows, console)
    for line in warnings:
        _print_warning(console, line)
    return 0


def _cmd_run(args, console: Console) -> int:
    from pathlib import Path

    from ..api import simulate
    from ..trace.writer import check_out_dir
    from .progress import progress_display
    from .report import print_run_summary

    sc = _load(args)
    out_dir = Path(args.out) if args.out else Path("runs") / sc.run.name
    check_out_dir(out_dir, args.overwrite)
    _compile_first(sc, console)
    display = progress_display(console, enabled=not args.quiet)
    try:
        with display:
            result = simulate(sc, progress=display.update, baseline=args.baseline,
                              warn=lambda line: _print_warning(console, line))
        path = result.write(out_dir, overwrite=args.overwrite)
    except KeyboardInterrupt:
        console.print(
            f"[bold red]interrupted[/] at simulated time {display.where()}: "
            f"the run is lost and nothing was written to {escape(str(out_dir))}",
            highlight=False, soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(result.summary, indent=2))
    if not args.quiet:
        print_run_summary(result, console, path)
    return 0


def _compile_first(scenario, console: Console) -> None:
    """Compile the kernels a run of ``scenario`` needs now, saying so, unless they are in the
    kernel cache: a cold compile takes a minute or more, and a run must not sit silent that
    long. A scenario the checks before a run refuse (``fabsim validate``'s) is refused first,
    not after that minute."""
    from ..api import is_compiled, kernel_set, prepare, warm
    from .progress import compile_notice

    engine = kernel_set(scenario)
    if not is_compiled(engine):
        prepare(scenario)  # raises for a refused scenario; the warnings come with the run
        with compile_notice(console, [engine]):
            warm((engine,))


def _cmd_sweep(args, console: Console) -> int:
    from .sweep import run_sweep_command

    return run_sweep_command(args, console)


def _cmd_report(args, console: Console) -> int:
    from .report import print_report

    print_report(args.dir, console, metric=args.metric)
    return 0


def _cmd_plot(args, console: Console) -> int:
    from .plot import plot_dir

    for path in plot_dir(args.dir, out_dir=args.out, metric=args.metric):
        console.print(escape(str(path)), highlight=False, soft_wrap=True)
    return 0


def _cmd_warmup(args, console: Console) -> int:
    from functools import partial

    from .. import native
    from ..api import warm
    from .progress import timed_step

    started = time.perf_counter()
    warm(on_step=partial(timed_step, console))
    wall_s = time.perf_counter() - started
    if native.CACHE_DIR:
        message = f"kernels compiled and cached in {wall_s:.1f} s ({native.CACHE_DIR})"
    else:
        message = f"kernels compiled in {wall_s:.1f} s, but not cached: no cache directory is writable"
    console.print(message, markup=False, highlight=False, soft_wrap=True)
    return 0


def command() -> int:
    """The ``fabsim`` command (console script and ``python -m fabsim``): ``main`` on the process's
    arguments, in a process that ends when it returns.

    Everything alive when a command starts — fabsim's, NumPy's, Numba's and pyarrow's modules and
    Numba's type system — stays alive until the process ends, and so does most of what the
    command leaves. ``gc.freeze`` takes both out of the cyclic collector's sight, which would
    otherwise walk them at every full collection and again at exit: that walk took about 0.3 s
    of a 2 s packet run at k = 16 (case 2 of ``tools/bench packet``). Objects still die
    when their last reference goes. ``main`` itself, which tests and other programs call in a
    process that goes on, leaves the collector alone.
    """
    gc.freeze()
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to ``sys.exit``)."""
    console = Console(stderr=True)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error (code 2)
        return int(exc.code or 0)
    try:
        return args.func(args, console)
    except FabsimError as exc:
        kind = "invalid scenario" if isinstance(exc, ScenarioError) else "error"
        console.print(f"[bold red]{kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("interrupted", style="bold red")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: one line, and the traceback on request
        return _internal_error(exc, console)


def _internal_error(exc: Exception, console: Console) -> int:
    """Report an exception that is not a ``FabsimError`` in one line (exit 1); with
    ``FABSIM_DEBUG=1`` the traceback comes first."""
    import os
    import traceback

    if os.environ.get("FABSIM_DEBUG", "") not in ("", "0"):
        console.file.write("".join(traceback.format_exception(exc)))
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] + (" …" if len(lines) > 1 else "") if lines else "(no message)"
    console.print(
        f"fabsim: internal error: {type(exc).__name__}: {message} (FABSIM_DEBUG=1 shows the traceback)",
        markup=False, highlight=False, soft_wrap=True,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
