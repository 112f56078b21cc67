"""The fund page's details for a decision: how funded, how long left, who runs it, the rules,
suggested amounts, sharing, embedding, and a picture of the pledges over time."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from bounties.models import Fund, FundStatus, Pledge, PledgeStatus
from bounties.selectors import pledge_series
from bounties.templatetags.fundfill_tags import percent_funded, pledge_chart, time_left_text
from tests.factories import UserFactory
from tests.money import back
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db


def page_html(client, fund):
    response = client.get(fund.url)
    assert response.status_code == 200
    return parse_html(response.content)


# Time left, as whole days -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "left, text",
    [
        (timedelta(days=58, hours=3), "58 days left"),
        (timedelta(days=2), "2 days left"),
        (timedelta(days=1, hours=23, minutes=59), "1 day left"),  # a part day is not counted
        (timedelta(hours=23, minutes=59), "Last day: 23 hours left"),
        (timedelta(hours=5, minutes=30), "Last day: 5 hours left"),
        (timedelta(hours=1), "Last day: 1 hour left"),
        (timedelta(minutes=59), "Last day: under an hour left"),
        (timedelta(0), ""),
        (timedelta(minutes=-5), ""),
    ],
)
def test_time_left_is_whole_days_then_hours_on_the_last_day(left, text):
    now = timezone.now()
    assert time_left_text(now + left, now=now) == text


def test_time_left_of_no_deadline_is_empty():
    assert time_left_text(None, now=timezone.now()) == ""


# How funded ---------------------------------------------------------------------------------------


def test_percent_funded_is_whole_and_may_pass_100(make_fund):
    fund = make_fund(goal_cents=500_000)
    Fund.objects.filter(page=fund).update(pledged_cents=310_000)
    assert percent_funded(type(fund).objects.get(pk=fund.pk)) == 62
    Fund.objects.filter(page=fund).update(pledged_cents=750_000)
    assert percent_funded(type(fund).objects.get(pk=fund.pk)) == 150


def test_the_page_says_how_funded_and_how_long_is_left(client, make_fund):
    fund = make_fund(goal_cents=500_000, pledge_deadline=timezone.now() + timedelta(days=58, hours=2))
    Fund.objects.filter(page=fund).update(pledged_cents=310_000, backer_count=42)

    page = page_html(client, fund)

    assert page.find(class_="fund__funded").text == "62 % funded"
    assert page.find(class_="time-left").text == "58 days left"
    assert page.find(class_="fund__deadline").text.startswith("58 days left to pledge (until ")
    # Backers are a count only: there is no opt-in to show their names yet.
    assert page.find(class_="progress__backers").text == "42 backers"


def test_the_progress_bar_speaks_its_share_of_the_goal(client, make_fund):
    fund = make_fund(goal_cents=500_000)
    Fund.objects.filter(page=fund).update(pledged_cents=310_000)

    bar = page_html(client, fund).find(role="progressbar")

    assert (bar.get("aria-valuemin"), bar.get("aria-valuemax"), bar.get("aria-valuenow")) == (
        "0",
        "100",
        "62",
    )
    assert bar.get("aria-valuetext") == "62 % of $5,000"


# Who runs it, and the rules -----------------------------------------------------------------------


def test_a_fund_is_run_by_its_owner(client, make_fund):
    fund = make_fund(owner=UserFactory(username="mallory"))
    assert page_html(client, fund).find(class_="fund__owner").text == "Run by mallory."


@pytest.mark.parametrize("owner", [None, "staff"])
def test_a_fund_without_an_owner_or_owned_by_staff_is_run_by_the_editors(client, make_fund, owner):
    fund = make_fund(owner=UserFactory(username="ed", is_staff=True) if owner else None)
    assert page_html(client, fund).find(class_="fund__owner").text == "Run by the Fundfill editors."


def test_the_claim_and_vote_rules_in_one_sentence(client, make_fund):
    fund = make_fund()  # the defaults: 72 hours, a 10 % quorum
    assert page_html(client, fund).find(class_="fund__rules").text == (
        "Backers vote on each claim for 72 hours; a claim needs 10 % of the escrowed money to vote, "
        "and more approving money than rejecting."
    )


def test_a_week_long_vote_without_quorum(client, make_fund):
    fund = make_fund(vote_window_hours=7 * 24, quorum_percent=0)
    assert page_html(client, fund).find(class_="fund__rules").text == (
        "Backers vote on each claim for 7 days; a claim needs more approving money than rejecting."
    )


def test_where_the_money_goes_if_nobody_wins(client, make_fund):
    refund = make_fund()
    beneficiary = make_fund(failure_policy="beneficiary", beneficiary_name="EFF")

    assert (
        "If nobody wins, backers are refunded." in page_html(client, refund).find(class_="fund__escrow").text
    )
    assert (
        "If nobody wins, it goes to EFF." in page_html(client, beneficiary).find(class_="fund__escrow").text
    )


# The pledge box -----------------------------------------------------------------------------------


def test_suggested_amounts_open_the_pledge_page_with_the_amount(client, fund):
    choices = page_html(client, fund).find_all(class_="pledge-amounts__choice")

    assert [a.text for a in choices] == ["$10", "$25", "$50", "$100"]
    assert [a.get("href") for a in choices] == [
        f"/funds/{fund.pk}/pledge/?amount={n}" for n in (10, 25, 50, 100)
    ]
    response = client.get(choices[1].get("href"))
    assert response.status_code in (200, 302)  # the pledge page, or the log-in it asks for first


def test_a_closed_fund_suggests_nothing(client, fund):
    Fund.objects.filter(page=fund).update(status=FundStatus.AWARDED)
    assert page_html(client, fund).find_all(class_="pledge-amounts") == []


# Sharing and embedding ----------------------------------------------------------------------------


def test_share_links_carry_the_title_and_the_address(client, make_fund):
    fund = make_fund(title="Audit & fix TrueCrypt", slug="audit-truecrypt", hashtag="TrueCrypt")
    url = "http://localhost/funds/audit-truecrypt/"
    share = page_html(client, fund).find(class_="share")
    links = {a.text: a.get("href") for a in share.find_all("a")}
    text = "Help fund “Audit & fix TrueCrypt” on Fundfill #TrueCrypt"

    x = urlsplit(links["Post on X"])
    assert (x.netloc, x.path, parse_qs(x.query)) == (
        "twitter.com",
        "/intent/tweet",
        {"text": [text], "url": [url]},
    )
    mastodon = urlsplit(links["Toot on Mastodon"])
    assert (mastodon.netloc, parse_qs(mastodon.query)) == (
        "mastodonshare.com",
        {"text": [text], "url": [url]},
    )
    bluesky = urlsplit(links["Post on Bluesky"])
    assert (bluesky.netloc, bluesky.path, parse_qs(bluesky.query)) == (
        "bsky.app",
        "/intent/compose",
        {"text": [f"{text} {url}"]},
    )
    copy = share.find(class_="share__copy")
    # Shown by the script when the browser can copy; the address is in the links without it.
    assert (copy.get("data-copy"), "hidden" in copy.attrs) == (url, True)


def test_embed_snippets_for_the_widget_and_the_badge(client, fund):
    url = "http://localhost/funds/audit-truecrypt/"
    details = page_html(client, fund).find("details", class_="embed-snippets")

    assert details.find("summary").text == "Embed this fund"
    iframe, markdown = (code.text for code in details.find_all("code"))
    assert iframe == (
        f'<iframe src="{url}embed/" width="360" height="260" title="Audit TrueCrypt on Fundfill" '
        'style="border: 0" loading="lazy"></iframe>'
    )
    assert markdown == f"[![Audit TrueCrypt on Fundfill]({url}badge/)]({url})"
    assert [b.get("data-copy") for b in details.find_all("button")] == [iframe, markdown]


# Pledges over time --------------------------------------------------------------------------------


def backdate(pledge, when):
    Pledge.objects.filter(pk=pledge.pk).update(created_at=when)


@pytest.fixture
def pledged(fund):
    """$1,910 from three backers over the fund's first 12 days (and a withdrawn pledge that does not count)."""
    start = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=11)
    type(fund).objects.filter(pk=fund.pk).update(first_published_at=start - timedelta(hours=1))
    a, b, c, gone = (UserFactory(username=name) for name in ("ann", "bob", "cat", "dan"))
    backdate(back(a, fund, 10_000), start)
    backdate(back(b, fund, 25_000), start)
    backdate(back(c, fund, 56_000), start + timedelta(days=4))
    backdate(back(a, fund, 100_000), start + timedelta(days=9))
    withdrawn = back(gone, fund, 5_000)
    Pledge.objects.filter(pk=withdrawn.pk).update(status=PledgeStatus.WITHDRAWN)
    return start


