"""Max-min fair rates by progressive filling, in exact rational arithmetic.

Textbook water-filling (Bertsekas and Gallager, Data Networks §6.5.2): raise every unfrozen
flow's rate together until some link is full; freeze the flows on full links; repeat.
"""

from __future__ import annotations

from fractions import Fraction


def maxmin_rates(capacity: list[int], paths: list[list[int]]) -> list[Fraction]:
    """Max-min fair rate of each flow; ``paths[f]`` lists the links flow ``f`` crosses."""
    rates = [Fraction(0)] * len(paths)
    unfrozen = set(range(len(paths)))
    cap_left = [Fraction(c) for c in capacity]
    while unfrozen:
        users = {}
        for f in unfrozen:
            for link in paths[f]:
                users.setdefault(link, []).append(f)
        share = min(cap_left[link] / len(fs) for link, fs in users.items())
        full = [link for link, fs in users.items() if cap_left[link] / len(fs) == share]
        newly = {f for link in full for f in users[link]}
        for f in unfrozen:
            rates[f] += share
        for link, fs in users.items():
            cap_left[link] -= share * len(fs)
        unfrozen -= newly
    return rates
