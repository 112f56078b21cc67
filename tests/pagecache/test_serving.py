"""The miss path's shortcuts (pagecache/serving.py) route and restrict exactly as Wagtail does."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from wagtail.models import Page, PageViewRestriction

from home.models import HomePage
from pagecache.serving import public_pages
from tests.factories import FundUpdatePageFactory

PATHS = [
    [],
    ["funds"],
    ["funds", "feed"],
    ["funds", "audit-truecrypt"],
    ["funds", "audit-truecrypt", "feed"],
    ["funds", "audit-truecrypt", "auditors-chosen"],
    ["funds", "audit-truecrypt", "auditors-chosen", "more"],
    ["funds", "audit-truecrypt", "nothing"],
    ["funds", "draft-fund"],
    ["funds", "draft-fund", "news-under-a-draft"],
    ["funds", "feed-fund"],
    ["funds", "nothing", "feed"],
    ["nothing"],
    ["funds", "audit-truecrypt", "auditors-chosen", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"],
]


@pytest.fixture
def tree(fund, make_fund):
    FundUpdatePageFactory(parent=fund, title="Auditors chosen", slug="auditors-chosen")
    draft = make_fund(title="Draft fund", slug="draft-fund")
    FundUpdatePageFactory(parent=draft, title="News under a draft", slug="news-under-a-draft")
    draft.unpublish()
    make_fund(title="A fund called feed", slug="feed-fund")
    return HomePage.objects.get()


def outcome(route, home, components):
    request = RequestFactory().get("/" + "".join(f"{c}/" for c in components))
    try:
        page, args, kwargs = route(home, request, components)
    except Http404:
        return "404"
    view = args[0].__name__ if args else None
    return (page.pk, type(page).__name__, view, tuple(args[1:]), kwargs)


@pytest.mark.parametrize("components", PATHS, ids=lambda c: "/" + "/".join(c))
def test_routes_like_wagtails_walk(tree, components):
    wagtail = outcome(Page.route, tree, components)
    ours = outcome(type(tree).route, tree, components)
    assert ours == wagtail


def test_a_fund_page_is_found_in_two_queries(tree, django_assert_num_queries):
    request = RequestFactory().get("/funds/audit-truecrypt/")
    with django_assert_num_queries(2):
        page, _args, _kwargs = tree.route(request, ["funds", "audit-truecrypt"])
        # Its counters and image came with it, and its parent is known.
        assert page.state.pledged_cents == 0 and page.image is None
        assert page.get_parent().slug == "funds"


@pytest.mark.parametrize("restricted", [None, "home", "funds", "audit-truecrypt", "auditors-chosen"])
def test_view_restrictions_like_wagtails(tree, restricted, django_assert_num_queries):
    if restricted:
        PageViewRestriction.objects.create(
            page=Page.objects.get(slug=restricted), restriction_type=PageViewRestriction.LOGIN
        )
    news = Page.objects.get(slug="auditors-chosen").specific
    expected = set(Page.get_view_restrictions(news).values_list("pk", flat=True))
    with django_assert_num_queries(1):
        assert set(news.get_view_restrictions().values_list("pk", flat=True)) == expected


@pytest.mark.parametrize("restricted", [[], ["funds"], ["audit-truecrypt"], ["auditors-chosen", "feed-fund"]])
def test_public_pages_like_wagtails_public(tree, restricted):
    for slug in restricted:
        PageViewRestriction.objects.create(
            page=Page.objects.get(slug=slug), restriction_type=PageViewRestriction.PASSWORD, password="x"
        )
    live = Page.objects.live()
    ours = set(public_pages(live, None).values_list("slug", flat=True))
    assert ours == set(live.public().values_list("slug", flat=True))
    assert not ours & set(restricted)
