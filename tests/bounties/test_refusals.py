"""A refusal answers the same on every door: the pledge form, the API and the webhook send the
exception's own status, code and `Retry-After` (bounties/errors.py)."""

import json
import uuid
from unittest import mock

import pytest
import stripe
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bounties.errors import BountiesError, ConnectionLost, InsufficientFunds, RateLimited, TryAgainLater
from bounties.models import Pledge
from bounties.payments import webhook_secret
from tests.money import top_up

pytestmark = pytest.mark.django_db


def form_post(user, fund):
    client = Client()
    client.force_login(user)
    return client.post(f"/funds/{fund.pk}/pledge/", {"amount": "5", "key": str(uuid.uuid4())})


def api_post(user, fund):
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client.post(
        f"/api/v1/funds/{fund.pk}/pledges/",
        {"amount_cents": 500},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def webhook_post():
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "ping", "data": {}})
    signature = stripe.WebhookSignature.generate_signature_header(payload, webhook_secret())
    return Client().post(
        "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def api_error(response) -> dict:
    """The API error's fields but its `request_id`, which is the response's X-Request-ID (monitoring)."""
    error = dict(response.json()["error"])
    assert error.pop("request_id") == response["X-Request-ID"]
    return error


def test_only_waiting_refusals_carry_a_retry_after():
    assert (TryAgainLater.retry_after, ConnectionLost.retry_after, RateLimited.retry_after) == (1, 1, 60)
    assert InsufficientFunds().headers == {} and BountiesError().headers == {}
    assert TryAgainLater().headers == {"Retry-After": "1"}


@pytest.mark.parametrize("busy", [TryAgainLater, ConnectionLost])
def test_a_busy_database_answers_503_and_the_same_retry_after_on_every_door(user, fund, busy):
    top_up(user, 10_000)
    with (
        mock.patch("bounties.views.pledge_create", side_effect=busy()),
        mock.patch("bounties.api.views.pledge_create", side_effect=busy()),
        mock.patch("bounties.payments.webhooks.webhook_apply", side_effect=busy()),
    ):
        form, api, webhook = form_post(user, fund), api_post(user, fund), webhook_post()

    assert [r.status_code for r in (form, api, webhook)] == [503, 503, 503]
    assert [r["Retry-After"] for r in (form, api, webhook)] == ["1", "1", "1"]
    assert api_error(api) == webhook.json()["error"] == busy().body()["error"]
    assert busy().user_message in form.content.decode()
    assert not Pledge.objects.exists()


def test_the_rate_limit_answers_429_and_the_same_retry_after_on_the_form_and_the_api(user, fund, settings):
    settings.PLEDGE_RATE_LIMIT = "1/d"  # a day: a test never straddles the window's end
    top_up(user, 10_000)
    assert form_post(user, fund).status_code == 302  # the one pledge allowed, counted for both doors

    form, api = form_post(user, fund), api_post(user, fund)

    assert [r.status_code for r in (form, api)] == [429, 429]
    assert [r["Retry-After"] for r in (form, api)] == ["60", "60"]
    assert api_error(api) == RateLimited().body()["error"]
    assert RateLimited().user_message in form.content.decode()
    assert Pledge.objects.count() == 1


def test_a_short_wallet_says_the_same_on_the_form_and_the_api(user, fund):
    top_up(user, 1_000)  # $10, and both doors pledge $25
    client = Client()
    client.force_login(user)
    form = client.post(f"/funds/{fund.pk}/pledge/", {"amount": "25", "key": str(uuid.uuid4())})
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.post(
        f"/api/v1/funds/{fund.pk}/pledges/", {"amount_cents": 2_500}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    message = "Your wallet holds $10; this pledge needs $15 more. No money moved."
    assert api_error(response) == {
        "code": "insufficient_funds",
        "message": message,
        "details": {"balance_cents": 1_000, "shortfall_cents": 1_500},
    }
    assert form.status_code == 402 and message in form.content.decode()
    assert "Retry-After" not in form and not Pledge.objects.exists()
