"""The progress bar of ``fabsim run``: simulated time, flows done and events/s, on stderr.

It appears only on a terminal, and only once a run has taken more than a second, so short runs
and piped output stay clean. The notice of a first run's compile, and ``fabsim warmup``'s
per-kernel lines, are here too.
"""

from __future__ import annotations

import contextlib
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..run.slicer import Progress as RunProgress
from ..units import format_time

_SHOW_AFTER_S = 1.0


class ProgressDisplay:
    """A context manager whose ``update`` is the ``progress`` callback of ``simulate``."""

    def __init__(self, console: Console, enabled: bool = True):
        self.enabled = enabled and console.is_terminal
        self.console = console
        self.last: RunProgress | None = None
        self._bar: Progress | None = None
        self._task = None
        self._t0 = time.perf_counter()

    def __enter__(self) -> "ProgressDisplay":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, p: RunProgress) -> None:
        self.last = p
        if not self.enabled or time.perf_counter() - self._t0 < _SHOW_AFTER_S:
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("[bold]simulating[/]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("flows  t = {task.fields[sim]}  {task.fields[rate]} events/s"),
                TimeElapsedColumn(), console=self.console, transient=True,
            )
            self._task = self._bar.add_task("run", total=p.flows_total, sim="", rate="")
            self._bar.start()
        rate = p.events / p.wall_s if p.wall_s > 0 else 0.0
        self._bar.update(self._task, completed=p.flows_done, sim=format_time(p.t_ps), rate=f"{rate:,.0f}")

    def where(self) -> str:
        """The simulated time reached so far, for the interruption message."""
        return format_time(self.last.t_ps) if self.last else "0 s"


def progress_display(console: Console, enabled: bool = True) -> ProgressDisplay:
    return ProgressDisplay(console, enabled)


#: How long a cold compile of each kernel set takes (measured: docs/performance.md), shortest
#: first: a notice for several sets quotes the last of them.
COMPILE_TIME = {"flow": "about 15 s", "packet-core": "about 50 s", "packet-full-core": "about 50 s",
                "packet": "about 1 min", "packet-full": "about 1 min"}
#: What a kernel set is called in the notice.
ENGINE_NAME = {"flow": "flow", "packet-core": "packet", "packet": "packet",
               "packet-full-core": "full packet", "packet-full": "full packet"}


def compile_message(engines: list[str]) -> str:
    """``compiling the packet engine — first run on this machine, about 1 min`` (engines: kernel
    sets, ``fabsim.api.KERNEL_SETS``: ``flow``, ``packet``, ``packet-core`` — the packet engine
    without its failure and sampling kernels — and the same two for the full packet kernel)."""
    parts = list(dict.fromkeys(ENGINE_NAME[e] for e in engines))
    names = " and ".join(parts)
    longest = max(engines, key=list(COMPILE_TIME).index)
    noun = "engines" if len(parts) > 1 else "engine"
    return f"compiling the {names} {noun} — first run on this machine, {COMPILE_TIME[longest]}"


@contextlib.contextmanager
def compile_notice(console: Console, engines: list[str]):
    """Say that ``engines`` are being compiled while the block runs: a spinner on a terminal,
    one plain line otherwise (so a first run never sits silent for minutes)."""
    message = compile_message(engines)
    if console.is_terminal:
        with console.status(escape(message)):
            yield
    else:
        console.print(message, markup=False, highlight=False, soft_wrap=True)
        yield


@contextlib.contextmanager
def timed_step(console: Console, label: str):
    """One step of ``fabsim warmup``: a spinner while it runs (on a terminal), then one line
    with its time."""
    started = time.perf_counter()
    if console.is_terminal:
        with console.status(f"compiling the {escape(label)}"):
            yield
    else:
        yield
    console.print(f"{escape(label)}: {time.perf_counter() - started:.1f} s", highlight=False, soft_wrap=True)
