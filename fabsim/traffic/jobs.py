"""Training jobs: one ``[[jobs]]`` entry → a dependency DAG of compute tasks and transfers.

DESIGN §4b; docs/jobs.md is the user's page; the sizes, times and placement come from
:mod:`fabsim.traffic.job_model`. A job of ``R = tp·pp·dp`` ranks (rank
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

from fabsim.scenario.schema import Job
from fabsim.traffic.block import FlowBlock
from fabsim.traffic.collectives import intra_iteration_edges
from fabsim.traffic.job_model import (
    ep_buffer_bytes, gradient_buckets, is_moe_layer, layer_piece_times_ps, pp_transfer_bytes, rank_hosts,
    stage_layers, tp_buffer_bytes,
)
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
    order ending with its barrier. ``job`` is valid on the fabric: the scenario loader and
    :func:`fabsim.scenario.check_references` have checked it."""
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
