"""The anonymous page cache (pagecache/middleware.py) on the real cache (Redis from the harness).

Who gets a cached page and who never does; what is never stored (CSRF tokens, previews,
errors, cookies); what purges it; and what a hit costs. Purges run on commit: here the
test's transaction never commits, so `django_capture_on_commit_callbacks(execute=True)`
stands for the commit (tests/home/test_featured_fund.py does it with real commits).
"""

import time
from datetime import date

import pytest
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from wagtail import hooks
from wagtail.models import PageViewRestriction, Site

from bounties.models import Fund
from home.models import HomePage, IncidentLevel, IncidentNotice
from pagecache import generation
from pagecache.middleware import HEADER, LOCK_PREFIX, entry_key
from tests.factories import FundUpdatePageFactory, publish
from tests.pages_html import head_and_hero_text, parse_html, parse_page


@pytest.fixture
def site(page_cache, home_page, fund_index, fund):
    """Homepage featuring `fund`, the index, the fund and one news item; all published."""
    home_page.featured_fund = fund
    publish(home_page)
    news = FundUpdatePageFactory(
        parent=fund, title="Auditors chosen", slug="auditors-chosen", date=date(2026, 2, 1)
    )
    return home_page, fund_index, fund, news


def get(path="/", **extra):
    return Client().get(path, **extra)


PAGES = ["/", "/funds/", "/funds/audit-truecrypt/", "/funds/audit-truecrypt/auditors-chosen/"]
FEEDS = ["/funds/feed/", "/funds/audit-truecrypt/feed/"]


@pytest.mark.parametrize("path", PAGES + FEEDS + ["/search/?q=truecrypt", "/funds/?status=open"])
def test_anonymous_pages_and_feeds_are_served_from_the_cache(site, path):
    first = get(path)
    assert first.status_code == 200
    assert first[HEADER] == "miss"
    second = get(path)
    assert second[HEADER] == "hit"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Cache-Control"] == "public, max-age=2"


def test_a_hit_costs_no_database_query(site, django_assert_num_queries):
    get("/")
    with django_assert_num_queries(0):
        assert get("/")[HEADER] == "hit"
    get("/funds/audit-truecrypt/")
    with django_assert_num_queries(0):
        assert get("/funds/audit-truecrypt/")[HEADER] == "hit"


def test_head_is_served_from_the_get_entry(site):
    get("/")
    assert Client().head("/")[HEADER] == "hit"


def test_other_cookies_share_the_anonymous_page(site):
    get("/")
    client = Client()
    client.cookies["_ga"] = "GA1.1.123"
    assert client.get("/")[HEADER] == "hit"


def test_no_cached_page_holds_a_csrf_token(site):
    for path in [*PAGES, *FEEDS, "/search/?q=audit"]:
        get(path)
        response = get(path)
        assert response[HEADER] == "hit", path
        assert b"csrfmiddlewaretoken" not in response.content, path
        assert not response.cookies, path


def page_with_a_form(page, request, serve_args, serve_kwargs):
    return HttpResponse(
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="s3cr3t"></form>'
    )


def page_using_a_token(page, request, serve_args, serve_kwargs):
    return HttpResponse(f"<p>{get_token(request)}</p>")


def test_a_page_that_renders_a_csrf_token_is_never_stored(site):
    # Should a template ever put a token on a page, the page is served but not cached.
    with hooks.register_temporarily("before_serve_page", page_with_a_form):
        assert get("/")[HEADER] == "bypass (csrf token)"
        assert get("/")[HEADER] == "bypass (csrf token)"
    # A page that asks for a token gets the CSRF cookie with it, which is never stored either.
    with hooks.register_temporarily("before_serve_page", page_using_a_token):
        assert get("/")[HEADER] == "bypass (sets a cookie)"


def test_login_and_signup_are_never_cached(site):
    for path in ["/accounts/login/", "/accounts/signup/"]:
        for _ in range(2):
            response = get(path)
            assert HEADER not in response
            assert "csrftoken" in response.cookies  # their token goes with a cookie, to one reader
        # Not a page: this process no longer asks the cache about it.
        assert generation.local.is_not_page(path)


