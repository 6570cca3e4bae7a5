"""Parser of the ``[[jobs]]`` entries (DESIGN §4b; docs/jobs.md).

Checks here need only the scenario; where a job's GPUs are (servers that exist, jobs that
would share a GPU) is checked against the built fabric in :mod:`fabsim.scenario.refs`.
"""

from __future__ import annotations

from fabsim.scenario._reader import Table, describe, did_you_mean
from fabsim.scenario.schema import Job

#: Dense BF16 peak FLOP/s per GPU (vendor data sheets, without sparsity): NVIDIA A100 SXM
#: 312 T, H100 SXM and H200 989 T, B200 2,250 T; AMD Instinct MI300X 1,307 T.
GPU_PEAK_FLOPS = {
    "A100": 312e12,
    "H100": 989e12,
    "H200": 989e12,
    "B200": 2250e12,
    "MI300X": 1307e12,
}

_KEYS = (
    "name", "layers", "hidden", "seq_len", "micro_batch", "microbatches", "global_batch",
    "dtype_bytes", "grad_bytes", "vocab", "experts", "top_k", "moe_every", "tp", "pp", "dp",
    "ep", "zero", "bucket", "tp_comm", "tp_overlap", "algorithm", "collective_model", "gpu", "mfu", "layer_forward",
    "layer_backward", "optimizer", "tp_bytes", "pp_bytes", "ep_bytes", "dp_bytes", "servers",
    "first_server", "placement", "iterations", "start",
)  # fmt: skip


def parse_jobs(tables: list[Table]) -> tuple[Job, ...]:
    """Every ``[[jobs]]`` entry, in file order; names default to ``train0``, ``train1``, …"""
    jobs = []
    seen: dict[str, str] = {}
    for i, t in enumerate(tables):
        job = _job(t, f"train{i}")
        if job.name in seen:
            raise t.error("name", f'job name "{job.name}" is already used by {seen[job.name]}')
        seen[job.name] = t.path
        jobs.append(job)
    return tuple(jobs)


