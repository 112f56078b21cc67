"""Link previews (what X, HN or Slack show for a shared link) and what an uncached render costs."""

import pytest
import wagtail_factories
from django.test import Client
from django.urls import reverse

from bounties.models import Fund
from pagecache import memo
from tests.factories import FundUpdatePageFactory, publish
from tests.pages_html import parse_page

SITE_URL = "https://fundfill.example"

OPEN_GRAPH = ["og:type", "og:site_name", "og:title", "og:description", "og:url", "og:image"]
TWITTER = ["twitter:card", "twitter:title", "twitter:description", "twitter:image"]


@pytest.fixture
def featured(settings, home_page, make_fund):
    settings.SITE_URL = SITE_URL
    fund = make_fund(
        title="Audit TrueCrypt",
        slug="audit-truecrypt",
        summary="An independent audit of the TrueCrypt source & build.",
        image=wagtail_factories.ImageFactory(
            title="truecrypt", file__filename="truecrypt.png", file__width=1600, file__height=900
        ),
    )
    home_page.featured_fund = fund
    publish(home_page)
    return fund


def assert_link_preview(html, *, title, description, url, image_stem, document_title=None, type="article"):
    page = parse_page(html)
    for key in ["description", *OPEN_GRAPH, *TWITTER, "og:image:width", "og:image:height"]:
        assert page.meta_counts.get(key) == 1, f"{key} appears {page.meta_counts.get(key, 0)} times"
    assert page.title == (document_title or f"{title} · Fundfill")
    assert page.links["canonical"] == url
    assert page.meta["description"] == description
    assert page.meta["og:type"] == type
    assert page.meta["og:site_name"] == "Fundfill"
    assert page.meta["og:title"] == page.meta["twitter:title"] == title
    assert page.meta["og:description"] == page.meta["twitter:description"] == description
    assert page.meta["og:url"] == url
    image = page.meta["og:image"]
    assert image == page.meta["twitter:image"]
    assert image.startswith(f"{SITE_URL}/media/images/{image_stem}") and ".fill-1200x630." in image
    assert (page.meta["og:image:width"], page.meta["og:image:height"]) == ("1200", "630")
    assert page.meta["twitter:card"] == "summary_large_image"


def test_the_fund_page_previews_as_the_fund(client, featured):
    html = client.get("/funds/audit-truecrypt/").content
    assert_link_preview(
        html,
        title="Audit TrueCrypt",
        description="An independent audit of the TrueCrypt source & build.",
        url=f"{SITE_URL}/funds/audit-truecrypt/",
        image_stem="truecrypt",
    )


def test_the_homepage_is_itself_and_previews_with_its_featured_fund(client, featured):
    """Its own URL and a title naming the site first; the card's title and image are the fund's, as in the hero."""
    html = client.get("/").content
    assert_link_preview(
        html,
        title="Audit TrueCrypt",
        document_title="Fundfill · Audit TrueCrypt",
        description="An independent audit of the TrueCrypt source & build.",
        url=f"{SITE_URL}/",
        type="website",
        image_stem="truecrypt",
    )


def test_the_homepage_description_is_the_sites_pitch_then_the_fund(client, featured, home_page):
    home_page.search_description = "Crowdfunded bounties held in escrow."
    publish(home_page)

    page = parse_page(client.get("/").content)
    expected = "Crowdfunded bounties held in escrow. An independent audit of the TrueCrypt source & build."
    assert page.meta["description"] == page.meta["og:description"] == expected


def test_the_promote_tab_overrides_the_fund_text(client, featured):
    featured.seo_title = "Audit TrueCrypt: every line, in public"
    featured.search_description = "We pay auditors; you read the report."
    publish(featured)

    page = parse_page(client.get("/").content)
    assert page.title == "Fundfill · Audit TrueCrypt: every line, in public"
    assert page.meta["og:title"] == "Audit TrueCrypt: every line, in public"
    assert page.meta["description"] == "We pay auditors; you read the report."


