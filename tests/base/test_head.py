"""What every page's <head> says beyond its own words: icons, and link previews that are never empty.

The homepage's own head (its URL, the featured fund's title and image) is pinned in
`tests/home/test_featured_fund.py` and `tests/home/test_link_previews.py`; here, what the
other page types add, and that the homepage's remembered head follows the featured fund.
"""

from datetime import date

import pytest
import wagtail_factories
from django.test import Client
from wagtail.rich_text import RichText

from bounties.models import FundIndexPage
from tests.factories import FundUpdatePageFactory, publish
from tests.pages_html import parse_page

pytestmark = pytest.mark.django_db

SITE_URL = "https://fundfill.example"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE_URL


def page(path):
    response = Client().get(path)
    assert response.status_code == 200, path
    return parse_page(response.content)


def served(url):
    response = Client().get(url)
    assert response.status_code == 200, url
    return response["Content-Type"], b"".join(response.streaming_content)


# --- icons ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/funds/", "/accounts/login/"])
def test_every_page_names_its_icons_and_they_are_served(fund, path):
    links = page(path).links
    assert links["icon"].endswith("/img/favicon.svg")
    assert links["apple-touch-icon"].endswith("/img/apple-touch-icon.png")

    content_type, svg = served(links["icon"])
    assert content_type.startswith("image/svg+xml") and b"<svg" in svg
    content_type, png = served(links["apple-touch-icon"])
    assert content_type == "image/png" and png.startswith(b"\x89PNG")
    assert (int.from_bytes(png[16:20]), int.from_bytes(png[20:24])) == (180, 180)  # IHDR width, height


def test_favicon_ico_is_the_svg_icon(db):
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"


# --- the fund index -------------------------------------------------------------------------


def test_the_fund_index_describes_itself_with_an_empty_promote_tab(fund_index):
    assert not fund_index.search_description and not fund_index.intro
    meta = page("/funds/").meta
    assert meta["description"] and meta["og:description"] == meta["description"]


def test_the_fund_index_description_is_its_intro_unless_the_promote_tab_says_otherwise(fund_index):
    fund_index.intro = "Every bounty on Fundfill, newest first."
    publish(fund_index)
    assert page("/funds/").meta["description"] == "Every bounty on Fundfill, newest first."

    fund_index = FundIndexPage.objects.get(pk=fund_index.pk)
    fund_index.search_description = "Bounties you can back today."
    publish(fund_index)
    meta = page("/funds/").meta
    assert meta["description"] == meta["og:description"] == "Bounties you can back today."


# --- news -----------------------------------------------------------------------------------


@pytest.fixture
def news(make_fund):
    fund = make_fund(
        title="Audit TrueCrypt",
        slug="audit-truecrypt",
        summary="An independent audit of TrueCrypt.",
        image=wagtail_factories.ImageFactory(title="truecrypt", file__filename="truecrypt.png"),
    )
    return FundUpdatePageFactory(
        parent=fund,
        title="Auditors chosen",
        slug="auditors-chosen",
        date=date(2026, 2, 1),
        body=[("paragraph", RichText("<p>Two firms will read <b>every</b> line &amp; build.</p>"))],
    )


def test_news_is_an_article_with_its_funds_image_and_date(news):
    meta = page("/funds/audit-truecrypt/auditors-chosen/").meta
    assert meta["og:type"] == "article"
    assert meta["article:published_time"] == "2026-02-01"
    assert meta["og:image"].startswith(f"{SITE_URL}/media/images/truecrypt")
    assert meta["og:image"] == meta["twitter:image"]
    assert meta["og:image:alt"] == "Audit TrueCrypt"
    assert meta["twitter:card"] == "summary_large_image"
    # The first paragraph, as text, when the promote tab is empty.
    assert meta["description"] == meta["og:description"] == "Two firms will read every line & build."


def test_news_without_words_or_a_fund_image_still_previews(make_fund):
    fund = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Unlock an iPhone.", image=None)
    FundUpdatePageFactory(parent=fund, title="Started", slug="started")
    meta = page("/funds/bypass-touchid/started/").meta
    assert meta["og:type"] == "article"
    assert "og:image" not in meta and meta["twitter:card"] == "summary"
    assert meta["description"] == "Unlock an iPhone."  # the fund's summary


def test_other_pages_are_not_articles(fund):
    meta = page("/funds/").meta
    assert meta["og:type"] == "website" and "article:published_time" not in meta


# --- the homepage's remembered head ---------------------------------------------------------


def test_featuring_another_fund_changes_the_remembered_head_at_the_next_render(
    page_cache, home_page, make_fund, django_capture_on_commit_callbacks
):
    """With the page cache and the memo on: the head is remembered per publish, and featuring is one."""
    a = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt", summary="Audit it.")
    b = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Unlock an iPhone.")
    with django_capture_on_commit_callbacks(execute=True):
        home_page.featured_fund = a
        publish(home_page)
    first = page("/")
    assert page("/").title == first.title == "Fundfill · Audit TrueCrypt"  # rendered, then remembered

    with django_capture_on_commit_callbacks(execute=True):
        home_page.featured_fund = b
        publish(home_page)

    head = page("/")
    assert head.title == "Fundfill · Bypass TouchID"
    assert head.meta["og:title"] == "Bypass TouchID"
    assert head.meta["description"] == "Unlock an iPhone."
    assert head.links["canonical"] == head.meta["og:url"] == f"{SITE_URL}/"
    assert "Audit TrueCrypt" not in "\n".join(head.head)
