"""The kernel slices of a run: Ctrl-C and progress reports come between them, so none may be
long in wall time."""

from __future__ import annotations

from fabsim.run import slicer
from fabsim.run.slicer import MAX_GROWTH, Slicer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_quiet_start_does_not_make_the_next_slices_huge(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(slicer.time, "perf_counter", clock)
    s = Slicer(until_ps=10**15, wall_s=0.25)
    lengths = []
    for spent in [1e-6, 1e-6, 1e-6, 0.25, 2.0, 0.25]:  # simulated time costs nothing, then a lot
        start = s.t_end
        s.next_end()
        lengths.append(s.t_end - start)
        clock.now += spent
        s.done()
    assert lengths[:4] == [10**7, int(10**7 * MAX_GROWTH), int(10**7 * MAX_GROWTH**2), int(10**7 * MAX_GROWTH**3)]
    assert lengths[5] == lengths[4] // 8  # a slow slice shrinks the next one in proportion


def test_fixed_slices_end_on_the_sample_grid_also_after_a_slice_cut_short():
    s = Slicer(until_ps=35, fixed_ps=10)
    ends = []
    while s.more():
        ends.append(s.next_end(limit=15 if len(ends) == 1 else None))  # e.g. a failure at 16
        s.done()
    assert ends == [10, 15, 20, 30, 35]
