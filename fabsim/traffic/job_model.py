"""The arithmetic of a training job (DESIGN §4b; docs/jobs.md): message sizes, FLOPs and
compute times, parameters and gradient buckets per stage, and which GPU runs each rank.

Pure functions of a validated :class:`~fabsim.scenario.schema.Job`; :mod:`fabsim.traffic.jobs`
builds the job's DAG from them, and the tests and docs check them against the formulas.
"""

from __future__ import annotations

import numpy as np

from fabsim.scenario._jobs import GPU_PEAK_FLOPS
from fabsim.scenario.refs import job_servers
from fabsim.scenario.schema import Job

__all__ = [
    "GPU_PEAK_FLOPS", "activation_bytes", "dense_layer_params", "dense_params_per_rank", "embedding_params",
    "ep_buffer_bytes", "expert_params_per_rank", "gradient_buckets", "gradient_segments", "is_moe_layer",
    "layer_flops", "layer_piece_flops", "layer_piece_times_ps", "layer_times_ps", "peak_flops",
    "pp_transfer_bytes", "rank_hosts", "stage_layers", "tp_buffer_bytes",
]  # fmt: skip

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
