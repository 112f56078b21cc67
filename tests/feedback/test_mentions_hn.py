"""Polling Hacker News through the Algolia search API against the local fake (tests/fakes/hn_server.py):
stories and comments that link the site are stored once, the newer-than filter comes from the newest
stored, a loose full-text hit that does not link the site is left out, and an outage changes nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from feedback import mentions
from feedback.models import Mention, MentionSource
from tests.fakes.hn_server import FakeHN
from tests.integration import run_concurrently

SEARCH = "/api/v1/search_by_date"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def fake_hn(settings):
    with FakeHN() as fake:
        settings.SITE_URL = "https://fundfill.example"
        settings.HN_SEARCH_API_BASE = fake.api_base
        yield fake


@pytest.mark.django_db
def test_stories_and_comments_linking_the_site_are_stored_once_and_the_filter_moves_on(fake_hn, make_fund):
    tor = make_fund(title="Port Tor to Rust", slug="tor-rust")
    story = fake_hn.add_story(
        "Show HN: Escrowed bounties for open source",
        url="https://fundfill.example/funds/tor-rust/",
        author="maker",
        created_at=NOW - timedelta(hours=2),
    )
    comment = fake_hn.add_comment(
        'Who holds the money? See <a href="https://fundfill.example/how-it-works/">'
        "https://fundfill.example/how-it-works/</a>",
        story=fake_hn.add_story(
            "Funding OSS", url="https://blog.example/oss", created_at=NOW - timedelta(hours=3)
        ),
        author="critic",
        created_at=NOW - timedelta(hours=1),
    )
    on_the_story = fake_hn.add_comment(
        "Nice idea", story=story, author="fan", created_at=NOW - timedelta(minutes=30)
    )
    # Algolia's loose match: the words "fundfill" and "example" but no link to the site.
    fake_hn.add_story("An example of a fundfill-like idea", url="https://other.example/", created_at=NOW)

    first = mentions.poll_hn(now=NOW)

    assert first.stored == 3
    stored = {m.external_id: m for m in Mention.objects.filter(source=MentionSource.HN)}
    assert set(stored) == {story["objectID"], comment["objectID"], on_the_story["objectID"]}
    show = stored[story["objectID"]]
    assert (show.author, show.text, show.fund_id) == (
        "maker",
        "Show HN: Escrowed bounties for open source",
        tor.pk,
    )
    assert show.url == f"https://news.ycombinator.com/item?id={story['objectID']}"
    assert show.created_at == NOW - timedelta(hours=2)
    critic = stored[comment["objectID"]]
    assert critic.text == (
        "On “Funding OSS”: Who holds the money? See https://fundfill.example/how-it-works/"
    )
    assert critic.fund_id is None  # it links the site, not a fund
    assert stored[on_the_story["objectID"]].fund_id == tor.pk  # a comment on a story about the fund
    (call,) = fake_hn.calls("GET", SEARCH)
    assert call.arg("query") == "fundfill.example"
    assert call.arg("tags") == "(story,comment)"
    # The first run looks back a week.
    assert call.arg("numericFilters") == f"created_at_i>{int((NOW - timedelta(days=7)).timestamp())}"

    # A second run asks for what is newer than an hour before the newest stored (Algolia indexes
    # late), finds those again and stores only what is new.
    later = fake_hn.add_comment(
        "fundfill.example is down?", story=story, author="ops", created_at=NOW + timedelta(minutes=5)
    )
    indexed_late = fake_hn.add_comment(
        "Posted before the newest, indexed after: fundfill.example",
        story=story,
        author="slow",
        created_at=NOW - timedelta(minutes=40),
    )
    second = mentions.poll_hn(now=NOW + timedelta(minutes=10))

    assert second.stored == 2
    assert fake_hn.calls("GET", SEARCH)[-1].arg("numericFilters") == (
        f"created_at_i>{int((NOW - timedelta(minutes=90)).timestamp())}"
    )
    assert Mention.objects.filter(external_id=indexed_late["objectID"]).exists()
    assert Mention.objects.filter(source=MentionSource.HN).count() == 5
    assert Mention.objects.get(external_id=later["objectID"]).author == "ops"


@pytest.mark.django_db
def test_an_outage_logs_a_warning_and_changes_nothing(fake_hn, site_tree, caplog):
    fake_hn.add_story("Fundfill", url="https://fundfill.example/", created_at=NOW)
    fake_hn.fail_next(502, path=SEARCH)

    assert mentions.poll_hn(now=NOW).skipped == "unavailable"
    assert not Mention.objects.exists()
    assert any(r.levelname == "WARNING" and "hn unavailable" in r.getMessage() for r in caplog.records)
    # It is back: the next run stores the story.
    assert mentions.poll_hn(now=NOW).stored == 1


@pytest.mark.django_db
def test_an_answer_that_is_not_algolias_changes_nothing(fake_hn, site_tree):
    fake_hn.fail_next(200, path=SEARCH, body={"results": []})
    assert mentions.poll_hn(now=NOW).skipped == "unavailable"
    assert not Mention.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_store_each_post_once(fake_hn, site_tree):
    for n in range(20):
        fake_hn.add_story(
            f"Fundfill {n}", url=f"https://fundfill.example/?n={n}", created_at=NOW - timedelta(minutes=n)
        )

    results = run_concurrently([lambda: mentions.poll_hn(now=NOW)] * 2)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert Mention.objects.count() == 20
    assert len(fake_hn.calls("GET", SEARCH)) == 2  # both really asked
