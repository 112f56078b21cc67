"""RSS feeds: new funds at /funds/feed/, and each fund's news at <fund url>feed/."""

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from tests.factories import FundUpdatePageFactory, publish


def parse_rss(response):
    """The feed's channel, after checking the response is an RSS 2.0 document a reader accepts."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss"
    assert rss.get("version") == "2.0"
    channels = rss.findall("channel")
    assert len(channels) == 1
    channel = channels[0]
    # RSS 2.0 requires title, link and description on the channel, and a title or description per item.
    for required in ("title", "link", "description"):
        assert channel.findtext(required), f"channel has no {required}"
    for item in channel.findall("item"):
        assert item.findtext("title")
        assert item.findtext("link").startswith("http://testserver/")
    return channel


def item_titles(channel):
    return [item.findtext("title") for item in channel.findall("item")]


def item_links(channel):
    return [item.findtext("link") for item in channel.findall("item")]


@pytest.fixture
def news(fund):
    """Posted out of date order, so "newest first" cannot be creation order."""
    today = date.today()
    for title, days_ago in [("Rules clarified", 5), ("Audit report out", 1), ("Audit team shortlisted", 20)]:
        publish(FundUpdatePageFactory(parent=fund, title=title, date=today - timedelta(days=days_ago)))
    return fund.get_children().get(title="Audit report out").specific


def test_new_funds_feed_lists_the_live_funds(client, make_fund, fund_index):
    first = publish(make_fund(title="Audit TrueCrypt"))
    second = publish(make_fund(title="First to bypass TouchID"))
    draft = make_fund(title="Not yet published", live=False)
    gone = make_fund(title="Withdrawn fund")
    gone.unpublish()

    channel = parse_rss(client.get("/funds/feed/"))

    assert channel.findtext("title") == "Fundfill: new funds"
    assert channel.findtext("link") == f"http://testserver{fund_index.url}"
    assert set(item_titles(channel)) == {"Audit TrueCrypt", "First to bypass TouchID"}
    assert set(item_links(channel)) == {f"http://testserver{first.url}", f"http://testserver{second.url}"}
    assert draft.title not in item_titles(channel) and gone.title not in item_titles(channel)
    assert all(item.findtext("pubDate") for item in channel.findall("item"))


def test_new_funds_feed_puts_the_newest_fund_first(client, make_fund):
    older = publish(make_fund(title="Older fund"))
    newer = publish(make_fund(title="Newer fund"))
    assert newer.first_published_at > older.first_published_at

    assert item_titles(parse_rss(client.get("/funds/feed/"))) == ["Newer fund", "Older fund"]


def test_fund_news_feed_lists_that_funds_news_newest_first(client, fund, news, make_fund):
    other = make_fund(title="First to bypass TouchID")
    FundUpdatePageFactory(parent=other, title="News about another fund")
    FundUpdatePageFactory(parent=fund, title="Draft news", date=date.today(), live=False)

    channel = parse_rss(client.get(f"{fund.url}feed/"))

    assert channel.findtext("title") == "Fundfill: news about Audit TrueCrypt"
    assert channel.findtext("link") == f"http://testserver{fund.url}"
    assert item_titles(channel) == ["Audit report out", "Rules clarified", "Audit team shortlisted"]
    assert item_links(channel)[0] == f"http://testserver{news.url}"
    assert all(item.findtext("pubDate") for item in channel.findall("item"))


def test_unpublished_news_leaves_the_feed(client, fund, news):
    news.unpublish()

    channel = parse_rss(client.get(f"{fund.url}feed/"))

    assert item_titles(channel) == ["Rules clarified", "Audit team shortlisted"]


def test_fund_without_news_has_an_empty_but_valid_feed(client, fund):
    channel = parse_rss(client.get(f"{fund.url}feed/"))

    assert item_titles(channel) == []


def test_pages_link_to_their_feeds(client, fund):
    html = client.get(fund.url).content.decode()

    assert (
        f'<link rel="alternate" type="application/rss+xml" title="News about Audit TrueCrypt" href="{fund.url}feed/">'
        in html
    )
    assert 'href="/funds/feed/"' in html
