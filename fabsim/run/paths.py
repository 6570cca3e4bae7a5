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


def route(routing, flows, rows, hash_id, seed: int, spread=None) -> tuple[np.ndarray, np.ndarray]:
    """CSR paths of the flows ``rows`` over ``routing``'s tables: their hashed paths, or with
    ``spread`` (a ``fabsim.run.spray.Spread``) the equal-cost path each sub-flow is given."""
    if spread is not None:
        return spread.paths(routing, flows, rows)
    return routing.paths(flows.src[rows], flows.dst[rows], hash_id[rows], flows.channel[rows], seed)


def flow_paths(model: Model, flows, on_fabric: np.ndarray | None = None,
               spread=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR paths of every flow under the model's routing (hashed, or given by ``spread``: see
    ``route``), and the hash ids. Tasks not ``on_fabric`` (compute tasks, scale-up transfers)
    get empty paths."""
    hid = hash_ids(flows)
    seed = model.scenario.run.seed
    if on_fabric is None or on_fabric.all():
        path_ptr, path_link = route(model.routing, flows, np.arange(len(flows)), hid, seed, spread)
        return path_ptr, path_link, hid
    sub = np.flatnonzero(on_fabric)
    sub_ptr, path_link = route(model.routing, flows, sub, hid, seed, spread)
    hops = np.zeros(len(flows), np.int64)
    hops[sub] = np.diff(sub_ptr)
    path_ptr = np.zeros(len(flows) + 1, np.int64)
    np.cumsum(hops, out=path_ptr[1:])
    return path_ptr, path_link, hid
