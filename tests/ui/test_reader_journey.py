"""A reader finds a fund: homepage → featured fund → its progress and news → back to it via search."""

from datetime import date

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from wagtail.rich_text import RichText

from bounties.models import Fund
from tests.factories import FundUpdatePageFactory, publish
from tests.ui.a11y import screenshot

pytestmark = pytest.mark.ui

# A word only the featured fund's body uses, so finding the fund proves the body is indexed.
BODY_WORD = "cryptanalysis"


@pytest.fixture
def featured_fund(home_page, make_fund):
    fund = make_fund(
        title="Audit TrueCrypt",
        slug="audit-truecrypt",
        summary="An independent audit of TrueCrypt.",
        goal_cents=100_000,
        body=[("paragraph", RichText(f"<p>Pay for a professional {BODY_WORD} of the bootloader.</p>"))],
    )
    make_fund(title="Bypass TouchID", slug="bypass-touchid", summary="Show a fingerprint bypass.")
    # Totals belong to the money side; pledging would set them, here we set them directly.
    Fund.objects.filter(page=fund).update(pledged_cents=37_000, backer_count=12)
    # Created out of date order, so a listing by creation would show them wrongly.
    FundUpdatePageFactory(parent=fund, title="First report published", date=date(2026, 3, 1))
    FundUpdatePageFactory(parent=fund, title="Fund launched", date=date(2026, 1, 5))
    FundUpdatePageFactory(parent=fund, title="Auditors chosen", date=date(2026, 2, 10))
    home_page.featured_fund = fund
    publish(home_page)
    return fund


def test_reader_follows_the_featured_fund_and_finds_it_by_search(live_server, browser, wait, featured_fund):
    # The homepage leads with the featured fund.
    browser.get(live_server.url + "/")
    hero_link = wait.visible(".hero__title a")
    assert hero_link.text == "Audit TrueCrypt"

    # Following it opens the fund page.
    with wait.navigation():
        hero_link.click()
    wait.path("/funds/audit-truecrypt/")
    assert wait.visible("h1").text == "Audit TrueCrypt"

    # 370 of 1,000 dollars pledged: the bar says 37 %, with the money and the backers beside it.
    bar = wait.visible(".fund__money [role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "37"
    assert bar.get_attribute("aria-valuemax") == "100"
    fill = bar.find_element(By.CSS_SELECTOR, ".progress__fill")
    assert round(fill.size["width"] * 100 / bar.size["width"]) == 37
    figures = browser.find_element(By.CSS_SELECTOR, ".fund__money .progress__figures").text
    assert "$370 pledged of $1,000" in figures
    assert "12 backers" in figures

    # News, newest first.
    news = [h.text for h in wait.all_visible(".fund__news .news-item h3")]
    assert news == ["First report published", "Auditors chosen", "Fund launched"]

    # The header search box finds the fund by a word of its body, and only that fund.
    box = wait.clickable("#site-search-q")
    box.send_keys(BODY_WORD)
    with wait.navigation():
        box.send_keys(Keys.ENTER)
    wait.path("/search/")
    results = wait.all_visible(".search-result h2 a")
    assert [r.text for r in results] == ["Audit TrueCrypt"]
    assert wait.visible(".search-count").text.startswith("1 result ")

    # Clicking the result leads back to the fund.
    with wait.navigation():
        results[0].click()
    wait.path("/funds/audit-truecrypt/")
    assert wait.visible("h1").text == "Audit TrueCrypt"
    screenshot(browser, "reader-journey")
