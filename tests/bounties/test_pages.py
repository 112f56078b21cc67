"""Fund pages: where editors may put them, what readers see, and what validation stops."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from wagtail.coreutils import get_dummy_request
from wagtail.models import Page
from wagtail.rich_text import RichText
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import querydict_from_html
from wagtail_factories import ImageFactory

from bounties.models import FailurePolicy, Fund, FundIndexPage, FundPage, FundStatus, FundUpdatePage
from content.models import ContentPage
from home.models import HomePage
from pagecache import memo
from tests.factories import FundUpdatePageFactory, UserFactory, publish
from tests.pages_html import parse_html


@pytest.fixture
def wagtail_asserts(client):
    """Wagtail's page assertions (assertCanCreateAt, assertPageIsRenderable, ...) for plain test functions."""
    asserts = WagtailPageTestCase()
    asserts.client = client
    asserts.dummy_request = get_dummy_request()
    return asserts


def fund_cards(response):
    return [title.text for title in parse_html(response.content).find_all(class_="fund-card__title")]


# Page type rules --------------------------------------------------------------------------------


def test_fund_pages_go_only_under_the_fund_index(wagtail_asserts):
    wagtail_asserts.assertAllowedParentPageTypes(FundPage, {FundIndexPage})
    wagtail_asserts.assertCanCreateAt(FundIndexPage, FundPage)
    wagtail_asserts.assertCanNotCreateAt(FundUpdatePage, FundPage)
    wagtail_asserts.assertCanNotCreateAt(HomePage, FundPage)


def test_news_goes_only_under_a_fund_and_has_no_children(wagtail_asserts):
    wagtail_asserts.assertAllowedParentPageTypes(FundUpdatePage, {FundPage})
    wagtail_asserts.assertAllowedSubpageTypes(FundPage, {FundUpdatePage})
    wagtail_asserts.assertAllowedSubpageTypes(FundUpdatePage, set())
    wagtail_asserts.assertCanNotCreateAt(FundIndexPage, FundUpdatePage)


def test_fund_index_goes_only_under_the_homepage(wagtail_asserts):
    wagtail_asserts.assertAllowedParentPageTypes(FundIndexPage, {HomePage})
    wagtail_asserts.assertAllowedSubpageTypes(HomePage, {FundIndexPage, ContentPage})
    wagtail_asserts.assertCanNotCreateAt(Page, FundIndexPage)


def test_a_second_fund_index_cannot_be_added_under_the_homepage(home_page, fund_index):
    assert FundIndexPage.can_create_at(home_page) is False


# Rendering --------------------------------------------------------------------------------------


def test_homepage_leads_with_the_featured_fund(client, home_page, fund, wagtail_asserts):
    home_page.featured_fund = fund
    publish(home_page)
    Fund.objects.filter(page=fund).update(pledged_cents=40_000, backer_count=3)

    wagtail_asserts.assertPageIsRenderable(home_page)
    hero = parse_html(client.get("/").content).find(class_="hero__featured")

    assert hero.find(class_="hero__title").text == "Audit TrueCrypt"
    assert {a.get("href") for a in hero.find_all("a")} == {fund.url}
    assert hero.find(role="progressbar").get("aria-valuenow") == "40"
    assert hero.find(class_="progress__backers").text == "3 backers"


def test_homepage_does_not_feature_an_unpublished_fund(client, home_page, fund):
    home_page.featured_fund = fund
    publish(home_page)
    fund.unpublish()

    html = client.get("/").content.decode()

    assert "featured-fund" not in html
    assert fund.url not in html


def test_fund_index_lists_funds_twelve_a_page(client, make_fund, fund_index, wagtail_asserts):
    for n in range(13):
        make_fund(title=f"Bounty {n:02d}")

    wagtail_asserts.assertPageIsRenderable(fund_index)
    first = client.get(fund_index.url)
    second = client.get(fund_index.url, {"page": 2})

    assert len(fund_cards(first)) == 12
    assert len(fund_cards(second)) == 1
    assert set(fund_cards(first)) | set(fund_cards(second)) == {f"Bounty {n:02d}" for n in range(13)}
    first_page = parse_html(first.content)
    assert "Page 1 of 2" in first_page.text
    assert first_page.find(rel="next").get("href") == "?page=2"


