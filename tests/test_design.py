"""The site's wording and markup for readers (issue 13): labels without Django's trailing colon, help and
errors tied to their inputs, empty lists that offer a way on, one link per fund card, a skip link first.

Rendered by the test client and read with `tests.pages_html`; the layout at phone widths is checked in a
browser by `tests/ui/test_accessibility.py`.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from bounties.models import FundStatus
from tests.factories import UserFactory, publish
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

FOCUSABLE = {"a", "button", "input", "select", "textarea", "summary"}


def page(response):
    assert response.status_code in (200, 400, 404), response.status_code
    return parse_html(response.content)


def main(response):
    return page(response).find("main")


def labels(tree):
    return [label.text for label in tree.find_all("label")] + [
        legend.text for legend in tree.find_all("legend")
    ]


def hrefs(tree):
    return {link.attrs.get("href") for link in tree.find_all("a")}


def ids(tree):
    return {el.attrs["id"] for el in tree.iter() if el.attrs.get("id")}


def assert_described_by_ids_exist(tree):
    present = ids(tree)
    described = [el for el in tree.iter() if el.attrs.get("aria-describedby")]
    for el in described:
        for name in el.attrs["aria-describedby"].split():
            assert name in present, f"{el!r} is described by #{name}, which is not on the page"
    return described


@pytest.fixture
def creator(fund_index):
    # Older than `new_account_days`, like the creators in tests/bounties/test_proposal_views.py.
    return UserFactory(username="carol", date_joined=timezone.now() - timedelta(days=30))


# --- Labels, help and errors ------------------------------------------------------------------------


def test_sign_up_labels_have_no_colon_and_the_help_is_for_a_person(client, site_tree):
    form = main(client.get("/accounts/signup/")).find("form")
    assert labels(form) and not [text for text in labels(form) if text.endswith(":")], labels(form)
    assert "Letters, digits and @ . + - _; up to 150 characters." in form.text
    assert "Required. 150 characters or fewer" not in form.text


def test_sign_up_help_and_errors_are_the_inputs_descriptions(client, site_tree):
    tree = page(client.get("/accounts/signup/"))
    described = assert_described_by_ids_exist(tree)
    assert {el.attrs["name"] for el in described} >= {"username", "email", "password1"}
    # After a refused sign-up the errors join the help.
    tree = page(client.post("/accounts/signup/", {"username": "", "email": "not-an-email"}))
    described = assert_described_by_ids_exist(tree)
    username = next(el for el in described if el.attrs["name"] == "username")
    assert username.attrs["aria-describedby"].split() == ["id_username_helptext", "id_username_error"]


def test_pledge_form_labels_have_no_colon(client, user, fund):
    client.force_login(user)
    tree = page(client.get(f"/funds/{fund.pk}/pledge/"))
    form = tree.find("form", class_="pledge-form")
    assert labels(form) and not [text for text in labels(form) if text.endswith(":")], labels(form)
    assert_described_by_ids_exist(tree)


def test_log_in_and_password_reset_labels_have_no_colon(client, site_tree):
    for url in ("/accounts/login/", "/accounts/password_reset/"):
        form = main(client.get(url)).find("form")
        assert labels(form) and not [text for text in labels(form) if text.endswith(":")], (url, labels(form))


def test_proposal_form_labels_have_no_colon(client, creator):
    client.force_login(creator)
    tree = page(client.get("/start-a-fund/"))
    form = tree.find("form", id="proposal-form")
    assert labels(form) and not [text for text in labels(form) if text.endswith(":")], labels(form)
    assert_described_by_ids_exist(tree)


# --- Dead ends --------------------------------------------------------------------------------------


def test_an_empty_filter_offers_to_clear_it_and_to_start_a_fund(client, fund):
    tree = main(client.get("/funds/", {"status": FundStatus.VOTING}))
    empty = tree.find(class_="fund-index__empty")
    assert {"?", "/start-a-fund/"} <= hrefs(empty), hrefs(empty)


def test_an_empty_fund_index_offers_to_start_one(client, fund_index):
    empty = main(client.get("/funds/")).find(class_="fund-index__empty")
    assert {"/start-a-fund/", "/how-it-works/"} <= hrefs(empty), hrefs(empty)


def test_a_search_without_results_suggests_other_words_and_links_on(client, fund):
    tree = main(client.get("/search/", {"q": "zyzzyva"}))
    empty = tree.find(class_="search-empty")
    assert "other words" in empty.text
    assert {"/funds/", "/how-it-works/"} <= hrefs(empty), hrefs(empty)


def test_the_404_search_box_is_the_sites(client, site_tree):
    tree = main(client.get("/no-such-page/"))
    form = tree.find("form", class_="search-form")
    box = form.find("input", type="search")
    assert box.attrs["id"] in {label.attrs.get("for") for label in form.find_all("label")}


# --- Cards, homepage, skip link ---------------------------------------------------------------------


def test_a_fund_card_is_one_link(client, fund):
    cards = main(client.get("/funds/")).find_all("article", class_="fund-card")
    assert cards
    for card in cards:
        links = card.find_all("a")
        assert len(links) == 1 and "fund-card__link" in links[0].attrs["class"].split(), links


def test_the_featured_fund_is_not_listed_twice_and_the_intro_is_above_its_button(
    client, home_page, make_fund
):
    featured = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt")
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid")
    home_page.featured_fund = featured
    home_page.intro = "<p>Backers pledge; the money waits in escrow.</p>"
    publish(home_page)
    tree = main(client.get("/"))
    titles = [title.text for title in tree.find_all(class_="fund-card__title")]
    assert titles == [other.title]
    hero = tree.find(class_="featured-fund")
    order = [el.attrs["class"] for el in hero.iter() if el.attrs.get("class") in ("hero__intro", "button")]
    assert order == ["hero__intro", "button"], order


def test_the_skip_link_is_the_first_focusable_element(client, fund):
    for response in (
        client.get("/"),
        client.get("/funds/"),
        client.get(fund.url),
        client.get("/accounts/signup/"),
    ):
        tree = page(response)
        body = tree.find("body")
        first = next(el for el in body.iter() if el.tag in FOCUSABLE and el.attrs.get("type") != "hidden")
        assert first.tag == "a" and first.attrs["href"] == "#main" and first.text == "Skip to content"
        assert tree.find("main", id="main")


def test_the_phone_menu_opens_the_main_nav_without_script(client, site_tree):
    header = page(client.get("/funds/")).find("header", class_="site-header")
    toggle = header.find("button", class_="site-menu-toggle")
    nav = header.find("nav", class_="site-nav")
    assert toggle.attrs["popovertarget"] == nav.attrs["id"] and "popover" in nav.attrs
    assert toggle.attrs["type"] == "button"
