"""Protocol parameter sets: every value a ``cc.preset`` brings (DCQCN, ECN marking), then the
scenario's overrides (docs/dcqcn.md).

Two DCQCN dialects, chosen by ``cc.preset``:

- ``"paper"``: Zhu et al., SIGCOMM 2015, in the form of DESIGN §5 (the order htsim's
  ``dcqcn.cpp`` uses): the receiver sends a CNP packet for a marked packet if it sent none for
  that flow in the last ``cnp_interval``; the sender cuts on every CNP; a rate timer and a byte
  counter drive fast recovery, additive and hyper increase.
- ``"hpcc"``: the Mellanox CX4 DCQCN of the HPCC ns-3 code (alibaba-edu/High-Precision-
  Congestion-Control, ``rdma-hw.cc``, ``cc_mode = 1``) with the parameters of its ``run.py``: each
  ACK or NACK of a marked packet echoes the mark; the sender cuts at most once per
  ``rate_decrease_interval``, updates α every ``alpha_timer``, and increases on a timer only.

Each preset also brings the switches' ECN marking (DCQCN's congestion point): Kmin, Kmax, Pmax
and the marking point of the code it follows. ``protocol`` collects the resolved values of a
run for its traces, ``summary.json`` and ``fabsim validate``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fabsim.errors import ScenarioError

US = 1_000_000  # ps
RATE_25G = 25 * 10**9  #: the port rate the hpcc preset's per-rate values are given for


@dataclass(frozen=True)
class Dcqcn:
    """Resolved DCQCN parameters (times in ps, rates in bit/s)."""

    dialect: str  #: "paper" | "hpcc"
    cnp_interval_ps: int  #: paper: NP CNP spacing per flow (hpcc: every marked packet is echoed)
    alpha_timer_ps: int
    rate_timer_ps: int
    rate_decrease_interval_ps: int  #: hpcc: period of the decrease check (paper: cut on each CNP)
    byte_counter_bytes: int  #: paper: 0 disables the byte counter (hpcc has none)
    g: float
    initial_alpha: float
    fast_recovery: int  #: F
    rai_bps: float  #: additive step (hpcc preset: scaled with the host's line rate, see rai_for)
    rhai_bps: float  #: hyper step
    min_rate_bps: float
    scale_steps: bool  #: hpcc preset: R_AI and R_HAI are per 25 Gb/s of line rate

    def steps_for(self, line_rate_bps):
        """(R_AI, R_HAI) per sender, from its line rate (a float64 array)."""
        if self.scale_steps:
            return self.rai_bps * line_rate_bps / RATE_25G, self.rhai_bps * line_rate_bps / RATE_25G
        return np.full_like(line_rate_bps, self.rai_bps), np.full_like(line_rate_bps, self.rhai_bps)


PRESETS = {
    # Zhu et al. 2015; R_HAI and the rate floor are not fixed by the paper: 200 Mb/s is the
    # DCQCN authors' ns-3 configuration (bobzhuyb/ns3-rdma mix/config.txt), 100 Mb/s the
    # HPCC code's default MinRate.
    "paper": dict(
        cnp_interval_ps=50 * US, alpha_timer_ps=55 * US, rate_timer_ps=55 * US,
        rate_decrease_interval_ps=0, byte_counter_bytes=10_000_000, g=1 / 256, initial_alpha=1.0,
        fast_recovery=5, rai_bps=40e6, rhai_bps=200e6, min_rate_bps=100e6, scale_steps=False,
    ),
    # HPCC ns-3 run.py, cc = "dcqcn": ALPHA_RESUME_INTERVAL 1, RATE_DECREASE_INTERVAL 4,
    # RP_TIMER 300, FAST_RECOVERY_TIMES 1, EWMA_GAIN 1/256, RATE_AI 5·bw/25 Mb/s,
    # RATE_HAI 50·bw/25 Mb/s, MIN_RATE 1000 Mb/s, CLAMP_TARGET_RATE 0.
    "hpcc": dict(
        cnp_interval_ps=0, alpha_timer_ps=1 * US, rate_timer_ps=300 * US,
        rate_decrease_interval_ps=4 * US, byte_counter_bytes=0, g=1 / 256, initial_alpha=1.0,
        fast_recovery=1, rai_bps=5e6, rhai_bps=50e6, min_rate_bps=1e9, scale_steps=True,
    ),
}

# keys of [cc] that have no meaning in a dialect
_NOT_IN = {
    "hpcc": {"cnp_interval_ps": "cnp_interval", "byte_counter_bytes": "byte_counter"},
    "paper": {"rate_decrease_interval_ps": "rate_decrease_interval"},
}


def resolve(scenario) -> Dcqcn:
    """The DCQCN parameters of ``scenario``: its preset with every ``[cc]`` key it sets."""
    cc = scenario.cc
    values = dict(PRESETS[cc.preset], dialect=cc.preset)
    for name, key in _NOT_IN[cc.preset].items():
        value = getattr(cc, name)
        if value:  # 0 ("off") is accepted in either dialect
            other = "paper" if cc.preset == "hpcc" else "hpcc"
            raise ScenarioError(
                f'{key} does not apply to preset = "{cc.preset}" (it belongs to the "{other}" '
                "dialect; docs/dcqcn.md)", file=scenario.source, path=f"cc.{key}",
            )
    for name in PRESETS["paper"]:
        value = getattr(cc, name, None)
        if value is not None:
            values[name] = value
            if name in ("rai_bps", "rhai_bps"):
                values["scale_steps"] = False  # an explicit step is absolute
    for name in ("alpha_timer_ps", "rate_timer_ps"):
        if values[name] <= 0:
            raise ScenarioError("must be positive", file=scenario.source, path=f"cc.{name.removesuffix('_ps')}")
    if cc.preset == "hpcc" and values["rate_decrease_interval_ps"] <= 0:
        raise ScenarioError("must be positive", file=scenario.source, path="cc.rate_decrease_interval")
    return Dcqcn(**values)


# --- ECN marking (DCQCN's congestion point; docs/packet-engine.md, "ECN marking") ---------------


@dataclass(frozen=True)
class EcnPreset:
    """RED-like marking thresholds and the marking point a ``cc.preset`` brings."""

    kmin_bytes: int
    kmax_bytes: int
    pmax: float
    per_25g: bool  #: Kmin and Kmax are per 25 Gb/s of port rate (else the same on every port)
    at: str  #: "enqueue" | "dequeue": where the code the preset follows marks

    def thresholds(self, rate_bps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Kmin, Kmax) bytes of ports of ``rate_bps`` (int64 arrays)."""
        rate_bps = np.asarray(rate_bps, np.int64)
        if self.per_25g:
            return self.kmin_bytes * rate_bps // RATE_25G, self.kmax_bytes * rate_bps // RATE_25G
        return np.full(rate_bps.shape, self.kmin_bytes, np.int64), np.full(rate_bps.shape, self.kmax_bytes, np.int64)


