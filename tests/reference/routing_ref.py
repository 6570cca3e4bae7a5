"""Slow, obviously correct routing reference: breadth-first search over adjacency lists."""

from __future__ import annotations

from collections import deque


def bfs_hops(n_nodes: int, links: list[tuple[int, int]], up: list[bool], source: int) -> list[int | None]:
    """Hop distance from every node to ``source`` over live directed links (None: unreachable).

    Hosts have one cable, so no shortest path passes through a host other than its ends.
    """
    incoming: list[list[int]] = [[] for _ in range(n_nodes)]
    for link, (a, b) in enumerate(links):
        if up[link]:
            incoming[b].append(a)
    dist: list[int | None] = [None] * n_nodes
    dist[source] = 0
    queue = deque([source])
    while queue:
        v = queue.popleft()
        for u in incoming[v]:
            if dist[u] is None:
                dist[u] = dist[v] + 1
                queue.append(u)
    return dist


def shortest_next_hops(n_nodes, links, up, node, dst) -> set[int]:
    """Live links out of ``node`` whose far end is one hop closer to ``dst``."""
    dist = bfs_hops(n_nodes, links, up, dst)
    if dist[node] is None:
        return set()
    return {
        link for link, (a, b) in enumerate(links)
        if a == node and up[link] and dist[b] is not None and dist[b] == dist[node] - 1
    }
