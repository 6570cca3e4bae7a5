"""Flow and link figures of a run, from its ``flows`` and ``links`` traces: FCT and slowdown
statistics per group of flows (overall, per size bucket, per traffic tag) and the hottest links.
``fabsim report`` tabulates them and ``fabsim plot`` draws them (docs/reports.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..trace.stats import percentiles

#: Flow-size buckets of the reports: (label, lowest size in bytes, first size above; None = no bound).
SIZE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("< 10 KB", 0, 10_000),
    ("10–100 KB", 10_000, 100_000),
    ("100 KB–1 MB", 100_000, 1_000_000),
    ("1–10 MB", 1_000_000, 10_000_000),
    ("≥ 10 MB", 10_000_000, None),
)

#: How many links the hottest-links table shows.
HOTTEST_LINKS = 10


@dataclass(frozen=True)
class FlowGroup:
    """FCT and slowdown statistics of a group of flows (completed flows only).

    ``fct_ns`` and ``slowdown`` are :func:`fabsim.trace.percentiles` dicts (``p50`` … ``max``,
    ``mean``, ``count``); ``flows`` counts every flow of the group, ``completed`` the finished ones.
    """

    label: str
    flows: int
    completed: int
    fct_ns: dict
    slowdown: dict


def _group(label: str, select: np.ndarray, done: np.ndarray, fct_ns: np.ndarray, slowdown: np.ndarray) -> FlowGroup:
    mine = select & done
    return FlowGroup(label, int(select.sum()), int(mine.sum()), percentiles(fct_ns[mine]), percentiles(slowdown[mine]))


def _flow_columns(flows: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``size_bytes``, ``completed``, ``fct_ns`` and ``slowdown`` as NumPy arrays (nulls → 0)."""
    size = flows["size_bytes"].to_numpy()
    done = flows["completed"].to_numpy()
    fct = pc.fill_null(flows["fct_ns"], 0).to_numpy().astype(np.float64)
    slowdown = pc.fill_null(flows["slowdown"], 0.0).to_numpy()
    return size, done, fct, slowdown


def bucket_index(size_bytes: np.ndarray) -> np.ndarray:
    """The :data:`SIZE_BUCKETS` index of each flow size."""
    edges = [lo for _, lo, _ in SIZE_BUCKETS[1:]]
    return np.searchsorted(edges, np.asarray(size_bytes), side="right")


def flows_overall(flows: pa.Table) -> FlowGroup:
    """Statistics of every flow of a ``flows`` trace."""
    size, done, fct, slowdown = _flow_columns(flows)
    return _group("all", np.ones(size.size, bool), done, fct, slowdown)


def flows_by_size(flows: pa.Table) -> list[FlowGroup]:
    """Statistics per :data:`SIZE_BUCKETS` bucket, smallest first, for buckets that hold flows."""
    size, done, fct, slowdown = _flow_columns(flows)
    bucket = bucket_index(size)
    groups = (_group(label, bucket == i, done, fct, slowdown) for i, (label, _, _) in enumerate(SIZE_BUCKETS))
    return [g for g in groups if g.flows]


def flows_by_tag(flows: pa.Table) -> list[FlowGroup]:
    """Statistics per traffic tag, in the order the tags first occur."""
    size, done, fct, slowdown = _flow_columns(flows)
    tags = pc.cast(flows["tag"], pa.string()).to_numpy(zero_copy_only=False)
    names = list(dict.fromkeys(tags.tolist()))
    return [_group(name, tags == name, done, fct, slowdown) for name in names]


def hottest_links(links: pa.Table, n: int = HOTTEST_LINKS) -> list[dict]:
    """The ``n`` links that sent anything with the highest utilization (ties: the deeper queue),
    as ``links`` rows (dicts)."""
    busy = links.filter(pc.greater(links["tx_bytes"], 0))
    order = pc.sort_indices(busy, sort_keys=[("utilization", "descending"), ("max_queue_bytes", "descending")])
    return busy.take(order[:n]).to_pylist()


def link_name(link: dict) -> str:
    """``"tor0→agg1"``: a ``links`` row's sending and receiving node."""
    return f"{link['src_node']}→{link['dst_node']}"
