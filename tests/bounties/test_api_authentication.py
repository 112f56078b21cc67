"""API tokens (bounties/api/authentication.py): looked up fresh on every request, never cached."""

import pytest
from rest_framework.authtoken.models import Token

from tests.api import assert_error, client_for
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db


def test_a_token_signs_in_its_own_user():
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    top_up(ada, 2_500)
    assert client_for(ada).get("/api/v1/wallet/").json()["balance_cents"] == 2_500
    assert client_for(bob).get("/api/v1/wallet/").json()["balance_cents"] == 0


def test_a_deleted_token_is_refused_at_the_next_request():
    ada = UserFactory(username="ada")
    client = client_for(ada)
    assert client.get("/api/v1/wallet/").status_code == 200
    Token.objects.filter(user=ada).delete()
    assert_error(client.get("/api/v1/wallet/"), 401, "not_authenticated")


def test_a_deactivated_user_is_refused_at_the_next_request():
    ada = UserFactory(username="ada")
    client = client_for(ada)
    assert client.get("/api/v1/wallet/").status_code == 200
    ada.is_active = False
    ada.save(update_fields=["is_active"])
    error = assert_error(client.get("/api/v1/wallet/"), 401, "not_authenticated")
    assert "inactive" in error["message"].lower()


@pytest.mark.parametrize("header", ["Token nope", "Token " + "x" * 40, "Token a b", "Token"])
def test_a_bad_token_header_is_refused(header):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/wallet/"), 401, "not_authenticated")
