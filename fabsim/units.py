"""Parse and format the quantities of scenario files: times, sizes and rates (DESIGN §2).

Internally every quantity is an integer in its base unit: time in picoseconds (``t_ps``), sizes in
bytes (``size_bytes``), rates in bit/s (``rate_bps``). This module is the only place that converts.

Grammar of a quantity given as a string (whitespace around it is ignored)::

    quantity := number [space] [unit]
    number   := [+|-] digits [. digits] [(e|E) [+|-] digits]    e.g. 1, 1.5, .5, 2.5e3
    unit     := one of the spellings below (case-sensitive)

    time  ps ns us µs ms s          (µ may be the micro sign U+00B5 or the Greek mu U+03BC)
    size  B KB MB GB TB             (powers of 1000)
          KiB MiB GiB TiB           (powers of 1024)
    rate  bps Kbps Mbps Gbps Tbps   (also K M G T, as in "400G", and b/s Kb/s Mb/s Gb/s Tb/s)

A number without a unit, whether a string or a Python ``int`` / ``float``, is in the quantity's
plain unit: seconds for a time, bytes for a size, bit/s for a rate. Decimal text is converted
exactly ("1.1us" is exactly 1_100_000 ps; a float goes through its shortest ``repr``, so ``1e-6``
is exactly 1_000_000 ps), and the result must be a whole number of base units that fits in a
signed 64-bit integer. Negative values, NaN and infinities are errors; so are zero rates, and zero
times or sizes where the caller passes ``allow_zero=False``.

Every error is a :class:`UnitError` with a one-line message such as
``cannot parse "100Gbs" as a rate (did you mean Gbps?)``; the scenario loader prefixes the file and
key path.

``format_time`` / ``format_size`` / ``format_rate`` show a value in the largest unit in which it is
exact with at most three decimals and at most six integer digits ("1.5 µs", "32 MiB",
"1234.567 ns"), so that parsing the text gives the value back; a value with no such form is
rounded to three decimals in the largest unit where it is at least 1 ("1.235 ms").
"""

from __future__ import annotations

import difflib
import numbers
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "PS_PER_MS",
    "PS_PER_NS",
    "PS_PER_S",
    "PS_PER_US",
    "UnitError",
    "format_rate",
    "format_size",
    "format_time",
    "ns_to_ps",
    "parse_rate_bps",
    "parse_size_bytes",
    "parse_time_ps",
    "ps_to_ns",
    "ps_to_s",
]

PS_PER_S = 10**12
PS_PER_NS = 1000
PS_PER_US = 10**6
PS_PER_MS = 10**9

_INT64_MAX = 2**63 - 1
# Decimal exponents beyond ±40 are far outside int64 and far below one base unit for every unit
# here (factors are at most 2**40); rejecting them early keeps inputs such as "1e999999999s" from
# building enormous exact fractions.
_EXPONENT_GUARD = 40
# difflib's default similarity cutoff: "Gbs" ~ "Gbps" (0.86) and "usec" ~ "us" (0.67) pass.
_SUGGESTION_CUTOFF = 0.6
# Formatting (see the module docstring): three decimals, six integer digits for an exact value.
_MILLI = 1000
_EXACT_SPAN = 10**6
# A non-string value is quoted in a message by its repr, cut to this many characters.
_MAX_SHOWN = 60

_MICRO = "\u00b5"  # MICRO SIGN, the spelling used for display
_GREEK_MU = "\u03bc"  # GREEK SMALL LETTER MU, accepted as a synonym

_SI = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

_QUANTITY_RE = re.compile(
    r"(?P<number>[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|nan|inf(?:inity)?))"
    r"\s*"
    r"(?P<unit>[^\W\d_]+(?:/[^\W\d_]+)?)?",
    re.IGNORECASE,
)


class UnitError(ValueError):
    """A quantity that cannot be parsed; the message is one line and names no file or key."""


@dataclass(frozen=True)
class _Quantity:
    name: str  # "time": used in messages
    example: str  # a valid value, shown when the type is wrong
    counted: str  # what the integer result counts, for "not a whole number of …"
    plain_factor: int  # base units per plain number (seconds → ps for a time)
    units: dict[str, int]  # every accepted spelling → base units, canonical spellings first
    listed: tuple[str, ...]  # the spellings named in messages
    exact: tuple[tuple[str, int], ...]  # display units tried for an exact value, largest first
    rounded: tuple[tuple[str, int], ...]  # display units for a rounded value, largest first
    zero: str  # how format_* shows zero


