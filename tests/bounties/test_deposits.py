"""`deposit_start`, the one way to start adding money: the add-money form and the API both call it."""

import uuid

import pytest
import stripe
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bounties.errors import CardDeclined, CheckoutExpired, InvalidCard
from bounties.models import Deposit, DepositStatus, Transfer
from bounties.payments.local_gateway import DECLINE_CARD, SUCCESS_CARD
from bounties.selectors import wallet_balance
from bounties.services.deposits import deposit_start, webhook_apply
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

URLS = {
    "success_url": "https://fundfill.example/wallet/",
    "cancel_url": "https://fundfill.example/wallet/add/",
}


def start(user, **kwargs):
    return deposit_start(user=user, amount_cents=kwargs.pop("amount_cents", 2_500), **URLS, **kwargs)


def expire(deposit):
    """Stripe's `checkout.session.expired` for the deposit, applied as the webhook applies it."""
    session = {"object": "checkout.session", "metadata": {"deposit": str(deposit.uuid)}}
    webhook_apply(
        event_id=f"evt_{uuid.uuid4().hex}",
        event_type="checkout.session.expired",
        payload={"data": {"object": session}},
    )


@pytest.fixture
def on_stripe(settings, monkeypatch):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    sessions = []

    def create(**kwargs):  # Stripe answers a repeated idempotency key with the first session
        sessions.append(kwargs["idempotency_key"])
        session_id = f"cs_test_{kwargs['idempotency_key'][-12:]}"
        return {"id": session_id, "url": f"https://checkout.stripe.test/c/pay/{session_id}"}

    monkeypatch.setattr(stripe.checkout.Session, "create", create)
    return sessions


# --- The outcomes ----------------------------------------------------------------------------------


def test_a_test_card_is_charged_at_once_and_a_replay_answers_from_the_deposit(user):
    first = start(user, key="k", card="4242 4242 4242 4242")
    again = start(user, key="k", card=SUCCESS_CARD)

    assert (first.deposit.status, first.replayed) == (DepositStatus.SUCCEEDED, False)
    assert (again.deposit.pk, again.replayed) == (first.deposit.pk, True)
    assert wallet_balance(user=user) == 2_500 and Transfer.objects.count() == 1


def test_without_a_card_the_deposit_gets_a_checkout_opened_once(user, on_stripe):
    first = start(user, key="k")
    again = start(user, key="k")

    assert first.deposit.status == DepositStatus.PENDING
    assert first.deposit.checkout_url.startswith("https://checkout.stripe.test/")
    assert (again.deposit.checkout_url, again.replayed) == (first.deposit.checkout_url, True)
    assert len(on_stripe) == 1  # the replay reuses the checkout it opened
    assert wallet_balance(user=user) == 0


def test_a_declined_card_is_declined_again_on_replay_naming_the_deposit(user):
    with pytest.raises(CardDeclined) as first:
        start(user, key="k", card=DECLINE_CARD)
    with pytest.raises(CardDeclined) as again:
        start(user, key="k", card=SUCCESS_CARD)  # another card under the same key: no second attempt

    deposit = Deposit.objects.get(user=user)
    assert first.value.details == again.value.details == {"deposit_id": deposit.pk}
    assert first.value.message == again.value.message
    assert deposit.status == DepositStatus.DECLINED and not Transfer.objects.exists()


def test_an_unknown_card_is_refused_and_the_deposit_stays_pending(user):
    with pytest.raises(InvalidCard):
        start(user, key="k", card="4111 1111 1111 1111")
    assert Deposit.objects.get(user=user).status == DepositStatus.PENDING


def test_an_expired_checkouts_key_is_refused_and_a_new_key_starts_again(user, on_stripe):
    """Decision: a replay of an expired deposit's key is refused (409 `checkout_expired`), never
    handed its dead checkout; the key stays with that deposit, so the payer starts again."""
    first = start(user, key="k")
    expire(first.deposit)

    with pytest.raises(CheckoutExpired) as refused:
        start(user, key="k")
    fresh = start(user, key="k2")

    assert refused.value.details == {"deposit_id": first.deposit.pk}
    assert refused.value.status == 409
    assert fresh.deposit.pk != first.deposit.pk and fresh.deposit.checkout_url != first.deposit.checkout_url
    assert list(Deposit.objects.order_by("pk").values_list("status", flat=True)) == ["expired", "pending"]


# --- The same outcomes through both doors ------------------------------------------------------------


def test_the_api_answers_an_expired_checkouts_key_with_409(user, on_stripe):
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    def post(key):
        return client.post(
            "/api/v1/wallet/deposits/", {"amount_cents": 2_500}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )

    first = post("k")
    expire(Deposit.objects.get(pk=first.json()["id"]))
    refused = post("k")

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "checkout_expired" and error["message"].endswith("No money moved.")
    assert error["details"] == {"deposit_id": first.json()["id"]}
    assert post("k2").status_code == 201


def test_the_add_money_form_answers_an_expired_checkout_with_a_fresh_key(user, on_stripe):
    client = Client()
    client.force_login(user)
    key = parse_html(client.get("/wallet/add/").content).find("input", name="key").get("value")

    first = client.post("/wallet/add/", {"amount": "25", "key": key})
    assert first.status_code == 302 and first.url.startswith("https://checkout.stripe.test/")
    expire(Deposit.objects.get(user=user))
    refused = client.post("/wallet/add/", {"amount": "25", "key": key})

    html = refused.content.decode()
    assert refused.status_code == 409
    assert "This card checkout expired before it was paid. Start again to add money. No money moved." in html
    fresh = parse_html(html).find("input", name="key").get("value")
    assert fresh != key  # sending the form again is a new deposit, on purpose
    again = client.post("/wallet/add/", {"amount": "25", "key": fresh})
    assert again.status_code == 302 and again.url != first.url
    assert Deposit.objects.filter(user=user).count() == 2
