"""`{% editor_userbar %}`: editors get Wagtail's userbar on pages; backers pay no permission queries for it."""

import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from base.templatetags import userbar_tags
from tests.factories import UserFactory

FUND = "/funds/audit-truecrypt/"
USERBAR = "<wagtail-userbar"


def page_for(user):
    client = Client()
    client.force_login(user)
    response = client.get(FUND)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def editor(db):
    user = UserFactory(username="editor")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


def test_editors_and_superusers_get_the_userbar(fund, editor):
    assert USERBAR in page_for(editor)
    assert USERBAR in page_for(UserFactory(username="admin", is_superuser=True))


def test_backers_and_anonymous_readers_do_not(fund, user):
    assert USERBAR not in page_for(user)
    assert USERBAR not in Client().get(FUND).content.decode()


def test_a_backers_page_view_asks_for_no_permissions(fund, user, django_assert_num_queries):
    client = Client()
    client.force_login(user)
    client.get(FUND)
    # Wagtail's Site and site root, their user row, the fund's figures and its public timeline (live:
    # votes and settlements change it without a publish); the session comes from Redis, the rest
    # from the memo.
    with django_assert_num_queries(5) as queries:
        assert client.get(FUND).status_code == 200
    assert not any("auth_permission" in q["sql"] for q in queries.captured_queries)


def test_a_new_editor_gets_the_userbar_once_the_check_expires(fund, user, monkeypatch):
    monkeypatch.setattr(userbar_tags, "EDITOR_CHECK_SECONDS", 1)
    assert USERBAR not in page_for(user)
    user.groups.add(Group.objects.get(name="Editors"))
    time.sleep(1.1)
    assert USERBAR in page_for(user)