ECN_PRESETS = {
    # Zhu et al. 2015: Kmin 5 KB, Kmax 200 KB, Pmax 1 %, on every port. Marking at dequeue:
    # htsim, whose dcqcn.cpp the paper dialect follows, marks as a packet leaves the queue
    # (CompositeQueue::beginService, LosslessOutputQueue::completeService), and so does the
    # DCQCN authors' ns-3 code (bobzhuyb/ns3-rdma, QbbNetDevice::DequeueAndTransmit).
    "paper": EcnPreset(kmin_bytes=5_000, kmax_bytes=200_000, pmax=0.01, per_25g=False, at="dequeue"),
    # HPCC ns-3 run.py for cc = "dcqcn": KMIN_MAP 100·bw/25 KB, KMAX_MAP 400·bw/25 KB, PMAX_MAP
    # 0.2; switch-node.cc marks in SwitchNotifyDequeue, after the packet left the queue.
    "hpcc": EcnPreset(kmin_bytes=100_000, kmax_bytes=400_000, pmax=0.2, per_25g=True, at="dequeue"),
}

#: Marking point when no DCQCN preset reacts to the marks (``cc.algorithm`` "none" or "dctcp"):
#: RED and DCTCP's switches mark arriving packets.
ECN_AT_WITHOUT_DCQCN = "enqueue"


def ecn_marking_point(algorithm: str, preset: str) -> str:
    """The default of ``switch.ecn_at``: the marking point of the code ``preset`` follows when
    DCQCN runs, else :data:`ECN_AT_WITHOUT_DCQCN`."""
    return ECN_PRESETS[preset].at if algorithm == "dcqcn" else ECN_AT_WITHOUT_DCQCN


def ecn_thresholds(scenario, rate_bps: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-port (Kmin, Kmax) bytes and Pmax: set in ``[switch]``, else from the cc preset."""
    sw = scenario.switch
    preset = ECN_PRESETS[scenario.cc.preset]
    kmin, kmax = preset.thresholds(rate_bps)
    if sw.ecn_kmin_bytes is not None:
        kmin = np.full(kmin.shape, sw.ecn_kmin_bytes, np.int64)
    if sw.ecn_kmax_bytes is not None:
        kmax = np.full(kmax.shape, sw.ecn_kmax_bytes, np.int64)
    pmax = preset.pmax if sw.ecn_pmax is None else sw.ecn_pmax
    return kmin.astype(np.int64), kmax.astype(np.int64), float(pmax)


def protocol(scenario, fabric) -> dict:
    """Every protocol value a run of ``scenario`` on ``fabric`` resolves to, as JSON-ready data:
    the ECN marking point and thresholds per distinct switch-port rate, and the DCQCN parameters
    (None unless ``cc.algorithm = "dcqcn"``) with the increase steps per distinct NIC rate.

    The flow engine has no queues, ECN or congestion control (DESIGN §7): it uses none of these.
    """
    sw, cc = scenario.switch, scenario.cc
    switch_ports = fabric.link_src >= fabric.n_hosts
    port_rates = np.unique(fabric.link_rate_bps[switch_ports]).astype(np.int64)
    kmin, kmax, pmax = ecn_thresholds(scenario, port_rates)
    ecn = {
        "enabled": bool(sw.ecn),
        "at": sw.ecn_at,
        "thresholds": [
            {"rate_bps": int(r), "kmin_bytes": int(lo), "kmax_bytes": int(hi), "pmax": pmax}
            for r, lo, hi in zip(port_rates, kmin, kmax)
        ],
    }
    dcqcn = None
    if cc.algorithm == "dcqcn":
        d = resolve(scenario)
        nic_rates = np.unique(fabric.link_rate_bps[fabric.host_uplink]).astype(np.float64)
        rai, rhai = d.steps_for(nic_rates)
        dcqcn = asdict(d) | {
            "steps": [
                {"line_rate_bps": int(r), "rai_bps": float(a), "rhai_bps": float(h)}
                for r, a, h in zip(nic_rates, rai, rhai)
            ],
        }
    return {"cc": {"algorithm": cc.algorithm, "preset": cc.preset, "dcqcn": dcqcn}, "ecn": ecn}
