"""Signing up, by the web form and the API: one rule for names, and redirects that stay on the site.

A username that only looks like another (full-width "Ａｄｍｉｎ", other case) is the same name
(RELIABILITY T30); a `next` that leaves the site is ignored (T28).
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
SIGNUP = "/accounts/signup/"
PASSWORD = "a long and unusual passphrase"


def web_signup(client, username="bob", email="bob@example.com", next_url=None):
    url = SIGNUP if next_url is None else f"{SIGNUP}?{_query(next=next_url)}"
    return client.post(
        url, {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def api_signup(username, email="bob@example.com"):
    return APIClient().post(
        "/api/v1/accounts/", {"username": username, "email": email, "password": PASSWORD}, format="json"
    )


def _query(**params):
    from urllib.parse import urlencode

    return urlencode(params)


# --- Where sign-up goes next -------------------------------------------------------------------


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/phish",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:///evil.example",
        "https://testserver.evil.example/",
    ],
)
def test_a_next_that_leaves_the_site_goes_to_the_welcome_on_the_homepage(client, site_tree, next_url):
    response = web_signup(client, next_url=next_url)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert User.objects.filter(username="bob").exists()
    homepage = client.get("/")
    assert "Welcome to Fundfill, bob" in homepage.content.decode()


def test_a_next_on_the_site_is_followed(client, site_tree):
    response = web_signup(client, next_url="/funds/?status=open")

    assert response.status_code == 302
    assert response["Location"] == "/funds/?status=open"


def test_the_form_keeps_next_so_a_corrected_form_still_returns_there(client, site_tree):
    page = client.get(f"{SIGNUP}?next=/funds/")
    assert 'name="next" value="/funds/"' in page.content.decode()

    response = client.post(
        SIGNUP,
        {
            "username": "bob",
            "email": "bob@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "/funds/",
        },
    )
    assert response["Location"] == "/funds/"


# --- One rule for usernames ------------------------------------------------------------------------


LOOK_ALIKES = [
    ("Admin", "Ａｄｍｉｎ"),  # full-width letters: NFKC makes them "Admin"
    ("ada", "ＡＤＡ"),
    ("admin", "ADMIN"),
    ("admin", "aDmIn"),
    ("grace", "ｇｒａｃｅ"),
]


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES)
def test_the_api_refuses_a_name_that_only_looks_different(existing, look_alike):
    UserFactory(username=existing)

    response = api_signup(look_alike)

    assert response.status_code == 400
    error = response.json()["error"]
    assert "already exists" in str(error)
    assert User.objects.count() == 1


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES)
def test_the_web_form_refuses_a_name_that_only_looks_different(client, site_tree, existing, look_alike):
    UserFactory(username=existing)

    response = web_signup(client, username=look_alike)

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.parametrize("hidden", ["admin\u200b", "ad\u200dmin", "admin\u00a0", "\u202eadmin"])
def test_invisible_characters_are_refused_in_both_doors(client, site_tree, hidden):
    UserFactory(username="admin")

    assert api_signup(hidden).status_code == 400
    assert web_signup(client, username=hidden).status_code == 400
    assert User.objects.count() == 1


def test_a_full_width_name_is_stored_in_its_plain_form():
    response = api_signup("Ｄｏｒａ")

    assert response.status_code == 201
    assert User.objects.get().username == "Dora"


def test_the_database_refuses_two_names_that_differ_only_in_case():
    # Whatever door a row comes through (a shell, a data import, a race between two sign-ups).
    User.objects.create_user(username="linus", password=PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="LINUS", password=PASSWORD)
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_existing_look_alikes_instead_of_failing_obscurely():
    from django.core.management import call_command

    call_command("migrate", "accounts", "zero", verbosity=0)
    try:
        User.objects.create_user(username="grace", password=PASSWORD)
        User.objects.create_user(username="Grace", password=PASSWORD)
        with pytest.raises(RuntimeError, match="rename all but one of each.*grace"):
            call_command("migrate", "accounts", verbosity=0)
        User.objects.filter(username="Grace").update(username="grace2")
        call_command("migrate", "accounts", verbosity=0)
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.create_user(username="GRACE", password=PASSWORD)
    finally:
        User.objects.all().delete()
        call_command("migrate", verbosity=0)
