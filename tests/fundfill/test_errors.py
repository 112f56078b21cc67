"""Error pages and account forms: what a reader sees when something is wrong."""

import logging
import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
PASSWORD = "correct horse battery"


# 404 and 500 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no-such-page/", "/funds/no-such-fund/", "/accounts/no-such-form/"])
def test_404_is_a_404_in_the_sites_look(client, site_tree, path):
    response = client.get(path)

    assert response.status_code == 404
    html = response.content.decode()
    assert "We can't find that page" in html
    assert 'class="site-header__brand" href="/">Fundfill</a>' in html
    assert '<nav class="site-nav"' in html


@pytest.fixture
def broken_search(monkeypatch):
    """Make /search/ fail the way a bug would: an exception inside the view."""

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("search.views.TemplateResponse", explode)


def test_500_says_no_money_moved_and_gives_a_reference_that_is_in_the_log(site_tree, broken_search, caplog):
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="fundfill.errors"):
        response = client.get("/search/", {"q": "audit"})

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "No money moved" in html
    assert 'class="site-header__brand" href="/">Fundfill</a>' in html
    reference = response["X-Error-Reference"]
    assert reference == response["X-Request-ID"]  # the request id: it leads to every log line
    assert f'<code class="error-reference">{reference}</code>' in html
    logged = [record for record in caplog.records if record.name == "fundfill.errors"]
    assert len(logged) == 1
    assert reference in logged[0].getMessage()
    assert "/search/" in logged[0].getMessage()
    assert "RuntimeError: simulated failure" in caplog.text  # the traceback is logged with it


def test_each_500_gets_its_own_reference(site_tree, broken_search):
    client = Client(raise_request_exception=False)

    first = client.get("/search/", {"q": "audit"})["X-Error-Reference"]
    second = client.get("/search/", {"q": "audit"})["X-Error-Reference"]

    assert first != second


def test_the_500_reference_is_the_request_id(site_tree, broken_search):
    response = Client(raise_request_exception=False).get(
        "/search/", {"q": "audit"}, HTTP_X_REQUEST_ID="ticket-9"
    )
    assert response["X-Error-Reference"] == response["X-Request-ID"] == "ticket-9"


# Sign-up ----------------------------------------------------------------------------------------


def signup_data(**overrides):
    return {
        "username": "bob",
        "email": "bob@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


def test_signup_creates_the_account_and_logs_in(client, site_tree):
    response = client.post(SIGNUP, signup_data())

    assert response.status_code == 302
    user = get_user_model().objects.get(username="bob")
    assert user.email == "bob@example.com"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password2": "something else entirely"}, "The two password fields didn’t match."),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"username": ""}, "This field is required."),
    ],
)
def test_signup_errors_are_shown_on_the_form(client, site_tree, overrides, message):
    response = client.post(SIGNUP, signup_data(**overrides))

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="alert"' in html
    assert "<h1>Create your account</h1>" in html
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("email", ["alice@example.com", "  ALICE@Example.com "])
def test_signup_refuses_an_email_that_already_has_an_account(client, user, email):
    response = client.post(SIGNUP, signup_data(email=email))

    assert response.status_code == 400
    assert "An account with this email already exists." in response.content.decode()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def test_signup_page_renders(client, site_tree):
    response = client.get(SIGNUP)

    assert response.status_code == 200
    assert 'name="email"' in response.content.decode()


# Log in and password reset ----------------------------------------------------------------------


def test_login_page_renders_and_logs_in(client, user):
    page = client.get("/accounts/login/")

    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_a_wrong_password_is_a_form_error(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_emails_a_link_to_a_known_address(client, user):
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"}, follow=True)

    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    # The link works: it leads to the form that sets a new password.
    choose = client.get(link, follow=True)
    assert "Choose a new password" in choose.content.decode()
    assert 'name="new_password1"' in choose.content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, user):
    known = client.post("/accounts/password_reset/", {"email": "alice@example.com"}, follow=True)
    mail.outbox.clear()

    unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.com"}, follow=True)

    assert unknown.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert "Check your email" in unknown.content.decode()
    assert mail.outbox == []


def test_a_form_sent_without_its_csrf_token_is_refused_and_says_no_money_moved(fund, user):
    from bounties.models import Pledge, Transfer

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(f"/funds/{fund.pk}/pledge/", {"amount": "25", "key": str(uuid.uuid4())})

    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html and "No money moved." in html
    assert '<header class="site-header">' in html  # the site's own page, not Django's bare one
    assert not Pledge.objects.exists() and not Transfer.objects.exists()


# --- Repeated wrong passwords (django-axes, RELIABILITY T25) -------------------------------------


def test_five_wrong_passwords_lock_the_login_from_there_and_say_so(user):
    browser = Client()
    for _ in range(4):
        response = browser.post("/accounts/login/", {"username": user.username, "password": "wrong"})
        assert response.status_code == 200 and "Please enter a correct username and password" in (
            response.content.decode()
        )
    locked = browser.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 15 * 60
    assert "Too many wrong passwords" in locked.content.decode()
    # Now even the right password is refused from here, until the cool-off passes.
    again = browser.post("/accounts/login/", {"username": user.username, "password": "correct horse battery"})
    assert again.status_code == 429 and "_auth_user_id" not in browser.session


def test_the_lockout_is_for_one_username_from_one_address(user):
    get_user_model().objects.create_user("bea", "bea@fundfill.example", "another-secret-1")
    for _ in range(5):
        Client().post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert (
        Client().post("/accounts/login/", {"username": "bea", "password": "another-secret-1"}).status_code
        == 302
    )
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    response = elsewhere.post(
        "/accounts/login/", {"username": user.username, "password": "correct horse battery"}
    )
    assert response.status_code == 302


def test_the_api_token_endpoint_locks_out_with_the_apis_error_shape(user):
    from rest_framework.test import APIClient

    client = APIClient()
    for _ in range(4):
        response = client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json"
        )
        assert response.status_code == 400
    response = client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 429 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "locked_out" and response["Retry-After"]


def test_behind_a_trusted_proxy_the_lockout_follows_the_forwarded_address(user, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    via = {"REMOTE_ADDR": "10.0.0.1"}  # every request comes through the same balancer
    for _ in range(5):
        Client(**via, HTTP_X_FORWARDED_FOR="198.51.100.7").post(
            "/accounts/login/", {"username": user.username, "password": "wrong"}
        )
    assert (
        Client(**via, HTTP_X_FORWARDED_FOR="198.51.100.7")
        .post("/accounts/login/", {"username": user.username, "password": "correct horse battery"})
        .status_code
        == 429
    )
    # The backer, from their own address through the same balancer, still gets in.
    own = Client(**via, HTTP_X_FORWARDED_FOR="192.0.2.44")
    response = own.post("/accounts/login/", {"username": user.username, "password": "correct horse battery"})
    assert response.status_code == 302


def test_a_request_django_refuses_gets_a_400_in_the_sites_look(client, site_tree, settings):
    # A forged Host header is refused before any view runs.
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    response = client.get("/funds/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    html = response.content.decode()
    assert "We could not understand that request" in html
    assert "No money moved." in html
    assert "fundfill.css" in html  # the site's page, not Django's bare "Bad Request (400)"
