"""Paths of the flows under the model's routing, and the ECMP hash id each flow hashes with."""

from __future__ import annotations

import numpy as np

from ..model import Model

#: Hash ids of collective flows: one per job, so a job's connection between two ranks on one
#: channel keeps its path across steps and iterations (an NCCL queue pair's 5-tuple does not
#: change between steps); other flows hash with their own flow id.
JOB_HASH_BASE = 2**31


def hash_ids(flows) -> np.ndarray:
    """The ECMP hash id of every flow (see ``JOB_HASH_BASE``)."""
    ids = np.arange(len(flows), dtype=np.int64)
    return np.where(flows.job >= 0, JOB_HASH_BASE + flows.job.astype(np.int64), ids)


def flow_paths(model: Model, flows, on_fabric: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR paths of every flow under the model's routing, and the hash ids used. Tasks not
    ``on_fabric`` (compute tasks, scale-up transfers) get empty paths."""
    hid = hash_ids(flows)
    seed = model.scenario.run.seed
    if on_fabric is None or on_fabric.all():
        path_ptr, path_link = model.routing.paths(flows.src, flows.dst, hid, flows.channel, seed)
        return path_ptr, path_link, hid
    sub = np.flatnonzero(on_fabric)
    sub_ptr, path_link = model.routing.paths(flows.src[sub], flows.dst[sub], hid[sub], flows.channel[sub], seed)
    hops = np.zeros(len(flows), np.int64)
    hops[sub] = np.diff(sub_ptr)
    path_ptr = np.zeros(len(flows) + 1, np.int64)
    np.cumsum(hops, out=path_ptr[1:])
    return path_ptr, path_link, hid
