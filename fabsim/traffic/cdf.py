"""Empirical flow-size distributions: CDF files, their exact mean, inverse-transform sampling.

A CDF file has one point per line, ``<size bytes> <cumulative percent>``; blank lines and
``#`` comments are ignored. Points must not decrease in either column and the last percent is
100. Between two points the CDF is linear in the size, so sizes are drawn by inverse-transform
sampling with linear interpolation. If the first point's percent p₀ is above 0, its size is an
atom of probability p₀/100 (the CDF jumps there from 0). The built-in distributions
(``websearch``, ``hadoop``) ship in :mod:`fabsim.data`; their sources are cited in its README.md.
"""

from __future__ import annotations

import math
from importlib import resources

import numpy as np

from fabsim.errors import ScenarioError

#: Built-in distribution names → file names in :mod:`fabsim.data`.
BUILTIN_CDFS = {"websearch": "websearch.txt", "hadoop": "hadoop.txt"}
_FULL_PERCENT = 100.0


def builtin_cdf(name: str) -> np.ndarray:
    """The points of a built-in distribution (``"websearch"`` or ``"hadoop"``)."""
    text = resources.files("fabsim.data").joinpath(BUILTIN_CDFS[name]).read_text(encoding="utf-8")
    return parse_cdf(text, name)


def load_cdf(sizes: str) -> np.ndarray:
    """Points of ``sizes``: a built-in name or the path of a CDF file.

    Returns a float64 array of shape (m, 2): column 0 size in bytes, column 1 cumulative percent.
    Raises :class:`ScenarioError` (without a key path) naming the file if it cannot be read or
    is not a valid CDF.
    """
    if sizes in BUILTIN_CDFS:
        return builtin_cdf(sizes)
    try:
        with open(sizes, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read flow-size CDF {sizes}: {exc}") from None
    return parse_cdf(text, sizes)


def parse_cdf(text: str, name: str) -> np.ndarray:
    """Parse and validate CDF text; ``name`` (file or distribution) is used in error messages."""
    points: list[tuple[float, float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            points.append(_point(line, points[-1] if points else None))
        except ValueError as exc:
            raise ScenarioError(f"flow-size CDF {name}: line {number}: {exc}") from None
    if not points:
        raise ScenarioError(f"flow-size CDF {name}: no points")
    if points[-1][1] != _FULL_PERCENT:
        last = points[-1][1]
        raise ScenarioError(f"flow-size CDF {name}: the last point is at {last:g}%, it must end at 100%")
    cdf = np.array(points, np.float64)
    if cdf_mean_bytes(cdf) <= 0:
        raise ScenarioError(f"flow-size CDF {name}: the mean flow size is 0 bytes")
    return cdf


def _point(line: str, previous: tuple[float, float] | None) -> tuple[float, float]:
    """The (size, percent) of one non-empty line; ValueError says what is wrong with it."""
    fields = line.split()
    if len(fields) != 2:
        raise ValueError(f'expected "<size bytes> <cumulative percent>", got "{line}"')
    try:
        size, percent = float(fields[0]), float(fields[1])
    except ValueError:
        raise ValueError(f'expected two numbers, got "{line}"') from None
    if not (math.isfinite(size) and size >= 0):
        raise ValueError(f"size must be a number ≥ 0, got {fields[0]}")
    if not (math.isfinite(percent) and 0 <= percent <= _FULL_PERCENT):
        raise ValueError(f"cumulative percent must be in [0, 100], got {fields[1]}")
    if previous and size < previous[0]:
        raise ValueError(f"size {fields[0]} is below the previous point's {previous[0]:g} (sizes must not decrease)")
    if previous and percent < previous[1]:
        raise ValueError(f"percent {fields[1]} is below the previous point's {previous[1]:g} (a CDF never decreases)")
    return size, percent


def cdf_mean_bytes(points: np.ndarray) -> float:
    """Exact mean size (bytes) of the piecewise-linear CDF ``points`` (shape (m, 2)).

    Within a segment the size is uniform, so each segment contributes its probability times the
    midpoint of its two sizes (the atom at the first size is a segment of zero width).
    """
    size, percent = _from_origin(points)
    return float(np.sum(np.diff(percent) * (size[1:] + size[:-1]) / 2) / _FULL_PERCENT)


def sample_sizes(points: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sizes (int64 bytes, ≥ 1) at uniform quantiles ``u`` in [0, 1): inverse-transform sampling.

    The quantile q = 100·u falls in the segment whose percents bracket it (segments without
    probability are never chosen); the size is interpolated linearly there and rounded to
    whole bytes.
    """
    size, percent = _from_origin(points)
    q = np.asarray(u, np.float64) * _FULL_PERCENT
    i = np.searchsorted(percent, q, side="right") - 1  # percent[i] ≤ q < percent[i + 1]
    frac = (q - percent[i]) / (percent[i + 1] - percent[i])
    x = size[i] + frac * (size[i + 1] - size[i])
    return np.maximum(1, np.rint(x)).astype(np.int64)


def _from_origin(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and percents with a point (size₀, 0%) prepended: the first point's atom becomes a
    vertical segment, so every quantile in [0, 100) lies in a segment of positive probability."""
    size = np.concatenate([points[:1, 0], points[:, 0]])
    percent = np.concatenate([[0.0], points[:, 1]])
    return size, percent
