"""The render memo (pagecache/memo.py): what serving a live page remembers until the next publish.

With the page cache off (as for every signed-in reader), a page's second render must cost
only its live reads, show every publish at the next request, and never remember money,
a reader's identity or a preview. Purges run on commit: `django_capture_on_commit_callbacks
(execute=True)` stands for the commit; "another process" is the shared generation moved in
Redis without this process's signals.
"""

from datetime import date

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from wagtail.models import PageViewRestriction, Site

from bounties.models import Fund, FundPage, FundStatus
from pagecache import generation, memo
from tests.factories import FundUpdatePageFactory, publish
from tests.pages_html import Element, parse_html

FUND = "/funds/audit-truecrypt/"
NEWS = "/funds/audit-truecrypt/auditors-chosen/"


@pytest.fixture
def site(home_page, fund_index, fund, make_fund):
    """The homepage featuring `fund` (with news), and a second open fund."""
    home_page.featured_fund = fund
    publish(home_page)
    FundUpdatePageFactory(parent=fund, title="Auditors chosen", slug="auditors-chosen", date=date(2026, 2, 1))
    make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Lift a print.")
    return home_page, fund


def html(path, client=None):
    response = (client or Client()).get(path)
    assert response.status_code == 200
    return response.content.decode()


def from_main_on(page):
    """<main> and all that follows it in <body> (the footer, the scripts), as outlines: what every reader shares."""
    body = parse_html(page).find("body")
    start = body.children.index(body.find("main", id="main"))
    return [child.outline() if isinstance(child, Element) else child for child in body.children[start:]]


@pytest.mark.parametrize(
    "path, queries",
    # Every page: Wagtail finds the Site and reads the site root's specific row (its own reads,
    # on every request: remembering them would write its private request attributes). Then the
    # fund page reads its Fund row and its timeline (and its claims once it has any); lists read
    # their funds (with figures) and count them; the homepage reads the featured fund's figures
    # and the open funds.
    [(FUND, 2 + 2), (NEWS, 2 + 0), ("/", 2 + 2), ("/funds/", 2 + 2)],
)
def test_after_the_first_render_a_page_reads_only_what_changes_without_a_publish(
    site, path, queries, django_assert_num_queries
):
    first = html(path)
    with django_assert_num_queries(queries):
        second = html(path)
    assert second == first


def test_figures_and_status_are_read_on_every_render(site):
    _home, fund = site
    for path in (FUND, "/", "/funds/"):
        html(path)

    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000, backer_count=12)
    for path in (FUND, "/", "/funds/"):
        page = html(path)
        assert '<strong class="progress__pledged">$370</strong>' in page and "12 backers" in page

    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.AWARDED)
    page = html(FUND)
    assert "Awarded" in page and "This fund is not taking pledges." in page
    assert 'class="pledge-start"' not in page
    open_funds = "\n".join(parse_html(html("/")).find("section", class_="fund-list").values())
    assert "Audit TrueCrypt" not in open_funds and "Bypass TouchID" in open_funds


def test_a_publish_shows_at_the_next_render(site, django_capture_on_commit_callbacks):
    _home, fund = site
    for path in (FUND, "/", "/funds/"):
        html(path)

    with django_capture_on_commit_callbacks(execute=True):
        fund.title = "Audit VeraCrypt"
        fund.summary = "An independent audit of VeraCrypt."
        publish(fund)
        FundUpdatePageFactory(parent=fund, title="Audit started", slug="audit-started", date=date(2026, 3, 1))

    page = html(FUND)
    assert "<h1>Audit VeraCrypt</h1>" in page and "An independent audit of VeraCrypt." in page
    assert '<meta property="og:title" content="Audit VeraCrypt">' in page
    assert "Audit started" in page and "Auditors chosen" in page
    assert "TrueCrypt<" not in page
    for path in ("/", "/funds/"):
        page = html(path)
        assert "Audit VeraCrypt" in page and "Audit TrueCrypt" not in page


def test_this_process_sees_its_own_publish_before_the_commit(site, django_capture_on_commit_callbacks):
    """The dev server's editor and the tests: the memo is dropped when the publish happens."""
    _home, fund = site
    html(FUND)
    with django_capture_on_commit_callbacks(execute=False):
        fund.title = "Audit VeraCrypt"
        publish(fund)
        assert "<h1>Audit VeraCrypt</h1>" in html(FUND)


def test_another_processs_publish_shows_once_the_shared_generation_moves(site, settings):
    _home, fund = site
    settings.PAGE_CACHE_LOCAL_SECONDS = 0
    html(FUND)

    # Another server process publishes: its commit changes the rows, then it bumps the generation.
    FundPage.objects.filter(pk=fund.pk).update(title="Audit VeraCrypt")
    assert "<h1>Audit TrueCrypt</h1>" in html(FUND)  # remembered until the generation moves
    generation.page_cache().incr(generation.GENERATION_KEY)
    page = html(FUND)
    assert "<h1>Audit VeraCrypt</h1>" in page and "Audit TrueCrypt" not in page


