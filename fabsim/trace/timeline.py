"""``timeline.json``: what chosen ranks of every training job did and when, in the Chrome
trace-event format (JSON object form) that ui.perfetto.dev and chrome://tracing open.

Per job one process (``pid`` = the job's position in ``[[jobs]]``, from 1, named after the
job); per rank one thread (``tid`` = the rank index, named ``rank <r> (h<host>)``). Compute tasks
are complete events (``"ph": "X"``, ``name`` forward / backward / optimizer, ``cat`` compute) on
the rank's thread. Transfers the rank sends overlap each other and its compute, so they are
nestable async events (``"ph": "b"`` / ``"e"``, ``id`` = the task id, ``cat`` = tp, pp, dp or ep)
named ``rank <r> <kind>``, which Perfetto draws as one track per rank and kind under the job.
Times ``ts`` and ``dur`` are µs (floats, exact to the ps). A task that started and did not
finish ends at the end of the run, with ``"unfinished": true`` in its ``args``; tasks that never
started are left out. docs/traces.md describes the file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..traffic.table import PHASE_NAMES, PHASE_SYNC, TASK_COMPUTE

__all__ = ["TIMELINE_FILE", "job_ranks", "timeline"]

#: The file's name in a run directory.
TIMELINE_FILE = "timeline.json"

_PS_PER_US = 1e6


def job_ranks(selection: int | Sequence[int], n_ranks: int) -> list[int]:
    """The ranks of a job of ``n_ranks`` ranks that ``output.timeline_ranks`` selects: the first
    ``selection`` ranks (a count), or the listed indices below ``n_ranks``, in the order given."""
    if isinstance(selection, (int, np.integer)):
        return list(range(min(int(selection), n_ranks)))
    return [int(r) for r in selection if 0 <= r < n_ranks]


def _us(t_ps: int) -> float:
    return t_ps / _PS_PER_US


def timeline(flows, t_start_ps: np.ndarray, t_finish_ps: np.ndarray, end_ps: int,
             ranks: int | Sequence[int]) -> dict | None:
    """The trace-event document (a JSON-ready dict) of the ranks ``ranks`` selects in every
    training job of ``flows`` (a ``FlowTable``), from the run's per-task start and finish times
    in ps (−1: never); ``end_ps`` is when the run ended. None when there is no training job or
    the selection is empty (``ranks`` 0)."""
    if not flows.job_rows:
        return None
    selected = [job_ranks(ranks, rows.hosts.size) for rows in flows.job_rows]
    if not any(selected):
        return None
    events: list[dict] = []
    for k, (rows, mine_ranks) in enumerate(zip(flows.job_rows, selected)):
        if not mine_ranks:
            continue
        pid = k + 1
        j = flows.jobs.index(rows.name)
        events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": rows.name}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
        rank_of_host = {int(rows.hosts[r]): r for r in range(rows.hosts.size)}
        for r in mine_ranks:
            events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": r,
                           "args": {"name": f"rank {r} (h{int(rows.hosts[r])})"}})
            events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": r, "args": {"sort_index": r}})
        chosen_hosts = np.array([int(rows.hosts[r]) for r in mine_ranks], np.int64)
        tasks = np.flatnonzero((flows.job == j) & np.isin(flows.src, chosen_hosts) & (t_start_ps >= 0)
                               & (flows.phase != PHASE_SYNC))
        columns = zip(tasks.tolist(), t_start_ps[tasks].tolist(), t_finish_ps[tasks].tolist(),
                      flows.src[tasks].tolist(), flows.dst[tasks].tolist(), flows.phase[tasks].tolist(),
                      (flows.kind[tasks] == TASK_COMPUTE).tolist(), flows.iteration[tasks].tolist(),
                      flows.size_bytes[tasks].tolist())
        for f, start, finish, src, dst, phase, compute, iteration, size in columns:
            unfinished = finish < 0
            finish = end_ps if unfinished else finish
            rank = rank_of_host[src]
            name = PHASE_NAMES[phase] or "task"
            args = {"task": f, "iteration": iteration}
            if unfinished:
                args["unfinished"] = True
            if compute:
                events.append({"name": name, "cat": "compute", "ph": "X", "pid": pid, "tid": rank,
                               "ts": _us(start), "dur": _us(finish - start), "args": args})
                continue
            args.update({"to_rank": rank_of_host.get(dst), "to_host": f"h{dst}", "bytes": size})
            track = f"rank {rank} {name}"
            events.append({"name": track, "cat": name, "ph": "b", "id": f, "pid": pid, "tid": rank,
                           "ts": _us(start), "args": args})
            events.append({"name": track, "cat": name, "ph": "e", "id": f, "pid": pid, "tid": rank,
                           "ts": _us(finish)})
    return {"traceEvents": events, "displayTimeUnit": "ns"}
