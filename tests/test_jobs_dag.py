"""Training jobs → task DAG (fabsim.traffic.jobs): schedule, sizes, overlap, placement, checks.

Everything here runs on the DAG alone: a pure-Python longest-path timer stands in for an
engine (each transfer takes size at a fixed per-rank rate, or nothing).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fabsim.scenario.schema import Job
from fabsim.traffic.block import merge_blocks
from fabsim.traffic.job_model import (
    GPU_PEAK_FLOPS,
    activation_bytes,
    dense_params_per_rank,
    expert_params_per_rank,
    gradient_buckets,
    is_moe_layer,
    layer_flops,
    layer_piece_times_ps,
    layer_times_ps,
    peak_flops,
    rank_hosts,
)
from fabsim.traffic.jobs import job_block, one_f_one_b
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
)

PS = 10**12

DEFAULTS = dict(
    name="train", layers=4, hidden=64, seq_len=32, micro_batch=1, microbatches=4, dtype_bytes=2,
    grad_bytes=2, vocab=0, experts=0, top_k=1, moe_every=1, tp=1, pp=1, dp=1, ep=1, zero=0,
    bucket_bytes=25_000_000, tp_comm="sequence_parallel", tp_overlap=False, algorithm="ring",
    collective_model="steps",
    gpu=None, mfu=0.5,
    layer_forward_ps=1000, layer_backward_ps=None, optimizer_ps=0, tp_bytes=None, pp_bytes=None,
    ep_bytes=None, dp_bytes=None, servers=0, first_server=0, placement="packed", iterations=1,
    start_ps=0,
)  # fmt: skip


def make_job(**kw) -> Job:
    return Job(**{**DEFAULTS, **kw})


def build(job: Job, n_hosts: int = 64, gpus: int = 8, seed: int = 0):
    return job_block(job, n_hosts, gpus, np.random.default_rng(seed))


def preds_of(block) -> list[list[int]]:
    preds: list[list[int]] = [[] for _ in range(len(block))]
    for p, s in zip(block.edge_pred.tolist(), block.edge_succ.tolist()):
        preds[s].append(p)
    return preds


def finish_times(block, rate_bps: int | None = None) -> list[int]:
    """Longest path: a task starts at max(start_ps, every predecessor's finish + gap) and takes
    its duration (compute) or size·8/rate (transfer; 0 when ``rate_bps`` is None)."""
    assert np.all(block.edge_pred < block.edge_succ)
    preds = preds_of(block)
    finish = [0] * len(block)
    for t in range(len(block)):
        begin = int(block.start_ps[t])
        for p in preds[t]:
            begin = max(begin, finish[p] + int(block.gap_ps[t]))
        if block.kind[t] == TASK_COMPUTE:
            took = int(block.duration_ps[t])
        else:
            took = 0 if rate_bps is None else int(block.size_bytes[t]) * 8 * PS // rate_bps
        finish[t] = begin + took
    return finish


def iteration_ps(block, rate_bps: int | None = None) -> list[int]:
    """Duration of each iteration: its barrier's finish minus the previous one's."""
    finish = finish_times(block, rate_bps)
    ends = [block.job.start_ps] + [finish[t] for t in block.job.end_task.tolist()]
    return [b - a for a, b in zip(ends, ends[1:])]


def ancestors(block, task: int) -> np.ndarray:
    preds = preds_of(block)
    seen = np.zeros(len(block), bool)
    stack = [task]
    while stack:
        t = stack.pop()
        for p in preds[t]:
            if not seen[p]:
                seen[p] = True
                stack.append(p)
    return seen


def phase_bytes(block, phase: int, iteration: int = 0) -> tuple[int, int]:
    mask = (block.phase == phase) & (block.iteration == iteration)
    return int(mask.sum()), int(block.size_bytes[mask].sum())


# ---- formulas -----------------------------------------------------------------------------------


def test_gpu_table_and_compute_formulas():
    assert GPU_PEAK_FLOPS == {"A100": 312e12, "H100": 989e12, "H200": 989e12, "B200": 2250e12, "MI300X": 1307e12}
    assert peak_flops("h100") == peak_flops("H100") == 989e12
    job = make_job(hidden=5120, seq_len=2048, micro_batch=1, tp=8, gpu="H100", mfu=0.5, layer_forward_ps=None)
    b, s, h = 1, 2048, 5120
    assert layer_flops(job, False) == pytest.approx((24 * b * s * h * h + 4 * b * s * s * h) / 8)
    moe = make_job(hidden=5120, seq_len=2048, tp=8, experts=8, top_k=2, gpu="H100", layer_forward_ps=None)
    assert layer_flops(moe, True) - layer_flops(moe, False) == pytest.approx(16 * b * s * h * h / 8)
    fa, fm, bm, ba = layer_piece_times_ps(job, False)
    assert fa == round((8 * b * s * h * h + 4 * b * s * s * h) / 8 / (989e12 * 0.5) * PS)
    assert fm == round(16 * b * s * h * h / 8 / (989e12 * 0.5) * PS)
    assert (bm, ba) == (2 * fm, 2 * fa)
    assert layer_times_ps(job, False) == (fa + fm, 2 * (fa + fm))


def test_time_overrides_split_in_flop_proportion():
    job = make_job(hidden=64, seq_len=64, layer_forward_ps=1000, layer_backward_ps=3001)
    fa, fm, bm, ba = layer_piece_times_ps(job, False)
    assert (fa + fm, bm + ba) == (1000, 3001)
    # attention 8h² + 4sh = 12·64² per token, MLP 16·64²: 3/7 of the forward
    assert fa == round(1000 * 3 / 7) and ba == round(3001 * 3 / 7)


def test_dense_params_match_design_and_embeddings_count_once_per_end_stage():
    job = make_job(layers=8, hidden=256, tp=4, pp=2)
    assert dense_params_per_rank(job, 0) == 12 * 256**2 * 4 // 4
    with_vocab = make_job(layers=8, hidden=256, tp=4, pp=2, vocab=1000)
    assert dense_params_per_rank(with_vocab, 1) == 12 * 256**2 * 4 // 4 + 1000 * 256 // 4
    one_stage = make_job(layers=8, hidden=256, tp=4, vocab=1000)
    assert dense_params_per_rank(one_stage, 0) == 12 * 256**2 * 8 // 4 + 2 * 1000 * 256 // 4


def test_buckets_follow_backward_order_and_close_on_the_right_layer():
    h2 = 64 * 64
    job = make_job(layers=4, pp=2, bucket_bytes=10 * h2 * 2, vocab=128)
    # Stage 1 (layers 3, 4; output layer first): 128·64, 12h², 12h² params in backward order.
    sizes, pos = gradient_buckets(job, 1, expert=False)
    total = (128 * 64 + 24 * h2) * 2
    assert sizes.sum() == total and sizes[:-1].tolist() == [10 * h2 * 2] * (len(sizes) - 1)
    closes = np.minimum(np.arange(1, len(sizes) + 1) * 10 * h2 * 2, total) - 1
    first_layer_end = (128 * 64 + 12 * h2) * 2
    assert pos.tolist() == [0 if c < first_layer_end else 1 for c in closes]
    moe = make_job(layers=4, experts=4, ep=2, dp=2, moe_every=2, bucket_bytes=1)
    assert expert_params_per_rank(moe, 0) == 2 * 8 * h2 * 4 // 2
    sizes, pos = gradient_buckets(make_job(layers=4, experts=4, ep=2, dp=2, moe_every=2, bucket_bytes=10**9), 0, True)
    assert sizes.tolist() == [2 * 8 * h2 * 2 * 2] and pos.tolist() == [2]  # closed by layer 2


def test_one_f_one_b_programs():
    assert one_f_one_b(4, 6, 0) == [("F", 0), ("F", 1), ("F", 2), ("F", 3), ("B", 0), ("F", 4),
                                    ("B", 1), ("F", 5), ("B", 2), ("B", 3), ("B", 4), ("B", 5)]  # fmt: skip
    assert one_f_one_b(4, 6, 3) == [x for i in range(6) for x in (("F", i), ("B", i))]
    assert one_f_one_b(4, 2, 0) == [("F", 0), ("F", 1), ("B", 0), ("B", 1)]  # m < pp


# ---- schedule on an ideal network --------------------------------------------------------------


@pytest.mark.parametrize("m, pp", [(1, 1), (4, 1), (1, 2), (2, 4), (3, 4), (4, 4), (8, 4), (5, 2), (2, 3)])
def test_pure_pipeline_iteration_is_m_plus_pp_minus_1_slots(m, pp):
    layers = 2 * pp
    job = make_job(layers=layers, microbatches=m, pp=pp, layer_forward_ps=1000, optimizer_ps=7, iterations=2)
    block = build(job)
    t_f, t_b = 2 * 1000, 2 * 2000  # two layers per stage
    assert iteration_ps(block) == [(m + pp - 1) * (t_f + t_b) + 7] * 2
    finish = finish_times(block)
    # Each stage runs 1F1B: its compute tasks, in time order, come in macros of 2 pieces per
    # layer, forward or backward, in the order of the stage's program.
    for p in range(pp):
        mask = (block.kind == TASK_COMPUTE) & (block.src == block.job.hosts[p]) & (block.iteration == 0)
        mask &= np.isin(block.phase, [PHASE_FORWARD, PHASE_BACKWARD])
        ids = np.flatnonzero(mask)
        ids = ids[np.argsort([finish[i] for i in ids], kind="stable")]
        runs = block.phase[ids].reshape(-1, 4)
        assert np.all(runs == runs[:, :1])
        got = ["F" if r == PHASE_FORWARD else "B" for r in runs[:, 0]]
        assert got == [d for d, _ in one_f_one_b(pp, m, p)]
        w = min(pp - p - 1, m)
        assert got[:w] == ["F"] * w and got[len(got) - w :] == ["B"] * w


def test_tp_and_ep_collectives_sit_between_compute_pieces_without_overlap():
    # pp = 1 and dp = ep = 2 (expert group of 1 rank): only the dense gradient allreduce can
    # overlap, with the last layer's final reduce-scatter; everything else is serial.
    tp, ep, m, layers = 4, 2, 2, 2
    job = make_job(tp=tp, dp=2, ep=ep, experts=2, top_k=1, moe_every=2, layers=layers, microbatches=m)
    a = activation_bytes(job)
    rate = (a // tp) * 8 * PS // 100  # one TP ring step (A/tp bytes): 100 ps
    ep_step = (a // tp // ep) * 8 * PS // rate  # direct all-to-all: one step of buffer/ep
    t_f, t_b = layer_times_ps(job, False)
    n_moe = sum(is_moe_layer(job, layer) for layer in range(1, layers + 1))
    serial = m * (layers * (t_f + t_b + 8 * (tp - 1) * 100) + n_moe * 4 * ep_step)
    grads = dense_params_per_rank(job, 0) * job.grad_bytes
    allreduce = 2 * ((grads // 2) * 8 * PS // rate)  # two ring steps of half the bucket
    last_rs = (tp - 1) * 100
    assert iteration_ps(build(job), rate) == [serial - last_rs + max(last_rs, allreduce)]
    assert iteration_ps(build(job)) == [m * layers * (t_f + t_b)]


def job_fields(job: Job) -> dict:
    return {k: getattr(job, k) for k in DEFAULTS}


def test_tp_allreduce_variant_costs_the_same_ring_steps():
    tp, m, layers = 4, 2, 2
    job = make_job(tp=tp, layers=layers, microbatches=m, tp_comm="allreduce")
    a = activation_bytes(job)
    rate = (a // tp) * 8 * PS // 100
    t_f, t_b = layer_times_ps(job, False)
    assert iteration_ps(build(job), rate) == [m * layers * (t_f + t_b + 4 * 2 * (tp - 1) * 100)]


def test_data_parallel_overlap_exposes_only_buckets_after_the_last_backward():
    # Two layers, one bucket per layer, dp = 2 (ring allreduce: 2 steps of S/2 per rank).
    layer_grad = 12 * 64 * 64 * 2
    job = make_job(layers=2, microbatches=1, dp=2, bucket_bytes=layer_grad, layer_forward_ps=1000)
    block = build(job)
    assert iteration_ps(block) == [1 * 2 * (1000 + 2000)]
    step = lambda ps: (layer_grad // 2) * 8 * PS // ps  # noqa: E731  rate for one step of ps
    # Buckets ready at 4000 (layer 2) and 6000 (layer 1). Allreduce 1000 ps: bucket 0 hidden
    # (4000–5000), bucket 1 exposed (6000–7000).
    assert iteration_ps(block, step(500)) == [7000]
    # Allreduce 3000 ps: bucket 0 runs 4000–7000, bucket 1 waits for it: 7000–10000.
    assert iteration_ps(block, step(1500)) == [10000]
    # More microbatches: buckets wait for the last microbatch's backward.
    job4 = make_job(layers=2, microbatches=4, dp=4, bucket_bytes=layer_grad, optimizer_ps=50)
    assert iteration_ps(build(job4)) == [4 * 2 * 3000 + 50]


def test_zero_reduce_scatter_then_parameter_all_gather_after_the_optimizer():
    layer_grad = 12 * 64 * 64 * 2
    job = make_job(layers=2, microbatches=1, dp=2, bucket_bytes=layer_grad, zero=1, optimizer_ps=300, dtype_bytes=4)
    block = build(job)
    rate = (layer_grad // 2) * 8 * PS // 500  # a step of half a gradient bucket: 500 ps
    # reduce-scatter: one step; bucket 0 4000–4500, bucket 1 6000–6500; optimizer 6500–6800;
    # all-gathers of twice the bytes (4-byte parameters): 1000 ps each, in bucket order.
    assert iteration_ps(block, rate) == [6800 + 2 * 1000]
    dp_tasks = block.phase == PHASE_DP
    opt = np.flatnonzero(block.phase == PHASE_OPTIMIZER)
    assert np.all(block.size_bytes[dp_tasks & (np.arange(len(block)) > opt.max())] == layer_grad)


# ---- structure -----------------------------------------------------------------------------------


def test_edges_forward_chains_and_barriers():
    job = make_job(tp=2, pp=2, dp=2, ep=2, experts=2, moe_every=2, layers=4, microbatches=3, zero=2,
                   bucket_bytes=30_000, iterations=3)  # fmt: skip
    block = build(job)
    assert np.all(block.edge_pred < block.edge_succ)
    assert np.unique(np.stack([block.edge_pred, block.edge_succ]), axis=1).shape[1] == block.edge_pred.shape[0]
    assert block.job.iterations == 3
    per = len(block) // 3
    assert block.job.end_task.tolist() == [per - 1, 2 * per - 1, 3 * per - 1]
    barrier = block.job.end_task
    assert np.all(block.phase[barrier] == PHASE_SYNC) and np.all(block.duration_ps[barrier] == 0)
    assert np.all(block.src[barrier] == block.job.hosts[0])
    edges = set(zip(block.edge_pred.tolist(), block.edge_succ.tolist()))
    for i in range(3):
        mine = np.flatnonzero(block.iteration == i)
        assert mine[0] == i * per and mine[-1] == barrier[i]
        # the barrier waits for every task of its iteration, and every rank's chain
        before = ancestors(block, int(barrier[i]))
        assert before[mine[:-1]].all()
        assert not before[mine[-1] + 1 :].any()
        for host in block.job.hosts:
            chain = mine[(block.kind[mine] == TASK_COMPUTE) & (block.src[mine] == host) & (block.phase[mine] != PHASE_SYNC)]
            assert all((a, b) in edges for a, b in zip(chain[:-1].tolist(), chain[1:].tolist()))
            if i:  # the rank's first task of iteration i waits for barrier i − 1
                assert any((int(barrier[i - 1]), int(t)) in edges for t in mine[(block.src[mine] == host)][:3])
    assert np.all(block.start_ps == job.start_ps)
    assert np.all(block.size_bytes[block.kind == TASK_TRANSFER] >= 1)
    assert np.all(block.size_bytes[block.kind == TASK_COMPUTE] == 0)
    assert np.all(block.src[block.kind == TASK_COMPUTE] == block.dst[block.kind == TASK_COMPUTE])
    assert np.all(block.duration_ps[block.kind == TASK_TRANSFER] == 0)
    assert np.all(block.step[block.kind == TASK_COMPUTE] == -1)
    merged = merge_blocks([block], ["j"])  # the loader's merge accepts the block
    assert merged.job_rows[0].end_task.tolist() == block.job.end_task.tolist()


def test_a_compute_piece_waits_for_its_previous_piece_and_the_last_receive_only():
    job = make_job(tp=2, layers=2, microbatches=1)
    block = build(job, n_hosts=8)
    preds = preds_of(block)
    for t in np.flatnonzero(np.isin(block.phase, [PHASE_FORWARD, PHASE_BACKWARD])).tolist():
        mine = [p for p in preds[t] if block.kind[p] == TASK_COMPUTE]
        others = [p for p in preds[t] if block.kind[p] == TASK_TRANSFER]
        assert len(mine) <= 1 and all(block.src[p] == block.src[t] for p in mine)
        # tp = 2 ring: one step, so the last receive is the only transfer to this GPU
        assert len(others) == 1 and block.dst[others[0]] == block.src[t] and block.phase[others[0]] == PHASE_TP


def rank_coords(job: Job, block) -> dict[int, tuple[int, int, int]]:
    """Host → (t, d, p) of its rank."""
    return {
        int(h): (r % job.tp, (r // job.tp) % job.dp, r // (job.tp * job.dp))
        for r, h in enumerate(block.job.hosts.tolist())
    }


def test_groups_of_each_collective():
    job = make_job(tp=2, pp=2, dp=8, ep=2, experts=4, layers=2, moe_every=1, microbatches=1, bucket_bytes=10**9)
    block = build(job, n_hosts=64)
    where = rank_coords(job, block)
    transfers = np.flatnonzero(block.kind == TASK_TRANSFER)
    seen = {PHASE_TP: 0, PHASE_PP: 0, PHASE_EP: 0, "dense": 0, "expert": 0}
    for t in transfers.tolist():
        (t0, d0, p0), (t1, d1, p1) = where[int(block.src[t])], where[int(block.dst[t])]
        phase = int(block.phase[t])
        if phase == PHASE_TP:  # one TP group: same d, p
            assert (d0, p0) == (d1, p1) and t0 != t1
        elif phase == PHASE_PP:  # neighbouring stages, same (t, d)
            assert (t0, d0) == (t1, d1) and abs(p0 - p1) == 1
        elif phase == PHASE_EP:  # one EP group: same (t, p), d in one block of ep
            assert (t0, p0) == (t1, p1) and d0 // job.ep == d1 // job.ep and d0 != d1
        else:  # DP rings: dense over every d (d → d + 1), expert over d ≡ j mod ep (d → d + ep)
            assert phase == PHASE_DP and (t0, p0) == (t1, p1)
            step = (d1 - d0) % job.dp
            assert step in (1, job.ep)
            phase = "dense" if step == 1 else "expert"
        seen[phase] += 1
    n = job.dp // job.ep
    per_stage_expert = job.tp * job.ep * 2 * (n - 1) * n  # one bucket per expert group
    assert seen["expert"] == job.pp * per_stage_expert
    assert seen["dense"] == job.pp * job.tp * 2 * (job.dp - 1) * job.dp
    assert all(seen.values())


def test_start_time_delays_the_whole_job():
    job = make_job(pp=2, microbatches=2, start_ps=10**6)
    finish = finish_times(build(job))
    assert min(finish) >= 10**6


# ---- sizes ----------------------------------------------------------------------------------------


def expected_phase_totals(job: Job) -> dict[int, tuple[int, int]]:
    """(transfers, bytes) per phase and iteration from the DESIGN §4b formulas (ring TP/DP,
    every buffer large enough that no ring piece is empty)."""
    tp, pp, dp, ep, m, L = job.tp, job.pp, job.dp, job.ep, job.microbatches, job.layers
    a = activation_bytes(job)
    tp_buf = job.tp_bytes or a
    n_moe = sum(is_moe_layer(job, layer) for layer in range(1, L + 1)) if ep > 1 else 0
    out = {}
    n_coll = 8 if job.tp_comm == "sequence_parallel" else 4
    per = tp * (tp - 1) if job.tp_comm == "sequence_parallel" else 2 * tp * (tp - 1)
    out[PHASE_TP] = (n_coll * per * m * L * dp if tp > 1 else 0, 8 * (tp - 1) * tp_buf * m * L * dp)
    pp_b = job.pp_bytes or a // tp
    out[PHASE_PP] = (2 * m * (pp - 1) * tp * dp, 2 * m * (pp - 1) * tp * dp * pp_b)
    ep_buf = job.ep_bytes or a * job.top_k // tp
    groups = tp * dp // ep
    n_a2a = 4 * n_moe * m * groups  # each: every rank sends buffer/ep to each of ep − 1 others
    out[PHASE_EP] = (n_a2a * ep * (ep - 1), n_a2a * ep * (ep - 1) * (ep_buf // ep))
    count = nbytes = 0
    for p in range(pp):
        for n, params, n_groups in (
            (dp, dense_params_per_rank(job, p), tp),
            (dp // ep, expert_params_per_rank(job, p), tp * ep),
        ):
            grads = job.dp_bytes if (job.dp_bytes is not None and n == dp) else params * job.grad_bytes
            if n < 2 or grads == 0:
                continue
            buckets = [job.bucket_bytes] * (grads // job.bucket_bytes) + [grads % job.bucket_bytes] * (
                grads % job.bucket_bytes > 0
            )
            steps = 2 * (n - 1) if job.zero == 0 else n - 1
            count += n_groups * len(buckets) * steps * n
            # a ring step sends every chunk once; (n − 1) steps per reduce-scatter / all-gather
            nbytes += n_groups * steps * sum(ring_chunks_bytes(b, n) for b in buckets)
            if job.zero:
                params = [max(1, b * job.dtype_bytes // job.grad_bytes) for b in buckets]
                count += n_groups * len(buckets) * (n - 1) * n
                nbytes += n_groups * (n - 1) * sum(ring_chunks_bytes(b, n) for b in params)
    out[PHASE_DP] = (count, nbytes)
    return out


def ring_chunks_bytes(size: int, n: int) -> int:
    """Bytes of the n chunks of a ring over ``size`` bytes; an empty chunk still sends 1 byte."""
    return sum(max(1, size // n + (c < size % n)) for c in range(n))


def check_totals(job: Job, block) -> None:
    expected = expected_phase_totals(job)
    for phase, (count, nbytes) in expected.items():
        assert phase_bytes(block, phase) == (count, nbytes), phase
    n_ranks = job.ranks
    per_rank_computes = job.microbatches * job.layers // job.pp * 4
    assert int(((block.phase == PHASE_FORWARD) | (block.phase == PHASE_BACKWARD))[block.iteration == 0].sum()) == (
        n_ranks * per_rank_computes
    )
    assert int((block.phase == PHASE_OPTIMIZER).sum()) == n_ranks * job.iterations
    assert int((block.phase == PHASE_SYNC).sum()) == job.iterations


@pytest.mark.parametrize(
    "fields",
    [
        dict(tp=2, pp=2, dp=2, layers=4, microbatches=3),
        dict(tp=4, dp=2, tp_comm="allreduce", layers=2, microbatches=2, zero=1, bucket_bytes=40_000),
        dict(tp=2, pp=2, dp=4, ep=2, experts=4, top_k=2, moe_every=2, layers=4, microbatches=2, zero=2,
             bucket_bytes=50_000, vocab=512),
        dict(dp=4, ep=4, experts=8, moe_every=1, layers=2, microbatches=1, tp_bytes=1000, pp_bytes=77,
             ep_bytes=4000, dp_bytes=123_456, bucket_bytes=10_000),
        dict(pp=4, dp=2, layers=8, microbatches=2, algorithm="halving_doubling", zero=0),
    ],
)  # fmt: skip
def test_counts_and_bytes_per_phase(fields):
    job = make_job(**fields)
    block = build(job)
    if job.algorithm == "ring":
        check_totals(job, block)
    else:  # halving-doubling allreduce: log2 n steps each way, same bytes as the ring
        assert phase_bytes(block, PHASE_DP)[1] == expected_phase_totals(job)[PHASE_DP][1]


# ---- placement and checks ---------------------------------------------------------------------------


def test_placement():
    rng = np.random.default_rng(0)
    job = make_job(tp=4, dp=3)  # 12 ranks, G = 4: 3 servers
    assert rank_hosts(job, 64, 4, rng).tolist() == list(range(12))
    shifted = make_job(tp=4, dp=3, first_server=2)
    assert rank_hosts(shifted, 64, 4, rng).tolist() == list(range(8, 20))
    strided = make_job(tp=4, dp=3, placement="strided")
    # rank r → server r mod 3, slot r div 3
    assert rank_hosts(strided, 64, 4, rng).tolist() == [(r % 3) * 4 + r // 3 for r in range(12)]
    explicit = make_job(tp=2, dp=3, servers=(5, 1))
    assert rank_hosts(explicit, 64, 4, rng).tolist() == [20, 21, 22, 23, 4, 5]
    counted = make_job(tp=2, dp=2, servers=3, placement="strided")
    assert rank_hosts(counted, 64, 4, rng).tolist() == [0, 4, 8, 1]
    rand = make_job(tp=4, dp=3, servers=4, placement="random")
    hosts = rank_hosts(rand, 64, 4, np.random.default_rng(7))
    assert len(set(hosts.tolist())) == 12 and set(hosts.tolist()) <= set(range(16))
    assert hosts.tolist() == rank_hosts(rand, 64, 4, np.random.default_rng(7)).tolist()
    assert hosts.tolist() != list(range(12))
    block = build(make_job(tp=2, pp=2, dp=2, servers=(3, 2)), n_hosts=32, gpus=4)
    assert block.job.hosts.tolist() == [12, 13, 14, 15, 8, 9, 10, 11]


# ---- properties -----------------------------------------------------------------------------------


@st.composite
def small_jobs(draw):
    tp = draw(st.sampled_from([1, 2, 4]))
    pp = draw(st.integers(1, 3))
    ep = draw(st.sampled_from([1, 2]))
    dp = ep * draw(st.integers(1, 3))
    moe = ep > 1 or draw(st.booleans())
    return make_job(
        tp=tp, pp=pp, dp=dp, ep=ep, experts=(2 * ep if moe else 0), top_k=draw(st.integers(1, 2)),
        moe_every=draw(st.integers(1, 2)), layers=pp * draw(st.integers(1, 2)),
        microbatches=draw(st.integers(1, 4)), zero=draw(st.sampled_from([0, 1, 2])),
        bucket_bytes=draw(st.sampled_from([3_001, 8_192, 50_000, 10**8])),
        tp_comm=draw(st.sampled_from(["sequence_parallel", "allreduce"])), tp_overlap=draw(st.booleans()),
        hidden=64, seq_len=draw(st.sampled_from([16, 32])), iterations=draw(st.integers(1, 2)),
        vocab=draw(st.sampled_from([0, 96])), placement=draw(st.sampled_from(["packed", "strided", "random"])),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(small_jobs())
def test_random_jobs_give_acyclic_dags_with_formula_totals(job):
    block = build(job, n_hosts=128, gpus=8)
    assert np.all(block.edge_pred < block.edge_succ)
    pairs = block.edge_pred * len(block) + block.edge_succ
    assert np.unique(pairs).shape[0] == pairs.shape[0]  # no edge twice
    check_totals(job, block)
    # every task precedes its iteration's barrier; the first iteration has no barrier before it
    for i, barrier in enumerate(block.job.end_task.tolist()):
        before = ancestors(block, barrier)
        assert before[block.iteration == i][:-1].all()
    # with zero-time transfers an iteration is at least the stage's compute and at most the
    # whole 1F1B bound with the slowest (MoE) layers everywhere
    t_f, t_b = layer_times_ps(job, job.experts > 0)
    bound = (job.microbatches + job.pp - 1) * (t_f + t_b) * job.layers // job.pp
    assert 0 < iteration_ps(block)[0] <= bound + job.optimizer_ps


@pytest.mark.parametrize("op, steps", [("allreduce", lambda n: 2 * (n - 1)), ("reduce_scatter", lambda n: n - 1),
                                       ("all_gather", lambda n: n - 1)])
@pytest.mark.parametrize("n, size", [(2, 10), (5, 1000), (8, 3 * 2**20 + 7)])
def test_the_connection_model_carries_every_step_of_a_ring_connection(op, steps, n, size):
    from fabsim.traffic.jobs import connection_schedule
    from fabsim.traffic.schedules import schedule

    sched = schedule(op, "ring", n, size)
    conn, carried = connection_schedule(sched)
    assert list(conn.sender) == list(range(n)) and list(conn.receiver) == [(r + 1) % n for r in range(n)]
    assert (conn.step == 0).all() and (carried == steps(n)).all()
    for r in range(n):  # each connection carries exactly the bytes its steps carried
        assert conn.size_bytes[r] == np.maximum(1, sched.size_bytes)[sched.sender == r].sum()


def test_a_job_in_the_connection_model_has_a_flow_per_ring_connection():
    steps_job = build(make_job(tp=4, dp=4, microbatches=2))
    conn_job = build(make_job(tp=4, dp=4, microbatches=2, collective_model="connections"))
    transfers = [t.kind == TASK_TRANSFER for t in (steps_job, conn_job)]
    assert conn_job.size_bytes[transfers[1]].sum() == steps_job.size_bytes[transfers[0]].sum()
    assert transfers[1].sum() < transfers[0].sum() / 2
    assert set(conn_job.steps[transfers[1]].tolist()) == {3, 6}  # TP rings of 4, DP all-reduce of 4


@settings(max_examples=60, deadline=None)
@given(small_jobs())
def test_the_connection_model_keeps_the_bytes_of_every_kind_and_a_topological_dag(job):
    from dataclasses import replace

    steps = build(job, n_hosts=128, gpus=8)
    conn = build(replace(job, collective_model="connections"), n_hosts=128, gpus=8)
    assert np.all(conn.edge_pred < conn.edge_succ)
    for phase in (PHASE_TP, PHASE_PP, PHASE_DP, PHASE_EP):
        assert conn.size_bytes[conn.phase == phase].sum() == steps.size_bytes[steps.phase == phase].sum()
    assert (conn.kind == TASK_COMPUTE).sum() == (steps.kind == TASK_COMPUTE).sum()
