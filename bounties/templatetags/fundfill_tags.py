"""Formatting money: integer cents become dollars only here, in templates."""

from django import template
from django.conf import settings

register = template.Library()

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


@register.filter
def money(cents):
    """12345 -> "$123.45"; whole amounts drop the cents ("$500")."""
    if cents is None or cents == "":
        return ""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = SYMBOLS.get(settings.FUNDFILL_CURRENCY, "")
    amount = f"{whole:,}" if part == 0 else f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{amount}"
