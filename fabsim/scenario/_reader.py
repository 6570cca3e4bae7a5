"""Typed readers over one raw TOML table that know their key path.

Every section parser wraps its table in a :class:`Table`, declares the keys it accepts (so a
misspelt key is reported before it can masquerade as a "missing required key"), and reads each
value with a typed method that raises :class:`ScenarioError` naming the full key path
(``topology.host_rate``, ``traffic[2].size``). The file name is added by the loader.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fabsim.errors import ScenarioError
from fabsim.names import parse_host_name
from fabsim.units import UnitError, parse_rate_bps, parse_size_bytes, parse_time_ps

#: Marks a key as required in the typed readers' ``default`` argument.
REQUIRED: Any = object()


def describe(value: Any) -> str:
    """A TOML-flavoured rendering of ``value`` for "got …" in messages (always one line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class Table:
    """One TOML table plus its dotted key path (``""`` for the document root)."""

    def __init__(self, data: dict[str, Any], path: str = ""):
        self.data = data
        self.path = path

    # --- paths and errors ----------------------------------------------------------------------

    def key_path(self, key: str) -> str:
        """The dotted path of ``key`` in this table."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ScenarioError:
        """An error at ``key`` of this table."""
        return ScenarioError(message, path=self.key_path(key))

    def check_keys(self, allowed: Sequence[str], context: str = "") -> None:
        """Reject the first key not in ``allowed``; ``context`` (e.g. ``for topology kind
        "star"``) is added to the message, and the valid keys are listed when no close match
        explains the typo."""
        for key in map(str, self.data):  # a dict source may have non-string keys
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f" (keys: {', '.join(allowed)})"
                where = f" {context}" if context else ""
                raise self.error(key, f'unknown key "{key}"{where}{hint}')

    def has(self, key: str) -> bool:
        """Whether ``key`` is set (defaults do not count)."""
        return key in self.data

    def _get(self, key: str, default: Any) -> tuple[bool, Any]:
        """(present, value); raises for a missing required key."""
        if key in self.data:
            return True, self.data[key]
        if default is REQUIRED:
            raise self.error(key, "missing required key")
        return False, default

    # --- nested tables -------------------------------------------------------------------------

    def table(self, key: str, *, required: bool = False) -> Table:
        """The sub-table ``key`` (an empty one if absent and not required)."""
        _, value = self._get(key, REQUIRED if required else {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {describe(value)}")
        return Table(value, self.key_path(key))

    def tables(self, key: str) -> list[Table]:
        """The array of tables ``key`` (``[[key]]``), empty if absent; paths ``key[i]``."""
        _, value = self._get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables ([[{key}]]), got {describe(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"expected a table, got {describe(item)}")
            out.append(Table(item, self.key_path(f"{key}[{i}]")))
        return out

    # --- scalars -------------------------------------------------------------------------------

    def integer(
        self, key: str, default: Any = REQUIRED, *, minimum: int | None = None, maximum: int | None = None
    ) -> Any:
        """An integer (booleans are not integers) that is ≥ ``minimum`` and ≤ ``maximum`` if given."""
        present, value = self._get(key, default)
        if not present:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {describe(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"{key} must be ≥ {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"{key} must be ≤ {maximum}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: Any = REQUIRED,
        *,
        low: float,
        high: float = math.inf,
        low_open: bool = False,
        high_open: bool = False,
    ) -> Any:
        """A finite float (integers accepted) in the interval from ``low`` to ``high``."""
        present, value = self._get(key, default)
        if not present:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {describe(value)}")
        value = float(value)
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            interval = _interval(low, high, low_open, high_open)
            raise self.error(key, f"{key} must be {interval}, got {value:g}")
        return value

    def boolean(self, key: str, default: Any = REQUIRED) -> Any:
        present, value = self._get(key, default)
        if present and not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {describe(value)}")
        return value

    def string(self, key: str, default: Any = REQUIRED) -> Any:
        """A non-empty string."""
        present, value = self._get(key, default)
        if not present:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {describe(value)}")
        if not value:
            raise self.error(key, f"{key} must not be empty")
        return value

    def choice(self, key: str, choices: Sequence[str], default: Any = REQUIRED) -> Any:
        """One of ``choices`` (a string), with a suggestion for a near miss."""
        present, value = self._get(key, default)
        if not present:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {describe(value)}")
        if value not in choices:
            hint = did_you_mean(value, choices)
            raise self.error(key, f"expected one of {', '.join(choices)}, got {describe(value)}{hint}")
        return value

    # --- quantities with units -----------------------------------------------------------------

    def _quantity(self, key: str, default: Any, parse: Callable[[Any], int]) -> Any:
        """Parse ``key`` with a units parser. A string ``default`` is parsed like a user value
        (so defaults read as in the docs); any other default is returned as is. The units
        parser also rejects values of the wrong type ("expected a time such as …")."""
        present, value = self._get(key, default)
        if not present and not isinstance(value, str):
            # None, or a default already in base units (e.g. fabric_rate = host_rate_bps).
            return value
        try:
            return parse(value)
        except UnitError as exc:
            # String defaults are written by us and always parse: only user values get here.
            raise self.error(key, str(exc)) from None

    def time_ps(self, key: str, default: Any = REQUIRED, *, allow_zero: bool = True) -> Any:
        """A time in integer picoseconds (plain numbers are seconds)."""
        return self._quantity(key, default, lambda v: parse_time_ps(v, allow_zero=allow_zero))

    def size_bytes(self, key: str, default: Any = REQUIRED, *, allow_zero: bool = True) -> Any:
        """A size in integer bytes (plain numbers are bytes)."""
        return self._quantity(key, default, lambda v: parse_size_bytes(v, allow_zero=allow_zero))

    def rate_bps(self, key: str, default: Any = REQUIRED) -> Any:
        """A rate in integer bit/s (plain numbers are bit/s); zero is an error."""
        return self._quantity(key, default, parse_rate_bps)

    # --- host references -----------------------------------------------------------------------

    def host(self, key: str, default: Any = REQUIRED) -> Any:
        """A host reference, an index or a name ``h<i>``, as an index (range: check_references)."""
        present, value = self._get(key, default)
        return host_index(value, lambda msg: self.error(key, msg)) if present else value

    def host_list(self, key: str, *, min_len: int) -> tuple[int, ...]:
        """A list of ≥ ``min_len`` distinct host references (the key must be present)."""
        value = self.data[key]
        if not isinstance(value, list):
            raise self.error(key, f"expected an array, got {describe(value)}")
        if len(value) < min_len:
            raise self.error(key, f"{key} needs at least {min_len} hosts, got {len(value)}")
        hosts: list[int] = []
        for i, item in enumerate(value):
            item_key = f"{key}[{i}]"
            h = host_index(item, lambda msg: self.error(item_key, msg))
            if h in hosts:
                raise self.error(item_key, f"host h{h} is listed twice")
            hosts.append(h)
        return tuple(hosts)


def host_index(value: Any, error: Callable[[str], ScenarioError]) -> int:
    """The host index of ``value`` (an int ≥ 0 or a name ``h<i>``); ``error`` builds the error."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise error(f"a host index must be ≥ 0, got {value}")
        return value
    if isinstance(value, str):
        try:
            index = parse_host_name(value)
        except ValueError as exc:
            raise error(str(exc)) from None
        if index is not None:
            return index
    raise error(f'expected a host index or a host name like "h3", got {describe(value)}')


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    """``in (0, 1]`` style, or ``> 0`` when there is no upper bound."""
    if math.isinf(high):
        return f"{'>' if low_open else '≥'} {low:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
