"""Signed-in readers get the cached page with their own header and messages (pagecache/personal.py).

What they see is theirs (links, log-out form and token, flash messages) and the rest is the
anonymous page, byte for byte; nothing of theirs is ever stored or shown to anyone else;
pages the anonymous cache never holds (restricted pages), and every page for editors, are
rendered in full as before.
"""

from datetime import date

import pytest
from django.contrib import messages
from django.contrib.auth.models import Group
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse
from django.test import Client, RequestFactory
from wagtail.models import PageViewRestriction

from pagecache.generation import local
from pagecache.middleware import HEADER
from pagecache.personal import TOKEN_PLACEHOLDER, markers
from tests.factories import FundUpdatePageFactory, UserFactory, publish
from tests.pages_html import parse_html

FUND = "/funds/audit-truecrypt/"
NEWS = "/funds/audit-truecrypt/auditors-chosen/"


@pytest.fixture
def site(page_cache, home_page, fund_index, fund):
    home_page.featured_fund = fund
    publish(home_page)
    FundUpdatePageFactory(parent=fund, title="Auditors chosen", slug="auditors-chosen", date=date(2026, 2, 1))
    return home_page, fund


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def outside_parts(html: str) -> str:
    """The page with each personal part cut out: what every reader must share."""
    for name in ("account", "messages"):
        start, end = markers(name)
        html = html[: html.index(start)] + html[html.index(end) + len(end) :]
    return html


@pytest.mark.parametrize("path", ["/", FUND, "/funds/", NEWS, "/search/?q=audit"])
def test_a_signed_in_reader_gets_the_cached_page_with_their_own_header(site, user, path):
    anonymous = Client().get(path)
    assert anonymous[HEADER] == "miss"

    response = signed_in(user).get(path)
    html = response.content.decode()
    assert response.status_code == 200 and response[HEADER] == "personal (hit)"
    assert "Log out" in html and "Wallet" in html and "Log in" not in html
    assert response["Cache-Control"] == "private, no-cache" and "Cookie" in response["Vary"]
    assert outside_parts(html) == outside_parts(anonymous.content.decode())

    again = Client().get(path)  # and the next anonymous reader gets the anonymous page, untouched
    assert again[HEADER] == "hit" and again.content == anonymous.content
    assert "Log out" not in again.content.decode() and "csrfmiddlewaretoken" not in again.content.decode()


def test_a_signed_in_reader_first_fills_the_cache_with_the_anonymous_page(site, user):
    response = signed_in(user).get(FUND)
    assert response[HEADER] == "personal (fetched)" and "Log out" in response.content.decode()

    anonymous = Client().get(FUND)
    assert anonymous[HEADER] == "hit"
    assert "Log in" in anonymous.content.decode() and "Log out" not in anonymous.content.decode()
    assert signed_in(user).get(FUND)[HEADER] == "personal (hit)"


def test_the_log_out_form_carries_this_readers_token_and_works(site, user):
    Client().get(FUND)
    client = signed_in(user)
    client.get(FUND)  # the reader checked in full ...
    response = client.get(FUND)  # ... so this page is built before the rest of the stack runs
    token = parse_html(response.content).find("input", name="csrfmiddlewaretoken").get("value")
    assert token and "csrftoken" in response.cookies  # the token's cookie came with it

    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    logged_out = strict.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert logged_out.status_code == 302
    assert "Log in" in Client().get(FUND).content.decode()
    assert "_auth_user_id" not in strict.session


def leave_message(client, text):
    """A flash message waiting in `client`'s messages cookie, as a redirect after an action leaves it."""
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(messages.SUCCESS, text)
    response = HttpResponse()
    storage.update(response)
    client.cookies[CookieStorage.cookie_name] = response.cookies[CookieStorage.cookie_name].value


