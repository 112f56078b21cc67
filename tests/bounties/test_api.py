"""The JSON API under /api/v1/: each endpoint's happy path, and every refusal answering with its code
while moving nothing (wallet, pledges, transfers and the ledger's invariants are checked after each)."""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
import stripe
import yaml
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from wagtail.models import PageViewRestriction

from bounties.errors import TryAgainLater
from bounties.models import Deposit, DepositStatus, Fund, FundStatus, Pledge, PledgeStatus, Transfer
from bounties.payments.local_gateway import DECLINE_CARD, SUCCESS_CARD
from bounties.services.deposits import MAX_DEPOSIT_CENTS
from bounties.services.ledger import ledger_violations, wallet_for
from tests.api import assert_error, client_for
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the UserFactory's password

BAD_AMOUNTS = [
    pytest.param(-1, id="negative"),
    pytest.param(0, id="zero"),
    pytest.param("100", id="string"),
    pytest.param(10.5, id="fraction"),
    pytest.param(100.0, id="float-whole"),
    pytest.param(True, id="boolean"),
    pytest.param(None, id="null"),
    pytest.param(10**20, id="huge"),
    pytest.param(..., id="missing"),
]


# --- Helpers ---------------------------------------------------------------------------------------


def body_with(amount):
    """A JSON body with `amount_cents` set to `amount`, or without it when `amount` is `...`."""
    return {} if amount is ... else {"amount_cents": amount}


def pledge(client, fund_id, body=None, *, key="key-1", raw=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    url = f"/api/v1/funds/{fund_id}/pledges/"
    if raw is not None:
        return client.post(url, raw, content_type="application/json", **headers)
    return client.post(url, body, format="json", **headers)


@dataclass(frozen=True)
class Books:
    """What a refused request must leave exactly as it was."""

    wallets: tuple
    pledges: int
    transfers: int
    funds: tuple

    @classmethod
    def read(cls, *users):
        return cls(
            wallets=tuple(wallet_for(user).balance for user in users),
            pledges=Pledge.objects.count(),
            transfers=Transfer.objects.count(),
            funds=tuple(
                Fund.objects.order_by("pk").values_list("pk", "status", "pledged_cents", "backer_count")
            ),
        )


def assert_nothing_moved(before: Books, *users):
    assert Books.read(*users) == before
    assert ledger_violations() == []


@pytest.fixture
def alice(user):
    top_up(user, 10_000)  # $100 in Alice's wallet
    return user


@pytest.fixture
def bob(db):
    bob = UserFactory(username="bob")
    top_up(bob, 5_000)
    return bob


# --- Accounts and tokens -----------------------------------------------------------------------------


def test_sign_up_then_get_a_token_then_use_it():
    response = client_for().post(
        "/api/v1/accounts/",
        {"username": "dora", "email": " Dora@Example.com ", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "username": "dora", "email": "dora@example.com"}

    response = client_for().post(
        "/api/v1/auth/token/", {"username": "dora", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/wallet/").json() == {
        "balance_cents": 0,
        "payout_cents": 0,
        "payout_available_cents": 0,
        "currency": "usd",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "alice"}, "username"),
        ({"username": "ALICE"}, "username"),  # names differing only in case are taken too
        ({"email": "ALICE@example.com"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "password"}, "password"),  # too common
        ({"password": "short"}, "password"),
        ({"username": "has spaces"}, "username"),
    ],
)
def test_sign_up_refusals_name_the_field(user, fields, field):
    users = type(user).objects.count()
    data = {"username": "erin", "email": "erin@example.com", "password": PASSWORD} | fields
    response = client_for().post("/api/v1/accounts/", data, format="json")
    error = assert_error(response, 400, "invalid_request")
    assert list(error["details"]) == [field]
    assert field in error["message"]
    assert type(user).objects.count() == users


def test_sign_up_with_missing_fields_lists_each():
    error = assert_error(client_for().post("/api/v1/accounts/", {}, format="json"), 400, "invalid_request")
    assert set(error["details"]) == {"username", "email", "password"}


