"""resnet_explain.numbers: numbers in words as people write them (the one formatting module)."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explain import magnitude, numbers

_SUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0 or abs(x) > 1e-300)


def parse(text: str) -> float:
    """Read back what numbers.number / numbers.sci wrote (a reader's reading of it)."""
    t = text.replace(numbers.MINUS, "-").replace(",", "")
    m = re.fullmatch(r"(-?)(?:([\d.]+) × )?10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", t)
    if m:
        mant = float(m.group(2) or 1)
        return (-1 if m.group(1) else 1) * mant * 10.0 ** int(m.group(3).translate(_SUP))
    return float(t)


@settings(max_examples=300, deadline=None)
@given(finite, st.integers(min_value=1, max_value=5))
def test_number_reads_back_within_its_precision(x, digits):
    s = numbers.number(x, digits)
    assert "e" not in s and "+" not in s  # never Python's 1.2e+04
    back = parse(s)
    # rounding to `digits` significant digits moves a value by at most half a unit in the last one
    assert back == pytest.approx(x, rel=0.5 * 10 ** (1 - digits) * 1.0001, abs=0)


@settings(max_examples=300, deadline=None)
@given(finite, st.integers(min_value=1, max_value=5))
def test_sci_reads_back_and_never_prints_python_exponents(x, digits):
    s = numbers.sci(x, digits)
    assert "e" not in s and "+" not in s
    assert parse(s) == pytest.approx(x, rel=0.5 * 10 ** (1 - digits) * 1.0001, abs=0)


@given(st.floats(min_value=1e-3, max_value=999_999, allow_nan=False))
def test_plain_digits_between_a_thousandth_and_a_million(x):
    s = numbers.number(x, 2)
    assert "×" not in s or parse(s) >= numbers.PLAIN_HIGH  # rounding up may reach 10⁶
    if "×" not in s and parse(s) >= 1000:
        assert "," in s  # thousands grouped


@given(st.floats(min_value=1e6, max_value=1e300) | st.floats(min_value=1e-300, max_value=9.9e-4))
def test_scientific_outside_that_range(x):
    s = numbers.number(x, 2)
    assert "× 10" in s or re.fullmatch(r"10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", s)


def test_the_issue_s_examples():
    assert numbers.sci(12059.6) == "1.2 × 10⁴"
    assert numbers.fold(12059.6) == "12,000-fold"
    assert numbers.fold(5e14) == "5.0 × 10¹⁴-fold"
    assert numbers.number(3e-14, 2) == "3.0 × 10⁻¹⁴"
    assert numbers.number(-0.5) == "−0.5" and numbers.sci(1e-5, 1) == "10⁻⁵"
    assert numbers.times(0.2) == "0.2×" and numbers.times(3e-14) == "3.0 × 10⁻¹⁴ times"
    assert numbers.number(float("nan")) == "NaN" and numbers.number(-math.inf) == "−∞"


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["thread", "block", "image"]))
def test_count_pluralises_only_where_it_is_not_one(n, word):
    s = numbers.count(n, word)
    assert s == (f"1 {word}" if n == 1 else f"{n:,} {word}s")


def test_count_irregular_plural_and_percent():
    assert numbers.count(1, "thread") == "1 thread" and numbers.count(2, "thread") == "2 threads"
    assert numbers.count(3, "fold", "folds") == "3 folds"
    assert numbers.count(2, "seed") == "2 seeds" and numbers.count(0, "run") == "0 runs"
    assert numbers.percent(0.1234) == "12.3 %" and numbers.percent(-0.75, 0) == "−75 %"
    assert numbers.percent(-1e-6) == "0.0 %"  # no "−0.0 %"


@given(st.floats(min_value=-10, max_value=10, allow_nan=False), st.integers(min_value=0, max_value=3))
def test_percent_reads_back(f, digits):
    s = numbers.percent(f, digits)
    assert s.endswith(" %")
    assert float(s[:-2].replace(numbers.MINUS, "-")) == pytest.approx(100 * f, abs=0.5 * 10 ** -digits + 1e-9)


@given(st.floats(min_value=1e-300, max_value=1e300))
def test_verdicts_never_print_python_exponents(r):
    v = magnitude.judge_ratio(r)
    assert "e+" not in v.phrase and "e-0" not in v.phrase and "××" not in v.phrase.replace(" ", "")
