#!/usr/bin/env python3
"""The DCQCN fluid model of Zhu et al. (SIGCOMM 2015, §5) for N identical flows into one
bottleneck, integrated with Euler steps; prints the time-averaged queue and the sending rate.

    tools/dcqcn_fluid.py                 # N = 2, 4, 8 into 40 Gb/s with the paper preset

Rates are in packets/s of ``packet_bytes`` on the wire; p(t) is the switch's RED-like marking
probability of the queue, seen by the senders ``delay`` later. Terms:

    dq/dt   = N·Rc − C
    dα/dt   = g/τ' · ((1 − (1 − p)^(τ'·Rc)) − α)
    dRt/dt  = −(Rt − Rc)/τ · (1 − (1 − p)^(τ·Rc)) + R_AI·(Rc·p/((1 − p)^−B − 1) + Rc·p/((1 − p)^(−T·Rc) − 1))
    dRc/dt  = −Rc·α/(2τ) · (1 − (1 − p)^(τ·Rc)) + (Rt − Rc)/2 · (Rc·p/((1 − p)^−B − 1) + Rc·p/((1 − p)^(−T·Rc) − 1))

with τ the CNP interval, τ' the α timer, T the rate timer and B the byte counter in packets
(hyper increase is left out, as in the paper's model). It prints the equilibrium queue (the
fixed point, where the queue grows with N) and the mean of the integrated trajectory, which
oscillates around it with a feedback delay of ``delay``.
"""

from __future__ import annotations

import argparse
import math


def _inc_rate(rc: float, p: float, n_pkts: float) -> float:
    """Rc·p / ((1 − p)^−n − 1): expiries per second of a counter of n packets reset by marks."""
    if p <= 0.0:
        return rc / n_pkts
    if p >= 1.0:
        return 0.0
    return rc * p / math.expm1(-n_pkts * math.log1p(-p))


def simulate(n, rate_bps=40e9, packet_bytes=4144, kmin=5_000, kmax=200_000, pmax=0.01, g=1 / 256,
             tau=50e-6, tau_alpha=55e-6, timer=55e-6, byte_counter=10e6, rai_bps=40e6, delay=5e-6,
             duration=0.2, dt=1e-7, average_from=0.1):
    pkt_bits = packet_bytes * 8
    C = rate_bps / pkt_bits
    rai = rai_bps / pkt_bits
    B = byte_counter / packet_bytes
    rc = rt = C
    alpha = 1.0
    q = 0.0  # bytes
    lag = max(1, round(delay / dt))
    hist_p = [0.0] * lag
    hist_rc = [rc] * lag
    q_sum = rc_sum = 0.0
    samples = 0
    steps = round(duration / dt)
    for i in range(steps):
        if q <= kmin:
            p_now = 0.0
        elif q <= kmax:
            p_now = pmax * (q - kmin) / (kmax - kmin)
        else:
            p_now = 1.0
        p, rc_d = hist_p[i % lag], hist_rc[i % lag]
        hist_p[i % lag], hist_rc[i % lag] = p_now, rc
        cut = 1.0 - (1.0 - p) ** (tau * rc_d)
        inc = _inc_rate(rc_d, p, B) + _inc_rate(rc_d, p, timer * rc_d)
        d_alpha = g / tau_alpha * ((1.0 - (1.0 - p) ** (tau_alpha * rc_d)) - alpha)
        d_rt = -(rt - rc) / tau * cut + rai * inc
        d_rc = -rc * alpha / (2 * tau) * cut + (rt - rc) / 2 * inc
        q = max(0.0, q + (n * rc - C) * dt * packet_bytes)
        alpha += d_alpha * dt
        rt = min(rt + d_rt * dt, C)
        rc = min(max(rc + d_rc * dt, 0.0), C)
        if i * dt >= average_from:
            q_sum += q
            rc_sum += rc
            samples += 1
    return q_sum / samples, rc_sum / samples * pkt_bits


def fixed_point(n, rate_bps=40e9, packet_bytes=4144, kmin=5_000, kmax=200_000, pmax=0.01,
                tau=50e-6, tau_alpha=55e-6, timer=55e-6, byte_counter=10e6, rai_bps=40e6):
    """The model's equilibrium queue (bytes) with Rc = C/N: dRt/dt = dRc/dt = 0 and α at its
    fixed point give Rc·α·cut² = τ²·R_AI·inc², solved for the marking probability p."""
    pkt_bits = packet_bytes * 8
    rc = rate_bps / pkt_bits / n
    rai = rai_bps / pkt_bits
    B = byte_counter / packet_bytes

    def excess(p):
        cut = 1.0 - (1.0 - p) ** (tau * rc)
        alpha = 1.0 - (1.0 - p) ** (tau_alpha * rc)
        inc = _inc_rate(rc, p, B) + _inc_rate(rc, p, timer * rc)
        return rc * alpha * cut**2 - tau**2 * rai * inc**2

    lo, hi = 1e-12, pmax
    if excess(hi) < 0:
        return float(kmax)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
    return kmin + lo / pmax * (kmax - kmin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--duration", type=float, default=0.2, help="seconds (averages over the second half)")
    args = parser.parse_args()
    for n in args.n:
        q, rc = simulate(n, duration=args.duration, average_from=args.duration / 2)
        print(f"N={n}: equilibrium queue {fixed_point(n) / 1e3:.1f} KB; integrated: mean queue "
              f"{q / 1e3:.1f} KB, rate per flow {rc / 1e9:.2f} Gb/s")


if __name__ == "__main__":
    main()
