"""Content pages (How it works, Terms, …): where editors may put them, what readers see, and search."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from wagtail.coreutils import get_dummy_request
from wagtail.models import Page
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from bounties.models import FundIndexPage, FundPage
from content.blocks import CallToActionBlock
from content.models import ContentPage
from home.models import HomePage
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

BODY = [
    ("heading", {"text": "Claiming a bounty", "level": "h2", "anchor": "claims"}),
    ("paragraph", "<p>Backers vote on each claim, weighted by their money in escrow.</p>"),
    ("heading", {"text": "How backers vote", "level": "h2", "anchor": ""}),
    ("paragraph", "<p>A claim that misses the quorum is rejected when voting closes.</p>"),
    ("heading", {"text": "Questions", "level": "h2", "anchor": "questions"}),
    ("question", {"question": "Do I have to vote?", "answer": "<p>No, but silence is not consent.</p>"}),
    ("call_to_action", {"text": "See the open funds", "page": None, "url": "/funds/"}),
]


@pytest.fixture
def wagtail_asserts(client):
    """Wagtail's page assertions (assertCanCreateAt, assertPageIsRenderable, ...) for plain test functions."""
    asserts = WagtailPageTestCase()
    asserts.client = client
    asserts.dummy_request = get_dummy_request()
    return asserts


@pytest.fixture
def how_it_works(home_page):
    page = ContentPage(
        title="How it works",
        slug="how-it-works",
        intro="Pledges wait in escrow until the backers accept a claim.",
        body=BODY,
    )
    home_page.add_child(instance=page)
    page.save_revision().publish()
    return page


# Page type rules --------------------------------------------------------------------------------


def test_content_pages_go_under_the_homepage_or_another_content_page(wagtail_asserts):
    wagtail_asserts.assertAllowedParentPageTypes(ContentPage, {HomePage, ContentPage})
    wagtail_asserts.assertCanCreateAt(HomePage, ContentPage)
    wagtail_asserts.assertCanCreateAt(ContentPage, ContentPage)
    wagtail_asserts.assertCanNotCreateAt(FundIndexPage, ContentPage)
    wagtail_asserts.assertCanNotCreateAt(FundPage, ContentPage)
    wagtail_asserts.assertCanNotCreateAt(Page, ContentPage)


def test_content_pages_hold_only_content_pages(wagtail_asserts):
    wagtail_asserts.assertAllowedSubpageTypes(ContentPage, {ContentPage})


def test_an_editor_can_create_one_in_the_admin(client, home_page, wagtail_asserts):
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))

    wagtail_asserts.assertCanCreate(
        home_page,
        ContentPage,
        nested_form_data(
            {
                "title": "Terms",
                "slug": "terms",
                "intro": "The rules, in plain words.",
                "body": streamfield(
                    [
                        ("heading", {"text": "Pledges", "level": "h2", "anchor": "pledges"}),
                        ("paragraph", rich_text("<p>A pledge keeps the terms of its day.</p>")),
                        (
                            "question",
                            {"question": "Can I withdraw?", "answer": rich_text("<p>Sometimes.</p>")},
                        ),
                    ]
                ),
            }
        ),
    )
    page = ContentPage.objects.child_of(home_page).get(slug="terms")
    assert [block.block_type for block in page.body] == ["heading", "paragraph", "question"]


# Rendering --------------------------------------------------------------------------------------


def test_it_renders_with_anchored_headings_a_contents_list_and_the_faq(client, how_it_works, wagtail_asserts):
    wagtail_asserts.assertPageIsRenderable(how_it_works)

    response = client.get("/how-it-works/")

    assert response.status_code == 200
    html = parse_html(response.content)
    assert [h1.text for h1 in html.find_all("h1")] == ["How it works"]
    assert (
        html.find(class_="content-page__intro").text
        == "Pledges wait in escrow until the backers accept a claim."
    )
    body = html.find(class_="content-page__body")
    # An empty anchor is made from the heading's text, so every section can be linked to.
    assert [(h2.get("id"), h2.text) for h2 in body.find_all("h2")] == [
        ("claims", "Claiming a bounty"),
        ("how-backers-vote", "How backers vote"),
        ("questions", "Questions"),
    ]
    toc = html.find("nav", class_="content-page__toc")
    assert [a.get("href") for a in toc.find_all("a")] == ["#claims", "#how-backers-vote", "#questions"]
    # The question opens and closes by itself: <details>, its question the <summary>.
    faq = body.find("details")
    assert faq.find("summary").text == "Do I have to vote?"
    assert "silence is not consent" in faq.text
    assert body.find("a", class_="button").get("href") == "/funds/"


def test_its_link_preview_reads_the_intro(client, how_it_works):
    html = parse_html(client.get("/how-it-works/").content)

    description = html.find("meta", name="description")
    assert description.get("content") == "Pledges wait in escrow until the backers accept a claim."


def test_a_short_page_has_no_contents_list(client, home_page):
    page = ContentPage(title="Contact", slug="contact", body=[("paragraph", "<p>Write to us.</p>")])
    home_page.add_child(instance=page)
    page.save_revision().publish()

    html = parse_html(client.get("/contact/").content)

    assert html.find_all("nav", class_="content-page__toc") == []
    assert html.find(class_="content-page__body").text == "Write to us."


def test_every_page_links_to_the_site_pages_in_its_footer(client, how_it_works):
    footer = parse_html(client.get("/").content).find("footer", class_="site-footer")

    assert [a.get("href") for a in footer.find_all("a")] == [
        "/how-it-works/",
        "/terms/",
        "/privacy/",
        "/contact/",
        "/funds/feed/",
        "/feedback/?from=%2F",  # feedback from the page it is on (feedback app)
    ]


# Search -----------------------------------------------------------------------------------------


def test_it_is_found_by_a_word_only_in_its_body(how_it_works):
    assert list(ContentPage.objects.live().search("quorum")) == [how_it_works]
    assert [page.specific for page in Page.objects.live().search("quorum")] == [how_it_works]


def test_a_word_in_a_question_finds_it_too(how_it_works):
    assert list(ContentPage.objects.live().search("consent")) == [how_it_works]


def test_the_site_search_finds_it(client, how_it_works):
    response = client.get("/search/", {"q": "quorum"})
    assert response.status_code == 200
    assert how_it_works.title in response.content.decode()
    assert how_it_works.url in response.content.decode()


# Calls to action --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"text": "Go", "page": None, "url": ""},  # nowhere
        {"text": "Go", "page": "home", "url": "/funds/"},  # two places
        {"text": "Go", "page": None, "url": "javascript:alert(1)"},  # not a page or mail
    ],
)
def test_a_call_to_action_links_to_exactly_one_safe_place(home_page, value):
    block = CallToActionBlock()
    if value["page"] == "home":
        value = {**value, "page": home_page}

    with pytest.raises(ValidationError):
        block.clean(block.to_python({**value, "page": value["page"] and value["page"].pk}))


def test_a_call_to_action_to_a_page_links_to_its_url(home_page):
    block = CallToActionBlock()
    value = block.clean(block.to_python({"text": "Home", "page": home_page.pk, "url": ""}))

    assert parse_html(block.render(value)).find("a").get("href") == "/"
