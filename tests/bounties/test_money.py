"""Typed amounts become cents exactly, or are refused with a message saying how to type them.

A comma is a thousands separator in the right places only: "25,50" is not $2,550 (RELIABILITY T27).
"""

import pytest

from bounties.errors import InvalidAmount
from bounties.money import parse_dollars


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("25", 2_500),
        ("25.50", 2_550),
        ("25.5", 2_550),
        (".5", 50),
        ("$25", 2_500),
        (" $ 25 ", 2_500),
        ("1,000", 100_000),
        ("1,000.50", 100_050),
        ("$12,345", 1_234_500),
        ("$ 1,000.50", 100_050),
        ("1,234,567.89", 123_456_789),
        ("1000", 100_000),
    ],
)
def test_amounts_typed_the_usual_ways_become_exact_cents(typed, cents):
    assert parse_dollars(typed) == cents


@pytest.mark.parametrize(
    "typed", ["25,50", "1,0,0", "1,00", ",5", "1.000,50", "12,34", "1,", "1,0000", "1,000,00"]
)
def test_a_misplaced_comma_is_refused_and_says_how_to_type_the_amount(typed):
    with pytest.raises(InvalidAmount) as refused:
        parse_dollars(typed)
    assert "comma" in refused.value.message
    assert "1,000" in refused.value.message  # shows the one way a comma is allowed


@pytest.mark.parametrize(
    "typed",
    [
        "",
        " ",
        "-1",
        "+5",
        "1e3",
        "1E3",
        "NaN",
        "inf",
        "١٠٠",
        "１００",
        "²",
        "1_000",
        "1 000",
        "$",
        ".",
        "1..5",
        "0x10",
    ],
)
def test_anything_else_that_is_not_dollars_and_cents_is_refused(typed):
    with pytest.raises(InvalidAmount):
        parse_dollars(typed)


def test_fractions_of_a_cent_are_refused_not_rounded():
    with pytest.raises(InvalidAmount) as refused:
        parse_dollars("1.005")
    assert "two decimal places" in refused.value.message


def test_absurdly_long_numbers_are_refused_before_any_arithmetic():
    with pytest.raises(InvalidAmount):
        parse_dollars("9" * 40)
