"""Parsing, checking and formatting amounts. Money is integer cents; anything inexact is refused, never rounded.

`format_cents` is the one place cents become dollars for people: the template filter
`money` (bounties/templatetags/fundfill_tags.py), messages and JSON all call it.
"""

import hashlib
import re
from decimal import Decimal

from django.conf import settings

from bounties.errors import InvalidAmount

MAX_DIGITS = 15
# Dollars with an optional dot and cents; commas only between groups of three ("1,000.50").
# ASCII digits only: `\d` would also take "١٠٠" and "²".
DOLLARS = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?")
COMMA_MESSAGE = "Use a dot for cents and commas only between thousands, like 25.50 or 1,000.50."


def parse_dollars(text) -> int:
    """Dollars as typed ("25", "25.50", "$1,000") to cents.

    A comma counts only as a thousands separator where one belongs: a decimal comma
    ("25,50") would otherwise be read as $2,550. Refuses fractions of a cent, exponents,
    signs, NaN and non-ASCII digits.
    """
    raw = str(text or "").strip().removeprefix("$").strip()
    digits = raw.replace(",", "").replace(".", "")
    if not digits or not DOLLARS.fullmatch(raw) or len(digits) > MAX_DIGITS + 2:
        raise InvalidAmount(COMMA_MESSAGE if "," in raw else None)
    value = Decimal(raw.replace(",", ""))
    cents = value * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount("Amounts are in whole cents: use at most two decimal places.")
    return int(cents)


def check_amount(amount_cents, *, minimum=None, maximum=None) -> int:
    """A positive whole number of cents within the site's limits (bools and floats are refused)."""
    minimum = settings.FUNDFILL_MIN_PLEDGE_CENTS if minimum is None else minimum
    maximum = settings.FUNDFILL_MAX_PLEDGE_CENTS if maximum is None else maximum
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidAmount("The amount must be a whole number of cents.")
    if amount_cents < minimum:
        raise InvalidAmount(f"The smallest amount is {format_cents(minimum)}.", minimum_cents=minimum)
    if amount_cents > maximum:
        raise InvalidAmount(f"The largest amount is {format_cents(maximum)}.", maximum_cents=maximum)
    return amount_cents


SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def format_cents(cents: int) -> str:
    """12345 -> "$123.45" in the site's currency; whole amounts drop the cents ("$500")."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = SYMBOLS.get(settings.FUNDFILL_CURRENCY, "")
    amount = f"{whole:,}" if part == 0 else f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{amount}"


def fingerprint(*parts) -> str:
    """What an idempotency key was first used for, to refuse its reuse for something else."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
