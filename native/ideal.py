"""The ideal flow completion time: a flow's packets alone on an idle fabric along its path,
store-and-forward (DESIGN §7; docs/engines.md)."""

from __future__ import annotations

import numpy as np

from .jit import kernel
from .packet_state import payload_bytes
from .queues import _ser_ps


@kernel
def store_and_forward_fct(path_ptr, path_link, rate_bps, pipe_delay_ps, size, mtu, header):
    """Ideal FCT of every flow: its packets alone on their path, store-and-forward.

    Packet i leaves link j at ``max(arrival from link j−1, departure of packet i−1 from j)
    + ser_j(w_i)``; the flow is received when its last packet arrives over the last link.
    """
    n = size.shape[0]
    out = np.empty(n, np.int64)
    hmax = 0
    for f in range(n):
        hmax = max(hmax, path_ptr[f + 1] - path_ptr[f])
    done = np.zeros(hmax, np.int64)  # departure time of the previous packet, per hop
    for f in range(n):
        a = path_ptr[f]
        h = path_ptr[f + 1] - a
        done[:h] = 0
        m = (size[f] + mtu - 1) // mtu
        t_arr = np.int64(0)
        for i in range(m):
            w = payload_bytes(size[f], i, mtu) + header
            t_arr = 0
            for j in range(h):
                link = path_link[a + j]
                leave = max(t_arr, done[j]) + _ser_ps(w, rate_bps[link])
                done[j] = leave
                t_arr = leave + pipe_delay_ps[link]
        out[f] = t_arr
    return out
