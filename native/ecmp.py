"""The ECMP hash: a seeded 64-bit mix of a flow's identity and the switch deciding.

Every value stays in uint64 (mixing uint64 and int64 in Numba promotes to float64). The mixer
is the splitmix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014), which has full avalanche: flipping any input bit flips each output bit
with probability ~1/2, so consecutive flow ids and ranks spread evenly over candidate ports.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@kernel
def mix64(x):
    """splitmix64 finaliser of a uint64."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel
def ecmp_hash(seed, src, dst, flow_id, channel, switch):
    """Hash of (seed, src, dst, flow id, channel, switch) as uint64.

    All arguments are non-negative integers. The switch id acts as a per-switch salt, so
    consecutive switches on a path make independent choices (no hash polarisation).
    """
    return ecmp_salt(flow_hash(seed, src, dst, flow_id, channel), switch)


@kernel
def flow_hash(seed, src, dst, flow_id, channel):
    """The part of ``ecmp_hash`` that does not depend on the switch (a flow can keep it)."""
    h = mix64(np.uint64(seed))
    h = mix64(h ^ np.uint64(src))
    h = mix64(h ^ np.uint64(dst))
    h = mix64(h ^ np.uint64(flow_id))
    return mix64(h ^ np.uint64(channel))


@kernel
def ecmp_salt(h, switch):
    """``ecmp_hash`` from a ``flow_hash`` and the deciding switch."""
    return mix64(h ^ np.uint64(switch))


@kernel
def flow_hashes(seed, src, dst, hash_id, channel):
    """Per flow, ``flow_hash`` of the data direction and of the ACK direction."""
    n = src.shape[0]
    fwd = np.empty(n, np.uint64)
    rev = np.empty(n, np.uint64)
    for f in range(n):
        fwd[f] = flow_hash(seed, src[f], dst[f], hash_id[f], channel[f])
        rev[f] = flow_hash(seed, dst[f], src[f], hash_id[f], channel[f])
    return fwd, rev

