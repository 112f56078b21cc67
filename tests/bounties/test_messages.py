"""What each event says, on each network, within its limit; and the milestone edges."""

import uuid

import pytest

from bounties.announcers.base import Post, get_announcer
from bounties.announcers.compose import length
from bounties.announcers.messages import message_for
from bounties.models import Outbox
from bounties.services.announcing import milestones_crossed
from bounties.services.claims import claim_submit
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up

LONG_TITLE = (
    "An independent, line-by-line security audit of every cryptographic primitive in TrueCrypt 7.1a " * 3
)


@pytest.fixture
def long_fund(make_fund):
    return make_fund(
        title=LONG_TITLE.strip()[:255], slug="long-audit", hashtag="TrueCryptAudit", goal_cents=10_000
    )


def events(fund, claim_id):
    return [
        ("fund_published", {"fund": fund.pk}),
        ("milestone", {"fund": fund.pk, "percent": 50}),
        ("backers_milestone", {"fund": fund.pk, "backers": 20}),
        (
            "news_published",
            {"fund": fund.pk, "title": "Auditors chosen", "path": "/funds/long-audit/auditors/"},
        ),
        ("claim_submitted", {"fund": fund.pk, "claim": claim_id}),
        ("claim_decided", {"fund": fund.pk, "claim": claim_id, "status": "accepted"}),
        ("fund_awarded", {"fund": fund.pk, "claim": claim_id, "amount_cents": 10_000}),
        ("fund_failed", {"fund": fund.pk}),
        ("custom", {"fund": fund.pk, "text": "Report due Friday."}),
    ]


@pytest.fixture
def claim(long_fund):
    backer, claimant = UserFactory(username="backer"), UserFactory(username="claimant")
    top_up(backer, 1_000)
    pledge_create(user=backer, fund_id=long_fund.pk, amount_cents=1_000, key="k")
    return claim_submit(user=claimant, fund_id=long_fund.pk, statement="Done.", url="https://example.com/r")


@pytest.mark.parametrize("network", ["twitter", "mastodon", "bluesky", "console"])
def test_every_event_fits_each_network_with_its_url_and_hashtag(long_fund, claim, network, settings):
    announcer = get_announcer(network)
    for event, payload in events(long_fund, claim.pk):
        message = message_for(event, payload)
        assert message is not None, event
        text = announcer.render(Post(text=message.text, url=message.url, hashtag=message.hashtag))
        assert message.url.startswith(settings.SITE_URL), event
        assert message.url in text and "#TrueCryptAudit" in text, (event, text)
        assert (
            length(
                text,
                url_weight=announcer.url_weight,
                graphemes=announcer.graphemes,
                weighted=announcer.weighted,
            )
            <= announcer.limit
        ), (network, event)


def test_each_event_names_the_fund_and_what_happened(make_fund, claim, settings):
    fund = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt")
    said = {event: message_for(event, payload) for event, payload in events(fund, claim.pk)}
    assert said["milestone"].text == "Audit TrueCrypt has reached 50% of its $1,000 goal."
    assert said["backers_milestone"].text == "Audit TrueCrypt now has 20 backers."
    assert said["news_published"].url == f"{settings.SITE_URL}/funds/long-audit/auditors/"
    assert said["claim_submitted"].text.startswith("claimant has claimed the bounty Audit TrueCrypt.")
    assert said["claim_submitted"].url == f"{settings.SITE_URL}/claims/{claim.pk}/"
    assert "accepted" in said["claim_decided"].text
    assert "$100" in said["fund_awarded"].text
    assert said["fund_published"].url == f"{settings.SITE_URL}/funds/audit-truecrypt/"
    assert message_for("pledge_receipt", {"fund": fund.pk}) is None  # a receipt is never a public post
    assert message_for("milestone", {"fund": 0, "percent": 50}) is None  # a fund that is gone says nothing


@pytest.mark.parametrize(
    ("before", "after", "crossed"),
    [
        (0, 2_500, [25]),  # landing exactly on 25 % announces it
        (0, 2_499, []),  # a cent short does not
        (7_500, 10_000, [100]),  # exactly the goal
        (7_500, 9_999, []),
        (2_500, 2_600, []),  # already past 25 %: not again
        (0, 10_000, [25, 50, 75, 100]),
        (0, 20_000, [25, 50, 75, 100]),
    ],
)
def test_milestone_edges(before, after, crossed):
    assert milestones_crossed(goal_cents=10_000, before=before, after=after) == crossed


def test_a_pledge_landing_exactly_on_the_goal_stages_100_and_one_a_cent_short_does_not(make_fund):
    short, exact = make_fund(goal_cents=10_000), make_fund(goal_cents=10_000)
    for fund, cents in ((short, 9_999), (exact, 10_000)):
        backer = UserFactory(username=f"b{uuid.uuid4().hex[:8]}")
        top_up(backer, cents)
        pledge_create(user=backer, fund_id=fund.pk, amount_cents=cents, key="k")
    assert not Outbox.objects.filter(fund_id=short.pk, event="milestone", payload__percent=100).exists()
    assert Outbox.objects.filter(fund_id=exact.pk, event="milestone", payload__percent=100).count() == 1


def test_a_claim_event_naming_no_claim_says_nothing(fund):
    assert message_for("claim_submitted", {"fund": fund.pk, "claim": 0}) is None
