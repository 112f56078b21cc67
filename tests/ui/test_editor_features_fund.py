"""An editor features another fund in the Wagtail admin; the next reader sees it (T24).

The reader is a cookie-less HTTP client, as a link-preview crawler or a first visit is,
and reads the homepage from the anonymous page cache both before and after the switch.
"""

import pytest
import requests
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from tests.factories import publish
from tests.pages_html import head_and_hero_text, parse_page

pytestmark = pytest.mark.ui

PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(db):
    return get_user_model().objects.create_superuser("editor", "editor@example.com", PASSWORD)


@pytest.fixture
def funds(home_page, make_fund):
    a = make_fund(
        title="Audit TrueCrypt", slug="audit-truecrypt", summary="An independent audit of TrueCrypt."
    )
    b = make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Lift a print and unlock an iPhone.")
    home_page.featured_fund = a
    publish(home_page)
    return a, b


def reader_loads_homepage(live_server):
    """A fresh, cookie-less reader."""
    response = requests.get(live_server.url + "/", timeout=10)
    assert response.status_code == 200
    return response


def test_editor_features_another_fund_and_the_next_reader_sees_it(
    live_server, browser, wait, page_cache, editor, funds, home_page
):
    # Readers are being served the homepage featuring A from the cache.
    reader_loads_homepage(live_server)
    before = reader_loads_homepage(live_server)
    assert before.headers["X-Page-Cache"] == "hit"
    assert parse_page(before.text).meta["og:title"] == "Audit TrueCrypt"

    # The editor signs in to the admin and opens the homepage.
    browser.get(f"{live_server.url}/admin/login/")
    wait.visible("#id_username").send_keys("editor")
    browser.find_element(By.CSS_SELECTOR, "#id_password").send_keys(PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    browser.get(f"{live_server.url}/admin/pages/{home_page.pk}/edit/")
    chooser = wait.visible("#id_featured_fund-chooser")
    assert chooser.find_element(By.CSS_SELECTOR, "[data-chooser-title]").text == "Audit TrueCrypt"

    # Featured fund → "Choose another page" → B in the chooser.
    chooser.find_element(By.CSS_SELECTOR, "[data-w-dropdown-target=toggle]").click()
    wait.clickable("#id_featured_fund-chooser [data-chooser-action-choose]").click()
    choice = wait.clickable(".modal a.choose-page[data-title='Bypass TouchID']")
    choice.click()
    wait.text("#id_featured_fund-chooser [data-chooser-title]", "Bypass TouchID")

    # Publish (from the footer's action menu).
    browser.find_element(By.CSS_SELECTOR, "footer .w-dropdown-button [data-w-dropdown-target=toggle]").click()
    with wait.navigation():
        wait.clickable("button[name=action-publish]").click()
    wait.text(".messages", "published")

    # The reader's very next load shows B everywhere, and none of A, in <head> and the hero.
    after = reader_loads_homepage(live_server)
    page = parse_page(after.text)
    assert page.meta["og:title"] == page.meta["twitter:title"] == "Bypass TouchID"
    assert page.meta["og:description"] == "Lift a print and unlock an iPhone."
    assert page.links["canonical"].endswith("/funds/bypass-touchid/")
    assert "Bypass TouchID" in "\n".join(page.hero)
    seen = head_and_hero_text(page)
    for old in ["Audit TrueCrypt", "An independent audit of TrueCrypt.", "/funds/audit-truecrypt/"]:
        assert old not in seen
