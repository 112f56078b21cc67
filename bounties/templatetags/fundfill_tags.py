"""Template filters for bounty pages. They format and look up; the work is in `bounties.money`
and `bounties.selectors`, which the views, the API and live.json call too."""

from django import template

from bounties.money import format_cents
from bounties.selectors import progress_percent

register = template.Library()


@register.filter
def money(cents):
    """12345 -> "$123.45" (`bounties.money.format_cents`); empty for a missing amount."""
    if cents is None or cents == "":
        return ""
    return format_cents(int(cents))


@register.filter
def progress(fund_page):
    """A fund page's pledged share of its goal in whole percent (`bounties.selectors.progress_percent`)."""
    return progress_percent(pledged_cents=fund_page.state.pledged_cents, goal_cents=fund_page.goal_cents)
