"""Max-min fair rates by progressive filling, in exact rational arithmetic.

Textbook water-filling (Bertsekas and Gallager, Data Networks §6.5.2): raise every unfrozen
flow's rate together until some link is full; freeze the flows on full links; repeat. Weighted:
a flow of weight w rises w times as fast.
"""

from __future__ import annotations

from fractions import Fraction


def maxmin_rates(capacity: list[int], paths: list[list[int]], weights=None) -> list[Fraction]:
    """Max-min fair rate of each flow; ``paths[f]`` lists the links flow ``f`` crosses;
    ``weights[f]`` (default 1) is flow ``f``'s weight."""
    w = [Fraction(x) for x in weights] if weights is not None else [Fraction(1)] * len(paths)
    rates = [Fraction(0)] * len(paths)
    unfrozen = set(range(len(paths)))
    cap_left = [Fraction(c) for c in capacity]
    while unfrozen:
        users = {}
        for f in unfrozen:
            for link in paths[f]:
                users.setdefault(link, []).append(f)
        weight = {link: sum(w[f] for f in fs) for link, fs in users.items()}
        share = min(cap_left[link] / weight[link] for link in users)
        full = [link for link in users if cap_left[link] / weight[link] == share]
        newly = {f for link in full for f in users[link]}
        for f in unfrozen:
            rates[f] += share * w[f]
        for link in users:
            cap_left[link] -= share * weight[link]
        unfrozen -= newly
    return rates
