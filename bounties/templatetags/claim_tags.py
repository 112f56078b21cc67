"""Template tags for the claim cycle: the fund page's live claims panel, and small formatters.

The fund page's claims and timeline change with every claim and vote, outside any page revision,
so they are read on every request and never inside a `{% remember %}` fragment
(`pagecache.memo`); the anonymous page cache keeps them at most `PAGE_CACHE_SECONDS` old,
like the pledged total. Only the terms history, which a publish alone changes, is remembered.
"""

from django import template
from django.utils.dateparse import parse_datetime

from bounties import selectors
from bounties.models import SettlementChoice
from bounties.services.settlement import choice_of
from bounties.views_claims import takes_claims
from pagecache import memo

register = template.Library()

FUND_TIMELINE_EVENTS = 50


@register.inclusion_tag("includes/fund_claims.html", takes_context=True)
def fund_claims(context, page):
    """A fund's claims and their outcome, the dated terms and the latest timeline events.

    The same for every reader (the anonymous page cache and the memo tests rely on it): the
    claim form, with its CSRF token, is on the claim page the "Claim this bounty" link opens.
    """
    if not page.pk:  # a new page in preview
        return {"page": page, "claims": [], "terms": [], "events": []}
    latest = list(selectors.timeline(fund_id=page.pk).order_by("-at", "-pk")[:FUND_TIMELINE_EVENTS])
    # Every claim records its submission in the timeline in the same transaction, so a fund
    # with no events has no claims: the page of a fresh fund is spared the query.
    claims = list(selectors.fund_claims(fund_id=page.pk)) if latest else []
    return {
        "page": page,
        "claims": claims,
        # Terms change only on publish (`bounties.signals`), which moves the memo's generation.
        "terms": memo.remember(
            context.get("request"), ("terms", page.pk), lambda: list(selectors.terms_history(fund_id=page.pk))
        ),
        "events": latest[::-1],
        "more_events": len(latest) == FUND_TIMELINE_EVENTS,
        "open_for_claims": takes_claims(page),
    }


@register.filter
def share(basis_points):
    """2500 -> "25%", 1250 -> "12.5%"."""
    if basis_points in (None, ""):
        return ""
    return f"{int(basis_points) / 100:g}%"


@register.filter
def moment(value):
    """A timeline event's ISO date string (its JSON data) as a datetime, for the `date` filter."""
    if isinstance(value, str):
        return parse_datetime(value)
    return value


@register.filter
def as_percent(value):
    """A float percent for an inline style width, always with a dot ("33.33")."""
    try:
        return f"{min(100.0, max(0.0, float(value))):.2f}"
    except (TypeError, ValueError):
        return "0"


@register.filter
def settlement_label(pledge):
    """Where the pledge goes if nobody wins: the backer's choice, or the default its terms give."""
    return SettlementChoice(choice_of(pledge)).label
