"""The featured fund is always right: switching it, scheduling it, editing it, losing it (T24).

These run with real commits (`transaction=True`) on the real cache (Redis from the
harness), because what they prove is that the purge runs after the commit and that the
very next anonymous request sees the change, even when the old homepage was just cached.
"""

from datetime import timedelta

import pytest
import wagtail_factories
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from wagtail.models import Revision

from home.models import HomePage
from tests.factories import publish
from tests.pages_html import head_and_hero_text, parse_page

pytestmark = pytest.mark.django_db(transaction=True)

SITE_URL = "http://testserver.example"
PITCH = "Crowdfunded bounties held in escrow."


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def funds(home_page, make_fund):
    """Two live funds with their own title, summary and image; A is featured and published."""
    a = make_fund(
        title="Audit TrueCrypt",
        slug="audit-truecrypt",
        summary="An independent audit of the TrueCrypt source.",
        image=wagtail_factories.ImageFactory(title="truecrypt-shot", file__filename="truecrypt-shot.png"),
    )
    b = make_fund(
        title="Bypass TouchID",
        slug="bypass-touchid",
        summary="Lift a fingerprint and unlock an iPhone.",
        image=wagtail_factories.ImageFactory(title="touchid-shot", file__filename="touchid-shot.png"),
    )
    home_page.search_description = PITCH
    home_page.featured_fund = a
    publish(home_page)
    return a, b


def fingerprint(fund):
    """What of a fund may show in the homepage's <head> and hero: title, summary, image file, URL."""
    image_stem = fund.image.file.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return {
        "title": fund.title,
        "summary": fund.summary,
        "image": image_stem,
        "url": f"{SITE_URL}/funds/{fund.slug}/",
    }


def assert_features(html, shown, hidden):
    """Every piece of `shown` is in the head and hero; no piece of `hidden` is in any tag there.

    The homepage keeps its own URL and names the site first; the preview's title and image,
    like the hero, are the featured fund's.
    """
    page = parse_page(html)
    text = head_and_hero_text(page)
    for what, value in fingerprint(hidden).items():
        assert value not in text, f"the old fund's {what} ({value!r}) is still on the homepage"
    mine = fingerprint(shown)
    assert page.meta["og:title"] == mine["title"]
    assert page.meta["twitter:title"] == mine["title"]
    assert page.title == f"Fundfill · {mine['title']}"
    description = f"{PITCH} {mine['summary']}"
    assert page.meta["description"] == description
    assert page.meta["og:description"] == description
    assert page.meta["twitter:description"] == description
    assert page.links["canonical"] == f"{SITE_URL}/"
    assert page.meta["og:url"] == f"{SITE_URL}/"
    assert page.meta["og:type"] == "website"
    assert mine["image"] in page.meta["og:image"]
    assert page.meta["og:image"] == page.meta["twitter:image"]
    assert page.meta["og:image"].startswith(SITE_URL + "/media/")
    hero = "\n".join(page.hero)
    assert mine["title"] in hero and mine["summary"] in hero and mine["image"] in hero


def anonymous_get(path="/"):
    """A reader with no cookies at all (a fresh client each time)."""
    return Client().get(path)


def test_switching_the_featured_fund_shows_at_the_next_request_even_when_cached(page_cache, funds):
    a, b = funds
    # A reader loads the homepage twice: rendered, then served from the cache.
    assert anonymous_get()["X-Page-Cache"] == "miss"
    cached = anonymous_get()
    assert cached["X-Page-Cache"] == "hit"
    assert_features(cached.content, shown=a, hidden=b)

    # The editor features B and publishes.
    home = HomePage.objects.get(pk=a.get_parent().get_parent().pk)
    home.featured_fund = b
    publish(home)

    # The very next anonymous request: all of B, none of A, in every tag of <head> and the hero.
    response = anonymous_get()
    assert response["X-Page-Cache"] == "miss"
    assert_features(response.content, shown=b, hidden=a)
    # ...and it is what the cache now holds.
    again = anonymous_get()
    assert again["X-Page-Cache"] == "hit"
    assert_features(again.content, shown=b, hidden=a)


