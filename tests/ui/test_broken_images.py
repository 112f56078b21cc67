"""A fund whose image file is gone from storage still lays out within the window, phone to desktop.

Two ways an image breaks in production: the files vanish after their rendition was recorded (an
ephemeral disk restarted, a bucket emptied), so the page keeps `<img width="960" height="400">`
pointing at a 404; or the original is missing before any rendition, so Wagtail renders its
"not-found" placeholder. Either way the page must not grow wider than the window.
"""

import pytest
from django.core.files.storage import default_storage
from wagtail_factories import ImageFactory

from tests.factories import publish

pytestmark = pytest.mark.ui

WIDTHS = (360, 1280)


def delete_files(image):
    for rendition in image.renditions.all():
        default_storage.delete(rendition.file.name)
    default_storage.delete(image.file.name)


@pytest.fixture
def sized_window(browser):
    def resize(width):
        browser.set_window_size(width, 900)
        assert browser.execute_script("return window.innerWidth") == width, "the window took the width"

    yield resize
    browser.set_window_size(1280, 900)


@pytest.fixture(params=["files lost after rendering", "original missing before rendering"])
def broken_fund(request, home_page, make_fund, client):
    image = ImageFactory(
        title="Lost shot", file__filename="lost-shot.png", file__width=1600, file__height=900
    )
    fund = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt", image=image)
    home_page.featured_fund = fund
    publish(home_page)
    if request.param == "files lost after rendering":
        for path in ("/", fund.url):
            assert client.get(path).status_code == 200  # records the renditions the pages use
        assert image.renditions.exists()
    delete_files(image)
    return fund


@pytest.mark.parametrize("path", ["/funds/audit-truecrypt/", "/"], ids=["fund page", "homepage"])
def test_a_broken_fund_image_never_widens_the_page(
    live_server, browser, wait, sized_window, broken_fund, path
):
    for width in WIDTHS:
        sized_window(width)
        browser.get(live_server.url + path)
        wait.visible("h1, .hero__title")
        image = browser.find_element("css selector", ".fund__image, .hero__image")
        loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        assert not loaded, "the image is broken, as the test intends"

        scroll_width = browser.execute_script("return document.documentElement.scrollWidth")

        assert scroll_width <= width, f"at {width} px the page is {scroll_width} px wide"
