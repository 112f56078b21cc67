"""What each event says: one short sentence naming the fund, with its absolute URL.

The words are the same on every channel; `compose` fits them to each network's limit and
adds the fund's hashtag. The URL is `SITE_URL` plus the page's path, so a message never
depends on the request that caused it.
"""

from dataclasses import dataclass

from django.conf import settings

from bounties.models import Claim, FundPage
from bounties.money import format_cents


@dataclass(frozen=True)
class Message:
    text: str
    url: str
    hashtag: str = ""
    subject: str = ""


def fund_link(page: FundPage) -> str:
    """The fund page's absolute URL on SITE_URL (the page's own path within its site)."""
    _, _, path = page.get_url_parts() or (None, None, f"/funds/{page.slug}/")
    return settings.SITE_URL + path


def claim_link(claim_id: int) -> str:
    return f"{settings.SITE_URL}/claims/{claim_id}/"


def _claim(payload) -> Claim | None:
    return Claim.objects.filter(pk=payload.get("claim")).select_related("user").first()


def message_for(event: str, payload: dict) -> Message | None:
    """The message of an outbox event, or None for an event nobody is told about."""
    if event == "incident":  # site-wide, about no one fund: the editor's own words and the homepage
        text = payload.get("message", "")
        return Message(text=text, url=settings.SITE_URL + "/", subject=f"Fundfill: {text}"[:150])
    page = FundPage.objects.filter(pk=payload.get("fund")).first()
    if page is None:
        return None
    title, url, tag = page.title, fund_link(page), page.hashtag
    if event == "fund_published":
        text = f"New bounty on Fundfill: {title}. Back it or claim it."
    elif event == "milestone":
        text = f"{title} has reached {payload['percent']}% of its {format_cents(page.goal_cents)} goal."
    elif event == "backers_milestone":
        text = f"{title} now has {payload['backers']} backers."
    elif event == "news_published":
        text = f"News from {title}: {payload.get('title', '')}"
        url = settings.SITE_URL + payload.get("path", "") if payload.get("path") else url
    elif event == "claim_submitted":
        claim = _claim(payload)
        if claim is None:
            return None
        who = claim.user.get_username()
        text = (
            f"{who} has claimed the bounty {title}. Backers vote until {claim.closes_at:%d %b %Y %H:%M} UTC."
        )
        url = claim_link(payload["claim"])
    elif event == "claim_decided":
        verdict = "accepted" if payload.get("status") == "accepted" else "rejected"
        text = f"The backers of {title} have {verdict} a claim on the bounty."
        url = claim_link(payload["claim"])
    elif event == "fund_awarded":
        text = f"{title} is awarded: {format_cents(payload.get('amount_cents', 0))} goes to the winners."
    elif event == "fund_failed":
        text = f"{title} closed without a winner; its backers' pledges were settled by their terms."
    elif event == "payout_sent":
        text = f"A winner of {title} has been paid out."
    elif event == "custom":
        text = payload.get("text", "")
    else:
        return None
    return Message(text=text, url=url, hashtag=tag, subject=f"{title}: {text}"[:150])
