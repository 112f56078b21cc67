"""`/funds/live.json`: the live figures an open page polls (bounties/live.py)."""

import pytest
from django.core.cache import cache
from django.test import Client

from bounties.models import Fund


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.delete_many([f"live-figures:{n}" for n in range(1, 200)])


def test_figures_for_several_funds_in_one_answer(fund, make_fund, django_assert_num_queries):
    other = make_fund(title="Bypass TouchID", slug="bypass-touchid", goal_cents=1_000_000)
    Fund.objects.filter(pk=fund.pk).update(pledged_cents=37_000, backer_count=12)
    Fund.objects.filter(pk=other.pk).update(pledged_cents=100, backer_count=1)

    with django_assert_num_queries(1):
        response = Client().get(f"/funds/live.json?ids={fund.pk},{other.pk}")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=1"
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    assert response.json() == {
        "funds": {
            str(fund.pk): {
                "status": "open",
                "pledged_cents": 37_000,
                "pledged": "$370",
                "backer_count": 12,
                "backers": "12 backers",
                "progress_percent": 37,
            },
            str(other.pk): {
                "status": "open",
                "pledged_cents": 100,
                "pledged": "$1",
                "backer_count": 1,
                "backers": "1 backer",
                "progress_percent": 0,
            },
        }
    }


def test_the_answer_is_shared_for_a_second(fund, django_assert_num_queries):
    Client().get(f"/funds/live.json?ids={fund.pk}")
    with django_assert_num_queries(0):
        Client().get(f"/funds/live.json?ids={fund.pk}")


def test_unpublished_funds_are_not_reported(fund):
    fund.unpublish()
    assert Client().get(f"/funds/live.json?ids={fund.pk}").json() == {"funds": {}}


@pytest.mark.parametrize("ids", ["", "abc", "1,,2", "-1", ",".join(str(n) for n in range(1, 60))])
def test_bad_ids_are_refused(db, ids):
    response = Client().get(f"/funds/live.json?ids={ids}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_ids"  # the API's error shape