def test_preview_is_never_served_from_or_stored_in_the_cache(site, make_fund):
    home, _index, fund, _news = site
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Lift a print.")
    assert "Audit TrueCrypt" in get("/").content.decode()

    draft = HomePage.objects.get(pk=home.pk)
    draft.featured_fund = other
    preview = draft.make_preview_request()
    assert preview.status_code == 200
    assert preview[HEADER] == "bypass"
    assert "private" in preview["Cache-Control"]
    assert "Bypass TouchID" in head_and_hero_text(parse_page(preview.content))

    # Readers still get the published homepage, and from the cache.
    response = get("/")
    assert response[HEADER] == "hit"
    title = parse_html(response.content).find("h1", class_="hero__title")
    link = ("a", (("href", "/funds/audit-truecrypt/"),), ("Audit TrueCrypt",))
    assert title.outline() == ("h1", (("class", "hero__title"),), (link,))


def test_errors_and_unknown_parameters_are_not_stored(site):
    assert get("/nothing-here/").status_code == 404
    assert get("/nothing-here/")[HEADER] == "bypass (status)"
    assert get("/?nonsense=1")[HEADER] == "bypass (parameters)"
    assert get("/?nonsense=1")[HEADER] == "bypass (parameters)"


def test_tracking_parameters_read_the_plain_entry_but_never_fill_it(site):
    assert get("/?utm_source=hn")[HEADER] == "bypass (tracking parameters)"
    get("/")
    assert get("/?utm_source=hn&fbclid=abc")[HEADER] == "hit"


def test_posts_are_not_cached(site):
    response = Client().post("/", {})
    assert response[HEADER] == "bypass"


# --- purging ------------------------------------------------------------------------------


def primed(*paths):
    for path in paths:
        get(path)
        assert get(path)[HEADER] == "hit", path


def test_publishing_any_fund_purges_the_pages_that_list_it(
    site, make_fund, django_capture_on_commit_callbacks
):
    primed("/", "/funds/", "/funds/feed/")
    with django_capture_on_commit_callbacks(execute=True):
        new = make_fund(title="Reproducible Tor builds", slug="tor-builds", summary="Bit for bit.")
        publish(new)
    for path in ["/", "/funds/", "/funds/feed/"]:
        response = get(path)
        assert response[HEADER] == "miss", path
        assert "Reproducible Tor builds" in response.content.decode(), path


def test_nothing_is_purged_before_the_commit(site, django_capture_on_commit_callbacks):
    _home, _index, fund, _news = site
    primed("/funds/audit-truecrypt/")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fund.title = "Audit TrueCrypt 7.1a"
        publish(fund)
        assert get("/funds/audit-truecrypt/")[HEADER] == "hit"
    assert callbacks  # the purge waits for the commit


def test_unpublishing_a_page_purges_it(site, django_capture_on_commit_callbacks):
    _home, _index, fund, news = site
    primed("/funds/audit-truecrypt/auditors-chosen/", "/funds/audit-truecrypt/")
    with django_capture_on_commit_callbacks(execute=True):
        news.unpublish()
    assert get("/funds/audit-truecrypt/auditors-chosen/").status_code == 404
    assert "Auditors chosen" not in get("/funds/audit-truecrypt/").content.decode()


def test_moving_a_page_purges_both_places(site, make_fund, django_capture_on_commit_callbacks):
    _home, _index, fund, news = site
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Lift a print.")
    primed("/funds/audit-truecrypt/", "/funds/bypass-touchid/", "/funds/audit-truecrypt/feed/")
    with django_capture_on_commit_callbacks(execute=True):
        news.move(other, pos="last-child")
    assert "Auditors chosen" not in get("/funds/audit-truecrypt/").content.decode()
    assert "Auditors chosen" not in get("/funds/audit-truecrypt/feed/").content.decode()
    assert "Auditors chosen" in get("/funds/bypass-touchid/").content.decode()


