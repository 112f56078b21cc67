"""A CDN in front is purged like the page cache: after the commit, everything that shows the page."""

from datetime import date

import pytest
from wagtail.contrib.frontend_cache.backends.base import BaseBackend
from wagtail.models import Site

from home.models import IncidentNotice
from pagecache.purge import pages_referring_to
from tests.factories import FundUpdatePageFactory, publish

PURGED = []


class RecordingBackend(BaseBackend):
    """Stands in for Cloudflare or Varnish: remembers what it was asked to purge."""

    def purge(self, url):
        PURGED.append(url)


@pytest.fixture
def cdn(settings):
    settings.WAGTAILFRONTENDCACHE = {"test": {"BACKEND": f"{__name__}.RecordingBackend"}}
    PURGED.clear()
    return PURGED


ROOT = "http://localhost"
FUND_URLS = {
    f"{ROOT}/funds/audit-truecrypt/",
    f"{ROOT}/funds/audit-truecrypt/feed/",
    f"{ROOT}/funds/audit-truecrypt/embed/",  # the widget and the badge other sites show
    f"{ROOT}/funds/audit-truecrypt/badge/",
    f"{ROOT}/funds/",
    f"{ROOT}/funds/feed/",
    f"{ROOT}/",
}


def test_publishing_a_fund_purges_it_its_feeds_its_index_and_the_homepage(
    cdn, fund, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publish(fund)
        assert cdn == []  # nothing goes out before the commit
    assert set(cdn) == FUND_URLS


def test_unpublishing_the_featured_fund_purges_the_homepage(
    cdn, fund, home_page, django_capture_on_commit_callbacks
):
    home_page.featured_fund = fund
    publish(home_page)
    cdn.clear()
    with django_capture_on_commit_callbacks(execute=True):
        fund.unpublish()
    assert set(cdn) == FUND_URLS


def test_publishing_news_purges_the_fund_page_and_its_feed(cdn, fund, django_capture_on_commit_callbacks):
    news = FundUpdatePageFactory(
        parent=fund, title="Auditors chosen", slug="auditors-chosen", date=date(2026, 2, 1)
    )
    cdn.clear()
    with django_capture_on_commit_callbacks(execute=True):
        publish(news)
    assert set(cdn) == FUND_URLS | {f"{ROOT}/funds/audit-truecrypt/auditors-chosen/"}


def test_moving_news_purges_its_old_and_new_places(cdn, fund, make_fund, django_capture_on_commit_callbacks):
    news = FundUpdatePageFactory(
        parent=fund, title="Auditors chosen", slug="auditors-chosen", date=date(2026, 2, 1)
    )
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid")
    cdn.clear()
    with django_capture_on_commit_callbacks(execute=True):
        news.move(other, pos="last-child")
    assert {
        f"{ROOT}/funds/audit-truecrypt/auditors-chosen/",
        f"{ROOT}/funds/bypass-touchid/auditors-chosen/",
        f"{ROOT}/funds/audit-truecrypt/",
        f"{ROOT}/funds/bypass-touchid/",
        f"{ROOT}/funds/bypass-touchid/feed/",
        f"{ROOT}/",
    } <= set(cdn)


def test_the_incident_notice_purges_the_homepage(cdn, site_tree, django_capture_on_commit_callbacks):
    notice = IncidentNotice.for_site(Site.objects.get(is_default_site=True))
    cdn.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notice.active, notice.message = True, "Pledges are paused."
        notice.save()
    assert f"{ROOT}/" in cdn


def test_without_a_cdn_configured_nothing_is_sent(settings, fund, django_capture_on_commit_callbacks):
    PURGED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        publish(fund)
    assert PURGED == []


def test_the_pages_that_show_a_fund_come_from_wagtails_reference_index(fund, home_page):
    """The purge names no page type: the homepage's page chooser is in Wagtail's ReferenceIndex."""
    assert pages_referring_to(fund) == []
    home_page.featured_fund = fund
    publish(home_page)
    assert [page.pk for page in pages_referring_to(fund)] == [home_page.pk]
    assert type(pages_referring_to(fund)[0]).__name__ == "HomePage"  # specific: its own cached paths
