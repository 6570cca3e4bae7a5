"""Host names: one rule for scenario files, failure targets and fabric CSVs.

A host is named ``h<i>`` with ``i`` its index written in canonical decimal (ASCII digits, no
leading zeros): ``h0``, ``h12``. A name of the form ``h<digits>`` that is not canonical
(``h01``, ``h007``) is an error rather than a switch name, so that a typo never silently
creates a switch or a second name for one host.
"""

from __future__ import annotations

import re

HOST_NAME = re.compile(r"h(0|[1-9][0-9]*)")
_HOST_LIKE = re.compile(r"h[0-9]+")


def host_name(index: int) -> str:
    """The name of host ``index`` (``3`` → ``"h3"``)."""
    return f"h{index}"


def parse_host_name(name: str) -> int | None:
    """The index of host name ``name`` (``"h12"`` → 12), or None if ``name`` is not of the form
    ``h<digits>`` (a switch name, say).

    Raises ValueError, with a one-line message, for ``h<digits>`` with leading zeros.
    """
    if HOST_NAME.fullmatch(name):
        return int(name[1:])
    if _HOST_LIKE.fullmatch(name):
        raise ValueError(
            f'"{name}" is not a host name: hosts are h<i> with no leading zeros ({host_name(int(name[1:]))})'
        )
    return None