def test_deleting_a_page_purges_it(site, django_capture_on_commit_callbacks):
    _home, _index, fund, news = site
    primed("/funds/audit-truecrypt/", "/funds/audit-truecrypt/auditors-chosen/")
    with django_capture_on_commit_callbacks(execute=True):
        news.delete()
    assert get("/funds/audit-truecrypt/auditors-chosen/").status_code == 404
    assert "Auditors chosen" not in get("/funds/audit-truecrypt/").content.decode()


def test_a_view_restriction_purges(site, django_capture_on_commit_callbacks):
    _home, _index, _fund, news = site
    primed("/funds/audit-truecrypt/auditors-chosen/")
    with django_capture_on_commit_callbacks(execute=True):
        PageViewRestriction.objects.create(page=news, restriction_type=PageViewRestriction.LOGIN)
    assert get("/funds/audit-truecrypt/auditors-chosen/").status_code == 302


def test_the_incident_notice_shows_at_once_on_a_cached_page(site, django_capture_on_commit_callbacks):
    primed("/", "/funds/audit-truecrypt/")
    notice = IncidentNotice.for_site(Site.objects.get(is_default_site=True))
    with django_capture_on_commit_callbacks(execute=True):
        notice.active = True
        notice.level = IncidentLevel.CRITICAL
        notice.message = "Pledges are paused while we fix a payment problem."
        notice.save()
    for path in ["/", "/funds/audit-truecrypt/"]:
        response = get(path)
        assert response[HEADER] == "miss"
        html = response.content.decode()
        assert 'class="notice notice--critical"' in html and 'role="alert"' in html
        assert "Pledges are paused while we fix a payment problem." in html

    with django_capture_on_commit_callbacks(execute=True):
        notice.active = False
        notice.save()
    assert "Pledges are paused" not in get("/").content.decode()


# --- live figures -------------------------------------------------------------------------


def test_live_figures_on_a_cached_page_are_at_most_page_cache_seconds_old(site, settings):
    _home, _index, fund, _news = site
    settings.PAGE_CACHE_SECONDS = 1
    primed("/funds/audit-truecrypt/")

    # A pledge updates the counters in its own transaction (no page revision, no purge).
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000, backer_count=12)
    assert "$370" not in get("/funds/audit-truecrypt/").content.decode()  # still the cached page

    time.sleep(1.05)
    response = get("/funds/audit-truecrypt/")
    assert response[HEADER] == "miss"
    html = response.content.decode()
    assert '<strong class="progress__pledged">$370</strong>' in html and "12 backers" in html


def test_a_stale_page_is_rerendered_by_one_request_while_others_get_the_last_copy(site, settings):
    settings.PAGE_CACHE_SECONDS = 1
    primed("/")
    time.sleep(1.05)
    # Another process holds the right to re-render: this reader gets the copy from a moment ago.
    lock = LOCK_PREFIX + entry_key(RequestFactory().get("/"))
    generation.page_cache().add(lock, 1, timeout=5)
    assert get("/")[HEADER] == "stale"
    generation.page_cache().delete(lock)
    assert get("/")[HEADER] == "miss"
    assert get("/")[HEADER] == "hit"


def test_a_purge_by_another_process_is_seen_within_the_local_interval(site, settings):
    primed("/")
    # Another server process publishes: it bumps the shared generation, not ours.
    generation.page_cache().incr(generation.GENERATION_KEY)
    time.sleep(settings.PAGE_CACHE_LOCAL_SECONDS + 0.02)
    assert get("/")[HEADER] == "miss"


def test_without_a_local_interval_every_hit_reads_the_shared_generation(site, settings):
    settings.PAGE_CACHE_LOCAL_SECONDS = 0
    primed("/")
    generation.page_cache().incr(generation.GENERATION_KEY)
    assert get("/")[HEADER] == "miss"