def test_token_refusals(user):
    response = client_for().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert_error(response, 400, "invalid_credentials")
    response = client_for().post(
        "/api/v1/auth/token/", {"username": "nobody", "password": PASSWORD}, format="json"
    )
    assert_error(response, 400, "invalid_credentials")
    response = client_for().post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert "password" in assert_error(response, 400, "invalid_request")["details"]
    assert not Token.objects.exists()


def test_without_a_token_or_with_a_bad_one_answers_401():
    anonymous, forged = APIClient(), APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    for client in (anonymous, forged):
        for method, url in [
            ("get", "/api/v1/wallet/"),
            ("post", "/api/v1/wallet/deposits/"),
            ("post", "/api/v1/funds/1/pledges/"),
            ("get", "/api/v1/me/pledges/"),
            ("delete", "/api/v1/pledges/1/"),
            ("post", "/api/v1/funds/"),
            ("get", "/api/v1/me/proposals/"),
        ]:
            response = getattr(client, method)(url, {"amount_cents": 100}, format="json")
            assert_error(response, 401, "not_authenticated")
            assert response["WWW-Authenticate"] == "Token"


# --- Wallet and deposits ---------------------------------------------------------------------------


def test_wallet_shows_balance_in_cents(alice):
    response = client_for(alice).get("/api/v1/wallet/")
    assert response.status_code == 200
    assert response.json() == {
        "balance_cents": 10_000,
        "payout_cents": 0,
        "payout_available_cents": 0,
        "currency": "usd",
    }


def test_deposit_with_the_success_card_credits_the_wallet(user):
    response = client_for(user).post(
        "/api/v1/wallet/deposits/", {"amount_cents": 2_500, "card": "4242 4242 4242 4242"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["amount_cents"], body["checkout_url"]) == ("succeeded", 2_500, None)
    assert Deposit.objects.get(pk=body["id"]).status == DepositStatus.SUCCEEDED
    assert wallet_for(user).balance == 2_500
    assert ledger_violations() == []


def test_declined_card_answers_402_and_moves_nothing(alice):
    before = Books.read(alice)
    response = client_for(alice).post(
        "/api/v1/wallet/deposits/", {"amount_cents": 2_500, "card": DECLINE_CARD}, format="json"
    )
    error = assert_error(response, 402, "card_declined")
    assert error["message"] == "Your card was declined (test card ending 0002). No money moved."
    deposit = Deposit.objects.get(pk=error["details"]["deposit_id"])
    assert deposit.status == DepositStatus.DECLINED  # the attempt is on record...
    assert_nothing_moved(before, alice)  # ...and no money moved


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "", "not a card"])
def test_unknown_card_is_refused_before_any_deposit(alice, card):
    before, deposits = Books.read(alice), Deposit.objects.count()
    response = client_for(alice).post(
        "/api/v1/wallet/deposits/", {"amount_cents": 2_500, "card": card}, format="json"
    )
    assert_error(response, 400, "invalid_card")
    assert Deposit.objects.count() == deposits
    assert_nothing_moved(before, alice)


def test_missing_card_is_refused(alice):
    response = client_for(alice).post("/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json")
    assert_error(response, 400, "invalid_card")


@pytest.mark.parametrize("amount", [*BAD_AMOUNTS, pytest.param(MAX_DEPOSIT_CENTS + 1, id="over-max")])
def test_deposit_bad_amounts(alice, amount):
    before, deposits = Books.read(alice), Deposit.objects.count()
    response = client_for(alice).post(
        "/api/v1/wallet/deposits/", body_with(amount) | {"card": SUCCESS_CARD}, format="json"
    )
    assert_error(response, 400, "invalid_amount")
    assert Deposit.objects.count() == deposits
    assert_nothing_moved(before, alice)