def test_fund_index_survives_a_garbage_page_number(client, make_fund, fund_index):
    make_fund(title="Only bounty")

    for page in ("abc", "999", "-1", ""):
        response = client.get(fund_index.url, {"page": page})
        assert response.status_code == 200
        assert fund_cards(response) == ["Only bounty"]


def test_fund_index_filters_by_status(client, make_fund, fund_index):
    make_fund(title="Still open")
    awarded = make_fund(title="Already awarded")
    Fund.objects.filter(page=awarded).update(status=FundStatus.AWARDED)

    assert fund_cards(client.get(fund_index.url, {"status": "awarded"})) == ["Already awarded"]
    assert fund_cards(client.get(fund_index.url, {"status": "open"})) == ["Still open"]
    assert fund_cards(client.get(fund_index.url, {"status": "failed"})) == []
    # An unknown status shows everything rather than nothing.
    assert set(fund_cards(client.get(fund_index.url, {"status": "bogus"}))) == {
        "Still open",
        "Already awarded",
    }


def test_fund_page_shows_progress_backers_time_left_and_status(client, make_fund, wagtail_asserts):
    fund = make_fund(
        title="Audit TrueCrypt",
        goal_cents=100_000,
        pledge_deadline=timezone.now() + timedelta(days=4, hours=1),
    )
    Fund.objects.filter(page=fund).update(pledged_cents=25_000, backer_count=7)

    wagtail_asserts.assertPageIsRenderable(fund)
    page = parse_html(client.get(fund.url).content)

    assert page.find(role="progressbar").get("aria-valuenow") == "25"
    assert page.find(class_="progress__fill").get("style") == "width: 25%"
    assert page.find(class_="progress__figures").text == "$250 pledged of $1,000 · 7 backers"
    # Whole days (the hour past them is not counted): bounties.templatetags.fundfill_tags.days_left.
    assert page.find(class_="time-left").text == "4 days left"
    status = page.find(class_="status")
    assert (status.classes, status.text) == (["status", "status--open"], "Open")


def test_fund_page_shows_a_status_other_than_open(client, fund):
    Fund.objects.filter(page=fund).update(status=FundStatus.VOTING)

    status = parse_html(client.get(fund.url).content).find(class_="status")

    assert (status.classes, status.text) == (["status", "status--voting"], "Voting on a claim")


def test_fund_page_lists_its_live_news_newest_first(client, fund):
    today = date.today()
    FundUpdatePageFactory(parent=fund, title="Middle news", date=today - timedelta(days=3))
    FundUpdatePageFactory(parent=fund, title="Newest news", date=today - timedelta(days=1))
    FundUpdatePageFactory(parent=fund, title="Oldest news", date=today - timedelta(days=9))
    FundUpdatePageFactory(parent=fund, title="Draft news", date=today, live=False)

    page = parse_html(client.get(fund.url).content)
    news = [item.find("h3").text for item in page.find_all(class_="news-item")]

    assert news == ["Newest news", "Middle news", "Oldest news"]


def test_news_page_renders_with_its_body_and_a_link_to_its_fund(client, fund, wagtail_asserts):
    update = FundUpdatePageFactory(
        parent=fund,
        title="Audit team shortlisted",
        date=date(2014, 2, 14),
        body=[("paragraph", RichText("<p>Three firms have offered to do the audit.</p>"))],
    )

    wagtail_asserts.assertPageIsRenderable(update)
    page = parse_html(client.get(update.url).content)

    assert page.find("main").find("h1").text == "Audit team shortlisted"
    time = page.find("time")
    assert (time.get("datetime"), time.text) == ("2014-02-14", "14 February 2014")
    assert "Three firms have offered to do the audit." in page.find("main").text
    fund_link = page.find(class_="news__fund").find("a")
    assert (fund_link.get("href"), fund_link.text) == (fund.url, "Audit TrueCrypt")


def test_fund_page_renders_in_a_bounded_number_of_queries(client, make_fund, django_assert_max_num_queries):
    fund = make_fund(image=ImageFactory())
    for n in range(5):
        FundUpdatePageFactory(parent=fund, title=f"News {n}")
    client.get(fund.url)  # the first view makes the image rendition
    memo.forget()  # the cold render, as after a publish (tests/pagecache/test_memo.py: the warm one)

    # Measured: 13 queries, the same with 0, 1, 5 or 20 news items (site, routing through the
    # tree, view restrictions, image, incident notice, fund state, news). The bound is
    # measured + 2, so a query per news item would break it.
    with django_assert_max_num_queries(15):
        response = client.get(fund.url)

    assert response.status_code == 200
    assert len(parse_html(response.content).find_all(class_="news-item")) == 5


