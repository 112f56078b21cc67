"""`manage.py load_demo` builds the demo site, and running it again changes nothing."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from wagtail.images import get_image_model
from wagtail.models import Page, Revision, Site

from bounties import selectors
from bounties.models import (
    Account,
    AccountKind,
    Claim,
    ClaimStatus,
    Fund,
    FundIndexPage,
    FundPage,
    FundStatus,
    FundUpdatePage,
    Pledge,
    PledgeStatus,
    TimelineEvent,
    Transfer,
    TransferKind,
    Vote,
)
from bounties.services.ledger import ledger_violations
from content.models import ContentPage
from home.models import HomePage
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db


def load_demo():
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def snapshot():
    """Everything a second run could change: the page tree, revisions, users, images, fund rows,
    and the money and the claim cycle (transfers, balances, claims, votes, timeline events)."""
    tree = [
        (page.url_path, page.title, page.content_type.model_class().__name__, page.live)
        for page in Page.objects.select_related("content_type").order_by("path")
    ]
    return {
        "tree": tree,
        "revisions": Revision.objects.count(),
        "users": get_user_model().objects.count(),
        "images": get_image_model().objects.count(),
        "funds": Fund.objects.count(),
        "featured": HomePage.objects.get().featured_fund_id,
        "sites": list(Site.objects.values_list("hostname", "root_page_id", "is_default_site")),
        "transfers": Transfer.objects.count(),
        "balances": sorted(Account.objects.values_list("kind", "user_id", "fund_id", "balance")),
        "claims": sorted(Claim.objects.values_list("pk", "status", "approve_cents", "reject_cents")),
        "votes": Vote.objects.count(),
        "timeline": TimelineEvent.objects.count(),
    }


def test_load_demo_builds_the_site(client):
    output = load_demo()

    home = HomePage.objects.get()
    assert Site.objects.get(is_default_site=True).root_page_id == home.pk
    index = FundIndexPage.objects.child_of(home).get()
    assert index.url == "/funds/"
    funds = FundPage.objects.live().child_of(index)
    assert funds.count() >= 3
    assert {"audit-truecrypt", "bypass-touchid"} <= set(funds.values_list("slug", flat=True))
    assert FundUpdatePage.objects.live().count() >= 3
    assert all(fund.image_id and fund.summary for fund in funds)
    # Every fund has its money-side row; the demo backers' pledges went through the real
    # services, so every demo fund has money in escrow and the books balance.
    # The creator's proposal has its row too, and waits in review: not live, no money.
    (proposal,) = FundPage.objects.filter(live=False)
    assert (proposal.owner.username, proposal.current_workflow_state.workflow.name) == ("dora", "Fund review")
    assert proposal.state.pledged_cents == 0
    assert "dora / fundfill-backer" in output
    assert set(Fund.objects.values_list("page_id", flat=True)) == {fund.pk for fund in funds} | {proposal.pk}
    assert all(fund.state.pledged_cents > 0 and fund.state.backer_count > 0 for fund in funds)
    assert ledger_violations() == []
    # The homepage features one of the demo funds, and says so.
    assert home.featured_fund in list(funds)
    assert home.featured_fund.title in client.get("/").content.decode()
    assert client.get("/funds/audit-truecrypt/").status_code == 200
    assert client.get("/funds/bypass-touchid/").status_code == 200
    assert "admin / fundfill-admin" in output and "editor / fundfill-editor" in output


def test_load_demo_creates_an_admin_and_an_editor(client):
    load_demo()

    User = get_user_model()
    admin = User.objects.get(username="admin")
    editor = User.objects.get(username="editor")
    assert admin.is_superuser and admin.check_password("fundfill-admin")
    assert not editor.is_superuser
    assert list(editor.groups.values_list("name", flat=True)) == ["Editors"]
    # The editor can reach the Wagtail admin with the printed password.
    response = client.post("/admin/login/", {"username": "editor", "password": "fundfill-editor"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_load_demo_twice_changes_nothing():
    load_demo()
    first = snapshot()

    output = load_demo()

    # The same pages, users, transfers, balances, claims, votes and timeline: no money moved.
    assert snapshot() == first
    assert ledger_violations() == []
    assert "(existing)" in output


def test_load_demo_keeps_an_editors_changes(client):
    load_demo()
    fund = FundPage.objects.get(slug="bypass-touchid")
    fund.title = "First to bypass TouchID (edited)"
    fund.save_revision().publish()

    load_demo()

    assert FundPage.objects.get(slug="bypass-touchid").title == "First to bypass TouchID (edited)"
    assert not FundPage.objects.filter(title="First to bypass TouchID").exists()


def test_load_demo_shows_the_claim_cycle():
    load_demo()

    # TouchID: a claim under vote, $200 approving and $100 rejecting (with its reason) of $900.
    touchid = Claim.objects.get(fund__page__slug="bypass-touchid")
    assert (touchid.status, touchid.user.username) == (ClaimStatus.VOTING, "starbug")
    assert (touchid.eligible_cents, touchid.approve_cents, touchid.reject_cents) == (900_00, 200_00, 100_00)
    rejection = Vote.objects.get(claim=touchid, approve=False)
    assert (rejection.user.username, rejection.reason) == (
        "ada",
        "The video cuts away before the phone unlocks.",
    )
    assert Fund.objects.get(page__slug="bypass-touchid").status == FundStatus.VOTING

    # Heartbleed: the claim was accepted and the whole escrow went to Margaret's payout balance.
    heartbleed = Claim.objects.get(fund__page__slug="fix-heartbleed")
    fund = heartbleed.fund
    assert (heartbleed.status, fund.status) == (ClaimStatus.ACCEPTED, FundStatus.AWARDED)
    award = Transfer.objects.get(kind=TransferKind.AWARD)
    assert heartbleed.award_transfer == award and award.idempotency_key == f"award:{fund.pk}"
    assert selectors.payout_balance(user=heartbleed.user) == 550_00 == fund.pledged_cents
    assert Account.objects.get(kind=AccountKind.ESCROW, fund=fund).balance == 0
    assert set(Pledge.objects.filter(fund=fund).values_list("status", "release_transfer")) == {
        (PledgeStatus.AWARDED, award.pk)
    }
    assert ledger_violations() == []


def test_load_demo_writes_the_site_pages_the_footer_links_to(client):
    load_demo()

    home = HomePage.objects.get()
    pages = ContentPage.objects.live().child_of(home)
    assert {page.url for page in pages} == {"/how-it-works/", "/terms/", "/privacy/", "/contact/"}
    footer = parse_html(client.get("/").content).find("footer", class_="site-footer")
    links = [a.get("href") for a in footer.find_all("a")]
    assert links == [
        "/how-it-works/",
        "/terms/",
        "/privacy/",
        "/contact/",
        "/funds/feed/",
        "/feedback/?from=%2F",
    ]
    assert all(client.get(link).status_code == 200 for link in links)
    # How it works explains every step, each under a heading other pages can link to.
    how = parse_html(client.get("/how-it-works/").content)
    anchors = [h2.get("id") for h2 in how.find(class_="content-page__body").find_all("h2")]
    assert anchors == [
        "escrow",
        "claims",
        "voting",
        "decisions",
        "nobody-wins",
        "cash-out",
        "payouts",
        "questions",
    ]
    assert how.find_all("details")  # the questions, each opened by its <summary>


def test_the_claim_and_vote_forms_link_to_how_it_works(client):
    load_demo()
    how = parse_html(client.get("/how-it-works/").content)
    ids = {element.get("id") for element in how.iter() if element.get("id")}
    # Radia backed TouchID before its claim and has not voted: she sees the vote form.
    client.force_login(get_user_model().objects.get(username="radia"))
    touchid = Claim.objects.get(fund__page__slug="bypass-touchid")
    tor = FundPage.objects.get(slug="reproducible-tor-browser-macos")

    for url, form_class in [
        (reverse("claim_detail", args=[touchid.pk]), "vote-form"),
        (reverse("claim_create", args=[tor.pk]), "claim-form"),
    ]:
        html = parse_html(client.get(url).content)
        if form_class:
            html.find("form", class_=form_class)
        links = [
            a.get("href") for a in html.find_all("a") if (a.get("href") or "").startswith("/how-it-works/#")
        ]
        assert links, url
        assert all(link.split("#")[1] in ids for link in links), links


def test_load_demo_keeps_an_editors_site_pages(client):
    load_demo()
    terms = ContentPage.objects.get(slug="terms")
    terms.title = "Terms of use"
    terms.save_revision().publish()

    load_demo()

    assert ContentPage.objects.get(slug="terms").title == "Terms of use"
    assert ContentPage.objects.filter(slug="terms").count() == 1
