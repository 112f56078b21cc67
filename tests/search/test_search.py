"""Site search: readers find funds and news by what they say."""

from datetime import date

import pytest
from wagtail.models import PageViewRestriction
from wagtail.rich_text import RichText

from tests.factories import FundUpdatePageFactory
from tests.pages_html import parse_html


def result_titles(response):
    return [
        result.find("h2").text for result in parse_html(response.content).find_all(class_="search-result")
    ]


@pytest.fixture
def funds(make_fund):
    audit = make_fund(
        title="Audit TrueCrypt",
        summary="An independent audit of the disk encryption tool.",
        body=[("paragraph", RichText("<p>The auditors will also check the bootloader.</p>"))],
    )
    make_fund(
        title="First to bypass TouchID",
        summary="A bounty for a fingerprint bypass.",
        body=[("paragraph", RichText("<p>Lift a print from a glass and unlock the phone.</p>"))],
    )
    return audit


def test_search_finds_a_fund_by_a_word_only_in_its_body(client, funds):
    response = client.get("/search/", {"q": "bootloader"})

    assert response.status_code == 200
    assert result_titles(response) == ["Audit TrueCrypt"]
    assert "1 result for" in response.content.decode()


def test_search_finds_news(client, funds):
    FundUpdatePageFactory(
        parent=funds,
        title="Audit team shortlisted",
        date=date(2014, 2, 14),
        body=[("paragraph", RichText("<p>Three cryptographers have offered proposals.</p>"))],
    )

    response = client.get("/search/", {"q": "cryptographers"})

    assert result_titles(response) == ["Audit team shortlisted"]


def test_search_leaves_out_unpublished_pages(client, funds):
    FundUpdatePageFactory(
        parent=funds,
        title="Draft about the bootloader",
        live=False,
        body=[("paragraph", RichText("<p>bootloader notes</p>"))],
    )

    assert result_titles(client.get("/search/", {"q": "bootloader"})) == ["Audit TrueCrypt"]


def test_search_leaves_out_private_pages_from_the_moment_they_are_restricted(
    client, funds, django_capture_on_commit_callbacks
):
    assert result_titles(client.get("/search/", {"q": "bootloader"})) == ["Audit TrueCrypt"]
    with django_capture_on_commit_callbacks(execute=True):
        PageViewRestriction.objects.create(page=funds, restriction_type=PageViewRestriction.LOGIN)
    assert result_titles(client.get("/search/", {"q": "bootloader"})) == []


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_shows_no_results(client, funds, query):
    response = client.get("/search/", {"q": query})

    assert response.status_code == 200
    assert result_titles(response) == []
    assert 'class="search-count"' not in response.content.decode()


def test_results_are_paginated(client, make_fund):
    for n in range(11):
        make_fund(title=f"Reproducible build {n:02d}", summary="Make the zebra build reproducible.")

    first = client.get("/search/", {"q": "zebra"})
    second = client.get("/search/", {"q": "zebra", "page": 2})

    assert len(result_titles(first)) == 10
    assert len(result_titles(second)) == 1
    assert set(result_titles(first)) | set(result_titles(second)) == {
        f"Reproducible build {n:02d}" for n in range(11)
    }
    assert "11 results for" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "999", "1.5", "%00", "9" * 40])
def test_garbage_page_numbers_do_not_break_search(client, funds, page):
    response = client.get("/search/", {"q": "bootloader", "page": page})

    assert response.status_code == 200
    assert result_titles(response) == ["Audit TrueCrypt"]
