"""Polling X's recent search through tweepy against the local fake (tests/fakes/x_server.py): the site's
domain and each live fund's hashtag, each post stored once, `since_id` from the newest stored, and a
429 deferring every run until X's reset time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django_q.models import Schedule
from django_q.tasks import async_task, result

from feedback import mentions
from feedback.models import Mention, MentionPoll, MentionSource
from tests.fakes.hn_server import FakeHN
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.django_db

SEARCH = "/2/tweets/search/recent"


@pytest.fixture
def fake_x(settings):
    with FakeX() as fake:
        settings.SITE_URL = "https://fundfill.example"
        settings.TWITTER_BEARER_TOKEN = "app-bearer-token"
        settings.TWITTER_API_BASE = fake.url
        yield fake


@pytest.fixture
def funds(make_fund):
    truecrypt = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt", hashtag="AuditTrueCrypt")
    tor = make_fund(title="Port Tor to Rust", slug="tor-rust", hashtag="")
    closed = make_fund(title="Old fund", slug="old", hashtag="oldfund")
    closed.unpublish()
    return truecrypt, tor


def test_new_posts_are_stored_once_across_two_runs_and_the_second_asks_since_the_newest(fake_x, funds):
    truecrypt, tor = funds
    linking = fake_x.add_post(
        "Is this escrow real?", username="skeptic", links=("https://fundfill.example/funds/tor-rust/",)
    )
    tagged = fake_x.add_post("Pledged $20 to #audittruecrypt today", username="backer1")
    fake_x.add_post("Unrelated chatter about #rust", username="rustacean")

    first = mentions.poll_x()

    assert first.stored == 2
    stored = {m.external_id: m for m in Mention.objects.all()}
    assert set(stored) == {linking["id"], tagged["id"]}
    link_mention = stored[linking["id"]]
    assert link_mention.source == MentionSource.X
    assert link_mention.author == "skeptic"
    assert link_mention.url == f"https://x.com/skeptic/status/{linking['id']}"
    # The t.co link reads as the link the author posted, and names the fund it points to.
    assert link_mention.text == "Is this escrow real? https://fundfill.example/funds/tor-rust/"
    assert link_mention.fund_id == tor.pk
    assert stored[tagged["id"]].fund_id == truecrypt.pk  # hashtags match whatever their case
    (call,) = fake_x.calls("GET", SEARCH)
    assert call.header("Authorization") == "Bearer app-bearer-token"
    assert call.arg("query") == '(url:"fundfill.example" OR #audittruecrypt) -is:retweet'
    assert call.arg("since_id") is None

    # A newer post arrives; the next run asks only for posts after the newest stored one.
    newer = fake_x.add_post("Just read fundfill.example/funds/tor-rust/ #AuditTrueCrypt", username="late")
    second = mentions.poll_x()

    assert second.stored == 1
    assert Mention.objects.count() == 3
    assert Mention.objects.get(external_id=newer["id"]).fund_id == truecrypt.pk  # the hashtag first
    assert fake_x.calls("GET", SEARCH)[-1].arg("since_id") == tagged["id"]

    # A run with nothing new stores nothing.
    assert mentions.poll_x().stored == 0
    assert Mention.objects.count() == 3


def test_the_same_post_found_again_is_stored_once(fake_x, funds):
    post = fake_x.add_post("#AuditTrueCrypt is on", username="a")
    mentions.poll_x()
    # The window overlaps (say the newest mention was removed by hand): the post is found again.
    Mention.objects.filter(external_id=post["id"]).update(text="kept as it was")
    mentions.mentions_store(
        source=MentionSource.X,
        found=[
            mentions.Found(
                external_id=post["id"],
                url="https://x.com/a/status/1",
                author="a",
                text="again",
                created_at=datetime.now(UTC),
            )
        ],
    )
    assert Mention.objects.get().text == "kept as it was"


def test_more_results_than_a_page_are_read_through_next_token(fake_x, funds):
    posts = [fake_x.add_post(f"#AuditTrueCrypt note {n}", username=f"u{n}") for n in range(130)]
    assert mentions.poll_x().stored == 130
    calls = fake_x.calls("GET", SEARCH)
    assert [c.arg("next_token") for c in calls] == [None, "100"]
    assert set(Mention.objects.values_list("external_id", flat=True)) == {p["id"] for p in posts}


def test_a_rate_limit_defers_every_run_until_the_reset_time(fake_x, funds):
    fake_x.add_post("#AuditTrueCrypt first", username="a")
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=12)
    fake_x.rate_limit_next(reset, path=SEARCH)

    result = mentions.poll_x()

    assert result.stored == 0 and result.skipped == f"deferred until {reset.isoformat()}"
    assert not Mention.objects.exists()
    assert MentionPoll.objects.get(source=MentionSource.X).deferred_until == reset
    # Until the reset, a run asks X nothing (and does not sleep).
    asked = len(fake_x.calls("GET", SEARCH))
    assert mentions.poll_x(now=reset - timedelta(seconds=1)).skipped.startswith("deferred until")
    assert len(fake_x.calls("GET", SEARCH)) == asked
    # After it, the search runs again and finds the post.
    after = mentions.poll_x(now=reset + timedelta(seconds=1))
    assert after.stored == 1
    assert len(fake_x.calls("GET", SEARCH)) == asked + 1
    assert MentionPoll.objects.get(source=MentionSource.X).deferred_until is None


def test_an_outage_logs_a_warning_and_changes_nothing(fake_x, funds, caplog):
    fake_x.add_post("#AuditTrueCrypt", username="a")
    fake_x.fail_next(503, path=SEARCH)

    result = mentions.poll_x()

    assert result.skipped == "unavailable"
    assert not Mention.objects.exists() and not MentionPoll.objects.exists()
    assert any(r.levelname == "WARNING" and "x unavailable" in r.getMessage() for r in caplog.records)


def test_an_unreachable_x_changes_nothing(settings, funds, caplog):
    settings.TWITTER_BEARER_TOKEN = "t"
    with FakeX() as fake:
        settings.TWITTER_API_BASE = fake.url
    # The fake has stopped: nothing listens there any more.
    assert mentions.poll_x().skipped == "unavailable"
    assert not Mention.objects.exists()


def test_without_a_bearer_token_x_is_not_asked(fake_x, funds, settings):
    settings.TWITTER_BEARER_TOKEN = ""
    fake_x.add_post("#AuditTrueCrypt", username="a")
    assert mentions.poll_x().skipped == "not configured (TWITTER_BEARER_TOKEN)"
    assert fake_x.calls("GET", SEARCH) == []


def test_poll_mentions_runs_both_sources_once(fake_x, funds, settings, capsys):
    fake_x.add_post("#AuditTrueCrypt", username="a")
    with FakeHN() as hn:
        settings.HN_SEARCH_API_BASE = hn.api_base
        hn.add_story("Fundfill", url="https://fundfill.example/", created_at=datetime.now(UTC))
        call_command("poll_mentions")
        call_command("poll_mentions")
    assert capsys.readouterr().out.splitlines() == [
        "x: 1 new mention(s).",
        "hn: 1 new mention(s).",
        "x: 0 new mention(s).",
        "hn: 0 new mention(s).",
    ]
    assert sorted(Mention.objects.values_list("source", flat=True)) == ["hn", "x"]


def test_the_worker_polls_both_sources_every_five_minutes(fake_x, funds, settings):
    schedules = {s.name: s for s in Schedule.objects.filter(func__startswith="feedback.tasks.")}
    assert {name: (s.func, s.schedule_type, s.minutes) for name, s in schedules.items()} == {
        "poll X mentions": ("feedback.tasks.mentions_poll_x", "I", 5),
        "poll Hacker News mentions": ("feedback.tasks.mentions_poll_hn", "I", 5),
    }
    fake_x.add_post("#AuditTrueCrypt from the worker", username="w")
    with FakeHN() as hn:
        settings.HN_SEARCH_API_BASE = hn.api_base
        hn.add_story("Fundfill", url="https://fundfill.example/", created_at=datetime.now(UTC))
        # What the schedules run, through django-q2 (synchronous in the test settings).
        stored = [result(async_task(s.func)) for s in schedules.values()]
    assert sorted(stored) == [1, 1]
    assert sorted(Mention.objects.values_list("source", flat=True)) == ["hn", "x"]


def test_after_a_quiet_week_the_search_covers_the_whole_window_without_a_since_id(fake_x, funds):
    old = fake_x.add_post(
        "#AuditTrueCrypt long ago", username="a", created_at=datetime.now(UTC) - timedelta(days=8)
    )
    mentions.poll_x()  # recent search no longer finds it
    assert not Mention.objects.exists()
    # It was stored back then, say; now a since_id of it would be refused by X.
    Mention.objects.create(
        source=MentionSource.X,
        external_id=old["id"],
        url="https://x.com/a/status/1",
        created_at=datetime.now(UTC) - timedelta(days=8),
    )
    fresh = fake_x.add_post("#AuditTrueCrypt again", username="b")

    assert mentions.poll_x().stored == 1
    assert fake_x.calls("GET", SEARCH)[-1].arg("since_id") is None
    assert Mention.objects.filter(external_id=fresh["id"]).exists()
