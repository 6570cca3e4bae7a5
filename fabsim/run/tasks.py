"""Which engine mechanism carries each task of the flow table (docs/packet-engine.md, "Tasks
that are not fabric flows"): packets through the fabric, a fluid transfer inside a server's
scale-up domain, or a compute task — and what each takes alone on an idle system."""

from __future__ import annotations

import numpy as np

from fabsim.native.codes import KIND_COMPUTE, KIND_FABRIC, KIND_SCALEUP

from ..traffic.table import TASK_COMPUTE


def engine_kinds(model, flows) -> np.ndarray:
    """Per task, KIND_FABRIC, KIND_SCALEUP (its two GPUs share a server) or KIND_COMPUTE (int8)."""
    g = model.scenario.topology.gpus_per_server
    kinds = np.full(len(flows), KIND_FABRIC, np.int8)
    if g > 1:
        kinds[(flows.src // g) == (flows.dst // g)] = KIND_SCALEUP
    kinds[flows.kind == TASK_COMPUTE] = KIND_COMPUTE
    return kinds


def alone_ps(model, flows, kinds: np.ndarray, round_up=None) -> np.ndarray:
    """Per task, its time alone for the tasks off the fabric: a scale-up transfer's bytes at the
    scale-up rate (rounded up to the ps by ``round_up``, float64 ps → int64, as the engine
    does; ``np.ceil`` by default) plus the scale-up latency; a compute task's duration. Fabric
    tasks get 0 (their ideal FCT is the engines' own)."""
    topo = model.scenario.topology
    out = np.zeros(len(flows), np.int64)
    up = kinds == KIND_SCALEUP
    latency = topo.scaleup_latency_ps * flows.steps[up].astype(np.int64)  # a latency per step carried
    drain = flows.size_bytes[up] * 8e12 / topo.scaleup_rate_bps
    out[up] = (np.ceil(drain).astype(np.int64) if round_up is None else round_up(drain)) + latency
    comp = kinds == KIND_COMPUTE
    out[comp] = flows.duration_ps[comp]
    return out
