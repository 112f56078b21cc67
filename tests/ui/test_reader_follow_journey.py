"""A reader follows a fund by email: the fund page's form → the confirmation email (from the real
outbox, into Django's locmem mail outbox, which the live server shares in-process) → the link's
Confirm button → "You follow". A signed-in reader is sent the link too (signing up verifies no
address), and once it is confirmed follows the next fund with one click. Also: the footer's How it
works link leads to that page.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from selenium.webdriver.common.by import By

import bounties.announcers.email  # noqa: F401  (registers the email audience and sender, as test_email does)
from bounties.models import Follower
from bounties.services.delivery import deliver_due
from content.models import ContentPage
from tests.factories import UserFactory
from tests.ui.a11y import screenshot
from tests.ui.test_backer_journey import log_in

pytestmark = pytest.mark.ui

READER = "reader@example.com"


@pytest.fixture(autouse=True)
def _email(settings):
    settings.ANNOUNCERS = "console"
    settings.FOLLOW_RATE_LIMIT = (
        ""  # the per-IP limit has its own test; every live-server request is 127.0.0.1
    )
    mail.outbox.clear()


def confirmation_path() -> str:
    """The path of the confirmation link in the one email sent to READER."""
    deliver_due()  # the outbox rows the follow staged, sent now (a no-op for any already sent)
    [message] = [m for m in mail.outbox if m.to == [READER]]
    assert "Confirm" in message.subject
    url = re.search(r"https?://\S+/follow/confirm/\S+/", message.body).group(0)
    return urlsplit(url).path


def test_reader_follows_a_fund_by_email_and_confirms_by_the_link(live_server, browser, wait, fund):
    browser.get(live_server.url + fund.url)
    form = wait.visible("form.follow-form")
    form.find_element(By.ID, "follow-email").send_keys(READER)
    with wait.navigation():
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    # The follow page, with the address carried over; sending it asks for a confirmation.
    wait.path(f"/funds/{fund.pk}/follow/")
    assert wait.visible("h1").text == "Follow Audit TrueCrypt"
    assert wait.visible("#id_email").get_attribute("value") == READER
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form.follow-form button[type=submit]").click()
    assert wait.visible("h1").text == "Check your inbox"
    assert READER in browser.find_element(By.CSS_SELECTOR, "main").text
    follower = Follower.objects.get(fund_id=fund.pk, email=READER)
    assert follower.confirmed_at is None

    # The email's link shows a Confirm button; opening it confirms nothing yet.
    path = confirmation_path()
    browser.get(live_server.url + path)
    assert wait.visible("h1").text == "Follow Audit TrueCrypt"
    assert READER in wait.visible("main p").text
    follower.refresh_from_db()
    assert follower.confirmed_at is None

    confirm = wait.clickable("main form button[type=submit]")
    assert confirm.text == "Confirm"
    with wait.navigation():
        confirm.click()
    assert wait.visible("h1").text == "You follow Audit TrueCrypt"
    assert "Your address is confirmed." in browser.find_element(By.CSS_SELECTOR, "main").text
    follower.refresh_from_db()
    assert follower.confirmed_at is not None
    screenshot(browser, "reader-follow-confirmed")


def follow_from_the_fund_page(browser, wait, live_server, fund):
    """The fund page's Follow button (no address typed: the follow page offers the account's)."""
    browser.get(live_server.url + fund.url)
    form = wait.visible("form.follow-form")
    with wait.navigation():
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.path(f"/funds/{fund.pk}/follow/")
    return wait.clickable("main form.follow-form button[type=submit]")


def test_a_signed_in_reader_confirms_once_then_follows_with_one_click(
    live_server, browser, wait, fund, make_fund
):
    UserFactory(username="reader", email=READER)  # UserFactory's password, which log_in types
    log_in(browser, wait, live_server, "reader")

    # Not verified yet: the button sends the link to the account's address; nothing is followed.
    button = follow_from_the_fund_page(browser, wait, live_server, fund)
    assert button.text == f"Send the confirmation link to {READER}"
    with wait.navigation():
        button.click()
    assert wait.visible("h1").text == "Check your inbox"
    assert not Follower.objects.get(fund_id=fund.pk, email=READER).is_active

    browser.get(live_server.url + confirmation_path())
    with wait.navigation():
        wait.clickable("main form button[type=submit]").click()
    assert wait.visible("h1").text == "You follow Audit TrueCrypt"
    mail.outbox.clear()

    # Confirmed once: the next fund is one click, and no second link is sent.
    other = make_fund(title="Fix the kernel bug", slug="fix-the-kernel-bug")
    button = follow_from_the_fund_page(browser, wait, live_server, other)
    assert button.text == f"Follow with {READER}"
    with wait.navigation():
        button.click()
    assert wait.visible("h1").text == "You follow Fix the kernel bug"
    assert Follower.objects.get(fund_id=other.pk, email=READER).is_active
    deliver_due()
    assert not [m for m in mail.outbox if m.to == [READER]]
    screenshot(browser, "reader-follow-one-click")


def test_the_footer_leads_from_the_homepage_to_how_it_works(live_server, browser, wait, home_page, fund):
    page = ContentPage(
        title="How it works",
        slug="how-it-works",
        intro="Pledges wait in escrow until the backers accept a claim.",
        body=[
            ("heading", {"text": "Claiming a bounty", "level": "h2", "anchor": "claims"}),
            ("paragraph", "<p>Backers vote on each claim, weighted by their money in escrow.</p>"),
        ],
    )
    home_page.add_child(instance=page)
    page.save_revision().publish()

    browser.get(live_server.url + "/")
    link = wait.clickable(".site-footer a[href='/how-it-works/']")
    assert link.text == "How it works"
    with wait.navigation():
        link.click()
    wait.path("/how-it-works/")
    assert wait.visible("h1").text == "How it works"
    assert wait.visible(".content-page__intro").text == page.intro
    assert "Claiming a bounty" in wait.visible(".content-page__body").text
    screenshot(browser, "reader-how-it-works")
