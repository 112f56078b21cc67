"""Template tags for the claim cycle: the fund page's live claims panel, and small formatters.

The fund page's claims, terms and timeline change with every vote, outside any page revision,
so they are rendered here on every request and never inside a `{% remember %}` fragment
(`pagecache.memo`); the anonymous page cache keeps them at most `PAGE_CACHE_SECONDS` old,
like the pledged total.
"""

from django import template
from django.utils.dateparse import parse_datetime

from bounties import selectors
from bounties.forms_claims import ClaimForm
from bounties.models import SettlementChoice
from bounties.services.settlement import choice_of
from bounties.views_claims import takes_claims

register = template.Library()

FUND_TIMELINE_EVENTS = 50


@register.inclusion_tag("includes/fund_claims.html", takes_context=True)
def fund_claims(context, page):
    """A fund's claims and their outcome, the claim form, the dated terms and the latest timeline events."""
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    open_for_claims = bool(page.pk) and takes_claims(page)
    latest = (
        list(selectors.timeline(fund_id=page.pk).order_by("-at", "-pk")[:FUND_TIMELINE_EVENTS])
        if page.pk
        else []
    )
    return {
        "page": page,
        "claims": list(selectors.fund_claims(fund_id=page.pk)) if page.pk else [],
        "terms": list(selectors.terms_history(fund_id=page.pk)) if page.pk else [],
        "events": latest[::-1],
        "more_events": len(latest) == FUND_TIMELINE_EVENTS,
        "open_for_claims": open_for_claims,
        "signed_in": signed_in,
        # Only a signed-in reader gets a form (and a CSRF token): the anonymous copy stays cacheable.
        "claim_form": ClaimForm(auto_id="claim_%s") if signed_in and open_for_claims else None,
        "csrf_token": context.get("csrf_token"),
        "request": request,
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
