"""Kernel slices of a run and the progress reports between them (both engine drivers)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """A progress report between kernel slices."""

    t_ps: int
    flows_done: int
    flows_total: int
    events: int
    wall_s: float


#: Largest factor by which one adaptive slice may be longer than the one before.
MAX_GROWTH = 4.0


class Slicer:
    """Ends of the kernel slices of a run: the driver returns to Python between slices for
    progress reports, trace samples and Ctrl-C.

    With ``fixed_ps`` the slices end on the multiples of it (the sample times of the queue and
    rates traces), also after a slice cut short by ``limit``; otherwise they start at 10 µs of
    simulated time and adapt so that each takes about ``wall_s`` of wall time.
    """

    def __init__(self, until_ps: int, fixed_ps: int = 0, wall_s: float = 0.25, wall0: float | None = None):
        self.until_ps = until_ps
        self.wall0 = time.perf_counter() if wall0 is None else wall0
        self.fixed = fixed_ps > 0
        self.slice_ps = fixed_ps or 10**7
        self.wall_s = wall_s
        self.t_end = 0
        self._started = 0.0

    def more(self) -> bool:
        return self.t_end < self.until_ps

    def next_end(self, limit: int | None = None) -> int:
        """The end of the next slice (ps), at most ``limit``; starts its wall clock."""
        if self.fixed:  # the next multiple, wherever the last slice ended
            self.t_end = min((self.t_end // self.slice_ps + 1) * self.slice_ps, self.until_ps)
        else:
            self.t_end = min(self.t_end + self.slice_ps, self.until_ps)
        if limit is not None:
            self.t_end = min(self.t_end, limit)
        self._started = time.perf_counter()
        return self.t_end

    def done(self) -> None:
        """The slice just run has returned: adapt the next one's length."""
        if not self.fixed:
            spent = max(time.perf_counter() - self._started, 1e-4)
            # grow at most fourfold: a quiet start (few events per ps) must not make the next
            # slice so long that a busier stretch keeps the run away from Ctrl-C and progress
            # reports for many seconds
            factor = min(self.wall_s / spent, MAX_GROWTH)
            self.slice_ps = int(min(max(self.slice_ps * factor, 10**6), 10**13))

    def report(self, progress, finished: bool, t_now_ps, flows_done, flows_total: int, events) -> None:
        """Call ``progress`` (if any) with where the run is: the slice end, or the last event's
        time once the run has finished."""
        if progress is not None:
            progress(Progress(
                t_ps=int(t_now_ps if finished else self.t_end), flows_done=int(flows_done),
                flows_total=flows_total, events=int(events), wall_s=time.perf_counter() - self.wall0,
            ))