def test_deposit_with_stripe_returns_checkout_url_and_pending(user, settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    sent = {}

    def create(**kwargs):
        sent.update(kwargs)
        return {"id": "cs_test_123", "url": "https://checkout.stripe.test/c/pay/cs_test_123"}

    monkeypatch.setattr(stripe.checkout.Session, "create", create)
    response = client_for(user).post("/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["checkout_url"]) == (
        "pending",
        "https://checkout.stripe.test/c/pay/cs_test_123",
    )
    deposit = Deposit.objects.get(pk=body["id"])
    assert (deposit.gateway, deposit.provider_id) == ("stripe", "cs_test_123")
    assert sent["line_items"][0]["price_data"]["unit_amount"] == 2_500
    assert sent["success_url"].startswith("http")
    assert wallet_for(user).balance == 0  # credited only when Stripe's webhook says it was paid


def test_deposit_when_stripe_is_down_answers_502(user, settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "stripe"

    def create(**kwargs):
        raise stripe.APIConnectionError("connection refused")

    monkeypatch.setattr(stripe.checkout.Session, "create", create)
    before = Books.read(user)
    response = client_for(user).post("/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json")
    assert_error(response, 502, "gateway_unavailable")
    assert Deposit.objects.get().status == DepositStatus.PENDING
    assert_nothing_moved(before, user)


def deposit(user, amount=2_500, card=SUCCESS_CARD, key="dep-1"):
    return client_for(user).post(
        "/api/v1/wallet/deposits/",
        {"amount_cents": amount, "card": card},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_deposit_credits_once_and_says_it_is_a_replay(user):
    first, retry = deposit(user), deposit(user)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Deposit.objects.filter(user=user).count() == 1
    assert wallet_for(user).balance == 2_500
    assert ledger_violations() == []


def test_a_retried_declined_deposit_is_declined_again_without_a_second_attempt(alice):
    before = Books.read(alice)
    first, retry = deposit(alice, card=DECLINE_CARD), deposit(alice, card=DECLINE_CARD)
    assert assert_error(first, 402, "card_declined") == assert_error(retry, 402, "card_declined")
    assert Deposit.objects.filter(user=alice, key="dep-1").count() == 1
    assert_nothing_moved(before, alice)


def test_a_deposit_key_reused_for_another_amount_is_refused(user):
    deposit(user)
    error = assert_error(deposit(user, amount=9_900), 422, "idempotency_mismatch")
    assert "different deposit" in error["message"]
    assert Deposit.objects.filter(user=user).count() == 1 and wallet_for(user).balance == 2_500


def test_deposit_keys_belong_to_their_user(alice, bob):
    assert (deposit(alice).status_code, deposit(bob).status_code) == (201, 201)
    assert wallet_for(bob).balance == 5_000 + 2_500 and Deposit.objects.filter(key="dep-1").count() == 2


def test_a_deposit_key_too_long_is_refused_before_anything(user):
    assert_error(deposit(user, key="k" * 151), 400, "invalid_idempotency_key")
    assert not Deposit.objects.filter(user=user).exists()


def test_a_retried_stripe_deposit_reopens_the_same_checkout(user, settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    keys = []

    def create(**kwargs):  # Stripe answers a repeated Idempotency-Key with the first session
        keys.append(kwargs["idempotency_key"])
        return {"id": "cs_test_123", "url": "https://checkout.stripe.test/c/pay/cs_test_123"}

    monkeypatch.setattr(stripe.checkout.Session, "create", create)
    first = client_for(user).post(
        "/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json", HTTP_IDEMPOTENCY_KEY="dep-1"
    )
    retry = client_for(user).post(
        "/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json", HTTP_IDEMPOTENCY_KEY="dep-1"
    )
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert len(set(keys)) == 1 and Deposit.objects.filter(user=user).count() == 1


# --- Funds -----------------------------------------------------------------------------------------


def test_funds_list_and_detail_show_only_live_public_funds(fund, make_fund):
    hidden = make_fund(title="Draft", live=False)
    private = make_fund(title="Members only")
    PageViewRestriction.objects.create(page=private, restriction_type=PageViewRestriction.LOGIN)
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=2_500, backer_count=1)

    response = APIClient().get("/api/v1/funds/")  # no token needed
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [fund.pk]
    assert results[0] == {
        "id": fund.pk,
        "slug": "audit-truecrypt",
        "title": "Audit TrueCrypt",
        "url": fund.get_full_url(),
        "status": "open",
        "goal_cents": 100_000,
        "pledged_cents": 2_500,
        "backer_count": 1,
        "pledge_deadline": results[0]["pledge_deadline"],
        "escrow_until": results[0]["escrow_until"],
    }
    assert results[0]["url"].startswith("http")
    assert results[0]["url"].endswith("/funds/audit-truecrypt/")

    assert APIClient().get(f"/api/v1/funds/{fund.pk}/").json() == results[0]
    for page in (hidden, private):
        assert_error(APIClient().get(f"/api/v1/funds/{page.pk}/"), 404, "not_found")
    assert_error(APIClient().get("/api/v1/funds/999999/"), 404, "not_found")


def test_funds_list_query_count_does_not_grow_with_funds(make_fund):
    make_fund()

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert APIClient().get("/api/v1/funds/").status_code == 200
        return len(captured)

    queries()  # warm Wagtail's cached site root paths
    one = queries()
    for _ in range(4):
        make_fund()
    assert queries() == one


# --- Pledges ---------------------------------------------------------------------------------------


def test_pledge_moves_wallet_money_into_escrow(alice, fund):
    response = pledge(client_for(alice), fund.pk, {"amount_cents": 2_500})
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("fund", "amount_cents", "status")} == {
        "fund": fund.pk,
        "amount_cents": 2_500,
        "status": "active",
    }
    assert "Idempotent-Replayed" not in response
    assert wallet_for(alice).balance == 7_500  # $25 left the wallet...
    state = Fund.objects.get(pk=fund.pk)
    assert (state.pledged_cents, state.backer_count) == (2_500, 1)  # ...and sits in the fund's escrow
    assert ledger_violations() == []


def test_replay_answers_the_same_and_debits_once(alice, fund):
    client = client_for(alice)
    first = pledge(client, fund.pk, {"amount_cents": 2_500}, key="retry-me")
    assert first.status_code == 201
    after_first = Books.read(alice)

    again = pledge(client, fund.pk, {"amount_cents": 2_500}, key="retry-me")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Transfer.objects.filter(kind="pledge").count() == 1  # one debit...
    assert wallet_for(alice).balance == 7_500  # ...of $25
    assert_nothing_moved(after_first, alice)


def test_same_key_with_another_body_is_refused(alice, fund, make_fund):
    client = client_for(alice)
    assert pledge(client, fund.pk, {"amount_cents": 2_500}, key="k").status_code == 201
    other_fund = make_fund()
    before = Books.read(alice)
    assert_error(pledge(client, fund.pk, {"amount_cents": 3_000}, key="k"), 422, "idempotency_mismatch")
    assert_error(pledge(client, other_fund.pk, {"amount_cents": 2_500}, key="k"), 422, "idempotency_mismatch")
    assert_nothing_moved(before, alice)


def test_keys_belong_to_their_user(alice, bob, fund):
    assert pledge(client_for(alice), fund.pk, {"amount_cents": 1_000}, key="shared").status_code == 201
    response = pledge(client_for(bob), fund.pk, {"amount_cents": 1_000}, key="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert (wallet_for(alice).balance, wallet_for(bob).balance) == (9_000, 4_000)
    assert Fund.objects.get(pk=fund.pk).backer_count == 2
    assert ledger_violations() == []


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_bad_amounts_are_refused(alice, fund, amount):
    before = Books.read(alice)
    assert_error(pledge(client_for(alice), fund.pk, body_with(amount)), 400, "invalid_amount")
    assert_nothing_moved(before, alice)


def test_amount_that_json_makes_infinite_is_refused(alice, fund):
    before = Books.read(alice)
    response = pledge(client_for(alice), fund.pk, raw='{"amount_cents": 1e309}')
    assert_error(response, 400, "invalid_amount")
    assert_nothing_moved(before, alice)


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ('{"amount_cents": ', 400, "invalid_json"),
        ('{"amount_cents": NaN}', 400, "invalid_json"),
        ("[2500]", 400, "invalid_request"),
    ],
)
def test_bodies_that_are_not_a_json_object(alice, fund, raw, status, code):
    before = Books.read(alice)
    assert_error(pledge(client_for(alice), fund.pk, raw=raw), status, code)
    assert_nothing_moved(before, alice)


def test_form_encoded_body_is_refused(alice, fund):
    before = Books.read(alice)
    response = client_for(alice).post(
        f"/api/v1/funds/{fund.pk}/pledges/", {"amount_cents": "2500"}, HTTP_IDEMPOTENCY_KEY="f"
    )
    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_moved(before, alice)


def test_idempotency_key_is_required_and_bounded(alice, fund):
    client = client_for(alice)
    before = Books.read(alice)
    assert_error(pledge(client, fund.pk, {"amount_cents": 100}, key=None), 400, "idempotency_key_required")
    assert_error(pledge(client, fund.pk, {"amount_cents": 100}, key="   "), 400, "idempotency_key_required")
    assert_error(
        pledge(client, fund.pk, {"amount_cents": 100}, key="k" * 151), 400, "invalid_idempotency_key"
    )
    assert_nothing_moved(before, alice)
    # The longest key allowed still fits the ledger's transfer key.
    assert pledge(client, fund.pk, {"amount_cents": 100}, key="k" * 150).status_code == 201
    assert ledger_violations() == []


def test_insufficient_funds_says_the_shortfall(alice, fund):
    before = Books.read(alice)
    error = assert_error(
        pledge(client_for(alice), fund.pk, {"amount_cents": 12_500}), 402, "insufficient_funds"
    )
    assert error["details"]["shortfall_cents"] == 2_500
    assert error["message"].endswith("No money moved.")
    assert_nothing_moved(before, alice)


def test_closed_funds_refuse_pledges(alice, fund, make_fund):
    client = client_for(alice)
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.FAILED)
    past = make_fund(pledge_deadline=timezone.now() - timedelta(minutes=1))
    awarded = make_fund()
    Fund.objects.filter(pk=awarded.pk).update(status=FundStatus.AWARDED)
    before = Books.read(alice)
    for page in (fund, past, awarded):
        assert_error(pledge(client, page.pk, {"amount_cents": 100}, key=f"k{page.pk}"), 409, "fund_not_open")
    assert_nothing_moved(before, alice)