_TIME_DISPLAY = (
    ("s", PS_PER_S),
    ("ms", PS_PER_MS),
    (_MICRO + "s", PS_PER_US),
    ("ns", PS_PER_NS),
    ("ps", 1),
)
_RATE_DISPLAY = tuple((f"{p}bps", f) for p, f in reversed(_SI.items()))

_TIME = _Quantity(
    name="time",
    example="1.5us",
    counted="picoseconds",
    plain_factor=PS_PER_S,
    units={
        "ps": 1,
        "ns": PS_PER_NS,
        "us": PS_PER_US,
        _MICRO + "s": PS_PER_US,
        "ms": PS_PER_MS,
        "s": PS_PER_S,
        _GREEK_MU + "s": PS_PER_US,
    },
    listed=("ps", "ns", "us", _MICRO + "s", "ms", "s"),
    exact=_TIME_DISPLAY,
    rounded=_TIME_DISPLAY,
    zero="0 s",
)

_SIZE = _Quantity(
    name="size",
    example="64KiB",
    counted="bytes",
    plain_factor=1,
    units={f"{p}B": f for p, f in _SI.items()} | {f"{p}B": f for p, f in _BINARY.items()},
    listed=("B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"),
    exact=tuple(
        sorted(
            ((f"{p}B", f) for p, f in (_SI | _BINARY).items()),
            key=lambda unit: unit[1],
            reverse=True,
        )
    ),
    rounded=tuple((f"{p}B", f) for p, f in reversed(_SI.items())),
    zero="0 B",
)

_RATE = _Quantity(
    name="rate",
    example="100Gbps",
    counted="bits per second",
    plain_factor=1,
    units={f"{p}bps": f for p, f in _SI.items()}
    | {p: f for p, f in _SI.items() if p}
    | {f"{p}b/s": f for p, f in _SI.items()},
    listed=("bps", "Kbps", "Mbps", "Gbps", "Tbps"),
    exact=_RATE_DISPLAY,
    rounded=_RATE_DISPLAY,
    zero="0 bps",
)

_QUANTITIES = (_TIME, _SIZE, _RATE)


def parse_time_ps(value: object, *, allow_zero: bool = True) -> int:
    """A time such as ``"1.5us"`` or ``1e-6`` (plain numbers are seconds), in picoseconds."""
    return _parse(value, _TIME, allow_zero=allow_zero)


def parse_size_bytes(value: object, *, allow_zero: bool = True) -> int:
    """A size such as ``"64KiB"`` or ``"1.5MB"`` (plain numbers are bytes), in bytes."""
    return _parse(value, _SIZE, allow_zero=allow_zero)


def parse_rate_bps(value: object) -> int:
    """A positive rate such as ``"100Gbps"`` or ``"400G"`` (plain numbers are bit/s), in bit/s."""
    return _parse(value, _RATE, allow_zero=False)


def format_time(t_ps: int) -> str:
    """``t_ps`` picoseconds for display, e.g. ``"1.5 µs"``, ``"100 ms"``, ``"0 s"``."""
    return _format(t_ps, _TIME)


def format_size(n_bytes: int) -> str:
    """``n_bytes`` for display, e.g. ``"32 MiB"``, ``"1.5 MB"``, ``"512 B"``."""
    return _format(n_bytes, _SIZE)


def format_rate(rate_bps: int) -> str:
    """``rate_bps`` bit/s for display, e.g. ``"400 Gbps"``, ``"1.6 Tbps"``, ``"40 Mbps"``."""
    return _format(rate_bps, _RATE)


def ps_to_ns(t_ps):
    """Picoseconds to whole nanoseconds, rounding down (ints or integer numpy arrays)."""
    return t_ps // PS_PER_NS


def ns_to_ps(t_ns):
    """Nanoseconds to picoseconds (ints or integer numpy arrays)."""
    return t_ns * PS_PER_NS


def ps_to_s(t_ps):
    """Picoseconds to seconds as a float (ints or numpy arrays)."""
    return t_ps / PS_PER_S


def _parse(value: object, quantity: _Quantity, *, allow_zero: bool) -> int:
    """``value`` as a whole, non-negative int64 count of ``quantity``'s base unit."""
    shown = _show(value)
    number, factor = _split(value, quantity, shown)
    if not number.is_finite():
        raise UnitError(f"cannot parse {shown} as a {quantity.name}: not a finite number")
    if number < 0:
        raise UnitError(f"negative {quantity.name} {shown}")
    too_large = f"{quantity.name} {shown} is too large for a 64-bit count of {quantity.counted}"
    not_whole = f"{quantity.name} {shown} is not a whole number of {quantity.counted}"
    if number and number.adjusted() > _EXPONENT_GUARD:
        raise UnitError(too_large)
    if number and number.adjusted() < -_EXPONENT_GUARD:
        raise UnitError(not_whole)
    exact = Fraction(number) * factor
    if exact.denominator != 1:
        raise UnitError(not_whole)
    if exact == 0 and not allow_zero:
        raise UnitError(f"a {quantity.name} must be positive, got {shown}")
    if exact > _INT64_MAX:
        raise UnitError(too_large)
    return int(exact)


