"""The shared reads (bounties/selectors.py): the same answer on every door, and a read writes nothing."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from wagtail.models import PageViewRestriction

from bounties import selectors
from bounties.models import Account, Fund, FundPage
from tests.factories import UserFactory
from tests.money import top_up
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db


# --- A backer's money: reading it opens no account --------------------------------------------------


def test_the_api_wallet_of_a_new_backer_is_zero_and_creates_no_account():
    newcomer = UserFactory(username="newcomer")
    token, _ = Token.objects.get_or_create(user=newcomer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get("/api/v1/wallet/")

    assert response.status_code == 200
    assert response.json() == {
        "balance_cents": 0,
        "payout_cents": 0,
        "payout_available_cents": 0,
        "currency": "usd",
    }
    assert Account.objects.count() == 0  # a read never writes: no wallet, no payout account


def test_the_wallet_page_and_pledge_form_of_a_new_backer_create_no_account(fund):
    client = Client()
    client.force_login(UserFactory(username="newcomer"))

    assert client.get("/wallet/").status_code == 200
    assert client.get(f"/funds/{fund.pk}/pledge/").status_code == 200

    assert Account.objects.count() == 0


def test_balances_are_the_accounts_exact_cents(fund):
    alice = UserFactory(username="alice")
    top_up(alice, 12_345)
    accounts = Account.objects.count()

    assert selectors.wallet_balance(user=alice) == 12_345
    assert selectors.balances(user=alice) == selectors.Balances(wallet_cents=12_345, payout_cents=0)
    assert selectors.wallet_balance(user=UserFactory(username="bob")) == 0
    assert Account.objects.count() == accounts


def test_balances_read_in_one_query(django_assert_num_queries):
    alice = UserFactory(username="alice")
    top_up(alice, 500)
    with django_assert_num_queries(1):
        selectors.balances(user=alice)


# --- Progress: one computation for the page and live.json -------------------------------------------


@pytest.mark.parametrize(
    ("pledged", "goal", "percent"),
    [
        (0, 100_000, 0),
        (37_000, 100_000, 37),
        (100, 1_000_000, 0),  # 0.01 %
        (1, 200, 0),  # 0.5 % rounds half to even
        (3, 200, 2),  # 1.5 %
        (99_499, 100_000, 99),  # 99.499 %
        (99_500, 100_000, 100),  # 99.5 %: rounds to the goal
        (100_000, 100_000, 100),
        (250_000, 100_000, 100),  # past the goal: the bar stays full
        (5_000, 0, 0),  # no goal (a draft's default)
    ],
)
def test_progress_percent(pledged, goal, percent):
    assert selectors.progress_percent(pledged_cents=pledged, goal_cents=goal) == percent


def test_the_fund_page_and_live_json_show_the_same_progress(fund):
    cache.delete(f"live-figures:{fund.pk}")
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=12_345, backer_count=3)  # 12.345 % of $1,000

    page = parse_html(Client().get(fund.url).content)
    live = Client().get(f"/funds/live.json?ids={fund.pk}").json()["funds"][str(fund.pk)]

    assert live["progress_percent"] == 12
    assert page.find(role="progressbar").get("aria-valuenow") == "12"
    assert page.find(class_="progress__fill").get("style") == "width: 12%"


# --- Public funds: Wagtail's rule, in one query ----------------------------------------------------


@pytest.fixture
def tree(fund_index, make_fund):
    """Funds that are public, a draft, restricted, and under a restricted section."""
    public = make_fund(title="Public", slug="public")
    make_fund(title="Draft", slug="draft", live=False)
    login_only = make_fund(title="Login only", slug="login-only")
    PageViewRestriction.objects.create(page=login_only, restriction_type=PageViewRestriction.LOGIN)
    # A second index whose whole section is password-protected.
    other_index = fund_index.get_parent().add_child(
        instance=type(fund_index.specific)(title="Private funds", slug="private-funds")
    )
    PageViewRestriction.objects.create(
        page=other_index, restriction_type=PageViewRestriction.PASSWORD, password="letmein"
    )
    hidden = other_index.add_child(instance=FundPage(title="Hidden", slug="hidden", **_fund_fields(public)))
    return {"public": public, "login_only": login_only, "hidden": hidden}


def _fund_fields(like):
    return {
        "summary": "Under a protected section.",
        "goal_cents": like.goal_cents,
        "pledge_deadline": like.pledge_deadline,
        "escrow_until": like.escrow_until,
    }


def test_public_funds_are_wagtails_live_public_funds(tree, fund):
    ours = list(selectors.public_funds().values_list("slug", flat=True))
    wagtails = set(FundPage.objects.live().public().values_list("slug", flat=True))

    assert set(ours) == wagtails == {"public", "audit-truecrypt"}
    assert ours == ["audit-truecrypt", "public"]  # newest first


def test_public_funds_read_in_one_query_with_their_figures(tree, fund, django_assert_num_queries):
    with django_assert_num_queries(1):
        funds = list(selectors.public_funds())
        assert [page.fund.pledged_cents for page in funds] == [0, 0]


def test_fund_figures_leave_out_what_the_public_cannot_see(tree, fund, django_assert_num_queries):
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000, backer_count=12)
    ids = [fund.pk, *(page.pk for page in tree.values()), 999_999]

    with django_assert_num_queries(1):
        figures = selectors.fund_figures(fund_ids=ids)

    assert sorted(figures, key=lambda f: f.fund_id) == sorted(
        [
            selectors.FundFigures(
                fund_id=fund.pk, status="open", pledged_cents=37_000, backer_count=12, progress_percent=37
            ),
            selectors.FundFigures(
                fund_id=tree["public"].pk, status="open", pledged_cents=0, backer_count=0, progress_percent=0
            ),
        ],
        key=lambda f: f.fund_id,
    )


def test_every_door_lists_the_same_public_funds(tree, fund, fund_index):
    expected = {fund.pk, tree["public"].pk}
    ids = ",".join(str(pk) for pk in sorted([fund.pk, *(page.pk for page in tree.values())]))
    cache.delete(f"live-figures:{ids}")

    api = {item["id"] for item in APIClient().get("/api/v1/funds/").json()["results"]}
    listed = {page.pk for page in fund_index.specific.funds()}
    live = {int(pk) for pk in Client().get(f"/funds/live.json?ids={ids}").json()["funds"]}

    assert api == listed == live == expected