def test_the_series_is_cumulative_by_day_from_active_and_awarded_pledges(fund, pledged):
    awarded = Pledge.objects.filter(fund_id=fund.pk, amount_cents=56_000)
    awarded.update(status=PledgeStatus.AWARDED)
    day = timezone.localdate(pledged)

    assert pledge_series(fund_id=fund.pk) == [
        (day, 35_000),
        (day + timedelta(days=4), 91_000),
        (day + timedelta(days=9), 191_000),
    ]


def test_a_fund_with_no_pledges_has_an_empty_series(fund):
    assert pledge_series(fund_id=fund.pk) == []


def test_the_page_draws_the_pledges_over_time(client, fund, pledged):
    figure = page_html(client, fund).find(class_="fund__chart")

    assert figure.find("figcaption").text == "Pledges over time"
    svg = figure.find("svg")
    assert (svg.get("role"), svg.get("aria-label")) == ("img", "$1,910 pledged over 12 days")
    line = svg.find(class_="pledge-chart__line").get("d")
    assert line.startswith("M") and line.count("V") == 3  # a step up on each of the three days


def test_a_fund_with_nothing_pledged_draws_nothing_and_reads_nothing(client, fund, django_assert_num_queries):
    assert page_html(client, fund).find_all(class_="fund__chart") == []
    page = type(fund).objects.select_related("fund").get(pk=fund.pk)
    with django_assert_num_queries(0):  # the pledged total the page has read already says so
        assert pledge_chart(page) == ""


def test_a_warm_render_of_a_backed_fund_reads_its_pledges_by_day_once(
    client, fund, pledged, django_assert_num_queries
):
    client.get(fund.url)
    # tests/pagecache/test_memo.py's warm render (Site, site root, the Fund row, its timeline) and,
    # once something is pledged, one more: the pledges by day for the chart (pledges make no timeline
    # events of their own, so there are still no claims to read).
    with django_assert_num_queries(5) as queries:
        client.get(fund.url)
    assert sum("bounties_pledge" in q["sql"] for q in queries.captured_queries) == 1
