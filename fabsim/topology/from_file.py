"""Fabrics read from a CSV cable list (``kind = "file"``).

Format: a header line ``a,b,rate,delay``, then one cable per line. ``a`` and ``b`` are node
names: hosts are ``h<i>`` (``fabsim.names``: no leading zeros, so ``h01`` is an error) and must
be numbered 0 … N−1 without gaps; any other name is a switch
(names such as ``tor3`` or ``spine0`` also give the switch that role). ``rate`` and ``delay``
take units as in scenario files; an empty field takes the scenario's ``host_rate`` (cables to
hosts) or ``fabric_rate`` (others), and ``link_delay``. Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from fabsim.names import host_name, parse_host_name
from fabsim.native import codes
from fabsim.units import UnitError, parse_rate_bps, parse_time_ps

from .fabric import Fabric, TopologyError, parse_generated_name

_SWITCH_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:]*$")
_COLUMNS = ["a", "b", "rate", "delay"]


def from_file(path: str, host_rate_bps: int, fabric_rate_bps: int, link_delay_ps: int, shown_as: str | None = None) -> Fabric:
    """Build the fabric described by the CSV at ``path``; errors name ``shown_as`` (or ``path``)."""
    label = shown_as or str(path)

    def fail(message: str, line: int | None = None) -> TopologyError:
        where = f"{label} line {line}: " if line is not None else f"{label}: "
        return TopologyError(where + message, "topology.path")

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise fail(f"cannot read fabric file: {reason}") from None

    rows = [(n, r) for n, r in enumerate(csv.reader(text.splitlines()), start=1) if r and not r[0].lstrip().startswith("#")]
    if not rows or [c.strip() for c in rows[0][1]] != _COLUMNS:
        raise fail(f"the first line must be the header {','.join(_COLUMNS)}", rows[0][0] if rows else None)

    hosts: set[int] = set()
    switches: dict[str, int] = {}
    cables: list[tuple[str, str, int | None, int | None, int]] = []
    for line, row in rows[1:]:
        if len(row) != 4:
            raise fail(f"expected 4 fields (a,b,rate,delay), got {len(row)}", line)
        a, b, rate_s, delay_s = (c.strip() for c in row)
        for name in (a, b):
            try:
                host = parse_host_name(name)
            except ValueError as exc:
                raise fail(str(exc), line) from None
            if host is not None:
                hosts.add(host)
            elif _SWITCH_NAME.match(name):
                switches.setdefault(name, len(switches))
            else:
                raise fail(f'bad node name "{name}" (letters, digits and _ . : only; hosts are h<i>)', line)
        if a == b:
            raise fail(f'cable from "{a}" to itself', line)
        try:
            rate = parse_rate_bps(rate_s) if rate_s else None
            delay = parse_time_ps(delay_s) if delay_s else None
        except UnitError as exc:
            raise fail(str(exc), line) from None
        cables.append((a, b, rate, delay, line))

    n_hosts = len(hosts)
    if n_hosts == 0:
        raise fail("no hosts (name them h0, h1, …)")
    missing = sorted(set(range(n_hosts)) - hosts)
    if missing:
        raise fail(f"hosts must be numbered h0…h{n_hosts - 1} without gaps; h{missing[0]} is missing")

    names = tuple(host_name(i) for i in range(n_hosts)) + tuple(switches)
    node_of = {name: i for i, name in enumerate(names)}
    role = np.full(len(names), codes.ROLE_SWITCH, np.int8)
    role[:n_hosts] = codes.ROLE_HOST
    index = np.zeros(len(names), np.int32)
    index[:n_hosts] = np.arange(n_hosts)
    for name, s in switches.items():
        parsed = parse_generated_name(name)
        if parsed and parsed[0] != codes.ROLE_HOST:
            role[n_hosts + s], index[n_hosts + s] = parsed

    a = np.array([node_of[c[0]] for c in cables], np.int32)
    b = np.array([node_of[c[1]] for c in cables], np.int32)
    to_host = (a < n_hosts) | (b < n_hosts)
    rate = np.array(
        [c[2] if c[2] is not None else (host_rate_bps if h else fabric_rate_bps) for c, h in zip(cables, to_host)],
        np.int64,
    )
    delay = np.array([c[3] if c[3] is not None else link_delay_ps for c in cables], np.int64)
    try:
        return Fabric.from_cables("file", n_hosts, role, index, a, b, rate, delay, names=names)
    except TopologyError as exc:
        raise fail(str(exc)) from None
