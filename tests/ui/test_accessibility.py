"""Every page type and state the journeys visit passes axe-core (no serious or critical violation)
and fits the window, on a desktop (1280×900) and a phone (360×740); each is saved as a screenshot
(tests/ui/screenshots/<page>-<width>.png).

The content is the demo site's (`load_demo`, about 15 s): funds open and under vote, news, a claim
under vote, backers with pledges and a creator with a proposal in review. All pages are checked
before the test fails, so one run lists every finding. Known findings are in
`tests.ui.a11y.ALLOWED`; an entry that no longer matches anything fails the test, to be removed.
"""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from selenium.webdriver.common.by import By

from bounties.models import Claim, ClaimStatus, FundPage, FundStatus, FundUpdatePage, Pledge
from tests.factories import build_site
from tests.ui.a11y import (
    ALLOWED,
    USED_ALLOWANCES,
    axe_violations,
    describe_violations,
    horizontal_overflow,
    screenshot,
)

pytestmark = pytest.mark.ui

SIZES = ((1280, 900), (360, 740))
DEMO_PASSWORD = "fundfill-backer"  # load_demo's backers and creator
BACKER = "hedy"  # backs an open fund and the one under vote, and voted on its claim
CREATOR = "dora"  # has a proposal in review


@pytest.fixture
def demo_site(live_server):
    build_site()
    Group.objects.get_or_create(name="Editors")  # load_demo's editor joins it; a flush removed it
    call_command("load_demo", stdout=StringIO())


@pytest.fixture
def sized(browser):
    """set the window to (width, height); the shared browser goes back to 1280×900 afterwards."""

    def resize(width, height):
        browser.set_window_size(width, height)
        inner = browser.execute_script("return window.innerWidth")
        assert inner == width, f"the window took the width {width} (it is {inner})"

    try:
        yield resize
    finally:
        browser.set_window_size(1280, 900)


def log_in(browser, wait, live_server, username):
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/accounts/login/?next=/wallet/")
    wait.visible("#id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    with wait.navigation():
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.path("/wallet/")


def pages():
    """[(who, name, path)] for every page type and state: who is None (anonymous) or a username."""
    open_fund = FundPage.objects.get(slug="audit-truecrypt")
    voting_fund = FundPage.objects.get(slug="bypass-touchid")
    assert open_fund.fund.status == FundStatus.OPEN and voting_fund.fund.status == FundStatus.VOTING
    claim = Claim.objects.get(fund_id=voting_fund.pk, status=ClaimStatus.VOTING)
    news = FundUpdatePage.objects.live().first()
    pledge = Pledge.objects.filter(user__username=BACKER, fund_id=voting_fund.pk).get()
    return [
        (None, "home", "/"),
        (None, "funds", "/funds/"),
        (None, "funds-voting", "/funds/?status=voting"),
        (None, "fund", open_fund.url),
        (None, "fund-voting", voting_fund.url),
        (None, "news", news.url),
        (None, "search", "/search/?q=TrueCrypt"),
        (None, "search-none", "/search/?q=zebraquiltnothing"),
        (None, "how-it-works", "/how-it-works/"),
        (None, "login", "/accounts/login/"),
        (None, "signup", "/accounts/signup/"),
        (None, "404", "/no-such-page/"),
        (BACKER, "claim", f"/claims/{claim.pk}/"),
        (BACKER, "pledge-form", f"/funds/{open_fund.pk}/pledge/"),
        (BACKER, "pledge-receipt", f"/pledges/{pledge.pk}/"),
        (BACKER, "wallet", "/wallet/"),
        (BACKER, "add-money", "/wallet/add/"),
        (BACKER, "my-pledges", "/pledges/"),
        (BACKER, "dashboard", "/dashboard/"),
        (CREATOR, "start-a-fund", "/start-a-fund/"),
        (CREATOR, "my-funds", "/my/funds/"),
    ]


def test_every_page_passes_axe_and_fits_the_window(live_server, browser, wait, sized, demo_site):
    findings = []
    signed_in = None
    visits = pages()
    for who, name, path in visits:
        if who != signed_in:
            sized(*SIZES[0])
            if who is None:
                browser.delete_all_cookies()
            else:
                log_in(browser, wait, live_server, who)
            signed_in = who
        for width, height in SIZES:
            sized(width, height)
            browser.get(live_server.url + path)
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete", "page load")
            where = f"{name} at {width} px ({path})"
            if name != "404":
                assert browser.find_elements(By.CSS_SELECTOR, "main"), f"{where}: no <main> (an error page?)"
            screenshot(browser, f"{name}-{width}")
            violations = axe_violations(browser, page=name)
            if violations:
                findings.append(describe_violations(violations, where))
            overflow = horizontal_overflow(browser, page=name)
            if overflow:
                findings.append(f"horizontal scroll at {where}: {overflow}")
    checked = {name for _, name, _ in visits}
    stale = [key for key in ALLOWED if key[1] in checked | {"*"} and key not in USED_ALLOWANCES]
    if stale:
        findings.append(f"fixed, so remove from tests/ui/a11y.py ALLOWED: {stale}")
    assert not findings, "\n\n".join(findings)
