"""Training jobs: one ``[[jobs]]`` entry → a dependency DAG of compute tasks and transfers.

DESIGN §4b; docs/jobs.md is the user's page. A job of ``R = tp·pp·dp`` ranks (rank
``r = t + tp·(d + dp·p)``) runs, per iteration, the 1F1B pipeline schedule (Narayanan et al.,
"Efficient large-scale language model training on GPU clusters using Megatron-LM", SC'21 §2.2)
with Megatron-LM's tensor and sequence parallelism (Korthikanti et al., "Reducing activation
recomputation in large transformer models", MLSys 2023 §4.2), expert all-to-alls, and bucketed
data-parallel gradient collectives (Li et al., "PyTorch Distributed", VLDB 2020 §3.2) with
ZeRO stages 0–2 (Rajbhandari et al., SC'20 §5).

How the DAG is built. Every stage's rank program is a chain of *ops*: compute pieces and the
TP/EP collectives between them. The ops of one microbatch's forward (or backward) on one stage
form a *macro* template, built once per (stage, direction) with every op tiled over the stage's
``tp·dp`` ranks (the *slots* ``t + tp·d``) and then instantiated m times by offsetting task ids.
Macros, PP transfers, DP buckets, optimizer steps and the iteration barrier are *units*; a
topological order of the few thousand units (Kahn, ties by creation order) gives each unit a
contiguous block of task ids, so every edge points from a lower id to a higher one. One
iteration is built this way and tiled ``iterations`` times.

Hand-off rules between consecutive ops of one rank (per rank, never a barrier):

- a compute task waits for the rank's previous compute task (one task at a time), and after a
  collective also for the transfers the rank received in its last receiving step of it;
- a collective's first sends at a rank (those with no predecessor inside the collective) wait
  for the rank's previous compute task, and after another collective also for every transfer
  the rank sent or received in its last active step of that one;
- inside a collective, the rule of :mod:`fabsim.traffic.collectives` (a send waits for the
  rank's latest earlier receives and sends).

A transfer piece of 0 bytes (a buffer smaller than its rank count) carries 1 byte, as in the
collective generator, so no task is dropped and the dependency pattern never depends on sizes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from fabsim.scenario._jobs import GPU_PEAK_FLOPS
from fabsim.scenario.schema import Job
from fabsim.traffic.block import FlowBlock
from fabsim.traffic.collectives import intra_iteration_edges
from fabsim.traffic.schedules import Schedule, schedule
from fabsim.traffic.table import (
    PHASE_BACKWARD,
    PHASE_DP,
    PHASE_EP,
    PHASE_FORWARD,
    PHASE_OPTIMIZER,
    PHASE_PP,
    PHASE_SYNC,
    PHASE_TP,
    TASK_COMPUTE,
    TASK_TRANSFER,
    JobRows,
)

PS_PER_S = 10**12


def peak_flops(gpu: str) -> float:
    """Dense BF16 FLOP/s of ``gpu`` (a GPU_PEAK_FLOPS key, any case); KeyError if unknown."""
    for key, value in GPU_PEAK_FLOPS.items():
        if key.lower() == gpu.lower():
            return value
    raise KeyError(gpu)


# ---- formulas (DESIGN §4b) ---------------------------------------------------------------------


def activation_bytes(job: Job) -> int:
    """Activation of one microbatch at a layer boundary, ``A = b·s·h·B`` bytes."""
    return job.micro_batch * job.seq_len * job.hidden * job.dtype_bytes


def tp_buffer_bytes(job: Job) -> int:
    """Per-rank buffer of each TP collective: ``tp_bytes``, else A (NCCL convention)."""
    return job.tp_bytes if job.tp_bytes is not None else activation_bytes(job)


def pp_transfer_bytes(job: Job) -> int:
    """Bytes of one PP activation or gradient transfer: ``pp_bytes``, else A/tp (at least 1)."""
    return job.pp_bytes if job.pp_bytes is not None else max(1, activation_bytes(job) // job.tp)


def ep_buffer_bytes(job: Job) -> int:
    """Per-rank buffer of each EP all-to-all: ``ep_bytes``, else A·top_k/tp (at least 1)."""
    if job.ep_bytes is not None:
        return job.ep_bytes
    return max(1, activation_bytes(job) * job.top_k // job.tp)


def is_moe_layer(job: Job, layer: int) -> bool:
    """Whether 1-based ``layer`` is an MoE layer (every ``moe_every``-th, when experts > 0)."""
    return job.experts > 0 and layer % job.moe_every == 0


def layer_piece_flops(job: Job, moe: bool) -> tuple[float, float]:
    """Forward FLOPs of one layer and microbatch per rank: (attention piece, MLP piece).

    Attention ``(8·b·s·h² + 4·b·s²·h)/tp`` (QKV and output projections, scores and context);
    MLP ``16·b·s·h²/tp``, times ``top_k`` in an MoE layer (each token visits top_k experts).
    """
    b, s, h, tp = job.micro_batch, job.seq_len, job.hidden, job.tp
    attention = (8 * b * s * h * h + 4 * b * s * s * h) / tp
    mlp = 16 * b * s * h * h * (job.top_k if moe else 1) / tp
    return attention, mlp


def layer_flops(job: Job, moe: bool) -> float:
    """Forward FLOPs of one layer and microbatch per rank: ``(24·b·s·h² + 4·b·s²·h)/tp`` for a
    dense layer (the MLP term times ``top_k`` in an MoE layer). Backward is twice this."""
    return sum(layer_piece_flops(job, moe))


def layer_piece_times_ps(job: Job, moe: bool) -> tuple[int, int, int, int]:
    """(forward attention, forward MLP, backward MLP, backward attention) times in ps.

    From FLOPs / (peak · mfu), each piece rounded to whole ps, backward pieces twice the forward
    ones. ``layer_forward_ps`` / ``layer_backward_ps`` replace the totals, split between the
    pieces in proportion to their FLOPs (attention rounded, MLP the rest).
    """
    attention, mlp = layer_piece_flops(job, moe)
    if job.layer_forward_ps is not None:
        fa = round(job.layer_forward_ps * attention / (attention + mlp))
        fm = job.layer_forward_ps - fa
    else:
        if job.gpu is None:
            raise ValueError(f'job "{job.name}" has neither gpu nor layer_forward')
        rate = peak_flops(job.gpu) * job.mfu
        fa, fm = round(attention * PS_PER_S / rate), round(mlp * PS_PER_S / rate)
    if job.layer_backward_ps is not None:
        ba = round(job.layer_backward_ps * attention / (attention + mlp))
        bm = job.layer_backward_ps - ba
    else:
        ba, bm = 2 * fa, 2 * fm
    return fa, fm, bm, ba


def layer_times_ps(job: Job, moe: bool) -> tuple[int, int]:
    """(forward, backward) time of one layer and microbatch on one rank, in ps."""
    fa, fm, bm, ba = layer_piece_times_ps(job, moe)
    return fa + fm, bm + ba


def stage_layers(job: Job, stage: int) -> range:
    """1-based layers held by pipeline stage ``stage`` (L/pp consecutive layers)."""
    per = job.layers // job.pp
    return range(stage * per + 1, (stage + 1) * per + 1)


def dense_layer_params(job: Job, layer: int) -> int:
    """Dense parameters of 1-based ``layer`` per rank: attention 4h²/tp, plus MLP 8h²/tp when
    the layer is dense (an MoE layer's MLP is its experts)."""
    h2 = job.hidden * job.hidden
    return (4 * h2) // job.tp + (0 if is_moe_layer(job, layer) else (8 * h2) // job.tp)


def embedding_params(job: Job) -> int:
    """Embedding (or output layer) parameters per rank, vocab·h/tp (0 when vocab is 0)."""
    return job.vocab * job.hidden // job.tp


def dense_params_per_rank(job: Job, stage: int) -> int:
    """Dense parameters a rank of ``stage`` holds: its layers, plus vocab·h/tp on the first
    stage (input embedding) and on the last stage (output layer); both on a single stage."""
    params = sum(dense_layer_params(job, layer) for layer in stage_layers(job, stage))
    params += embedding_params(job) * ((stage == 0) + (stage == job.pp - 1))
    return params


def expert_params_per_rank(job: Job, stage: int) -> int:
    """Expert parameters a rank of ``stage`` holds: 8h²·experts/ep per MoE layer."""
    n_moe = sum(is_moe_layer(job, layer) for layer in stage_layers(job, stage))
    return n_moe * (8 * job.hidden * job.hidden * job.experts // job.ep)


def gradient_segments(job: Job, stage: int, expert: bool) -> tuple[np.ndarray, np.ndarray]:
    """The stage's gradients per rank in backward order: (bytes, layer position) per segment.

    Layer position j counts the stage's layers backwards (0 = its last layer); a segment is
    ready when the backward of that layer is done. Dense: the output layer (last stage, counted
    with the stage's last layer), each layer from the last, the input embedding (first stage,
    counted with its first layer); ``dp_bytes`` rescales the whole sequence to that total.
    Expert: each MoE layer from the last.
    """
    layers = list(stage_layers(job, stage))[::-1]
    if expert:
        per = 8 * job.hidden * job.hidden * job.experts // job.ep
        pos = [j for j, layer in enumerate(layers) if is_moe_layer(job, layer)]
        params = [per] * len(pos)
    else:
        params = [dense_layer_params(job, layer) for layer in layers]
        pos = list(range(len(layers)))
        if job.vocab > 0 and stage == job.pp - 1:
            params, pos = [embedding_params(job)] + params, [0] + pos
        if job.vocab > 0 and stage == 0:
            params, pos = params + [embedding_params(job)], pos + [len(layers) - 1]
    grads = np.asarray(params, np.int64) * job.grad_bytes
    if not expert and job.dp_bytes is not None and grads.sum() > 0:
        cum = np.cumsum(grads) * job.dp_bytes // grads.sum()
        grads = np.diff(np.concatenate([[0], cum]))
    return grads, np.asarray(pos, np.int64)


def gradient_buckets(job: Job, stage: int, expert: bool) -> tuple[np.ndarray, np.ndarray]:
    """Buckets of ``bucket_bytes`` in backward order: (bytes, layer position that closes it).

    The last bucket holds the remainder; a bucket is closed by the layer whose gradients
    contain its last byte.
    """
    grads, pos = gradient_segments(job, stage, expert)
    total = int(grads.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ends = np.minimum(np.arange(1, -(-total // job.bucket_bytes) + 1) * job.bucket_bytes, total)
    seg = np.searchsorted(np.cumsum(grads), ends - 1, side="right")
    return np.diff(np.concatenate([[0], ends])).astype(np.int64), pos[seg]


# ---- placement and input checks ----------------------------------------------------------------


def job_servers(job: Job, gpus_per_server: int) -> list[int]:
    """The job's servers in order: an explicit list, or ``servers`` consecutive servers from
    ``first_server`` (0 = as many as the ranks need)."""
    if isinstance(job.servers, tuple):
        return list(job.servers)
    count = job.servers or -(-job.ranks // gpus_per_server)
    return list(range(job.first_server, job.first_server + count))


def rank_hosts(job: Job, n_hosts: int, gpus_per_server: int, rng: np.random.Generator) -> np.ndarray:
    """Host (GPU) of every rank, int64[R].

    The job's GPUs are its servers' GPUs in server order (server k holds hosts k·G … k·G+G−1).
    ``packed``: rank r on the r-th of them; ``strided``: rank r on server r mod S, slot r div S
    (S servers); ``random``: the first R of a permutation drawn from ``rng``.
    """
    g = gpus_per_server
    servers = np.asarray(job_servers(job, g), np.int64)
    gpus = (servers[:, None] * g + np.arange(g)).ravel()
    r = np.arange(job.ranks)
    if gpus.shape[0] < job.ranks or (gpus.shape[0] and gpus.max() >= n_hosts):
        raise ValueError(f'job "{job.name}" does not fit the fabric')
    if job.placement == "strided":
        return gpus[(r % servers.shape[0]) * g + r // servers.shape[0]]
    if job.placement == "random":
        return rng.permutation(gpus)[: job.ranks]
    return gpus[: job.ranks]


def check_job(job: Job, n_hosts: int, gpus_per_server: int) -> list[tuple[str, str]]:
    """Problems that make ``job`` impossible on this fabric, as (key, message) pairs."""
    problems: list[tuple[str, str]] = []
    g = gpus_per_server
    if isinstance(job.servers, tuple) and len(set(job.servers)) < len(job.servers):
        dup = sorted({s for s in job.servers if job.servers.count(s) > 1})
        problems.append(("servers", f"server {dup[0]} is listed more than once"))
    servers = job_servers(job, g)
    n_servers = n_hosts // g
    beyond = [s for s in servers if s < 0 or s >= n_servers]
    if beyond:
        key = "servers" if isinstance(job.servers, tuple) or job.servers else "first_server"
        problems.append((key, f"server {beyond[0]} does not exist: the fabric has {n_servers} servers of {g} GPUs"))
    if len(set(servers)) * g < job.ranks:
        problems.append((
            "servers",
            f"tp·pp·dp = {job.ranks} ranks need {-(-job.ranks // g)} servers of {g} GPUs; "
            f"the job has {len(set(servers))}",
        ))  # fmt: skip
    if job.layers % job.pp:
        problems.append(("layers", f"layers ({job.layers}) must be divisible by pp ({job.pp})"))
    if job.dp % job.ep:
        problems.append(("ep", f"ep ({job.ep}) must divide dp ({job.dp})"))
    if job.experts > 0 and job.experts % job.ep:
        problems.append(("ep", f"ep ({job.ep}) must divide experts ({job.experts})"))
    if job.experts == 0 and job.ep > 1:
        problems.append(("ep", "ep > 1 needs an MoE model (experts > 0)"))
    if job.algorithm == "halving_doubling":
        for key, n in (("tp", job.tp), ("dp", job.dp)):
            if n & (n - 1):
                problems.append(("algorithm", f"halving_doubling needs a power-of-two {key} (got {n})"))
    if job.layer_forward_ps is None:
        if job.gpu is None:
            problems.append(("gpu", "give gpu (with mfu) or layer_forward"))
        elif job.gpu.lower() not in {k.lower() for k in GPU_PEAK_FLOPS}:
            problems.append(("gpu", f'unknown gpu "{job.gpu}"; known: {", ".join(GPU_PEAK_FLOPS)}'))
    return problems


# ---- task blocks and templates ---------------------------------------------------------------


@dataclass
class _Tasks:
    """Task columns and internal edges of one template, task ids local (0 … n − 1)."""

    src: np.ndarray
    dst: np.ndarray
    size: np.ndarray
    kind: np.ndarray
    duration: np.ndarray
    phase: np.ndarray
    step: np.ndarray
    pred: np.ndarray
    succ: np.ndarray
    steps: np.ndarray | None = None  #: steps each transfer carries (None: 1 each)

    @property
    def n(self) -> int:
        return int(self.src.shape[0])


def _concat_tasks(parts: list[_Tasks], offsets: list[int]) -> _Tasks:
    cols = ("src", "dst", "size", "kind", "duration", "phase", "step")
    out = {c: np.concatenate([getattr(p, c) for p in parts]) for c in cols}
    out["steps"] = np.concatenate([np.ones(p.n, np.int32) if p.steps is None else p.steps for p in parts])
    out["pred"] = np.concatenate([p.pred + o for p, o in zip(parts, offsets)])
    out["succ"] = np.concatenate([p.succ + o for p, o in zip(parts, offsets)])
    return _Tasks(**out)


def _compute_tasks(hosts: np.ndarray, duration: int, phase: int) -> _Tasks:
    n = hosts.shape[0]
    empty = np.empty(0, np.int64)
    return _Tasks(
        src=hosts, dst=hosts, size=np.zeros(n, np.int64), kind=np.full(n, TASK_COMPUTE, np.int8),
        duration=np.full(n, duration, np.int64), phase=np.full(n, phase, np.int8),
        step=np.full(n, -1, np.int32), pred=empty, succ=empty,
    )  # fmt: skip


def _per_rank(rank: np.ndarray, item: np.ndarray, n: int) -> np.ndarray:
    """Items grouped by rank as an [n, k] array; every rank must own the same count k."""
    counts = np.bincount(rank, minlength=n)
    if counts.min() != counts.max():
        raise ValueError("collective schedule is not symmetric over its ranks")
    order = np.argsort(rank, kind="stable")
    return item[order].reshape(n, -1)


@dataclass
class _CollTemplate:
    """One collective over ranks 0 … n−1: its schedule, internal edges and per-rank hand-offs."""

    step: np.ndarray
    sender: np.ndarray
    receiver: np.ndarray
    size: np.ndarray
    pred: np.ndarray
    succ: np.ndarray
    first: np.ndarray  #: [n, k] transfers a rank sends with no predecessor in the collective
    exit_recv: np.ndarray  #: [n, k] transfers a rank receives in its last receiving step
    exit_all: np.ndarray  #: [n, k] transfers a rank sends or receives in its last active step
    steps: np.ndarray | None = None  #: steps each transfer carries (connection model)

    @classmethod
    def build(cls, op: str, algorithm: str, n: int, size_bytes: int, connections: bool = False) -> "_CollTemplate":
        sched = schedule(op, algorithm, n, size_bytes)
        steps = None
        if connections:
            sched, steps = connection_schedule(sched)
        pred, succ = intra_iteration_edges(sched)
        t = np.arange(sched.step.shape[0])
        first = np.bincount(succ, minlength=t.shape[0]) == 0
        last_recv = np.full(n, -1, np.int64)
        np.maximum.at(last_recv, sched.receiver, sched.step)
        in_last_recv = sched.step == last_recv[sched.receiver]
        rank = np.concatenate([sched.sender, sched.receiver])
        both = np.concatenate([t, t])
        last = np.full(n, -1, np.int64)
        np.maximum.at(last, rank, sched.step[both])
        in_last = sched.step[both] == last[rank]
        return cls(
            step=sched.step, sender=sched.sender, receiver=sched.receiver,
            size=np.maximum(1, sched.size_bytes), pred=pred, succ=succ,
            first=_per_rank(sched.sender[first], t[first], n),
            exit_recv=_per_rank(sched.receiver[in_last_recv], t[in_last_recv], n),
            exit_all=_per_rank(rank[in_last], both[in_last], n), steps=steps,
        )  # fmt: skip

    def tile(self, members: np.ndarray, hosts: np.ndarray, phase: int):
        """Instances over groups ``members[g, j]`` (slot of local rank j in group g), every slot
        in one group. Returns (tasks, first, exit_recv, exit_all), the sets [slots, k]."""
        n_groups, n = members.shape
        per = self.step.shape[0]
        base = (np.arange(n_groups, dtype=np.int64) * per)[:, None]
        n_slots = members.size

        def by_slot(sets: np.ndarray) -> np.ndarray:
            out = np.empty((n_slots, sets.shape[1]), np.int64)
            out[members.ravel()] = (base[:, :, None] + sets[None, :, :]).reshape(-1, sets.shape[1])
            return out

        total = n_groups * per
        tasks = _Tasks(
            src=hosts[members[:, self.sender]].ravel().astype(np.int32),
            dst=hosts[members[:, self.receiver]].ravel().astype(np.int32),
            size=np.tile(self.size, n_groups), kind=np.full(total, TASK_TRANSFER, np.int8),
            duration=np.zeros(total, np.int64), phase=np.full(total, phase, np.int8),
            step=np.tile(self.step, n_groups).astype(np.int32),
            pred=(base + self.pred).ravel(), succ=(base + self.succ).ravel(),
            steps=None if self.steps is None else np.tile(self.steps, n_groups),
        )  # fmt: skip
        return tasks, by_slot(self.first), by_slot(self.exit_recv), by_slot(self.exit_all)


def connection_schedule(sched: Schedule) -> tuple[Schedule, np.ndarray]:
    """The connection model of a collective (``collective_model = "connections"``): one
    transfer per (sender, receiver) pair carrying the bytes of all its steps back to back, all
    in step 0, and the number of steps each carries (int32). The engines add one per-step
    latency per step after the first (docs/jobs.md)."""
    key = sched.sender * (int(sched.receiver.max()) + 1) + sched.receiver
    pairs, inverse, steps = np.unique(key, return_inverse=True, return_counts=True)
    first = np.full(pairs.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first, inverse, np.arange(key.shape[0]))
    order = np.argsort(first, kind="stable")  # connections in the order they first appear
    size = np.bincount(inverse, weights=np.maximum(1, sched.size_bytes), minlength=pairs.shape[0])
    n = pairs.shape[0]
    collapsed = Schedule(
        step=np.zeros(n, np.int64), lane=np.zeros(n, np.int64),
        sender=sched.sender[first[order]], receiver=sched.receiver[first[order]],
        size_bytes=size[order].astype(np.int64),
    )  # fmt: skip
    return collapsed, steps[order].astype(np.int32)


def _link(pred: np.ndarray, succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pred of slot i → every succ of slot i, for [slots, kp] and [slots, ks] id sets."""
    shape = (pred.shape[0], pred.shape[1], succ.shape[1])
    return (np.broadcast_to(pred[:, :, None], shape).ravel(), np.broadcast_to(succ[:, None, :], shape).ravel())


@dataclass
class _Template:
    """A run of tasks over the slots of one stage, with its hand-off sets (local ids [S, k])."""

    tasks: _Tasks
    entry: np.ndarray  #: tasks that wait for the previous op of their rank
    first_is_compute: bool
    first_compute: np.ndarray | None
    exit_recv: np.ndarray
    exit_all: np.ndarray
    last_compute: np.ndarray | None
    ready: list[np.ndarray] = field(default_factory=list)  #: backward: per layer position

    def handoff(self, to_compute: bool) -> np.ndarray:
        """What the rank's next op waits for (rules of the module docstring)."""
        exit_set = self.exit_recv if to_compute else self.exit_all
        if self.last_compute is None or exit_set is self.last_compute:
            return exit_set
        return np.concatenate([exit_set, self.last_compute], axis=1)


class _Chain:
    """Builds a template of consecutive ops of every rank of one stage."""

    def __init__(self, hosts: np.ndarray):
        self.hosts = hosts
        self.parts: list[_Tasks] = []
        self.n = 0
        self.edges: list[tuple[np.ndarray, np.ndarray]] = []
        self.last: _Template | None = None  # the previous op, ids global to the chain
        self.before_last: _Template | None = None  # the op before it
        self.first: _Template | None = None
        self.first_compute: np.ndarray | None = None
        self.last_compute: np.ndarray | None = None
        self.ready: list[np.ndarray] = []

    def _add(self, op: _Template) -> None:
        """Append ``op`` (hand-off sets local to its tasks) and link it to the previous op."""
        tasks, off = op.tasks, self.n
        op.entry, op.exit_recv, op.exit_all = op.entry + off, op.exit_recv + off, op.exit_all + off
        self.parts.append(tasks)
        self.n += tasks.n
        if self.last is None:
            self.first = op
        else:
            self.edges.append(_link(self.last.handoff(op.first_is_compute), op.entry))
        self.before_last, self.last = self.last, op

    def compute(self, duration: int, phase: int, overlap: bool = False) -> np.ndarray:
        """A compute task on every slot; returns their ids, [slots, 1]. ``overlap``: the previous
        op is a collective that runs alongside this piece (``tp_overlap``): the piece waits for
        what the collective waited for, and the next op waits for both."""
        local = np.arange(self.hosts.shape[0], dtype=np.int64)[:, None]
        tasks = _compute_tasks(self.hosts.astype(np.int32), duration, phase)
        op = _Template(tasks, local, True, None, local, local, None)
        coll, before = self.last, self.before_last
        if overlap and coll is not None and before is not None and not coll.first_is_compute:
            off = self.n
            self.parts.append(tasks)
            self.n += tasks.n
            ids = local + off
            self.edges.append(_link(before.handoff(True), ids))
            # the next op waits for the piece and for the collective (last_compute stays None on
            # the op, so its hand-off is exactly these sets)
            op.entry, op.exit_recv = ids, np.concatenate([ids, coll.exit_recv], axis=1)
            op.exit_all = np.concatenate([ids, coll.exit_all], axis=1)
            self.before_last, self.last = self.last, op
            self.last_compute = ids
            return ids
        self._add(op)
        # One set for every hand-off of a compute task, so consecutive computes get one edge.
        op.exit_all = op.last_compute = op.exit_recv
        if self.first_compute is None:
            self.first_compute = op.exit_recv
        self.last_compute = op.exit_recv
        return op.exit_recv

    def collective(self, tmpl: _CollTemplate, members: np.ndarray, phase: int) -> None:
        tasks, first, exit_recv, exit_all = tmpl.tile(members, self.hosts, phase)
        self._add(_Template(tasks, first, False, None, exit_recv, exit_all, self.last_compute))

    def finish(self) -> _Template:
        assert self.first is not None and self.last is not None
        offsets = np.concatenate([[0], np.cumsum([p.n for p in self.parts])])[:-1]
        tasks = _concat_tasks(self.parts, list(offsets))
        if self.edges:
            tasks.pred = np.concatenate([tasks.pred] + [e[0] for e in self.edges])
            tasks.succ = np.concatenate([tasks.succ] + [e[1] for e in self.edges])
        return _Template(
            tasks=tasks, entry=self.first.entry, first_is_compute=self.first.first_is_compute,
            first_compute=self.first_compute, exit_recv=self.last.exit_recv,
            exit_all=self.last.exit_all, last_compute=self.last_compute, ready=self.ready,
        )  # fmt: skip


# ---- the job DAG -------------------------------------------------------------------------------


def one_f_one_b(pp: int, m: int, stage: int) -> list[tuple[str, int]]:
    """Program of ``stage``: ("F" | "B", microbatch) in 1F1B order (SC'21 §2.2, Fig. 4).

    ``w = min(pp − stage − 1, m)`` warm-up forwards, then m − w pairs of one forward and one
    backward, then the w remaining backwards.
    """
    w = min(pp - stage - 1, m)
    program = [("F", i) for i in range(w)]
    for j in range(m - w):
        program += [("F", w + j), ("B", j)]
    return program + [("B", i) for i in range(m - w, m)]


def layer_ops(job: Job, moe: bool, backward: bool) -> list[str]:
    """One layer's ops on a rank, in order: compute pieces ``fa fm bm ba`` (forward/backward
    attention/MLP), TP collectives ``ag rs ar`` and EP all-to-alls ``a2a``."""
    sp = job.tp_comm != "allreduce"
    ep = ["a2a"] if moe and job.ep > 1 else []
    if not backward:
        ops = (["ag", "fa", "rs", "ag"] if sp else ["fa", "ar"]) + ep + ["fm"] + ep + (["rs"] if sp else ["ar"])
    else:
        ops = (["ag"] if sp else []) + ep + ["bm"] + ep + (["rs", "ag", "ba", "rs"] if sp else ["ar", "ba", "ar"])
    return ops if job.tp > 1 else [op for op in ops if op not in ("ag", "rs", "ar")]


_TP_OPS = {"ag": "all_gather", "rs": "reduce_scatter", "ar": "allreduce"}


@dataclass
class _Unit:
    tmpl: _Template
    offset: int = -1


class _JobBuilder:
    """One iteration of one job: units, the links between them, then numbered tasks."""

    def __init__(self, job: Job, hosts: np.ndarray):
        self.job = job
        self.hosts = hosts
        self.slots = job.tp * job.dp
        self.units: list[_Unit] = []
        self.links: list[tuple[int, np.ndarray, int, np.ndarray]] = []
        self._colls: dict[tuple, _CollTemplate] = {}
        s, tp, ep, dp = np.arange(self.slots), job.tp, job.ep, job.dp
        self.tp_members = s.reshape(dp, tp)
        self.dp_members = s.reshape(dp, tp).T.copy()
        by_ep = s.reshape(dp // ep, ep, tp)  # [e, j, t]: slot t + tp·(e·ep + j)
        self.ep_members = by_ep.transpose(0, 2, 1).reshape(-1, ep)
        self.edp_members = by_ep.transpose(2, 1, 0).reshape(-1, dp // ep)

    def coll(self, op: str, n: int, size: int, algorithm: str | None = None) -> _CollTemplate:
        key = (op, algorithm or self.job.algorithm, n, size)
        if key not in self._colls:
            # the connection model applies to ring collectives; the others keep their steps
            connections = self.job.collective_model == "connections" and key[1] == "ring"
            self._colls[key] = _CollTemplate.build(*key, connections=connections)
        return self._colls[key]

    def stage_hosts(self, p: int) -> np.ndarray:
        return self.hosts[p * self.slots : (p + 1) * self.slots]

    def unit(self, tmpl: _Template) -> int:
        self.units.append(_Unit(tmpl))
        return len(self.units) - 1

    def link(self, u: int, pred: np.ndarray, v: int, succ: np.ndarray) -> None:
        self.links.append((u, pred, v, succ))

    def follow(self, u: int, v: int) -> None:
        """Unit v is the next op sequence of the ranks of unit u."""
        a, b = self.units[u].tmpl, self.units[v].tmpl
        self.link(u, a.handoff(b.first_is_compute), v, b.entry)
        if not b.first_is_compute and a.last_compute is not None and b.first_compute is not None:
            self.link(u, a.last_compute, v, b.first_compute)

    def macro(self, p: int, backward: bool) -> _Template:
        """Forward or backward of one microbatch on stage p: every layer's ops on every rank."""
        job = self.job
        chain = _Chain(self.stage_hosts(p))
        layers = stage_layers(job, p)
        times = {moe: layer_piece_times_ps(job, moe) for moe in (False, True)}
        previous = None
        for layer in reversed(layers) if backward else layers:
            moe = is_moe_layer(job, layer)
            fa, fm, bm, ba = times[moe]
            for op in layer_ops(job, moe, backward):
                # tp_overlap: a TP collective runs alongside the compute piece that follows it
                overlap = job.tp_overlap and previous in _TP_OPS
                previous = op
                if op in _TP_OPS:
                    tmpl = self.coll(_TP_OPS[op], job.tp, tp_buffer_bytes(job))
                    chain.collective(tmpl, self.tp_members, PHASE_TP)
                elif op == "a2a":
                    tmpl = self.coll("all_to_all", job.ep, ep_buffer_bytes(job), "direct")
                    chain.collective(tmpl, self.ep_members, PHASE_EP)
                elif op == "ba":
                    chain.ready.append(chain.compute(ba, PHASE_BACKWARD, overlap))
                else:
                    duration = {"fa": fa, "fm": fm, "bm": bm}[op]
                    chain.compute(duration, PHASE_BACKWARD if op == "bm" else PHASE_FORWARD, overlap)
        return chain.finish()

    def pp_template(self, p: int, q: int) -> _Template:
        """One transfer per slot from stage p's rank to stage q's rank of the same (t, d)."""
        n = self.slots
        ids = np.arange(n, dtype=np.int64)[:, None]
        tasks = _Tasks(
            src=self.stage_hosts(p).astype(np.int32), dst=self.stage_hosts(q).astype(np.int32),
            size=np.full(n, pp_transfer_bytes(self.job), np.int64),
            kind=np.full(n, TASK_TRANSFER, np.int8), duration=np.zeros(n, np.int64),
            phase=np.full(n, PHASE_PP, np.int8), step=np.zeros(n, np.int32),
            pred=np.empty(0, np.int64), succ=np.empty(0, np.int64),
        )  # fmt: skip
        return _Template(tasks, ids, False, None, ids, ids, None)

    def compute_unit(self, p: int, duration: int, phase: int) -> int:
        """A unit of one compute task on every rank of stage p."""
        chain = _Chain(self.stage_hosts(p))
        chain.compute(duration, phase)
        return self.unit(chain.finish())

    def collective_unit(self, p: int, tmpl: _CollTemplate, members: np.ndarray) -> int:
        """A unit of one DP collective over the groups ``members`` of stage p."""
        chain = _Chain(self.stage_hosts(p))
        chain.collective(tmpl, members, PHASE_DP)
        return self.unit(chain.finish())

    def build(self) -> tuple[_Tasks, np.ndarray]:
        """Tasks of one iteration in topological order (the barrier last), and the ids of the
        tasks that wait for the previous iteration's barrier."""
        pp, m = self.job.pp, self.job.microbatches
        fwd = [self.macro(p, False) for p in range(pp)]
        bwd = [self.macro(p, True) for p in range(pp)]
        F = [[self.unit(fwd[p]) for _ in range(m)] for p in range(pp)]
        B = [[self.unit(bwd[p]) for _ in range(m)] for p in range(pp)]
        for p in range(pp):
            program = [F[p][i] if d == "F" else B[p][i] for d, i in one_f_one_b(pp, m, p)]
            for u, v in zip(program, program[1:]):
                self.follow(u, v)
        for p in range(pp - 1):
            for i in range(m):
                self.through(F[p][i], self.unit(self.pp_template(p, p + 1)), F[p + 1][i])
                self.through(B[p + 1][i], self.unit(self.pp_template(p + 1, p)), B[p][i])
        finals = [self.data_parallel(p, B[p][m - 1]) for p in range(pp)]
        barrier = _compute_tasks(self.hosts[:1].astype(np.int32), 0, PHASE_SYNC)
        none = np.empty((1, 0), np.int64)  # nothing follows the barrier inside the iteration
        b = self.unit(_Template(barrier, none, True, None, none, none, None))
        to_barrier = np.zeros((self.slots, 1), np.int64)
        for u, exit_set in (x for f in finals for x in f):
            self.link(u, exit_set, b, to_barrier)
        tasks, offsets = self.number(b)
        starts = []
        for p in range(pp):
            first = self.units[F[p][0]].tmpl
            starts.append(first.entry.ravel() + offsets[F[p][0]])
            if not first.first_is_compute and first.first_compute is not None:
                starts.append(first.first_compute.ravel() + offsets[F[p][0]])
        return tasks, np.unique(np.concatenate(starts))

    def through(self, u: int, t: int, v: int) -> None:
        """A PP transfer unit t after macro u (its sender side) and before macro v."""
        a, x, b = self.units[u].tmpl, self.units[t].tmpl, self.units[v].tmpl
        self.link(u, a.handoff(True), t, x.entry)
        self.link(t, x.exit_all, v, b.entry)

    def data_parallel(self, p: int, last_backward: int) -> list[tuple[int, np.ndarray]]:
        """Stage p's gradient buckets, optimizer step and ZeRO parameter all-gathers; returns
        the (unit, hand-off set) pairs the iteration barrier waits for."""
        job = self.job
        ready = self.units[last_backward].tmpl.ready
        reduce_op = "allreduce" if job.zero == 0 else "reduce_scatter"
        groups = [(job.dp, self.dp_members, False), (job.dp // job.ep, self.edp_members, True)]
        chains = []  # per group kind that synchronises: (members, n, bucket bytes)
        last_reduce = []
        for n, members, expert in groups:
            sizes, pos = gradient_buckets(job, p, expert)
            if n < 2 or sizes.shape[0] == 0:
                continue
            prev = None
            for size, j in zip(sizes.tolist(), pos.tolist()):
                u = self.collective_unit(p, self.coll(reduce_op, n, size), members)
                tmpl = self.units[u].tmpl
                self.link(last_backward, ready[j], u, tmpl.entry)
                if prev is not None:
                    self.link(prev, self.units[prev].tmpl.exit_all, u, tmpl.entry)
                prev = u
            last_reduce.append(prev)
            chains.append((members, n, sizes))
        opt = self.compute_unit(p, job.optimizer_ps, PHASE_OPTIMIZER)
        opt_tmpl = self.units[opt].tmpl
        self.follow(last_backward, opt)
        for u in last_reduce:
            self.link(u, self.units[u].tmpl.exit_all, opt, opt_tmpl.entry)
        if job.zero == 0 or not chains:
            return [(opt, opt_tmpl.exit_all)]
        finals = []
        for members, n, sizes in chains:
            prev = opt
            for size in sizes.tolist():
                params = max(1, size * job.dtype_bytes // job.grad_bytes)
                u = self.collective_unit(p, self.coll("all_gather", n, params), members)
                self.link(prev, self.units[prev].tmpl.exit_all, u, self.units[u].tmpl.entry)
                prev = u
            finals.append((prev, self.units[prev].tmpl.exit_all))
        return finals

    def number(self, last: int) -> tuple[_Tasks, list[int]]:
        """Order units topologically (Kahn, ties by creation order, ``last`` forced last),
        give each a block of task ids, and resolve the links into task edges."""
        n = len(self.units)
        succs: list[set[int]] = [set() for _ in range(n)]
        for u, _, v, _ in self.links:
            succs[u].add(v)
        indeg = [0] * n
        for s in succs:
            for v in s:
                indeg[v] += 1
        heap = [u for u in range(n) if indeg[u] == 0 and u != last]
        heapq.heapify(heap)
        order = []
        while heap:
            u = heapq.heappop(heap)
            order.append(u)
            for v in succs[u]:
                indeg[v] -= 1
                if indeg[v] == 0 and v != last:
                    heapq.heappush(heap, v)
        order.append(last)
        if len(order) != n:
            raise ValueError("the job's unit graph has a cycle")
        offsets = [0] * n
        pos = 0
        for u in order:
            offsets[u] = pos
            pos += self.units[u].tmpl.tasks.n
        tasks = _concat_tasks([self.units[u].tmpl.tasks for u in order], [offsets[u] for u in order])
        pairs = [_link(pred + offsets[u], succ + offsets[v]) for u, pred, v, succ in self.links]
        pred = np.concatenate([tasks.pred] + [a for a, _ in pairs])
        succ = np.concatenate([tasks.succ] + [b for _, b in pairs])
        # The barrier joins hand-off sets that overlap (a transfer is one rank's send and
        # another's receive): one edge per distinct pair.
        to_last = succ == offsets[last]
        keep = ~to_last
        last_preds = np.unique(pred[to_last])
        tasks.pred = np.concatenate([pred[keep], last_preds])
        tasks.succ = np.concatenate([succ[keep], np.full(last_preds.shape[0], offsets[last], np.int64)])
        return tasks, offsets


def job_block(job: Job, n_hosts: int, gpus_per_server: int, rng: np.random.Generator) -> FlowBlock:
    """Every task of ``job``'s iterations, iteration-major, each iteration in a topological
    order ending with its barrier. Raises ValueError if :func:`check_job` finds a problem."""
    problems = check_job(job, n_hosts, gpus_per_server)
    if problems:
        key, message = problems[0]
        raise ValueError(f'job "{job.name}": {key}: {message}')
    hosts = rank_hosts(job, n_hosts, gpus_per_server, rng)
    tasks, starts = _JobBuilder(job, hosts).build()
    per, iters = tasks.n, job.iterations
    base = np.arange(iters, dtype=np.int64)[:, None] * per
    barrier = base.ravel() + per - 1
    edge_pred = np.concatenate([(base + tasks.pred).ravel(), np.repeat(barrier[:-1], starts.shape[0])])
    edge_succ = np.concatenate([(base + tasks.succ).ravel(), (base[1:] + starts).ravel()])
    total = per * iters
    return FlowBlock(
        src=np.tile(tasks.src, iters).astype(np.int32),
        dst=np.tile(tasks.dst, iters).astype(np.int32),
        size_bytes=np.tile(tasks.size, iters).astype(np.int64),
        start_ps=np.full(total, job.start_ps, np.int64),
        gap_ps=np.zeros(total, np.int64),
        channel=np.zeros(total, np.int32),
        iteration=np.repeat(np.arange(iters, dtype=np.int32), per),
        step=np.tile(tasks.step, iters).astype(np.int32),
        edge_pred=edge_pred,
        edge_succ=edge_succ,
        kind=np.tile(tasks.kind, iters).astype(np.int8),
        duration_ps=np.tile(tasks.duration, iters).astype(np.int64),
        phase=np.tile(tasks.phase, iters).astype(np.int8),
        steps=np.tile(tasks.steps, iters).astype(np.int32),
        job=JobRows(
            name=job.name, tp=job.tp, pp=job.pp, dp=job.dp, ep=job.ep,
            hosts=hosts.astype(np.int64), start_ps=job.start_ps, end_task=barrier,
        ),  # fmt: skip
    )