def test_unknown_or_unpublished_fund_is_404(alice, make_fund):
    draft = make_fund(live=False)
    before = Books.read(alice)
    for fund_id in (999_999, draft.pk):
        assert_error(pledge(client_for(alice), fund_id, {"amount_cents": 100}), 404, "not_found")
    assert_nothing_moved(before, alice)


def test_busy_database_answers_503_with_retry_after(alice, fund, monkeypatch):
    class Deadlock(Exception):
        sqlstate = "40P01"

    def deadlocked(**kwargs):
        raise OperationalError("deadlock detected") from Deadlock()

    # The fund lock, the first statement of a pledge (the SQL path's; the ORM path's is lock_fund).
    monkeypatch.setattr("bounties.services.ledger.pledge_lock", deadlocked)
    monkeypatch.setattr("bounties.services.time.sleep", lambda seconds: None)
    before = Books.read(alice)
    response = pledge(client_for(alice), fund.pk, {"amount_cents": 100})
    error = assert_error(response, 503, TryAgainLater.code)
    assert response["Retry-After"] == "1"
    assert error["message"].endswith("No money moved.")
    assert_nothing_moved(before, alice)


def test_wrong_method_is_405(alice, fund):
    assert_error(client_for(alice).get(f"/api/v1/funds/{fund.pk}/pledges/"), 405, "method_not_allowed")