def _job(t: Table, default_name: str) -> Job:
    t.check_keys(_KEYS)
    tp = t.integer("tp", 1, minimum=1)
    pp = t.integer("pp", 1, minimum=1)
    dp = t.integer("dp", 1, minimum=1)
    ep = t.integer("ep", 1, minimum=1)
    layers = t.integer("layers", minimum=1)
    if layers % pp:
        raise t.error("layers", f"layers ({layers}) must be a multiple of pp ({pp}): every stage holds as many")
    micro_batch = t.integer("micro_batch", 1, minimum=1)
    if t.has("microbatches") and t.has("global_batch"):
        raise t.error("global_batch", "give microbatches or global_batch, not both")
    if t.has("global_batch"):
        batch = t.integer("global_batch", minimum=1)
        if batch % (micro_batch * dp):
            message = f"global_batch ({batch}) must be a multiple of micro_batch × dp ({micro_batch} × {dp})"
            raise t.error("global_batch", message)
        microbatches = batch // (micro_batch * dp)
    else:
        microbatches = t.integer("microbatches", 1, minimum=1)
    experts = t.integer("experts", 0, minimum=0)
    if ep > 1 and not experts:
        raise t.error("ep", "ep applies to a mixture-of-experts model: set experts too")
    if dp % ep:
        raise t.error("ep", f"ep ({ep}) must divide dp ({dp}): expert-parallel groups are made of DP ranks")
    if experts and experts % ep:
        raise t.error("ep", f"ep ({ep}) must divide experts ({experts})")
    for key in ("top_k", "moe_every"):
        if t.has(key) and not experts:
            raise t.error(key, f"{key} applies to a mixture-of-experts model: set experts too")
    top_k = t.integer("top_k", 1, minimum=1)
    if experts and top_k > experts:
        raise t.error("top_k", f"top_k ({top_k}) must be ≤ experts ({experts})")
    algorithm = t.choice("algorithm", ("ring", "halving_doubling"), "ring")
    if algorithm == "halving_doubling":
        for key, n in (("tp", tp), ("dp", dp)):
            if n & (n - 1):
                raise t.error(key, f"halving_doubling needs a power-of-two {key}, got {n}")

    gpu = None
    if t.has("gpu"):
        name = t.string("gpu")
        gpu = next((g for g in GPU_PEAK_FLOPS if g.lower() == str(name).lower()), None)
        if gpu is None:
            hint = did_you_mean(str(name), tuple(GPU_PEAK_FLOPS)) or f" (known: {', '.join(GPU_PEAK_FLOPS)})"
            raise t.error("gpu", f"unknown gpu {describe(name)}{hint}")
    forward = t.time_ps("layer_forward", None, allow_zero=False)
    if forward is None and gpu is None:
        raise t.error("gpu", 'missing compute: set gpu (and mfu), or layer_forward (and layer_backward)')
    if forward is not None and gpu is not None:
        raise t.error("layer_forward", "give gpu (with mfu) or layer_forward, not both")
    if t.has("mfu") and gpu is None:
        raise t.error("mfu", "mfu applies with gpu (layer_forward gives the time directly)")
    if t.has("layer_backward") and forward is None:
        raise t.error("layer_backward", "layer_backward applies with layer_forward")
    backward = t.time_ps("layer_backward", None, allow_zero=False)

    servers: int | tuple[int, ...]
    value = t.data.get("servers", 0)
    if isinstance(value, list):
        items = []
        for k, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise t.error("servers", f"servers[{k}] must be a server index ≥ 0, got {describe(v)}")
            items.append(v)
        if len(set(items)) != len(items):
            raise t.error("servers", "servers lists a server twice")
        if not items:
            raise t.error("servers", "servers must not be empty")
        servers = tuple(items)
        if t.has("first_server"):
            raise t.error("first_server", "first_server applies to a count of servers, not a list")
    else:
        servers = t.integer("servers", 0, minimum=0)

    return Job(
        name=t.string("name", default_name),
        layers=layers,
        hidden=t.integer("hidden", minimum=1),
        seq_len=t.integer("seq_len", minimum=1),
        micro_batch=micro_batch,
        microbatches=microbatches,
        dtype_bytes=t.integer("dtype_bytes", 2, minimum=1),
        grad_bytes=t.integer("grad_bytes", 2, minimum=1),
        vocab=t.integer("vocab", 0, minimum=0),
        experts=experts,
        top_k=top_k,
        moe_every=t.integer("moe_every", 1, minimum=1),
        tp=tp,
        pp=pp,
        dp=dp,
        ep=ep,
        zero=t.integer("zero", 0, minimum=0, maximum=2),
        bucket_bytes=t.size_bytes("bucket", "25MiB", allow_zero=False),
        tp_comm=t.choice("tp_comm", ("sequence_parallel", "allreduce"), "sequence_parallel"),
        tp_overlap=t.boolean("tp_overlap", False),
        algorithm=algorithm,
        collective_model=t.choice("collective_model", ("steps", "connections"), "steps"),
        gpu=gpu,
        mfu=t.number("mfu", 0.5, low=0.0, low_open=True, high=1.0) if gpu else 0.5,
        layer_forward_ps=forward,
        layer_backward_ps=backward if backward is not None else (2 * forward if forward is not None else None),
        optimizer_ps=t.time_ps("optimizer", "0s"),
        tp_bytes=t.size_bytes("tp_bytes", None, allow_zero=False),
        pp_bytes=t.size_bytes("pp_bytes", None, allow_zero=False),
        ep_bytes=t.size_bytes("ep_bytes", None, allow_zero=False),
        dp_bytes=t.size_bytes("dp_bytes", None, allow_zero=False),
        servers=servers,
        first_server=t.integer("first_server", 0, minimum=0),
        placement=t.choice("placement", ("packed", "strided", "random"), "packed"),
        iterations=t.integer("iterations", 1, minimum=1),
        start_ps=t.time_ps("start", "0s"),
    )
