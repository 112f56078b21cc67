"""The remembered route (pagecache/serving.py) serves exactly what Wagtail's own route serves.

Every route is taken twice with the memo (the walk, then the remembered answer) and compared
with Wagtail's `Page.route` on the same tree: the demo site's every page and feed, paths that do
not exist, drafts, an alias, view restrictions on a page, an ancestor and an alias's source, and
a second locale's tree.
Then the same pages are fetched through Wagtail's `wagtail_serve` with the memo and without it.
"""

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from wagtail.models import Locale, Page, PageViewRestriction, Site

from home.models import HomePage
from pagecache import memo
from pagecache.serving import public_pages
from tests.factories import FundUpdatePageFactory

EXTRA_PATHS = [
    [],
    ["funds", "feed"],
    ["funds", "audit-truecrypt", "feed"],
    ["funds", "audit-truecrypt", "nothing"],
    ["funds", "audit-truecrypt", "feed", "more"],
    ["funds", "draft-fund"],
    ["funds", "draft-fund", "news-under-a-draft"],
    ["funds", "feed-fund"],
    ["funds", "alias-fund"],
    ["funds", "alias-fund", "feed"],
    ["funds", "nothing", "feed"],
    ["nothing"],
    ["funds", "audit-truecrypt", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"],
]


@pytest.fixture
def tree(db, settings):
    """The demo site, plus a draft with news, a fund slugged like a route, and an alias of a fund."""
    settings.SITE_URL = "http://testserver"
    call_command("load_demo", verbosity=0)
    index = Page.objects.get(slug="funds")
    fund = Page.objects.get(slug="audit-truecrypt").specific
    draft = fund.copy(update_attrs={"title": "Draft fund", "slug": "draft-fund"}, to=index)
    FundUpdatePageFactory(parent=draft, title="News under a draft", slug="news-under-a-draft")
    draft.unpublish()
    fund.copy(update_attrs={"title": "A fund called feed", "slug": "feed-fund"}, to=index)
    fund.create_alias(parent=index, update_slug="alias-fund")
    return HomePage.objects.get()


def every_path(home):
    live = Page.objects.descendant_of(home).live()
    paths = [page.url_path[len(home.url_path) :].strip("/").split("/") for page in live]
    return [*EXTRA_PATHS, *paths]


def outcome(route, home, components, request):
    try:
        page, args, kwargs = route(home, request, components)
    except Http404:
        return "404"
    view = args[0].__name__ if args else None
    restrictions = sorted(r.pk for r in page.get_view_restrictions())
    return (page.pk, type(page).__name__, view, tuple(args[1:]), kwargs, restrictions)


def get(components):
    return RequestFactory().get("/" + "".join(f"{c}/" for c in components))


def assert_routes_like_wagtail(home):
    for components in every_path(home):
        wagtail = outcome(Page.route, home, components, get(components))
        first = outcome(type(home).route, home, components, get(components))
        remembered = outcome(type(home).route, home, components, get(components))
        assert first == remembered == wagtail, components


RESTRICTED = [None, "home", "funds", "audit-truecrypt", "audit-team-shortlisted", "alias-fund"]


@pytest.mark.parametrize("restricted", RESTRICTED)
def test_every_route_of_the_demo_tree_is_wagtails(tree, restricted):
    if restricted:
        page = Page.objects.filter(slug=restricted).first() or Page.objects.get(depth=2, slug="home")
        page = page.alias_of or page  # an alias takes its source's restrictions and cannot have its own
        PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
        memo.forget()  # the restriction's purge, without a commit
    assert_routes_like_wagtail(tree)


def test_a_remembered_route_walks_nothing(tree, django_assert_num_queries):
    components = ["funds", "audit-truecrypt"]
    tree.route(get(components), components)
    with django_assert_num_queries(0):
        page, _args, _kwargs = tree.route(get(components), components)
        assert page.slug == "audit-truecrypt" and list(page.get_view_restrictions()) == []


def test_a_post_walks_the_wagtail_way(tree):
    components = ["funds", "audit-truecrypt"]
    tree.route(get(components), components)  # a GET remembers the route ...
    with CaptureQueriesContext(connection) as remembered:
        tree.route(get(components), components)
    with CaptureQueriesContext(connection) as form:
        tree.route(RequestFactory().post("/funds/audit-truecrypt/"), components)
    # ... but a form is routed the Wagtail way, from the database.
    assert len(remembered.captured_queries) == 0
    assert any('"wagtailcore_page"' in query["sql"] for query in form.captured_queries)


@pytest.mark.parametrize("restricted", ["alias-fund", "funds"])
def test_served_pages_are_wagtails_with_and_without_the_memo(tree, settings, restricted):
    source = Page.objects.get(slug=restricted)
    PageViewRestriction.objects.create(
        page=source.alias_of or source, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )
    memo.forget()
    paths = ["/" + "".join(f"{c}/" for c in components) for components in every_path(tree)]
    client = Client()
    warm = {path: client.get(path) for path in paths}
    warm = {path: client.get(path) for path in paths}  # the second time from the memo
    settings.PAGE_MEMO = False
    for path in paths:
        wagtail = client.get(path)
        assert (warm[path].status_code, warm[path].get("Location")) == (
            wagtail.status_code,
            wagtail.get("Location"),
        )
        if wagtail.status_code == 200 and "csrfmiddlewaretoken" not in wagtail.content.decode():
            assert warm[path].content == wagtail.content, path


@pytest.mark.parametrize(
    "restricted", [[], ["funds"], ["audit-truecrypt"], ["audit-team-shortlisted", "feed-fund"]]
)
def test_public_pages_like_wagtails_public(tree, restricted):
    for slug in restricted:
        PageViewRestriction.objects.create(
            page=Page.objects.get(slug=slug), restriction_type=PageViewRestriction.PASSWORD, password="x"
        )
    live = Page.objects.live()
    ours = set(public_pages(live, None).values_list("pk", flat=True))
    assert ours == set(live.public().values_list("pk", flat=True))
    assert not ours & set(Page.objects.filter(slug__in=restricted).values_list("pk", flat=True))


def test_each_locales_routes_are_its_own(tree, settings):
    """With a French tree the site root is localized first (Wagtail's `route_for_request`); the
    remembered routes of one locale never answer for the other."""
    settings.WAGTAIL_I18N_ENABLED = True
    settings.LANGUAGES = settings.WAGTAIL_CONTENT_LANGUAGES = [("en", "English"), ("fr", "French")]
    french = Locale.objects.create(language_code="fr")
    home_fr = tree.copy_for_translation(french)
    home_fr.save_revision().publish()
    index = Page.objects.get(slug="funds", locale__language_code="en")
    index_fr = index.specific.copy_for_translation(french)
    index_fr.save_revision().publish()
    fund = Page.objects.get(slug="audit-truecrypt", locale__language_code="en")
    fund.specific.copy_for_translation(french).save_revision().publish()
    memo.forget()
    for language in ["en", "fr", "en"]:
        with translation.override(language):
            site = Site.objects.get(is_default_site=True)
            root = site.root_page.localized.specific
            assert root.locale.language_code == language
            for components in [[], ["funds"], ["funds", "audit-truecrypt"], ["funds", "feed"]]:
                wagtail = outcome(Page.route, root, components, get(components))
                ours = outcome(type(root).route, root, components, get(components))
                assert ours == wagtail, (language, components)
                assert Page.objects.get(pk=ours[0]).locale.language_code == language