def _split(value: object, quantity: _Quantity, shown: str) -> tuple[Decimal, int]:
    """The number in ``value`` and the base units it counts."""
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
        raise UnitError(f'expected a {quantity.name} such as "{quantity.example}", got {shown}')
    if isinstance(value, numbers.Integral):
        return Decimal(int(value)), quantity.plain_factor
    if not isinstance(value, str):
        return Decimal(repr(float(value))), quantity.plain_factor
    match = _QUANTITY_RE.fullmatch(value.strip())
    if match is None:
        raise UnitError(
            f'cannot parse {shown} as a {quantity.name} (expected a number and a unit such as '
            f'"{quantity.example}"; units: {", ".join(quantity.listed)})'
        )
    unit = match["unit"]
    if unit is None:
        return Decimal(match["number"]), quantity.plain_factor
    if unit not in quantity.units:
        raise _unknown_unit(shown, unit, quantity)
    return Decimal(match["number"]), quantity.units[unit]


def _unknown_unit(shown: str, unit: str, quantity: _Quantity) -> UnitError:
    """The error for a unit ``quantity`` does not accept, with the most useful hint."""
    listed = ", ".join(quantity.listed)
    for other in _QUANTITIES:
        if other is not quantity and unit in other.units:
            return UnitError(
                f"cannot parse {shown} as a {quantity.name}: {unit} is a {other.name} unit "
                f"({quantity.name}s use {listed})"
            )
    guess = _closest(unit, list(quantity.units))
    if guess is not None:
        return UnitError(f"cannot parse {shown} as a {quantity.name} (did you mean {guess}?)")
    return UnitError(f"cannot parse {shown} as a {quantity.name} (units: {listed})")


def _closest(unit: str, spellings: list[str]) -> str | None:
    """The spelling most like ``unit`` ignoring case, if close enough; earlier ones win ties."""
    folded = unit.casefold()
    ratios = [difflib.SequenceMatcher(None, folded, s.casefold()).ratio() for s in spellings]
    best = max(ratios)
    return spellings[ratios.index(best)] if best >= _SUGGESTION_CUTOFF else None


def _format(amount: int, quantity: _Quantity) -> str:
    """``amount`` base units of ``quantity`` as short text (see the module docstring)."""
    amount = operator.index(amount)
    if amount == 0:
        return quantity.zero
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    for symbol, factor in quantity.exact:
        if factor <= magnitude < factor * _EXACT_SPAN and magnitude * _MILLI % factor == 0:
            return f"{sign}{_milli_text(magnitude * _MILLI // factor)} {symbol}"
    # Otherwise round in the largest unit where the value is still at least 1 after rounding
    # (so 999.9996 ms shows as "1 s"); the base unit always qualifies.
    rounded = (
        (symbol, round(Fraction(magnitude * _MILLI, factor))) for symbol, factor in quantity.rounded
    )
    symbol, milli = next((symbol, milli) for symbol, milli in rounded if milli >= _MILLI)
    return f"{sign}{_milli_text(milli)} {symbol}"


def _milli_text(milli: int) -> str:
    """Thousandths as a decimal without trailing zeros: 1500 → "1.5", 2000 → "2"."""
    whole, fraction = divmod(milli, _MILLI)
    return f"{whole}.{fraction:03d}".rstrip("0") if fraction else str(whole)


def _show(value: object) -> str:
    """``value`` as quoted in a one-line message: strings in double quotes, booleans as in TOML."""
    if isinstance(value, str):
        return '"' + "".join(map(_escape, value)) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    text = " ".join(repr(value).split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _escape(ch: str) -> str:
    """``ch`` as written inside a quoted string: quotes, backslashes and unprintables escaped."""
    if ch in '"\\':
        return "\\" + ch
    return ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")


def human_duration_ns(value: float | None) -> str:
    """A duration in ns for tables: 4 significant digits in a fitting unit ("12.82 ms")."""
    if value is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g} ns"


def human_bytes(n_bytes: float) -> str:
    """A byte count for tables: 4 significant digits, powers of 1000 ("218.2 MB")."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.4g} {unit}"
    return f"{n_bytes:.0f} B"
