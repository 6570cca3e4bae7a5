"""Sender-chosen entropy (``routing.ecmp = "spray"`` or ``"reps"``; docs/packet-engine.md, "ECMP"):
every data packet carries an entropy value that the switches hash in place of the flow's
channel. ``spray`` cycles through the values; ``reps`` (Bonato et al., REPS, 2024) reuses the
values whose ACKs came back unmarked, explores random ones otherwise, and after a timeout keeps
to the values it holds until the freeze ends.

A flow's REPS state is part of its context (``packet_state.CONTEXT_SLOTS``): a row of
``B = routing.reps_buffer`` slots, each −1 (empty), ``ev ≥ 0`` (fresh) or ``−2 − ev`` (used).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import ECMP_REPS, ECMP_SPRAY, P_ECMP, P_ENTROPIES, P_RTO, P_SEED
from .ecmp import ecmp_hash
from .jit import hot
from .packet_state import full

#: added to the packet count in the hash of a random value, so that it never equals a switch's
RANDOM_SALT = 1 << 32


class RepsArrays(NamedTuple):
    """What REPS reads and writes (a call passing ``PacketNet`` and ``PacketState`` would pass
    every one of their fields)."""

    params: np.ndarray
    f_src: np.ndarray
    f_dst: np.ndarray
    f_hash: np.ndarray
    f_channel: np.ndarray
    reps_slots: np.ndarray
    reps_head: np.ndarray
    reps_last: np.ndarray
    reps_explore: np.ndarray
    reps_freeze: np.ndarray


REPS_PICK = 0
REPS_RECYCLE = 1
REPS_FREEZE = 2


@hot(inline="always")
def _random(rv, f, k):
    """The random value for the flow's ``k``-th data packet."""
    h = ecmp_hash(rv.params[P_SEED], np.int64(rv.f_src[f]), np.int64(rv.f_dst[f]), rv.f_hash[f], rv.f_channel[f],
                   np.int64(RANDOM_SALT + k))
    return np.int64(h % np.uint64(rv.params[P_ENTROPIES]))

@hot(inline="always")
def _pick(rv, f, c, k, t):
    """The value of the flow's ``k``-th data packet, sent at ``t``."""
    b = rv.reps_slots.shape[1]
    if rv.reps_freeze[c] >= 0 and t >= rv.reps_freeze[c]:  # the freeze is over: start afresh
        for j in range(b):
            rv.reps_slots[c, j] = -1
        rv.reps_freeze[c] = -1
        rv.reps_explore[c] = b
    if rv.reps_explore[c] > 0:
        rv.reps_explore[c] -= 1
        return _random(rv, f, k)
    if rv.reps_freeze[c] >= 0:  # frozen: cycle through what the buffer holds, as it is
        last = np.int64(rv.reps_last[c])
        for i in range(1, b + 1):
            j = (last + i) % b
            v = np.int64(rv.reps_slots[c, j])
            if v != -1:
                rv.reps_last[c] = j
                return v if v >= 0 else -2 - v
        return _random(rv, f, k)
    head = np.int64(rv.reps_head[c])
    for i in range(b):  # the fresh value written longest ago
        j = (head + i) % b
        v = np.int64(rv.reps_slots[c, j])
        if v >= 0:
            rv.reps_slots[c, j] = -2 - v
            return v
    return _random(rv, f, k)

@hot
def _reps(rv, op, f, c, a, t):
    """Step ``op`` of flow ``f``'s REPS state (context ``c``), every argument an int64 (one
    compiled copy): ``REPS_PICK`` the value of its ``a``-th data packet, ``REPS_RECYCLE`` value
    ``a`` back from an unmarked ACK, ``REPS_FREEZE`` a timeout at ``t``."""
    if op == REPS_PICK:
        return _pick(rv, f, c, a, t)
    if op == REPS_RECYCLE:
        head = np.int64(rv.reps_head[c])
        rv.reps_slots[c, head] = a
        rv.reps_head[c] = (head + 1) % rv.reps_slots.shape[1]
        return np.int64(0)
    rv.reps_freeze[c] = t + rv.params[P_RTO]
    return np.int64(0)


@hot(inline="always")
def _view(net, st):
    return RepsArrays(net.params, net.f_src, net.f_dst, net.f_hash, net.f_channel, st.reps_slots, st.reps_head,
                      st.reps_last, st.reps_explore, st.reps_freeze)

@hot(inline="always")
def sender_entropy(net):
    """Packets carry an entropy value chosen by their sender (``spray`` or ``reps``; never in the
    kernel's plain variant)."""
    mode = net.params[P_ECMP]
    return full(net) and (mode == ECMP_SPRAY or mode == ECMP_REPS)

@hot(inline="always")
def entropy_of_send(net, st, f, c, k, t):
    """The entropy value of flow ``f``'s ``k``-th data packet (k from 0, resends counted), sent
    at ``t``, under ``spray`` or ``reps``."""
    if net.params[P_ECMP] == ECMP_SPRAY:
        return np.int64(k) % net.params[P_ENTROPIES]
    return _reps(_view(net, st), np.int64(REPS_PICK), np.int64(f), np.int64(c), np.int64(k), np.int64(t))

@hot(inline="always")
def reps_recycle(net, st, f, c, ev):
    """An unmarked ACK brings value ``ev`` back: it is written as fresh."""
    _reps(_view(net, st), np.int64(REPS_RECYCLE), np.int64(f), np.int64(c), np.int64(ev), np.int64(0))

@hot(inline="always")
def reps_freeze(net, st, f, c, t):
    """A timeout that does not give up: the flow freezes until ``t + rto``."""
    _reps(_view(net, st), np.int64(REPS_FREEZE), np.int64(f), np.int64(c), np.int64(0), np.int64(t))
