#!/usr/bin/env python3
"""The DCQCN fluid model of Zhu et al. (SIGCOMM 2015, §5) for N identical flows into one
bottleneck: its equilibrium queue, and the delayed equations integrated with Euler steps.

    tools/dcqcn_fluid.py                      # N = 2, 4, 8 into 40 Gb/s, paper preset, 1000 B packets
    tools/dcqcn_fluid.py --packet-bytes 4144  # fabsim's default packets (4096 + 48 B)

Rates are in packets/s of ``packet_bytes`` on the wire; p(t) is the switch's RED-like marking
probability of the queue, seen by the senders ``delay`` later. With

    a = 1 − (1 − p)^(τ·Rc)                        a CNP arrives within an interval τ
    b = Rc·p / ((1 − p)^−B − 1)                   byte-counter expiries per second
    d = Rc·p / ((1 − p)^(−T·Rc) − 1)              rate-timer expiries per second
    c = b·(1 − p)^(F·B),  e = d·(1 − p)^(F·T·Rc)  the expiries that come after F unmarked stages

the model is

    dq/dt   = N·Rc − C
    dα/dt   = g/τ' · ((1 − (1 − p)^(τ'·Rc)) − α)
    dRt/dt  = −(Rt − Rc)/τ · a + R_AI·(c + e)
    dRc/dt  = −Rc·α/(2τ) · a + (Rt − Rc)/2 · (b + d)

with τ the CNP interval, τ' the α timer, T the rate timer, B the byte counter in packets and F
the fast-recovery count: every expiry moves Rc halfway to Rt, but only those past the F
fast-recovery stages raise Rt (hyper increase is left out, as in the paper's model). At the fixed
point Rc = C/N and the two rate equations give Rc·α·a² = τ²·R_AI·(c + e)·(b + d). With 1000-byte
packets, Kmin/Kmax/Pmax 5 KB/200 KB/1 % and 40 Gb/s the equilibrium queue is 20.2, 41.8 and
93.8 KB for N = 2, 4, 8 (DESIGN §5). The integrated trajectory oscillates around it with a
feedback delay of ``delay``.
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
    x = -n_pkts * math.log1p(-p)  # (1 − p)^−n = e^x, written with e^−x, which cannot overflow
    return rc * p * math.exp(-x) / -math.expm1(-x)


def _unmarked(p: float, n_pkts: float) -> float:
    """(1 − p)^n: the chance that n packets in a row go unmarked."""
    return math.exp(n_pkts * math.log1p(-p)) if p < 1.0 else 0.0


def simulate(n, rate_bps=40e9, packet_bytes=1000, kmin=5_000, kmax=200_000, pmax=0.01, g=1 / 256,
             tau=50e-6, tau_alpha=55e-6, timer=55e-6, byte_counter=10e6, rai_bps=40e6, fast_recovery=5,
             delay=5e-6, duration=0.2, dt=1e-7, average_from=0.1):
    """Mean queue (bytes) and rate per flow (bit/s) of the integrated model from ``average_from``
    to ``duration`` seconds (parameters as :func:`fixed_point`; ``delay``: feedback delay, s)."""
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
        cut = 1.0 - _unmarked(p, tau * rc_d)
        b, d = _inc_rate(rc_d, p, B), _inc_rate(rc_d, p, timer * rc_d)
        additive = b * _unmarked(p, fast_recovery * B) + d * _unmarked(p, fast_recovery * timer * rc_d)
        d_alpha = g / tau_alpha * ((1.0 - _unmarked(p, tau_alpha * rc_d)) - alpha)
        d_rt = -(rt - rc) / tau * cut + rai * additive
        d_rc = -rc * alpha / (2 * tau) * cut + (rt - rc) / 2 * (b + d)
        q = max(0.0, q + (n * rc - C) * dt * packet_bytes)
        alpha += d_alpha * dt
        rt = min(rt + d_rt * dt, C)
        rc = min(max(rc + d_rc * dt, 0.0), C)
        if i * dt >= average_from:
            q_sum += q
            rc_sum += rc
            samples += 1
    return q_sum / samples, rc_sum / samples * pkt_bits


def fixed_point(n, rate_bps=40e9, packet_bytes=1000, kmin=5_000, kmax=200_000, pmax=0.01,
                tau=50e-6, tau_alpha=55e-6, timer=55e-6, byte_counter=10e6, rai_bps=40e6, fast_recovery=5):
    """The model's equilibrium queue (bytes) for ``n`` flows into ``rate_bps``: with Rc = C/N,
    dRt/dt = dRc/dt = 0 and α at its fixed point, Rc·α·a² = τ²·R_AI·(c + e)·(b + d), solved for
    the marking probability p and mapped back to a queue through the marking line; Kmax when
    p = ``pmax`` does not balance them (the equilibrium would lie above Kmax).

    ``packet_bytes``: wire bytes per packet; ``tau``, ``tau_alpha``, ``timer``: CNP interval, α
    timer and rate timer (s); ``byte_counter`` (bytes); ``rai_bps``; ``fast_recovery``: F.
    """
    pkt_bits = packet_bytes * 8
    rc = rate_bps / pkt_bits / n
    rai = rai_bps / pkt_bits
    B = byte_counter / packet_bytes

    def excess(p):
        cut = 1.0 - _unmarked(p, tau * rc)
        alpha = 1.0 - _unmarked(p, tau_alpha * rc)
        b, d = _inc_rate(rc, p, B), _inc_rate(rc, p, timer * rc)
        additive = b * _unmarked(p, fast_recovery * B) + d * _unmarked(p, fast_recovery * timer * rc)
        return rc * alpha * cut**2 - tau**2 * rai * additive * (b + d)

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
    parser.add_argument("--packet-bytes", type=int, default=1000, help="wire bytes per packet")
    parser.add_argument("--pmax", type=float, default=0.01)
    parser.add_argument("--duration", type=float, default=0.2, help="seconds (averages over the second half)")
    args = parser.parse_args()
    for n in args.n:
        common = dict(packet_bytes=args.packet_bytes, pmax=args.pmax)
        q, rc = simulate(n, duration=args.duration, average_from=args.duration / 2, **common)
        print(f"N={n}: equilibrium queue {fixed_point(n, **common) / 1e3:.1f} KB; integrated: mean queue "
              f"{q / 1e3:.1f} KB, rate per flow {rc / 1e9:.2f} Gb/s")


if __name__ == "__main__":
    main()