def test_signed_in_and_anonymous_readers_share_the_content_but_never_the_header(site, user):
    html(FUND)
    member = Client()
    member.force_login(user)
    theirs = html(FUND, member)
    assert "Log out" in theirs and "Wallet" in theirs and "Log in" not in theirs

    anonymous = html(FUND)
    assert "Log in" in anonymous and "Log out" not in anonymous and "Wallet" not in anonymous
    assert "csrfmiddlewaretoken" not in anonymous
    assert from_main_on(theirs) == from_main_on(anonymous)


def test_a_view_restriction_applies_at_the_next_request(site, user, django_capture_on_commit_callbacks):
    html(NEWS)
    news = FundUpdatePageFactory._meta.model.objects.get(slug="auditors-chosen")
    with django_capture_on_commit_callbacks(execute=True):
        PageViewRestriction.objects.create(page=news, restriction_type=PageViewRestriction.LOGIN)
    assert Client().get(NEWS).status_code == 302
    assert "Auditors chosen" not in html(FUND)  # and the fund page no longer lists it
    member = Client()
    member.force_login(user)
    assert member.get(NEWS).status_code == 200


def test_a_preview_neither_reads_nor_fills_the_memo(site):
    _home, fund = site
    html(FUND)
    draft = FundPage.objects.get(pk=fund.pk)
    draft.title = "Draft title"
    draft.summary = "Not published yet."
    draft.save_revision()

    preview = draft.make_preview_request().content.decode()
    assert "<h1>Draft title</h1>" in preview and "Not published yet." in preview
    page = html(FUND)
    assert "<h1>Audit TrueCrypt</h1>" in page and "Draft title" not in page


def test_pages_still_render_when_the_cache_is_down(site, settings, caplog):
    html(FUND)
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "pagecache.backends.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    settings.PAGE_CACHE_ALIAS = "down"
    settings.PAGE_CACHE_LOCAL_SECONDS = 0
    _home, fund = site
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000)

    page = html(FUND)
    assert "<h1>Audit TrueCrypt</h1>" in page and "$370" in page
    assert "rendering without it" in caplog.text


def test_a_render_that_raced_a_publish_is_never_used_again(db, settings):
    settings.PAGE_CACHE_LOCAL_SECONDS = 0

    def stamped():
        request = RequestFactory().get("/")
        memo.stamp(request)
        return request

    slow = stamped()  # started before the publish
    generation.page_cache().incr(generation.GENERATION_KEY)  # another process publishes
    fresh = stamped()
    assert memo.remember(fresh, "what", lambda: "new") == "new"
    # The slow render finishes now: what it read is kept from everyone who started later.
    assert memo.remember(slow, "what", lambda: "old") == "old"
    assert memo.remember(slow, "more", lambda: "old") == "old"
    assert memo.remember(stamped(), "what", lambda: "recomputed") == "new"
    assert memo.remember(stamped(), "more", lambda: "recomputed") == "recomputed"


def test_requests_that_serve_no_live_page_never_use_the_memo(db):
    request = RequestFactory().get("/")  # not stamped: a form, the admin, a preview
    assert memo.remember(request, "what", lambda: 1) == 1
    assert memo.remember(request, "what", lambda: 2) == 2


def render_queries(url) -> list[str]:
    """The SQL one render of `url` ran."""
    with CaptureQueriesContext(connection) as queries:
        html(url)
    return [query["sql"] for query in queries.captured_queries]


def warm_render_queries(url) -> list[str]:
    """The SQL of a render once one-time reads (settings, root paths) are done: the third render."""
    render_queries(url)
    render_queries(url)
    return render_queries(url)


def test_the_memo_can_be_switched_off(site, settings):
    remembered = warm_render_queries(FUND)
    settings.PAGE_MEMO = False
    Site.objects.update(site_name="Fundfill")  # no purge signal: off means every render reads it all
    everything = warm_render_queries(FUND)
    # Off, a render asks the database all that a remembering render asks, and more, every time.
    assert set(remembered) < set(everything)
    assert render_queries(FUND) == everything


def test_a_per_process_cache_leaves_the_memo_off(site, settings):
    """With local memory (`make run`), a publish by the worker would never reach the web process."""
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    remembered_elsewhere = warm_render_queries(FUND)  # on the shared cache: the memo is on
    settings.PAGE_CACHE_ALIAS = "local"
    everything = warm_render_queries(FUND)
    assert set(remembered_elsewhere) < set(everything)
    assert render_queries(FUND) == everything