def test_unknown_api_path_is_a_json_404():
    assert_error(APIClient().get("/api/v1/nothing/here/"), 404, "not_found")


# --- My pledges and withdrawing ----------------------------------------------------------------------


def test_my_pledges_lists_only_mine(alice, bob, fund):
    mine = pledge(client_for(alice), fund.pk, {"amount_cents": 1_000}, key="a").json()
    pledge(client_for(bob), fund.pk, {"amount_cents": 2_000}, key="b")
    response = client_for(alice).get("/api/v1/me/pledges/")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [mine]


def test_withdraw_returns_the_money(alice, fund):
    client = client_for(alice)
    pledge_id = pledge(client, fund.pk, {"amount_cents": 2_500}).json()["id"]
    response = client.delete(f"/api/v1/pledges/{pledge_id}/")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert wallet_for(alice).balance == 10_000  # all of it is back in the wallet
    state = Fund.objects.get(pk=fund.pk)
    assert (state.pledged_cents, state.backer_count) == (0, 0)

    before = Books.read(alice)  # a second withdrawal has nothing to withdraw
    assert_error(client.delete(f"/api/v1/pledges/{pledge_id}/"), 409, "withdraw_not_allowed")
    assert_nothing_moved(before, alice)


def test_withdraw_while_backers_vote_is_refused(alice, fund):
    client = client_for(alice)
    pledge_id = pledge(client, fund.pk, {"amount_cents": 2_500}).json()["id"]
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.VOTING)
    before = Books.read(alice)
    assert_error(client.delete(f"/api/v1/pledges/{pledge_id}/"), 409, "withdraw_frozen")
    assert Pledge.objects.get(pk=pledge_id).status == PledgeStatus.ACTIVE
    assert_nothing_moved(before, alice)


