"""A fund on other sites: the framed widget (`<fund>/embed/`) and the SVG badge (`<fund>/badge/`).

Both are routes of the fund page (`FundPage.embed`, `FundPage.badge`), so Wagtail serves them
and the anonymous page cache stores them with the page's freshness: a pledge shows on them when
it shows on the page, and a publish purges them with it (CDN included, `get_cached_paths`).
"""

import time
from xml.etree import ElementTree

import pytest
from django.test import Client

from bounties.models import Fund, FundStatus
from pagecache.middleware import HEADER
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

FUND = "/funds/audit-truecrypt/"
EMBED = FUND + "embed/"
BADGE = FUND + "badge/"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def figures(fund):
    Fund.objects.filter(page=fund).update(pledged_cents=191_000, backer_count=42)
    return fund


def frame_ancestors(header):
    directives = dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return directives.get("frame-ancestors")


# The widget -------------------------------------------------------------------------------------


def test_the_widget_is_a_compact_card_that_pledges_on_the_site(client, figures):
    response = client.get(EMBED)

    assert response.status_code == 200
    card = parse_html(response.content).find(class_="fund-embed")
    assert card.find("h1").text == "Audit TrueCrypt"
    assert card.find(class_="progress__figures").text == "$1,910 pledged of $1,000 · 42 backers"
    assert card.find(role="progressbar").get("aria-valuetext") == "191 % of $1,000"  # the bar stops at 100
    pledge = card.find("a", class_="button")
    assert (pledge.text, pledge.get("href"), pledge.get("target")) == (
        "Pledge on Fundfill",
        "http://localhost/funds/audit-truecrypt/",
        "_top",
    )
    assert card.find("h1").find("a").get("target") == "_top"


def test_a_closed_funds_widget_links_to_it_without_offering_a_pledge(client, fund):
    Fund.objects.filter(page=fund).update(status=FundStatus.AWARDED)
    card = parse_html(client.get(EMBED).content).find(class_="fund-embed")
    assert card.find("a", class_="button").text == "See it on Fundfill"


def test_any_site_may_frame_the_widget_but_not_the_page(client, fund, settings):
    settings.X_FRAME_OPTIONS = "DENY"  # as in production
    widget, page = client.get(EMBED), client.get(FUND)

    assert "X-Frame-Options" not in widget
    assert page["X-Frame-Options"] == "DENY"
    # The policy is report-only for now (settings/base.py); the widget's opens frame-ancestors alone.
    assert frame_ancestors(widget["Content-Security-Policy-Report-Only"]) == "*"
    assert frame_ancestors(page["Content-Security-Policy-Report-Only"]) == "'self'"
    assert "script-src 'self'" in widget["Content-Security-Policy-Report-Only"]


def test_the_widget_stays_frameable_once_the_policy_is_enforced(client, fund, settings):
    settings.CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY_REPORT_ONLY
    assert frame_ancestors(client.get(EMBED)["Content-Security-Policy"]) == "*"
    assert frame_ancestors(client.get(FUND)["Content-Security-Policy"]) == "'self'"


def test_the_widget_is_the_same_for_every_reader(client, figures, user):
    anonymous = client.get(EMBED).content
    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get(EMBED).content == anonymous


# The badge --------------------------------------------------------------------------------------


def test_the_badge_is_an_svg_of_the_pledged_total_and_the_backers(client, figures):
    response = client.get(BADGE)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = ElementTree.fromstring(response.content)  # well-formed XML
    assert svg.tag == f"{SVG}svg"
    assert (svg.get("role"), svg.get("aria-label")) == ("img", "Fundfill: $1,910 pledged · 42 backers")
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["Fundfill", "$1,910 pledged · 42 backers"]


def test_the_badge_counts_one_backer_and_escapes_nothing_it_should_not(client, fund):
    Fund.objects.filter(page=fund).update(pledged_cents=2_550, backer_count=1)
    svg = ElementTree.fromstring(client.get(BADGE).content)
    assert svg.find(f"{SVG}title").text == "Fundfill: $25.50 pledged · 1 backer"


def test_an_unpublished_funds_widget_and_badge_are_gone(client, fund):
    fund.unpublish()
    assert client.get(EMBED).status_code == 404
    assert client.get(BADGE).status_code == 404


# Cached and purged with the page ------------------------------------------------------------------


def test_the_cdn_purges_the_widget_and_badge_with_the_page(fund):
    assert {"embed/", "badge/", "feed/", "/"} <= set(fund.get_cached_paths())


@pytest.mark.parametrize("path", [EMBED, BADGE])
def test_widget_and_badge_are_cached_for_anonymous_readers_with_their_headers(
    page_cache, fund, path, settings
):
    settings.X_FRAME_OPTIONS = "DENY"
    first = Client().get(path)
    second = Client().get(path)

    assert (first[HEADER], second[HEADER]) == ("miss", "hit")
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Cache-Control"] == "public, max-age=2"  # the page's own freshness
    assert second.get("X-Frame-Options") == first.get("X-Frame-Options")  # the miss's headers, replayed
    if path == EMBED:
        assert "X-Frame-Options" not in second
        assert frame_ancestors(second["Content-Security-Policy-Report-Only"]) == "*"


def test_a_pledge_shows_on_widget_and_badge_when_it_shows_on_the_page(page_cache, fund, settings):
    settings.PAGE_CACHE_SECONDS = 1
    for path in (FUND, EMBED, BADGE):
        Client().get(path)
        assert Client().get(path)[HEADER] == "hit"

    # A pledge moves the counters in its own transaction: no revision, no purge.
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000, backer_count=12)
    for path in (FUND, EMBED, BADGE):
        assert "$370" not in Client().get(path).content.decode(), path  # the cached copies, all alike

    time.sleep(1.05)
    for path in (FUND, EMBED, BADGE):
        response = Client().get(path)
        assert response[HEADER] == "miss", path
        assert "$370" in response.content.decode() and "12 backers" in response.content.decode(), path