def test_fund_index_renders_in_a_bounded_number_of_queries(
    client, make_fund, fund_index, django_assert_max_num_queries
):
    for _ in range(12):
        make_fund(image=ImageFactory())
    client.get(fund_index.url)
    memo.forget()

    # Measured: 10 queries for a full page of 12 cards, the same as for 1 card; bound = measured + 2.
    with django_assert_max_num_queries(12):
        response = client.get(fund_index.url)

    assert len(fund_cards(response)) == 12


# Validation -------------------------------------------------------------------------------------


def test_escrow_date_before_the_pledge_deadline_is_refused(fund):
    fund.escrow_until = fund.pledge_deadline - timedelta(minutes=1)

    with pytest.raises(ValidationError) as excinfo:
        fund.full_clean()

    assert set(excinfo.value.message_dict) == {"escrow_until"}


def test_escrow_date_equal_to_the_pledge_deadline_is_allowed(fund):
    fund.escrow_until = fund.pledge_deadline

    fund.full_clean()


@pytest.mark.parametrize("name", ["", "   "])
def test_beneficiary_policy_requires_a_beneficiary_name(fund, name):
    fund.failure_policy = FailurePolicy.BENEFICIARY
    fund.beneficiary_name = name

    with pytest.raises(ValidationError) as excinfo:
        fund.full_clean()

    assert set(excinfo.value.message_dict) == {"beneficiary_name"}


def test_beneficiary_policy_with_a_name_is_valid(fund):
    fund.failure_policy = FailurePolicy.BENEFICIARY
    fund.beneficiary_name = "Open Crypto Audit Project"

    fund.full_clean()


def test_admin_shows_the_escrow_date_error_to_the_editor(client, fund):
    client.force_login(UserFactory(username="admin", is_superuser=True, is_staff=True))
    edit_url = f"/admin/pages/{fund.pk}/edit/"
    data = querydict_from_html(client.get(edit_url).content.decode(), form_id="page-edit-form")
    data["body-count"] = "0"  # the StreamField editor is drawn by JavaScript; the body is empty
    data["escrow_until"] = (fund.pledge_deadline - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")

    response = client.post(edit_url, data)

    assert response.status_code == 200
    assert "The escrow date must be on or after the pledge deadline." in response.content.decode()
    fund.refresh_from_db()
    assert fund.escrow_until > fund.pledge_deadline


# Money state lives on Fund, not on the page -----------------------------------------------------


def test_every_fund_page_gets_a_fund_row(fund_index, make_fund):
    from_factory = make_fund()
    added = fund_index.add_child(
        instance=FundPage(
            title="Added in code",
            summary="Added with add_child.",
            goal_cents=50_000,
            pledge_deadline=timezone.now() + timedelta(days=7),
            escrow_until=timezone.now() + timedelta(days=30),
        )
    )

    for page in (from_factory, added):
        assert Fund.objects.get(page=page).status == FundStatus.OPEN
    assert Fund.objects.count() == FundPage.objects.count() == 2


def test_a_copied_fund_starts_with_no_money(fund, fund_index):
    Fund.objects.filter(page=fund).update(pledged_cents=90_000, backer_count=12, status=FundStatus.AWARDED)

    copy = fund.copy(to=fund_index, update_attrs={"title": "Audit VeraCrypt", "slug": "audit-veracrypt"})

    state = Fund.objects.get(page=copy)
    assert (state.pledged_cents, state.backer_count, state.status) == (0, 0, FundStatus.OPEN)
    assert Fund.objects.get(page=fund).pledged_cents == 90_000


def test_publishing_a_revision_does_not_change_the_money(client, fund):
    # An editor saves a draft, a pledge lands, then the editor publishes the draft.
    fund.title = "Audit TrueCrypt 7.1a"
    revision = fund.save_revision()
    Fund.objects.filter(page=fund).update(pledged_cents=123_400, backer_count=9, status=FundStatus.VOTING)

    revision.publish()

    state = Fund.objects.get(page=fund)
    assert (state.pledged_cents, state.backer_count, state.status) == (123_400, 9, FundStatus.VOTING)
    page = parse_html(client.get(fund.url).content)
    assert page.find("main").find("h1").text == "Audit TrueCrypt 7.1a"
    assert page.find(class_="progress__pledged").text == "$1,234"
