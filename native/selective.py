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

import numpy as np

from .codes import P_SR_REORDER, P_SR_WINDOW
from .jit import hot

_ONE = np.uint64(1)

# The transport's steps are compiled as functions of their own, not inlined into the event
# handlers: go-back-N runs never call them, and inlined they would grow the handlers that
# ``_try_start`` is inlined into (the first compile's time and memory).


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


@hot
def sr_can_send(net, st, f, c):
    """The flow has a packet to send: one marked lost, or a new one within its window."""
    if st.n_lost[c] > 0:
        return True
    nxt = st.snd_nxt[c]
    return nxt < net.f_npkts[f] and nxt < st.snd_una[c] + net.params[P_SR_WINDOW]

@hot
def sr_next_seq(net, st, c):
    """The sequence number a pull sends (the caller has checked ``sr_can_send``): the lowest
    packet marked lost, its mark cleared, or else the next new one."""
    window = net.params[P_SR_WINDOW]
    if st.n_lost[c] > 0:
        s = np.int64(st.snd_una[c])
        hi = np.int64(st.snd_nxt[c])
        while s < hi:
            slot = s % window
            word = st.lost_bits[c, slot >> 6] >> np.uint64(slot & 63)
            if word == 0:
                s += 64 - (slot & 63)  # W is a multiple of 64: the next word begins there
                continue
            while word & _ONE == 0:
                word >>= _ONE
                s += 1
            _drop(st.lost_bits, c, s, window)
            st.n_lost[c] -= 1
            return s
    s = np.int64(st.snd_nxt[c])
    st.snd_nxt[c] = s + 1
    return s

@hot
def sr_receive(net, st, f, c, seq):
    """Data packet ``seq`` reaches the receiver of flow ``f`` (context ``c``): accepted (and
    ``rcv_nxt`` moves past what was held after it), held, or a duplicate. Returns the new
    ``rcv_nxt`` and whether the packet was accepted in order."""
    window = net.params[P_SR_WINDOW]
    n = np.int64(net.f_npkts[f])
    rcv = np.int64(st.rcv_nxt[c])
    if seq == rcv:
        rcv += 1
        while rcv < n and _has(st.rcv_bits, c, rcv, window):
            _drop(st.rcv_bits, c, rcv, window)
            rcv += 1
        st.rcv_nxt[c] = rcv
        return rcv, True
    if seq > rcv:
        _put(st.rcv_bits, c, seq, window)  # held (again, if a duplicate: no change)
    return rcv, False

@hot
def sr_on_ack(net, st, f, c, cum, sack, t):
    """An ACK (``cum``, ``sack``) of flow ``f`` reaches its sender at ``t``, before its last ACK
    (the caller releases the context when ``cum`` reaches the packet count): the cumulative
    point, the SACK, and FACK's loss rule. Returns whether the flow can send."""
    window = net.params[P_SR_WINDOW]
    una = np.int64(st.snd_una[c])
    if cum > una:
        for s in range(una, cum):  # these leave both sets
            if _has(st.lost_bits, c, s, window):
                _drop(st.lost_bits, c, s, window)
                st.n_lost[c] -= 1
            _drop(st.sack_bits, c, s, window)
        una = cum
        st.snd_una[c] = cum
        st.t_progress[c] = t
        st.timeouts[c] = 0
    if sack >= una:  # SACKed: no longer to be resent
        if _has(st.lost_bits, c, sack, window):
            _drop(st.lost_bits, c, sack, window)
            st.n_lost[c] -= 1
        _put(st.sack_bits, c, sack, window)
        if sack > st.sack_high[c]:
            st.sack_high[c] = sack
    last = np.int64(st.sack_high[c]) - net.params[P_SR_REORDER]  # judged up to here
    for h in range(max(np.int64(st.lost_scan[c]), una), last + 1):
        if not _has(st.sack_bits, c, h, window) and not _has(st.lost_bits, c, h, window):
            _put(st.lost_bits, c, h, window)
            st.n_lost[c] += 1
    if last + 1 > st.lost_scan[c]:
        st.lost_scan[c] = last + 1
    return sr_can_send(net, st, f, c)

@hot
def sr_on_trim(net, st, f, c, n):
    """A trim NACK for packet ``n`` (≥ ``snd_una``) reaches the sender of ``f``: unless SACKed or
    already marked, ``n`` is marked lost. Returns whether the flow can send."""
    window = net.params[P_SR_WINDOW]
    if not _has(st.sack_bits, c, n, window) and not _has(st.lost_bits, c, n, window):
        _put(st.lost_bits, c, n, window)
        st.n_lost[c] += 1
    return sr_can_send(net, st, f, c)

@hot
def sr_on_timeout(net, st, c):
    """The flow's timer has expired: every packet outstanding, neither SACKed nor marked lost,
    is marked lost."""
    window = net.params[P_SR_WINDOW]
    for s in range(np.int64(st.snd_una[c]), np.int64(st.snd_nxt[c])):
        if not _has(st.sack_bits, c, s, window) and not _has(st.lost_bits, c, s, window):
            _put(st.lost_bits, c, s, window)
            st.n_lost[c] += 1
