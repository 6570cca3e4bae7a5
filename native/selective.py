"""Selective repeat (``host.transport = "sr"``; docs/packet-engine.md, "Selective repeat"): the
receiver holds packets beyond ``rcv_nxt`` in a bitmap, every ACK carries the sequence number it
answers (a SACK), and the sender resends only packets marked lost — by FACK's rule (a packet
``sr_reorder`` sequence numbers beyond a hole has been SACKed) or by its timer — never a packet
merely overtaken.

A flow's bitmaps are rows of its context (``packet_state.CONTEXT_BITMAPS``); sequence number
``s`` is bit ``s % W`` (``W = sr_window``, a multiple of 64), which is unambiguous because a
sender never has a packet outstanding ``W`` or more beyond ``snd_una`` (≤ ``rcv_nxt``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import P_SR_REORDER, P_SR_WINDOW
from .jit import hot

_ONE = np.uint64(1)


class SrArrays(NamedTuple):
    """What the transport's steps read and write: a few arrays of ``PacketNet`` and
    ``PacketState``, not the whole of them (a call passing those passes every field)."""

    params: np.ndarray
    f_npkts: np.ndarray
    snd_nxt: np.ndarray
    snd_una: np.ndarray
    rcv_nxt: np.ndarray
    t_progress: np.ndarray
    timeouts: np.ndarray
    n_lost: np.ndarray
    sack_high: np.ndarray
    lost_scan: np.ndarray
    rcv_bits: np.ndarray
    sack_bits: np.ndarray
    lost_bits: np.ndarray
    trim_bits: np.ndarray

# The transport's steps are compiled together as one function of their own (``_sr``, every
# scalar argument an int64), not inlined into the event handlers: go-back-N runs never call it,
# and inlined they would grow the handlers that ``_try_start`` is inlined into (the first
# compile's time and memory). It takes the few arrays it uses (``SrArrays``), not ``PacketNet``
# and ``PacketState``, whose hundred-odd fields every call would pass. The handlers call the thin
# wrappers at the end of this module.


@hot(inline="always")
def _has(bits, c, s, window):
    slot = s % window
    return (bits[c, slot >> 6] >> np.uint64(slot & 63)) & _ONE != 0

@hot(inline="always")
def _put(bits, c, s, window):
    slot = s % window
    bits[c, slot >> 6] |= _ONE << np.uint64(slot & 63)

@hot(inline="always")
def _drop(bits, c, s, window):
    slot = s % window
    bits[c, slot >> 6] &= ~(_ONE << np.uint64(slot & 63))


@hot(inline="always")
def _unmark(sv, c, s, window):
    """Packet ``s`` (marked lost) is no longer: its lost mark, and the trim bit that says a
    trim NACK made it, are cleared."""
    _drop(sv.lost_bits, c, s, window)
    if sv.trim_bits.shape[1] > 0:
        _drop(sv.trim_bits, c, s, window)
    sv.n_lost[c] -= 1


@hot(inline="always")
def _sr_can_send(sv, f, c):
    """The flow has a packet to send: one marked lost, or a new one within its window."""
    if sv.n_lost[c] > 0:
        return True
    nxt = sv.snd_nxt[c]
    return nxt < sv.f_npkts[f] and nxt < sv.snd_una[c] + sv.params[P_SR_WINDOW]

@hot(inline="always")
def _sr_next_seq(sv, c):
    """The sequence number a pull sends (the caller has checked ``sr_can_send``): the lowest
    packet marked lost, its mark cleared, or else the next new one; as ``seq << 1 | trimmed``,
    ``trimmed`` 1 for a packet that a trim NACK marked lost."""
    window = sv.params[P_SR_WINDOW]
    if sv.n_lost[c] > 0:
        s = np.int64(sv.snd_una[c])
        hi = np.int64(sv.snd_nxt[c])
        while s < hi:
            slot = s % window
            word = sv.lost_bits[c, slot >> 6] >> np.uint64(slot & 63)
            if word == 0:
                s += 64 - (slot & 63)  # W is a multiple of 64: the next word begins there
                continue
            while word & _ONE == 0:
                word >>= _ONE
                s += 1
            trimmed = sv.trim_bits.shape[1] > 0 and _has(sv.trim_bits, c, s, window)
            _unmark(sv, c, s, window)
            return (s << 1) | np.int64(trimmed)
    s = np.int64(sv.snd_nxt[c])
    sv.snd_nxt[c] = s + 1
    return s << 1

@hot(inline="always")
def _sr_receive(sv, f, c, seq):
    """Data packet ``seq`` reaches the receiver of flow ``f`` (context ``c``): accepted (and
    ``rcv_nxt`` moves past what was held after it), held, or a duplicate. Returns the new
    ``rcv_nxt`` and ``RCV_IN_ORDER``, ``RCV_HELD`` or ``RCV_DUPLICATE``."""
    window = sv.params[P_SR_WINDOW]
    n = np.int64(sv.f_npkts[f])
    rcv = np.int64(sv.rcv_nxt[c])
    if seq == rcv:
        rcv += 1
        while rcv < n and _has(sv.rcv_bits, c, rcv, window):
            _drop(sv.rcv_bits, c, rcv, window)
            rcv += 1
        sv.rcv_nxt[c] = rcv
        return rcv, RCV_IN_ORDER
    if seq > rcv and not _has(sv.rcv_bits, c, seq, window):
        _put(sv.rcv_bits, c, seq, window)  # held
        return rcv, RCV_HELD
    return rcv, RCV_DUPLICATE

@hot(inline="always")
def _sr_on_ack(sv, f, c, cum, sack, t):
    """An ACK (``cum``, ``sack``) of flow ``f`` reaches its sender at ``t``, before its last ACK
    (the caller releases the context when ``cum`` reaches the packet count): the cumulative
    point, the SACK, and FACK's loss rule. Returns whether the flow can send."""
    window = sv.params[P_SR_WINDOW]
    una = np.int64(sv.snd_una[c])
    if cum > una:
        for s in range(una, cum):  # these leave both sets
            if _has(sv.lost_bits, c, s, window):
                _unmark(sv, c, s, window)
            _drop(sv.sack_bits, c, s, window)
        una = cum
        sv.snd_una[c] = cum
        sv.t_progress[c] = t
        sv.timeouts[c] = 0
    if sack >= una:  # SACKed: no longer to be resent
        if _has(sv.lost_bits, c, sack, window):
            _unmark(sv, c, sack, window)
        _put(sv.sack_bits, c, sack, window)
        if sack > sv.sack_high[c]:
            sv.sack_high[c] = sack
    last = np.int64(sv.sack_high[c]) - sv.params[P_SR_REORDER]  # judged up to here
    for h in range(max(np.int64(sv.lost_scan[c]), una), last + 1):
        if not _has(sv.sack_bits, c, h, window) and not _has(sv.lost_bits, c, h, window):
            _put(sv.lost_bits, c, h, window)
            sv.n_lost[c] += 1
    if last + 1 > sv.lost_scan[c]:
        sv.lost_scan[c] = last + 1
    return _sr_can_send(sv, f, c)

