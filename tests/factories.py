"""Factories for pages and users (factory_boy + wagtail-factories)."""

from datetime import timedelta

import factory
import wagtail_factories
from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail.models import Collection, Locale, Page, Site

from bounties.models import FundIndexPage, FundPage, FundUpdatePage
from home.models import HomePage


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"backer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery")


class HomePageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = HomePage

    title = "Fundfill"
    slug = "home"
    hero_text = "Bounties for the work that matters"


class FundIndexPageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = FundIndexPage

    title = "Funds"
    slug = "funds"


class FundPageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = FundPage

    title = factory.Sequence(lambda n: f"Fund number {n}")
    summary = factory.LazyAttribute(lambda p: f"Summary of {p.title}.")
    goal_cents = 100_000
    pledge_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    escrow_until = factory.LazyAttribute(lambda p: p.pledge_deadline + timedelta(days=60))


class FundUpdatePageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = FundUpdatePage

    title = factory.Sequence(lambda n: f"News item {n}")


def build_site():
    """Root → HomePage (default site) → FundIndexPage; works on an empty (flushed) database too."""
    # A transactional test flushes the data Wagtail's migrations made: put it back.
    Locale.objects.get_or_create(language_code="en")
    if not Collection.objects.exists():  # images and documents need the root collection
        Collection.add_root(name="Root")
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = HomePage.objects.first()
    if home is None:
        for page in root.get_children():
            if page.slug == "home":
                page.delete()
        home = HomePageFactory(parent=root)
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "root_page": home, "site_name": "Fundfill"},
    )
    index = FundIndexPage.objects.first() or FundIndexPageFactory(parent=home)
    return home, index


def publish(page):
    page.save_revision().publish()
    page.refresh_from_db()
    return page
