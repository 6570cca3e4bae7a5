"""The entry points behind ``fabsim.simulate``: ``simulate`` (scenario → model → flow table →
engine driver → Arrow tables), and ``warm``/``is_compiled`` (the kernels compiled or loaded from
the cache before a run)."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from .model import build_model
from .run.flow import run_flow_engine
from .run.packet import run_packet_engine, uses_full_kernel
from .run.spray import SPRAYED, with_spraying
from .scenario import Scenario
from .scenario.runnable import check_runnable
from .trace.assemble import Result, assemble
from .traffic import build_flow_table


def simulate(scenario: Scenario, progress=None, baseline: bool = False, warn=None) -> Result:
    """Run ``scenario`` and return its traces in memory.

    ``progress`` is None or a callable taking a ``fabsim.run.slicer.Progress``; it is called between
    kernel slices (a few times a second on long runs). With ``baseline`` the scenario also runs
    without its failures (same seed, same flows), first, and the failures' added delays are
    measured against that run.

    Before any engine runs, the checks that ``fabsim validate`` applies run here too
    (:func:`fabsim.scenario.runnable.check_runnable`): a problem raises ``ScenarioError``; each
    warning (one line) is passed to ``warn`` if given, and all are in ``summary["warnings"]``.
    """
    model, flows, warnings = prepare(scenario)
    for line in warnings if warn is not None else ():
        warn(line)
    run = run_flow_engine if scenario.run.engine == "flow" else run_packet_engine
    if scenario.run.engine == "flow" and scenario.routing.ecmp in SPRAYED:
        # a transfer over its equal-cost paths: one sub-flow per path, whatever routing.qps
        # (spraying spreads each queue pair over those same paths)
        run = with_spraying(run, flows)
    elif scenario.routing.qps > 1:  # the engines run every queue pair as a flow of its own
        run = _with_queue_pairs(run, flows)
    base = None
    if baseline and scenario.failures:
        base_model = dataclasses.replace(model, scenario=dataclasses.replace(scenario, failures=()))
        base = run(base_model, flows, progress)
    result = assemble(model, flows, run(model, flows, progress), base)
    result.summary["warnings"] = warnings
    return result


def prepare(scenario: Scenario):
    """``(model, flows, warnings)``: the fabric and routing, the flow table, and the checks before
    a run applied to them (``check_runnable``: a problem raises ``ScenarioError``) — what
    ``simulate`` starts from, and all that ``fabsim validate`` does."""
    model = build_model(scenario)
    flows = build_flow_table(scenario, model.fabric)
    return model, flows, check_runnable(model, flows)


def _with_queue_pairs(run, flows):
    """``run`` over the queue pairs of ``flows`` (``routing.qps``), folded back to one row per
    task (``fabsim.run.qps``)."""
    from .run import qps
    from .run.flow import flow_ideal_fct
    from .run.packet import packet_ideal_fct

    def run_qps(model, _flows, progress=None):
        s = qps.split(model, flows, model.scenario.routing.qps)
        ideal = flow_ideal_fct if model.scenario.run.engine == "flow" else packet_ideal_fct
        return qps.fold(model, flows, s, run(model, s.flows, progress), ideal)

    return run_qps


#: What ``warm`` runs, one tiny scenario each: (kernel set, label, the scenario's ``[cc]`` table).
#: ``packet-core`` is the packet engine without its failure and rate-sampling kernels: what a
#: run without ``[[failures]]`` and ``output.cc_sample`` needs (about two thirds of the compile).
#: ``packet-full`` and ``packet-full-core`` are the same for the full variant of the packet
#: kernel, which selective repeat, trimming and sender-chosen entropy (spray, REPS) run on
#: (``fabsim.native.packet_state.variant_for``); the plain variant leaves their code out.
WARM_VARIANTS = (
    ("flow", "flow engine", {"algorithm": "none"}),
    ("packet-core", "packet engine", {"algorithm": "none"}),
    ("packet", "packet engine, DCQCN (hpcc preset)", {"algorithm": "dcqcn", "preset": "hpcc"}),
    ("packet", "packet engine, DCQCN (paper preset)", {"algorithm": "dcqcn", "preset": "paper"}),
    ("packet-full-core", "packet engine, selective repeat, trimming, spraying", {"algorithm": "none"}),
    ("packet-full", "packet engine, selective repeat, trimming, spraying, DCQCN (hpcc preset)",
     {"algorithm": "dcqcn", "preset": "hpcc"}),
    ("packet-full", "packet engine, selective repeat, trimming, spraying, DCQCN (paper preset)",
     {"algorithm": "dcqcn", "preset": "paper"}),
)

#: Every kernel set, and the smaller set each includes.
KERNEL_SETS = {"flow": None, "packet-core": None, "packet": "packet-core",
               "packet-full-core": None, "packet-full": "packet-full-core"}

_warm_here: set[str] = set()  # engines warmed in this process


def _marker(engine: str) -> Path | None:
    """The file ``warm`` leaves in the kernel cache (keyed by native/'s content) once ``engine``
    is compiled there; None when kernels are not cached at all."""
    from . import native

    return Path(native.CACHE_DIR) / f"warm-{engine}" if native.CACHE_DIR else None


def is_compiled(engine: str) -> bool:
    """Whether the kernel set ``engine`` (a key of ``KERNEL_SETS``) is ready without a compile:
    ``warm`` has run for it in this process, or has left its marker in the current kernel
    cache. A whole packet engine includes its core."""
    whole = next((k for k, part in KERNEL_SETS.items() if part == engine), None)
    if whole is not None and is_compiled(whole):
        return True
    marker = _marker(engine)
    return engine in _warm_here or (marker is not None and marker.is_file())


def kernel_set(scenario: Scenario) -> str:
    """The kernels a run of ``scenario`` compiles on first use: ``flow``; ``packet-core``, or
    ``packet`` when it has failures or DCQCN rate samples; ``packet-full-core`` or
    ``packet-full`` for the same on the full variant of the packet kernel."""
    if scenario.run.engine == "flow":
        return "flow"
    full = "-full" if uses_full_kernel(scenario) else ""
    if scenario.failures or (scenario.cc.algorithm == "dcqcn" and scenario.output.cc_sample_ps):
        return f"packet{full}"
    return f"packet{full}-core"


def warm(engines: tuple[str, ...] = ("flow", "packet", "packet-full"), on_step=None) -> None:
    """Compile, or load from Numba's on-disk cache, the kernel sets ``engines`` (keys of
    ``KERNEL_SETS``) by running a tiny scenario for each of their ``WARM_VARIANTS`` — for
    ``flow``, ``packet`` and ``packet-full`` with a link flap and rate samples, so the failure
    and sampling kernels are compiled too.

    ``on_step(label)``, if given, returns a context manager that is entered around each
    variant (e.g. to show a spinner and its time).
    """
    from .scenario import load_scenario

    for engine in engines:
        if engine not in KERNEL_SETS:
            raise ValueError(f"warm: no kernel set {engine!r} (sets: {', '.join(KERNEL_SETS)})")
        if engine in _warm_here:
            continue  # e.g. a sweep's packet-core after its packet, which includes it
        sets = (engine, KERNEL_SETS[engine]) if KERNEL_SETS[engine] else (engine,)
        for kind, label, cc in (v for v in WARM_VARIANTS if v[0] in sets):
            core = kind.endswith("-core")
            full = kind.startswith("packet-full")
            with on_step(label) if on_step else contextlib.nullcontext():
                simulate(load_scenario({
                    "run": {"engine": "flow" if kind == "flow" else "packet", "until": "1s"},
                    # servers of two GPUs and a tiny job: compute tasks, scale-up transfers and
                    # the jobs trace's kernels run too
                    "topology": {"kind": "fat_tree", "k": 4, "gpus_per_server": 2},
                    "traffic": [{"kind": "collective", "op": "allreduce", "size": "64KiB", "ranks": 4}],
                    "jobs": [{"layers": 1, "hidden": 64, "seq_len": 16, "tp": 2, "dp": 2, "first_server": 4,
                              "layer_forward": "1us"}],
                    "cc": cc,
                    "failures": [] if core else [{"target": "link:tor0-agg0", "at": "1us", "duration": "2us"}],
                    "routing": {"detect": "1us", "ecmp": "spray" if full else "flow"},
                    "host": {"transport": "sr" if full else "gbn"},
                    "switch": {"trim": full},
                    "output": {"queue_sample": "1us", "cc_sample": "0" if core else "1us"},
                }))
        for done in sets:
            _warm_here.add(done)
            marker = _marker(done)
            if marker is not None:
                with contextlib.suppress(OSError):
                    marker.touch()