def test_other_pages_describe_themselves(client, featured):
    FundUpdatePageFactory(parent=featured, title="Auditors chosen", slug="auditors-chosen")
    page = parse_page(client.get("/funds/audit-truecrypt/auditors-chosen/").content)
    assert page.title == "Auditors chosen · Fundfill"
    assert page.meta["og:title"] == "Auditors chosen"
    assert page.links["canonical"] == f"{SITE_URL}/funds/audit-truecrypt/auditors-chosen/"
    # News has no image of its own: it previews with its fund's (tests/base/test_head.py).
    assert page.meta["twitter:card"] == "summary_large_image"


def test_views_that_are_not_pages_keep_their_own_title(client, featured):
    page = parse_page(client.get("/accounts/login/").content)
    assert page.title == "Log in · Fundfill"


# --- what an uncached render costs ---------------------------------------------------------


@pytest.fixture
def busy_site(featured, make_fund):
    """The featured fund with news and five more open funds on the homepage, counters set."""
    for n in range(5):
        make_fund(
            title=f"Fund {n}",
            slug=f"fund-{n}",
            image=wagtail_factories.ImageFactory(file__filename=f"fund-{n}.png"),
        )
    for n in range(3):
        FundUpdatePageFactory(parent=featured, title=f"News {n}", slug=f"news-{n}")
    Fund.objects.update(pledged_cents=12_300, backer_count=4)
    return featured


@pytest.mark.parametrize(
    "path, bound",
    [
        # Six fund cards with images and counters, the featured fund with its image and then its
        # counters (read apart, as every warm render does): one query each list.
        ("/", 10),
        # Site, homepage, Wagtail's walk (the child, then its specific row, a level), its view
        # restrictions, the fund's image, news (and its restriction check), incident notice,
        # the counters, the pledges by day for its chart (live, as the counters are; skipped when
        # nothing is pledged), its terms history and its public timeline: nothing per news item.
        ("/funds/audit-truecrypt/", 16),
        ("/funds/", 10),
    ],
)
def test_pages_render_cold_in_a_bounded_number_of_queries(
    client, busy_site, path, bound, django_assert_max_num_queries
):
    client.get(path)  # renditions are made on first use
    memo.forget()  # the cold render, as after a publish (tests/pagecache/test_memo.py: the warm one)
    with django_assert_max_num_queries(bound):
        assert client.get(path).status_code == 200


# --- what the editor sees --------------------------------------------------------------------


@pytest.fixture
def editor(admin_client):
    return admin_client


def test_the_homepage_editor_is_warned_when_the_featured_fund_is_not_live(editor, featured, home_page):
    edit_url = reverse("wagtailadmin_pages:edit", args=(home_page.pk,))
    assert "is not published" not in editor.get(edit_url).content.decode()

    featured.unpublish()

    html = editor.get(edit_url).content.decode()
    assert "“Audit TrueCrypt” is not published." in html


def test_unpublishing_the_featured_fund_warns_the_editor(editor, featured):
    response = editor.post(reverse("wagtailadmin_pages:unpublish", args=(featured.pk,)), follow=True)
    html = response.content.decode()
    assert "“Audit TrueCrypt” was the featured fund on “Fundfill”" in html
    # And the homepage still works, on the site's own metadata.
    assert parse_page(Client().get("/").content).meta["og:title"] == "Fundfill"


def test_deleting_the_featured_fund_warns_the_editor(editor, featured):
    response = editor.post(reverse("wagtailadmin_pages:delete", args=(featured.pk,)), follow=True)
    html = response.content.decode()
    assert "“Audit TrueCrypt” was the featured fund on “Fundfill”" in html
    assert Client().get("/").status_code == 200


def test_unpublishing_another_fund_says_nothing_about_the_homepage(editor, featured, make_fund):
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid")
    response = editor.post(reverse("wagtailadmin_pages:unpublish", args=(other.pk,)), follow=True)
    assert "was the featured fund" not in response.content.decode()


def test_the_featured_fund_chooser_lists_live_funds_only(editor, featured, make_fund, fund_index):
    draft = make_fund(title="Unpublished draft fund", slug="draft-fund")
    draft.unpublish()
    url = reverse("wagtailadmin_choose_page_child", args=(fund_index.pk,))
    html = editor.get(url, {"page_type": "bounties.fundpage"}).content.decode()
    assert "Audit TrueCrypt" in html
    assert "Unpublished draft fund" not in html
    # Other choosers (any page type) still list everything.
    assert "Unpublished draft fund" in editor.get(url).content.decode()