def test_another_users_pledge_is_404_and_untouched(alice, bob, fund):
    alices = pledge(client_for(alice), fund.pk, {"amount_cents": 2_500}).json()["id"]
    before = Books.read(alice, bob)
    assert_error(client_for(bob).delete(f"/api/v1/pledges/{alices}/"), 404, "not_found")
    assert_error(client_for(bob).delete("/api/v1/pledges/999999/"), 404, "not_found")
    assert Pledge.objects.get(pk=alices).status == PledgeStatus.ACTIVE
    assert_nothing_moved(before, alice, bob)


# --- OpenAPI schema --------------------------------------------------------------------------------

API_PATHS = {
    "/api/v1/accounts/",
    "/api/v1/auth/token/",
    "/api/v1/wallet/",
    "/api/v1/wallet/deposits/",
    "/api/v1/funds/",
    "/api/v1/funds/{id}/",
    "/api/v1/funds/{id}/pledges/",
    "/api/v1/me/pledges/",
    "/api/v1/pledges/{id}/",
    # Claims, votes, settlement choices and money out (tests/bounties/test_api_claims.py).
    "/api/v1/funds/{id}/claims/",
    "/api/v1/claims/{id}/",
    "/api/v1/claims/{id}/vote/",
    "/api/v1/pledges/{id}/settlement/",
    "/api/v1/wallet/cashouts/",
    "/api/v1/payouts/",
    # Creators' proposals (tests/bounties/test_api_proposals.py).
    "/api/v1/me/proposals/",
}


def test_schema_is_valid_openapi_listing_every_path():
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == API_PATHS
    validate_schema(schema)
    header = next(
        p for p in schema["paths"]["/api/v1/funds/{id}/pledges/"]["post"]["parameters"] if p["in"] == "header"
    )
    assert (header["name"], header["required"]) == ("Idempotency-Key", True)

    as_yaml = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    assert set(as_yaml["paths"]) == API_PATHS


def test_schema_generates_without_warnings(tmp_path):
    # What CI runs: a warning means an endpoint is documented wrongly.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


# --- Rate limit (RELIABILITY T25) -------------------------------------------------------------------


def test_pledges_beyond_the_rate_limit_get_429_and_move_nothing(alice, fund, settings):
    settings.PLEDGE_RATE_LIMIT = "3/d"  # a day: a test never straddles the window's end
    client = client_for(alice)
    for n in range(3):
        assert pledge(client, fund.pk, {"amount_cents": 100}, key=f"k{n}").status_code == 201
    before = Books.read(alice)

    response = pledge(client, fund.pk, {"amount_cents": 100}, key="k3")

    error = assert_error(response, 429, "rate_limited")
    assert "wait a minute" in error["message"] and "No money moved." in error["message"]
    assert response["Retry-After"] == "60"
    assert_nothing_moved(before, alice)
    assert not Pledge.objects.filter(key="k3").exists()


def test_the_rate_limit_counts_each_backer_apart(alice, bob, fund, settings):
    settings.PLEDGE_RATE_LIMIT = "1/d"
    assert pledge(client_for(alice), fund.pk, {"amount_cents": 100}, key="a").status_code == 201
    assert pledge(client_for(bob), fund.pk, {"amount_cents": 100}, key="b").status_code == 201
    assert_error(pledge(client_for(alice), fund.pk, {"amount_cents": 100}, key="a2"), 429, "rate_limited")
