"""Every page of the demo site, reached by following its links, as a reader and as a backer.

`load_demo` builds the site `make run` serves; these follow every same-site link from the
homepage (forms' GET actions included, nothing that POSTs) and check that no page errors,
no link is broken, and every HTML page names itself in <title>. A page rendered from the
render memo (pagecache/memo.py) must be byte for byte the page rendered without it.
"""

from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from pagecache import memo
from tests.pages_html import link_targets, parse_page

pytestmark = pytest.mark.django_db  # load_demo's money operations run inside the test transaction

# Not pages a reader browses: the admin, files, the API, and what only works by POST.
SKIP = (
    "/admin/",
    "/django-admin/",
    "/static/",
    "/media/",
    "/documents/",
    "/api/",
    "/payments/",
    "/accounts/logout/",
)
MAX_PAGES = 300


def crawl(client, start="/"):
    """{path: response} for every same-site page reachable from `start` (redirects not followed)."""
    seen, queue = {}, deque([start])
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        response = client.get(path)
        seen[path] = response
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        page = parse_page(response.content)
        response.title = page.title.strip()
        for href in link_targets(page.document):
            url = urlsplit(urldefrag(urljoin("http://testserver" + path, href))[0])
            if url.netloc not in ("testserver", "localhost") or url.path.startswith(SKIP):
                continue
            queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


@pytest.fixture
def demo(settings):
    settings.SITE_URL = "http://testserver"
    call_command("load_demo", verbosity=0)


def assert_site_is_whole(pages):
    assert len(pages) > 15, sorted(pages)  # the crawl really went through the site
    errors = {path: r.status_code for path, r in pages.items() if r.status_code >= 400}
    assert errors == {}
    untitled = [
        p
        for p, r in pages.items()
        if r.status_code == 200
        and r["Content-Type"].startswith("text/html")
        and not getattr(r, "title", None)
    ]
    assert untitled == []


def test_a_reader_can_reach_every_page_and_none_fails(demo):
    pages = crawl(Client())
    assert_site_is_whole(pages)
    for path in ["/", "/funds/", "/funds/audit-truecrypt/", "/funds/feed/", "/accounts/login/"]:
        assert pages[path].status_code == 200, path
    results = crawl(Client(), "/search/?q=audit")  # what the search box leads to, and on from there
    assert_site_is_whole(results)
    assert "/funds/audit-truecrypt/" in results


def test_a_backer_can_reach_every_page_and_none_fails(demo):
    client = Client()
    client.force_login(get_user_model().objects.get(username="ada"))
    pages = crawl(client)
    assert_site_is_whole(pages)
    for path in ["/wallet/", "/pledges/", "/wallet/add/"]:
        assert pages[path].status_code == 200, path


def test_every_page_rendered_from_the_memo_equals_the_page_rendered_without_it(demo):
    client = Client()
    # Wagtail pages and their feeds: what the memo serves (forms carry a fresh CSRF token each time).
    pages = [
        path
        for path, r in crawl(client).items()
        if r.status_code == 200 and r.resolver_match.url_name == "wagtail_serve"
    ]
    assert len(pages) > 10
    cold = {}
    for path in pages:
        memo.forget()
        cold[path] = client.get(path).content
    memo.forget()
    # Every page once to fill the memo, then again from it: a fragment or value remembered under
    # a key that two pages share shows the wrong page's content in one of the passes.
    different = [(turn, path) for turn in (1, 2) for path in pages if client.get(path).content != cold[path]]
    assert different == []