def test_the_purge_waits_for_the_commit(page_cache, funds, home_page):
    a, b = funds
    anonymous_get()
    with transaction.atomic():
        home = HomePage.objects.get(pk=home_page.pk)
        home.featured_fund = b
        home.save_revision().publish()
        # Not committed: readers still get the committed homepage, from the cache.
        inside = anonymous_get()
        assert inside["X-Page-Cache"] == "hit"
        assert_features(inside.content, shown=a, hidden=b)
    assert_features(anonymous_get().content, shown=b, hidden=a)


def test_scheduled_publishing_switches_the_featured_fund(page_cache, funds, home_page):
    a, b = funds
    anonymous_get()

    # "Feature B from 9:00": a revision with a go-live time in the future is scheduled, not live.
    home = HomePage.objects.get(pk=home_page.pk)
    home.featured_fund = b
    home.go_live_at = timezone.now() + timedelta(hours=1)
    revision = home.save_revision()
    revision.publish()
    assert_features(anonymous_get().content, shown=a, hidden=b)

    # 9:00 comes (we move the schedule into the past: the revision's go-live time and its
    # approval) and the scheduler runs.
    past = timezone.now() - timedelta(minutes=1)
    revision = Revision.objects.get(pk=revision.pk)
    revision.content["go_live_at"] = past.isoformat()
    revision.approved_go_live_at = past
    revision.save(update_fields=["content", "approved_go_live_at"])
    call_command("publish_scheduled", verbosity=0)

    response = anonymous_get()
    assert response["X-Page-Cache"] == "miss"
    assert_features(response.content, shown=b, hidden=a)


def test_editing_the_featured_funds_summary_shows_at_the_next_request(page_cache, funds):
    a, _b = funds
    assert "An independent audit" in anonymous_get().content.decode()
    anonymous_get()  # cached

    a.summary = "A public, line-by-line audit of TrueCrypt 7.1a."
    publish(a)

    page = parse_page(anonymous_get().content)
    assert page.meta["og:description"] == f"{PITCH} A public, line-by-line audit of TrueCrypt 7.1a."
    assert page.meta["description"] == f"{PITCH} A public, line-by-line audit of TrueCrypt 7.1a."
    assert "A public, line-by-line audit of TrueCrypt 7.1a." in "\n".join(page.hero)
    assert "An independent audit" not in head_and_hero_text(page)


def test_a_draft_of_the_featured_fund_changes_nothing(page_cache, funds):
    a, _b = funds
    anonymous_get()
    a.summary = "Draft wording nobody approved."
    a.save_revision()  # saved, not published

    assert "Draft wording" not in anonymous_get().content.decode()


def assert_site_metadata(html, gone):
    page = parse_page(html)
    assert page.title == "Fundfill"
    assert page.meta["og:title"] == "Fundfill"
    assert page.meta["twitter:title"] == "Fundfill"
    assert page.meta["description"] == PITCH
    assert page.meta["og:url"] == page.links["canonical"] == f"{SITE_URL}/"
    assert page.meta["twitter:card"] == "summary"  # no image until the site has one
    text = head_and_hero_text(page)
    for what, value in fingerprint(gone).items():
        assert value not in text, f"the unpublished fund's {what} is still on the homepage"


def test_unpublishing_the_featured_fund_falls_back_to_the_sites_metadata(page_cache, funds):
    a, _b = funds
    anonymous_get()
    anonymous_get()

    a.unpublish()

    response = anonymous_get()
    assert response.status_code == 200
    assert response["X-Page-Cache"] == "miss"
    assert_site_metadata(response.content, gone=a)


def test_deleting_the_featured_fund_falls_back_to_the_sites_metadata(page_cache, funds):
    a, _b = funds
    anonymous_get()
    gone = fingerprint(a)

    a.delete()

    response = anonymous_get()
    assert response.status_code == 200
    page = parse_page(response.content)
    assert page.meta["og:title"] == "Fundfill"
    assert not any(value in head_and_hero_text(page) for value in gone.values())


def test_the_site_image_is_the_fallback_link_preview(page_cache, funds, home_page):
    a, _b = funds
    home = HomePage.objects.get(pk=home_page.pk)
    home.social_image = wagtail_factories.ImageFactory(
        title="fundfill-card", file__filename="fundfill-card.png"
    )
    publish(home)
    a.unpublish()

    page = parse_page(anonymous_get().content)
    assert "fundfill-card" in page.meta["og:image"]
    assert page.meta["twitter:card"] == "summary_large_image"