def test_a_flash_message_shows_once_to_its_reader_only(site, user):
    Client().get(FUND)
    ada, bob = signed_in(user), signed_in(UserFactory(username="bob"))
    leave_message(ada, "Pledged $25 to Audit TrueCrypt.")

    first = ada.get(FUND)
    assert first[HEADER] == "personal (hit)"
    assert "Pledged $25 to Audit TrueCrypt." in first.content.decode()
    assert "Pledged $25" not in ada.get(FUND).content.decode()  # shown once
    assert "Pledged $25" not in bob.get(FUND).content.decode()
    assert "Pledged $25" not in Client().get(FUND).content.decode()


def test_a_page_anonymous_readers_may_not_see_is_rendered_in_full(
    site, user, django_capture_on_commit_callbacks
):
    _home, fund = site
    news = fund.get_children().get(slug="auditors-chosen")
    with django_capture_on_commit_callbacks(execute=True):
        PageViewRestriction.objects.create(page=news, restriction_type=PageViewRestriction.LOGIN)
    assert Client().get(NEWS).status_code == 302

    response = signed_in(user).get(NEWS)
    assert response.status_code == 200 and response[HEADER] == "bypass"
    assert "Auditors chosen" in response.content.decode() and "Log out" in response.content.decode()
    assert Client().get(NEWS).status_code == 302  # and nothing of it was stored


def test_editors_get_their_userbar_on_a_full_render(site):
    editor = UserFactory(username="eve")
    editor.groups.add(Group.objects.get(name="Editors"))
    Client().get(FUND)
    response = signed_in(editor).get(FUND)
    assert response[HEADER] == "bypass"
    assert "wagtail-userbar" in response.content.decode()


def test_a_personal_hit_reads_nothing_from_the_database(site, user, django_assert_num_queries):
    Client().get(FUND)
    client = signed_in(user)
    first = client.get(FUND)  # checks the reader in full: the user row and whether they edit
    with django_assert_num_queries(0):  # then only the session (Redis) for a minute
        second = client.get(FUND)
    assert first[HEADER] == second[HEADER] == "personal (hit)"
    # The same page both ways, but for the token, which is masked afresh on every response.
    assert without_token(first.content.decode()) == without_token(second.content.decode())
    token = parse_html(second.content).find("input", name="csrfmiddlewaretoken").get("value")
    assert token and token != TOKEN_PLACEHOLDER and "csrftoken" in second.cookies


def without_token(html: str) -> str:
    form = parse_html(html).find("input", name="csrfmiddlewaretoken")
    return html.replace(form.get("value"), "") if form is not None else html


def test_the_verified_reader_is_checked_again_once_their_account_changes(site, user):
    Client().get(FUND)
    client = signed_in(user)
    client.get(FUND)
    assert "Log out" in client.get(FUND).content.decode()  # from what this process verified

    user.is_active = False
    user.save()  # forgotten by this process at once: the next page view checks in full
    response = client.get(FUND)
    assert response[HEADER] == "personal (hit)"
    html = response.content.decode()
    assert "Log in" in html and "Log out" not in html


def test_a_reader_who_becomes_an_editor_gets_the_full_render_at_once(site, user):
    Client().get(FUND)
    client = signed_in(user)
    client.get(FUND)
    user.is_superuser = True  # superusers edit (no permission cache to wait for)
    user.save()
    response = client.get(FUND)
    assert response[HEADER] == "bypass" and "wagtail-userbar" in response.content.decode()


def test_a_logged_out_session_gets_the_logged_out_links(site, user):
    Client().get(FUND)
    client = signed_in(user)
    client.get(FUND)
    client.get(FUND)
    token = parse_html(client.get(FUND).content).find("input", name="csrfmiddlewaretoken").get("value")
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    html = client.get(FUND).content.decode()
    assert "Log in" in html and "Log out" not in html


def test_a_signed_in_view_that_is_no_page_is_not_looked_up_in_the_cache_again(site, user, monkeypatch):
    monkeypatch.setattr(local, "not_pages", set())  # what this process learnt in other tests
    client = signed_in(user)
    assert not local.is_not_page("/wallet/")
    assert client.get("/wallet/").status_code == 200
    assert local.is_not_page("/wallet/")  # the next one goes straight down the stack
    assert "Log out" in client.get("/wallet/").content.decode()