@hot(inline="always")
def _sr_on_trim(sv, f, c, n):
    """A trim NACK for packet ``n`` (≥ ``snd_una``) reaches the sender of ``f``: unless SACKed or
    already marked, ``n`` is marked lost, by a trim: its trim bit says so, and its resend
    counts as a trim's. Returns whether the flow can send."""
    window = sv.params[P_SR_WINDOW]
    if not _has(sv.sack_bits, c, n, window) and not _has(sv.lost_bits, c, n, window):
        _put(sv.lost_bits, c, n, window)
        _put(sv.trim_bits, c, n, window)
        sv.n_lost[c] += 1
    return _sr_can_send(sv, f, c)

@hot(inline="always")
def _sr_on_timeout(sv, c):
    """The flow's timer has expired: every packet outstanding, neither SACKed nor marked lost,
    is marked lost."""
    window = sv.params[P_SR_WINDOW]
    for s in range(np.int64(sv.snd_una[c]), np.int64(sv.snd_nxt[c])):
        if not _has(sv.sack_bits, c, s, window) and not _has(sv.lost_bits, c, s, window):
            _put(sv.lost_bits, c, s, window)
            sv.n_lost[c] += 1


RCV_HELD = 0  # a data packet beyond rcv_nxt, kept
RCV_IN_ORDER = 1  # accepted: rcv_nxt moved past it
RCV_DUPLICATE = 2  # the receiver had it already

