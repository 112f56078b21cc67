"""Selenium harness: one headless Debian Chromium per test session (per xdist worker).

Journeys run against pytest-django's `live_server`, so each test gets a
transactional database that is flushed afterwards: build content inside the test
with `build_site()` and the factories. Wait with `wait` (WebDriverWait), never
with sleeps. When a journey fails, a screenshot and the page's HTML go to a temp
directory whose path is printed with the failure.
"""

import os
import re
import shutil
import tempfile
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]
WAIT_SECONDS = 10

# Belt and braces: with both paths given Selenium Manager is never asked for a
# driver, and offline it could not download one anyway.
os.environ.setdefault("SE_OFFLINE", "true")


def chromium_options(user_data_dir):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    return options


@pytest.fixture(scope="session")
def chromium():
    """The session's browser; started on first use, so a worker with no UI tests starts none."""
    profile = tempfile.mkdtemp(prefix="fundfill-chromium-")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(profile))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium, live_server):
    """The shared browser, starting each test blank and with no cookies from the one before."""
    yield chromium
    chromium.delete_all_cookies()
    # Leave the page before the database is flushed, so nothing reloads against it.
    chromium.get("about:blank")


class Wait:
    """Explicit waits on the browser (WebDriverWait); each fails with a message saying what it waited for."""

    def __init__(self, driver, timeout=WAIT_SECONDS):
        self.driver = driver
        self.timeout = timeout

    def until(self, condition, message=""):
        return WebDriverWait(self.driver, self.timeout).until(condition, message)

    def visible(self, css):
        return self.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), f"{css} visible")

    def all_visible(self, css):
        return self.until(
            ec.visibility_of_all_elements_located((By.CSS_SELECTOR, css)), f"all of {css} visible"
        )

    def clickable(self, css):
        return self.until(ec.element_to_be_clickable((By.CSS_SELECTOR, css)), f"{css} clickable")

    def text(self, css, text):
        """Wait until the element's text contains `text`; return the element."""
        self.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), f"{css} contains {text!r}")
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def path(self, path):
        """Wait until the current URL's path (without query) is `path`."""

        def at_path(driver):
            return re.sub(r"^https?://[^/]+", "", driver.current_url).split("?")[0] == path

        self.until(at_path, f"URL path {path!r} (at {self.driver.current_url})")

    @contextmanager
    def navigation(self):
        """Wrap an action that loads a new page: wait until the old page is gone and the new one loaded."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        try:
            yield
        except WebDriverException as error:
            # ChromeDriver sometimes inspects the clicked node after the click has already
            # replaced the page. The click was delivered; the staleness wait below still fails
            # the test if no navigation happened.
            if "does not belong to the document" not in str(error):
                raise
        self.until(lambda driver: _detached(old), "the page to be replaced")
        self.until(
            lambda d: d.execute_script("return document.readyState") == "complete", "the new page to load"
        )


def _detached(element) -> bool:
    """Staleness as ChromeDriver reports it: a stale reference, or (in some builds) an inspector
    error saying the node no longer belongs to the document. Both mean the old page is gone."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


@pytest.fixture
def wait(browser):
    return Wait(browser)


_failure_dir = None


def failure_dir():
    global _failure_dir
    if _failure_dir is None:
        _failure_dir = tempfile.mkdtemp(prefix="fundfill-ui-failures-")
    return _failure_dir


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed journey, save what the browser showed before the fixtures clean up."""
    outcome = yield
    report = outcome.get_result()
    driver = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or driver is None:
        return
    stem = os.path.join(failure_dir(), re.sub(r"[^\w.-]+", "_", item.nodeid))
    try:
        driver.save_screenshot(f"{stem}.png")
        with open(f"{stem}.html", "w") as f:
            f.write(driver.page_source)
        url = driver.current_url
    except Exception as exc:  # noqa: BLE001 - the browser itself may be what failed
        report.sections.append(("ui failure", f"could not capture the browser: {exc!r}"))
        return
    report.sections.append(("ui failure", f"at {url}\nscreenshot: {stem}.png\nHTML: {stem}.html"))
