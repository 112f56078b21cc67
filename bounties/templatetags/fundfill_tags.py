"""Template filters for bounty pages. They format and look up; the work is in `bounties.money`
and `bounties.selectors`, which the views, the API and live.json call too."""

import html
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.html import format_html

from bounties.money import format_cents
from bounties.selectors import pledge_series, progress_percent

register = template.Library()

# The widget's size in the snippet we offer (bounties/templates/bounties/fund_embed.html fits it).
EMBED_WIDTH, EMBED_HEIGHT = 360, 260


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


@register.filter
def percent_funded(fund_page):
    """Pledged as a whole percentage of the goal, past 100 when a fund is overfunded (the bar stops at 100)."""
    goal = fund_page.goal_cents
    return round(fund_page.state.pledged_cents * 100 / goal) if goal else 0


def time_left_text(deadline, *, now) -> str:
    """What is left until `deadline` in words a reader takes in at a glance.

    Whole days while a day or more is left ("58 days left", "1 day left": a part day is not
    counted), then "Last day: 5 hours left" and "Last day: under an hour left"; "" once passed.
    """
    if not deadline:
        return ""
    left = deadline - now
    if left.total_seconds() <= 0:
        return ""
    if left.days >= 1:
        return f"{left.days} day{'' if left.days == 1 else 's'} left"
    hours = int(left.total_seconds() // 3600)
    if hours < 1:
        return "Last day: under an hour left"
    return f"Last day: {hours} hour{'' if hours == 1 else 's'} left"


@register.filter
def days_left(deadline):
    """A deadline as whole days left, hours on the last day (`time_left_text`, against the clock now)."""
    return time_left_text(deadline, now=timezone.now())


@register.simple_tag
def pledge_chart(fund_page, *, width=320, height=80):
    """Pledges over time as a small inline SVG: the cumulative pledged total, stepping up on each day
    with pledges, from the day the fund went live to today (or to its deadline, once passed).

    Live like the pledged total it ends on (one query, none for a fund with nothing pledged);
    empty then, as in a preview of a new page.
    """
    if not fund_page.pk or not fund_page.state.pledged_cents:
        return ""
    series = pledge_series(fund_id=fund_page.pk)
    if not series:
        return ""
    today = timezone.localdate()
    first = series[0][0]
    if fund_page.first_published_at:
        first = min(first, timezone.localdate(fund_page.first_published_at))
    last = max(series[-1][0], min(today, timezone.localdate(fund_page.pledge_deadline)))
    days = (last - first).days + 1
    top = max(series[-1][1], 1)
    pad = 2

    def x(day):
        # Each day is a slot; a day's pledges count from its start.
        return pad + (width - 2 * pad) * (day - first).days / days

    def y(cents):
        return height - pad - (height - 2 * pad) * cents / top

    points = [f"M{x(first):.1f},{y(0):.1f}"]
    for day, cents in series:
        points.append(f"H{x(day):.1f}V{y(cents):.1f}")
    points.append(f"H{width - pad:.1f}")
    line = "".join(points)
    area = f"{line}V{y(0):.1f}Z"
    label = f"{format_cents(series[-1][1])} pledged over {days} day{'' if days == 1 else 's'}"
    return format_html(
        '<svg class="pledge-chart" role="img" aria-label="{label}" viewBox="0 0 {w} {h}" width="{w}" '
        'height="{h}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        '<path class="pledge-chart__area" d="{area}"/><path class="pledge-chart__line" d="{line}"/></svg>',
        label=label,
        w=width,
        h=height,
        area=area,
        line=line,
    )


@register.simple_tag
def share_links(fund_page, fund_url):
    """Where a reader can share the fund: prefilled X, Mastodon (through mastodonshare.com, which
    asks for the reader's server) and Bluesky posts of the title, its hashtag and the URL."""
    text = f"Help fund “{fund_page.title}” on Fundfill"
    if fund_page.hashtag:
        text += f" #{fund_page.hashtag}"
    return {
        "x": "https://twitter.com/intent/tweet?" + urlencode({"text": text, "url": fund_url}),
        "mastodon": "https://mastodonshare.com/?" + urlencode({"text": text, "url": fund_url}),
        "bluesky": "https://bsky.app/intent/compose?" + urlencode({"text": f"{text} {fund_url}"}),
    }


@register.simple_tag
def embed_snippets(fund_page, fund_url):
    """What another site pastes to show the fund: the widget's iframe (`embed/`) and the badge
    (`badge/`) as Markdown linking to the fund. Plain text: the template escapes it for display."""
    title = html.escape(f"{fund_page.title} on Fundfill")
    alt = f"{fund_page.title} on Fundfill".replace("[", r"\[").replace("]", r"\]")
    return {
        "iframe": (
            f'<iframe src="{fund_url}embed/" width="{EMBED_WIDTH}" height="{EMBED_HEIGHT}" '
            f'title="{title}" style="border: 0" loading="lazy"></iframe>'
        ),
        "markdown": f"[![{alt}]({fund_url}badge/)]({fund_url})",
    }