SR_CAN_SEND = 0
SR_NEXT_SEQ = 1
SR_RECEIVE = 2
SR_ON_ACK = 3
SR_ON_TRIM = 4
SR_ON_TIMEOUT = 5

@hot
def _sr(sv, op, f, c, a, b, t):
    """Step ``op`` of flow ``f`` (context ``c``) with arguments ``a``, ``b`` at ``t``; the
    result as an int64 (``SR_RECEIVE``: ``rcv_nxt << 2 | RCV_*``)."""
    if op == SR_CAN_SEND:
        return np.int64(_sr_can_send(sv, f, c))
    if op == SR_NEXT_SEQ:
        return _sr_next_seq(sv, c)
    if op == SR_RECEIVE:
        rcv, state = _sr_receive(sv, f, c, a)
        return (rcv << 2) | state
    if op == SR_ON_ACK:
        return np.int64(_sr_on_ack(sv, f, c, a, b, t))
    if op == SR_ON_TRIM:
        return np.int64(_sr_on_trim(sv, f, c, a))
    _sr_on_timeout(sv, c)
    return np.int64(0)

@hot(inline="always")
def _view(net, st):
    return SrArrays(net.params, net.f_npkts, st.snd_nxt, st.snd_una, st.rcv_nxt, st.t_progress, st.timeouts,
                    st.n_lost, st.sack_high, st.lost_scan, st.rcv_bits, st.sack_bits, st.lost_bits, st.trim_bits)

@hot(inline="always")
def sr_can_send(net, st, f, c):
    """The flow has a packet to send: one marked lost, or a new one within its window."""
    return _sr(_view(net, st), np.int64(SR_CAN_SEND), np.int64(f), np.int64(c), np.int64(0), np.int64(0), np.int64(0)) != 0

@hot(inline="always")
def sr_next_seq(net, st, c):
    """The sequence number a pull sends (the caller has checked ``sr_can_send``), and whether
    it is resent because a switch trimmed it."""
    r = _sr(_view(net, st), np.int64(SR_NEXT_SEQ), np.int64(0), np.int64(c), np.int64(0), np.int64(0), np.int64(0))
    return r >> 1, (r & 1) != 0

@hot(inline="always")
def sr_receive(net, st, f, c, seq):
    """Data packet ``seq`` reaches the receiver: the new ``rcv_nxt``, whether it was accepted in
    order, and whether the receiver had it already (a duplicate)."""
    r = _sr(_view(net, st), np.int64(SR_RECEIVE), np.int64(f), np.int64(c), np.int64(seq), np.int64(0), np.int64(0))
    return r >> 2, (r & 3) == RCV_IN_ORDER, (r & 3) == RCV_DUPLICATE

@hot(inline="always")
def sr_on_ack(net, st, f, c, cum, sack, t):
    """An ACK (``cum``, ``sack``) reaches the sender; whether the flow can send."""
    return _sr(_view(net, st), np.int64(SR_ON_ACK), np.int64(f), np.int64(c), np.int64(cum), np.int64(sack), np.int64(t)) != 0

@hot(inline="always")
def sr_on_trim(net, st, f, c, n):
    """A trim NACK for packet ``n`` reaches the sender; whether the flow can send."""
    return _sr(_view(net, st), np.int64(SR_ON_TRIM), np.int64(f), np.int64(c), np.int64(n), np.int64(0), np.int64(0)) != 0

@hot(inline="always")
def sr_on_timeout(net, st, c):
    """The flow's timer has expired: what is outstanding, not SACKed, is marked lost."""
    _sr(_view(net, st), np.int64(SR_ON_TIMEOUT), np.int64(0), np.int64(c), np.int64(0), np.int64(0), np.int64(0))
