"""Tests for fabsim.units: parsing, error messages, formatting and conversion helpers."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fabsim.units import (
    PS_PER_MS,
    PS_PER_NS,
    PS_PER_S,
    PS_PER_US,
    UnitError,
    format_rate,
    format_size,
    format_time,
    ns_to_ps,
    parse_rate_bps,
    parse_size_bytes,
    parse_time_ps,
    ps_to_ns,
    ps_to_s,
)

INT64_MAX = 2**63 - 1

# The oracle: every accepted spelling and its factor, written out independently of the module.
TIME_UNITS = {
    "ps": 1,
    "ns": 10**3,
    "us": 10**6,
    "\u00b5s": 10**6,  # micro sign
    "\u03bcs": 10**6,  # Greek mu
    "ms": 10**9,
    "s": 10**12,
}
SIZE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
RATE_UNITS = {
    "bps": 1,
    "Kbps": 10**3,
    "Mbps": 10**6,
    "Gbps": 10**9,
    "Tbps": 10**12,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "b/s": 1,
    "Kb/s": 10**3,
    "Mb/s": 10**6,
    "Gb/s": 10**9,
    "Tb/s": 10**12,
}
PARSERS = {"time": parse_time_ps, "size": parse_size_bytes, "rate": parse_rate_bps}
FORMATTERS = {"time": format_time, "size": format_size, "rate": format_rate}
UNITS = {"time": TIME_UNITS, "size": SIZE_UNITS, "rate": RATE_UNITS}
# Units that format_* displays (µs only with the micro sign; rates only as ...bps).
DISPLAY_UNITS = {
    "time": {u: f for u, f in TIME_UNITS.items() if u != "\u03bcs"},
    "size": SIZE_UNITS,
    "rate": {u: f for u, f in RATE_UNITS.items() if u.endswith("bps")},
}

quantity_units = st.sampled_from(
    [(q, unit, factor) for q, units in UNITS.items() for unit, factor in units.items()]
)
display_units = st.sampled_from(
    [(q, unit, factor) for q, units in DISPLAY_UNITS.items() for unit, factor in units.items()]
)


VALID = [
    # time
    (parse_time_ps, "1.5us", 1_500_000),
    (parse_time_ps, "1.1us", 1_100_000),
    (parse_time_ps, "100 ms", 100 * PS_PER_MS),
    (parse_time_ps, "  100ms\t", 100 * PS_PER_MS),
    (parse_time_ps, "1us", PS_PER_US),
    (parse_time_ps, "1\u00b5s", PS_PER_US),
    (parse_time_ps, "1\u03bcs", PS_PER_US),
    (parse_time_ps, "1e-6", PS_PER_US),
    (parse_time_ps, "1e-6s", PS_PER_US),
    (parse_time_ps, "2.5e3ns", 2_500_000),
    (parse_time_ps, "2.5E3 ns", 2_500_000),
    (parse_time_ps, ".5ns", 500),
    (parse_time_ps, "3.ns", 3000),
    (parse_time_ps, "+7ps", 7),
    (parse_time_ps, "1ps", 1),
    (parse_time_ps, "2", 2 * PS_PER_S),
    (parse_time_ps, 2, 2 * PS_PER_S),
    (parse_time_ps, 1e-6, PS_PER_US),
    (parse_time_ps, 1.5e-6, 1_500_000),
    (parse_time_ps, 0.1, PS_PER_S // 10),
    (parse_time_ps, np.int64(3), 3 * PS_PER_S),
    (parse_time_ps, 0, 0),
    (parse_time_ps, 0.0, 0),
    (parse_time_ps, "0ns", 0),
    (parse_time_ps, "-0ns", 0),
    (parse_time_ps, "0e-999999999s", 0),
    # size
    (parse_size_bytes, "32MiB", 32 * 2**20),
    (parse_size_bytes, "1.5KiB", 1536),
    (parse_size_bytes, "64KiB", 65536),
    (parse_size_bytes, "1.5MB", 1_500_000),
    (parse_size_bytes, "9000 B", 9000),
    (parse_size_bytes, "2TiB", 2 * 2**40),
    (parse_size_bytes, "4096", 4096),
    (parse_size_bytes, 4096, 4096),
    (parse_size_bytes, 1e3, 1000),
    (parse_size_bytes, "0B", 0),
    (parse_size_bytes, f"{INT64_MAX}", INT64_MAX),
    # rate
    (parse_rate_bps, "400G", 400 * 10**9),
    (parse_rate_bps, "100Gbps", 100 * 10**9),
    (parse_rate_bps, "100 Gb/s", 100 * 10**9),
    (parse_rate_bps, "1.6Tbps", 1_600 * 10**9),
    (parse_rate_bps, "25.78125Gbps", 25_781_250_000),
    (parse_rate_bps, "40M", 40 * 10**6),
    (parse_rate_bps, "1bps", 1),
    (parse_rate_bps, 1e9, 10**9),
    (parse_rate_bps, 56000, 56000),
]


@pytest.mark.parametrize(("parse", "value", "expected"), VALID, ids=repr)
def test_valid(parse, value, expected):
    result = parse(value)
    assert result == expected
    assert type(result) is int


def test_allow_zero():
    assert parse_time_ps("1ps", allow_zero=False) == 1
    assert parse_size_bytes("1B", allow_zero=False) == 1
    with pytest.raises(UnitError, match='a time must be positive, got "0ns"'):
        parse_time_ps("0ns", allow_zero=False)
    with pytest.raises(UnitError, match="a size must be positive, got 0"):
        parse_size_bytes(0, allow_zero=False)


# (parser, value, fragments the one-line message must contain)
MALFORMED = [
    (parse_rate_bps, "100Gbs", ['cannot parse "100Gbs" as a rate', "did you mean Gbps?"]),
    (parse_rate_bps, "100gbps", ["did you mean Gbps?"]),
    (parse_rate_bps, "400g", ["did you mean G?"]),
    (parse_rate_bps, "10 Mb", ["did you mean Mbps?"]),
    (parse_time_ps, "1.5 usec", ['cannot parse "1.5 usec" as a time', "did you mean us?"]),
    (parse_time_ps, "1 US", ["did you mean us?"]),
    (parse_size_bytes, "10 mb", ['cannot parse "10 mb" as a size', "did you mean MB?"]),
    (parse_size_bytes, "10kb", ["did you mean KB?"]),
    (parse_size_bytes, "10mib", ["did you mean MiB?"]),
    (parse_time_ps, "5 parsecs", ["(units: ps, ns, us, \u00b5s, ms, s)"]),
    (parse_time_ps, "abc", ['cannot parse "abc" as a time', "units: ps, ns, us"]),
    (parse_time_ps, "", ['cannot parse "" as a time']),
    (parse_size_bytes, "   ", ['cannot parse "   " as a size']),
    (parse_time_ps, "1..5us", ['cannot parse "1..5us" as a time']),
    (parse_time_ps, "1.5 u s", ['cannot parse "1.5 u s" as a time']),
    (parse_time_ps, "us", ['cannot parse "us" as a time']),
    (parse_time_ps, "-3us", ['negative time "-3us"']),
    (parse_size_bytes, "-1KiB", ['negative size "-1KiB"']),
    (parse_size_bytes, -1, ["negative size -1"]),
    (parse_time_ps, "-1e400s", ['negative time "-1e400s"']),
    (parse_rate_bps, "0Gbps", ['a rate must be positive, got "0Gbps"']),
    (parse_rate_bps, 0, ["a rate must be positive, got 0"]),
    (parse_time_ps, True, ['expected a time such as "1.5us", got true']),
    (parse_rate_bps, False, ['expected a rate such as "100Gbps", got false']),
    (parse_time_ps, None, ["expected a time", "got None"]),
    (parse_size_bytes, [1], ["expected a size", "got [1]"]),
    (parse_size_bytes, {"a": 1}, ["expected a size", "got {'a': 1}"]),
    (parse_time_ps, "nan", ['cannot parse "nan" as a time: not a finite number']),
    (parse_time_ps, "inf", ['cannot parse "inf" as a time: not a finite number']),
    (parse_rate_bps, "-infinity Gbps", ["not a finite number"]),
    (parse_time_ps, float("nan"), ["cannot parse nan as a time: not a finite number"]),
    (parse_size_bytes, float("inf"), ["cannot parse inf as a size: not a finite number"]),
    (parse_time_ps, "1e400s", ['time "1e400s" is too large']),
    (parse_time_ps, "1e999999999s", ['time "1e999999999s" is too large']),
    (parse_time_ps, "10000000s", ['time "10000000s" is too large']),
    (parse_size_bytes, 2**63, [f"size {2**63} is too large"]),
    (parse_time_ps, "0.5ps", ['time "0.5ps" is not a whole number of picoseconds']),
    (parse_time_ps, "1e-999999999s", ["is not a whole number of picoseconds"]),
    (parse_size_bytes, "1.5B", ['size "1.5B" is not a whole number of bytes']),
    (parse_rate_bps, "0.5bps", ["is not a whole number of bits per second"]),
    (
        parse_rate_bps,
        "10MB",
        [
            'cannot parse "10MB" as a rate: '
            "MB is a size unit (rates use bps, Kbps, Mbps, Gbps, Tbps)"
        ],
    ),
    (parse_time_ps, "5Gbps", ['cannot parse "5Gbps" as a time: Gbps is a rate unit']),
    (parse_size_bytes, "5ms", ["ms is a time unit (sizes use B, KB,"]),
    (parse_time_ps, "1\nusec", [r'"1\nusec"', "did you mean us?"]),
    (parse_time_ps, 'x"y', [r'"x\"y"']),
]


@pytest.mark.parametrize(("parse", "value", "fragments"), MALFORMED, ids=repr)
def test_malformed(parse, value, fragments):
    with pytest.raises(UnitError) as info:
        parse(value)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    for fragment in fragments:
        assert fragment in message


def test_unit_error_is_a_value_error():
    assert issubclass(UnitError, ValueError)


@given(quantity_units, st.integers(0, 10**6), st.sampled_from(["", " "]))
def test_integer_with_unit(quantity_unit, n, space):
    quantity, unit, factor = quantity_unit
    if quantity == "rate" and n == 0:
        n = 1
    assert PARSERS[quantity](f"{n}{space}{unit}") == n * factor


@given(st.sampled_from(list(PARSERS)), st.integers(0, 10**6))
def test_plain_numbers_are_base_units(quantity, n):
    plain = {"time": PS_PER_S, "size": 1, "rate": 1}[quantity]
    if quantity == "rate" and n == 0:
        n = 1
    assert PARSERS[quantity](n) == n * plain
    assert PARSERS[quantity](str(n)) == n * plain


@given(st.integers(0, 10**6))
def test_floats_are_exact_via_repr(n_us):
    assert parse_time_ps(float(f"{n_us}e-6")) == n_us * PS_PER_US


# Units whose factor is a multiple of 1000, so three decimal places always give a whole result.
milli_units = st.sampled_from(
    [(q, unit, f) for q, units in UNITS.items() for unit, f in units.items() if f % 1000 == 0]
)
milli_decimals = st.decimals(min_value=0, max_value=10**6, places=3)


@given(milli_units, milli_decimals)
def test_decimal_strings_are_exact(quantity_unit, number):
    quantity, unit, factor = quantity_unit
    if quantity == "rate" and number == 0:
        number = Decimal(1)
    assert PARSERS[quantity](f"{number}{unit}") == Fraction(number) * factor


@given(st.decimals(min_value=0, max_value=10**6, places=12))
def test_decimal_seconds_are_exact(seconds):
    assert parse_time_ps(str(seconds)) == Fraction(seconds) * PS_PER_S


@given(milli_units, milli_decimals, milli_decimals)
def test_order_is_preserved(quantity_unit, a, b):
    quantity, unit, _ = quantity_unit
    a, b = sorted((a, b))
    if quantity == "rate" and a == 0:
        return
    parse = PARSERS[quantity]
    parsed_a, parsed_b = parse(f"{a}{unit}"), parse(f"{b}{unit}")
    assert parsed_a <= parsed_b
    assert (parsed_a == parsed_b) == (a == b)


FORMATTED = [
    (format_time, 0, "0 s"),
    (format_time, 1, "1 ps"),
    (format_time, 1_500_000, "1.5 \u00b5s"),
    (format_time, 100 * PS_PER_MS, "100 ms"),
    (format_time, 1_234_567, "1234.567 ns"),
    (format_time, 1_234_567_891, "1.235 ms"),
    (format_time, PS_PER_S - 1, "1 s"),
    (format_time, -1500, "-1.5 ns"),
    (format_size, 0, "0 B"),
    (format_size, 512, "512 B"),
    (format_size, 32 * 2**20, "32 MiB"),
    (format_size, 1536, "1.5 KiB"),
    (format_size, 1_500_000, "1.5 MB"),
    (format_size, 1025 * 1024, "1025 KiB"),
    (format_size, 10**12, "1 TB"),
    (format_rate, 400 * 10**9, "400 Gbps"),
    (format_rate, 1_600 * 10**9, "1.6 Tbps"),
    (format_rate, 40 * 10**6, "40 Mbps"),
    (format_rate, 25_781_250_000, "25781.25 Mbps"),
]


@pytest.mark.parametrize(("fmt", "value", "expected"), FORMATTED, ids=repr)
def test_format(fmt, value, expected):
    assert fmt(value) == expected


def test_format_accepts_numpy_integers():
    assert format_time(np.int64(PS_PER_NS)) == "1 ns"


@given(display_units, st.integers(1, 10**6 - 1))
def test_format_round_trips_whole_multiples(quantity_unit, n):
    quantity, _, factor = quantity_unit
    value = n * factor
    assert PARSERS[quantity](FORMATTERS[quantity](value)) == value


@given(st.sampled_from(list(PARSERS)), st.integers(1, 10**18))
def test_format_is_close(quantity, value):
    shown = FORMATTERS[quantity](value)
    assert abs(PARSERS[quantity](shown) - value) <= value * Fraction(5, 10**4)


fuzz_text = st.text(alphabet="0123456789.eE+- \t\nusnpmK\u00b5\u03bcMGTBibp/\"", max_size=12)


@given(st.sampled_from(list(PARSERS)), st.one_of(fuzz_text, st.text(max_size=12)))
def test_any_text_parses_or_raises_one_line(quantity, text):
    try:
        result = PARSERS[quantity](text)
    except UnitError as err:
        assert len(str(err).splitlines()) == 1
    else:
        assert type(result) is int
        assert 0 <= result <= INT64_MAX


@given(
    st.sampled_from(list(PARSERS)),
    st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=3), st.binary(max_size=3)),
)
def test_non_numbers_raise(quantity, value):
    with pytest.raises(UnitError, match=f"expected a {quantity} such as"):
        PARSERS[quantity](value)


def test_conversion_helpers():
    assert ps_to_ns(1999) == 1
    assert ns_to_ps(3) == 3 * PS_PER_NS
    assert ps_to_s(1_500_000_000_000) == 1.5
    t_ps = np.array([0, 999, 1000, 2 * PS_PER_US], dtype=np.int64)
    assert ps_to_ns(t_ps).tolist() == [0, 0, 1, 2000]
    assert ns_to_ps(ps_to_ns(t_ps)).tolist() == [0, 0, 1000, 2 * PS_PER_US]
    assert ps_to_s(t_ps).tolist() == [0.0, 999e-12, 1e-9, 2e-6]
