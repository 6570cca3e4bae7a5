"""A slow, obviously correct flow-level simulator: global max-min at every event, exact rationals.

Same semantics as ``native/flow.py``: a flow starts at max(start, last predecessor received +
gap); it sends its wire bytes at its max-min rate (re-solved over *all* active flows whenever a
flow starts or ends); its last byte leaves when they have drained, rounded up to the next whole
ps (docs/engines.md, Timing: every event is at a whole ps, as in the kernel, and the rounding
is part of the model: when it splits flows that tie in exact arithmetic, max-min sharing carries
the split along the chains of transfers that depend on them, so an unrounded timeline can drift
from the kernel's by far more than a picosecond per event); it is received ``delay`` after its
last byte leaves. A flow of 0 wire bytes
(a compute task: an empty path, its duration as its delay) has sent everything the moment it
starts and holds no link: it is received ``delay`` after its start.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .maxmin_ref import maxmin_rates

PS_PER_S = 10**12


def simulate(capacity_bps, paths, wire_bytes, start_ps, delay_ps, gap_ps, succ):
    """Per-flow (start_ps, finish_ps), whole ps (Fractions) for whole-ps inputs; rates in bit/s,
    sizes in bytes."""
    n = len(paths)
    preds = [0] * n
    for s in succ:
        for t in s:
            preds[t] += 1
    pending = {f: Fraction(start_ps[f]) for f in range(n) if preds[f] == 0}  # start times
    receiving: dict[int, Fraction] = {}
    active: dict[int, Fraction] = {}  # flow -> remaining bits
    started = [None] * n
    finished = [None] * n
    t = Fraction(0)
    while pending or receiving or active:
        flows = sorted(active)
        rates = maxmin_rates(capacity_bps, [paths[f] for f in flows]) if flows else []
        ends = {f: t + max(ceil_ps(active[f] * PS_PER_S / r), 0) for f, r in zip(flows, rates)}
        t_next = min([*pending.values(), *receiving.values(), *ends.values()])
        for f, r in zip(flows, rates):
            active[f] -= r * (t_next - t) / PS_PER_S
        t = t_next
        for f in [f for f, e in ends.items() if e == t]:
            del active[f]
            receiving[f] = t + delay_ps[f]
        for f in [f for f, at in receiving.items() if at == t]:
            del receiving[f]
            finished[f] = t
            for s in succ[f]:
                preds[s] -= 1
                if preds[s] == 0:
                    pending[s] = max(t + gap_ps[s], Fraction(start_ps[s]))
        for f in [f for f, at in pending.items() if at == t]:
            del pending[f]
            started[f] = t
            if wire_bytes[f] == 0:  # nothing to send: received after its delay
                receiving[f] = t + delay_ps[f]
            else:
                active[f] = Fraction(wire_bytes[f] * 8)
        # a zero-delay reception can release a zero-gap successor at this same instant
        if any(at == t for at in [*pending.values(), *receiving.values()]):
            continue
    return started, finished


def ceil_ps(x: Fraction) -> int:
    return math.ceil(x)
