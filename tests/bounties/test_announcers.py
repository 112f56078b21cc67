"""The announcement channels, each through its official client library against a local fake of its API.

No mocks: tweepy, Mastodon.py and atproto make real HTTP requests to tests/fakes/{x,mastodon,bluesky}_server.py,
which answer in the providers' wire formats (errors, rate-limit headers, t.co links, HTML content, XRPC).
"""

import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from bounties.announcers import (
    PermanentError,
    Post,
    RateLimited,
    TransientError,
    compose,
    get_announcers,
)
from bounties.announcers.bluesky import BlueskyAnnouncer, forget_sessions
from bounties.announcers.compose import length, split_graphemes
from bounties.announcers.console import ConsoleAnnouncer
from bounties.announcers.mastodon import MastodonAnnouncer
from bounties.announcers.twitter import DUPLICATE_ID, TwitterAnnouncer
from fundfill.checks import announcer_settings
from tests.fakes.bluesky_server import APP_PASSWORD, DID, HANDLE, FakeBluesky
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.x_server import FakeX

FUND_URL = "https://fundfill.example/funds/fix-the-flaky-login-test/"
POST = Post(text="New bounty: Fix the flaky login test — $500 pledged", url=FUND_URL, hashtag="fundfill")
LONG_TITLE = (
    "Port the whole rendering pipeline to the new layout engine and keep every old theme working " * 8
)


def closed_port_url() -> str:
    """An http URL on which nothing listens (a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def in_a_while(seconds: int = 900) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


# --- compose: each network's limit ---------------------------------------------------------------


def test_a_short_message_is_the_text_the_url_and_the_hashtag():
    assert compose("Hello", url=FUND_URL, hashtag="fundfill", limit=280) == f"Hello {FUND_URL} #fundfill"


def test_x_counts_every_url_as_23_and_keeps_url_and_hashtag():
    url = "https://fundfill.example/funds/" + "a-very-long-slug-" * 6  # 133 characters, counts as 23
    text = compose(LONG_TITLE, url=url, hashtag="#fundfill", limit=280, url_weight=23, weighted=True)

    assert text.endswith(f"… {url} #fundfill")
    assert length(text, url_weight=23, weighted=True) <= 280
    # The URL took 23 of the 280, not 133: the title kept the rest.
    assert length(text, url_weight=23, weighted=True) > 270
    assert len(text) > 280


def test_x_counts_cjk_and_emoji_twice():
    text = compose("募集中" * 200, url=FUND_URL, limit=280, url_weight=23, weighted=True)
    assert length(text, url_weight=23, weighted=True) <= 280
    assert len(text.split(" ")[0]) <= (280 - 24) // 2 + 1  # each CJK character weighs 2 (+ the ellipsis)


def test_mastodon_shortens_to_500():
    text = compose(LONG_TITLE, url=FUND_URL, hashtag="fundfill", limit=500, url_weight=23)
    assert text.endswith(f"… {FUND_URL} #fundfill")
    assert length(text, url_weight=23) <= 500 < length(LONG_TITLE)


def test_bluesky_counts_graphemes_and_never_splits_one():
    family = "👨‍👩‍👧‍👦"  # one grapheme, seven code points
    title = f"Toys for every {family} " * 40
    text = compose(title, url=FUND_URL, hashtag="fundfill", limit=300, graphemes=True)

    assert text.endswith(f"… {FUND_URL} #fundfill")
    assert len(split_graphemes(text)) <= 300 < len(text)
    assert text.count("\u200d") == 3 * text.count("👦")  # every family whole


def test_a_url_too_long_for_the_limit_is_refused():
    with pytest.raises(ValueError):
        compose("Hi", url="https://x.example/" + "a" * 300, limit=300, graphemes=True)


# --- console and configuration -------------------------------------------------------------------


def test_console_logs_the_post(caplog):
    with caplog.at_level(logging.INFO, logger="fundfill.announce"):
        result = ConsoleAnnouncer().send(POST, key="outbox-7")
    assert result.provider_id == "console:outbox-7"
    assert f"{POST.text} {FUND_URL} #fundfill" in caplog.text


def test_announcers_come_from_the_setting(settings):
    assert [a.name for a in get_announcers()] == ["console"]  # the default
    settings.ANNOUNCERS = "mastodon, console,mastodon"
    settings.MASTODON_API_BASE, settings.MASTODON_ACCESS_TOKEN = "http://127.0.0.1:9", "t"
    assert [a.name for a in get_announcers()] == ["mastodon", "console"]


def test_the_check_names_each_missing_setting_of_an_enabled_channel(settings):
    settings.ANNOUNCERS = "console,twitter,bluesky"
    settings.TWITTER_CONSUMER_KEY = "ck"
    settings.TWITTER_CONSUMER_SECRET = ""
    settings.BLUESKY_HANDLE = HANDLE

    messages = [error.msg for error in announcer_settings(None)]
    assert messages == [
        "TWITTER_CONSUMER_SECRET is required when ANNOUNCERS includes 'twitter'.",
        "TWITTER_ACCESS_TOKEN is required when ANNOUNCERS includes 'twitter'.",
        "TWITTER_ACCESS_TOKEN_SECRET is required when ANNOUNCERS includes 'twitter'.",
        "BLUESKY_APP_PASSWORD is required when ANNOUNCERS includes 'bluesky'.",
    ]
    with pytest.raises(SystemCheckError, match="BLUESKY_APP_PASSWORD"):
        call_command("check")


def test_the_check_refuses_an_unknown_channel(settings):
    settings.ANNOUNCERS = "console,myspace"
    assert [e.id for e in announcer_settings(None)] == ["fundfill.E010"]
    settings.ANNOUNCERS = "console"
    assert announcer_settings(None) == []


def test_the_check_says_email_and_webhooks_need_no_naming(settings):
    settings.ANNOUNCERS = "console,email"
    (error,) = announcer_settings(None)
    assert error.id == "fundfill.E010" and "goes to the people and endpoints that asked" in error.hint


# --- X (tweepy) ----------------------------------------------------------------------------------


@pytest.fixture
def fake_x(settings):
    with FakeX() as fake:
        settings.TWITTER_CONSUMER_KEY = "consumer-key"
        settings.TWITTER_CONSUMER_SECRET = "consumer-secret"
        settings.TWITTER_ACCESS_TOKEN = "access-token"
        settings.TWITTER_ACCESS_TOKEN_SECRET = "access-secret"
        settings.TWITTER_API_BASE = fake.url
        yield fake


def test_x_posts_the_tweet_with_oauth1(fake_x):
    result = TwitterAnnouncer().send(POST, key="outbox-1")

    [request] = fake_x.calls("POST", "/2/tweets")
    assert request.json == {"text": f"{POST.text} {FUND_URL} #fundfill"}
    assert request.header("Authorization").startswith("OAuth ")
    assert 'oauth_consumer_key="consumer-key"' in request.header("Authorization")
    assert 'oauth_token="access-token"' in request.header("Authorization")
    assert result.provider_id == fake_x.tweets[0]["id"]


def test_x_rate_limit_raises_with_the_reset_time_and_does_not_sleep(fake_x):
    reset = in_a_while(900)
    fake_x.rate_limit_next(reset, path="/2/tweets")

    started = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        TwitterAnnouncer().send(POST, key="outbox-1")

    assert caught.value.reset_at == reset
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert len(fake_x.calls("POST", "/2/tweets")) == 1  # no retry inside the call
    assert fake_x.tweets == []


def test_x_server_error_and_network_failure_are_transient(fake_x, settings):
    fake_x.fail_next(503, path="/2/tweets")
    with pytest.raises(TransientError):
        TwitterAnnouncer().send(POST, key="outbox-1")

    settings.TWITTER_API_BASE = closed_port_url()
    with pytest.raises(TransientError):
        TwitterAnnouncer().send(POST, key="outbox-1")


def test_x_refusal_is_permanent(fake_x):
    fake_x.fail_next(401, path="/2/tweets")
    with pytest.raises(PermanentError):
        TwitterAnnouncer().send(POST, key="outbox-1")


def test_x_duplicate_counts_as_delivered_with_the_existing_tweets_id(fake_x):
    first = TwitterAnnouncer().send(POST, key="outbox-1")
    # The lease expired and another worker sends the same post again: X refuses it as a duplicate.
    again = TwitterAnnouncer().send(POST, key="outbox-1")

    assert [r.status for r in fake_x.calls("POST", "/2/tweets")] == [201, 403]
    assert again.provider_id == first.provider_id
    assert len(fake_x.tweets) == 1


def test_x_duplicate_it_cannot_find_returns_the_sentinel(fake_x):
    fake_x.duplicate_next()
    assert TwitterAnnouncer().send(POST, key="outbox-1").provider_id == DUPLICATE_ID


def test_x_find_reads_recent_tweets_through_tco_links(fake_x):
    before = datetime.now(UTC)
    sent = TwitterAnnouncer().send(POST, key="outbox-1")
    assert FUND_URL not in fake_x.tweets[0]["text"]  # X stored a t.co link

    announcer = TwitterAnnouncer()  # a fresh worker
    assert announcer.find(POST, key="outbox-1", since=before) == sent.provider_id
    other = Post(text="Another fund", url=FUND_URL)
    assert announcer.find(other, key="outbox-2", since=before) is None
    assert len(fake_x.calls("GET", "/2/users/me")) == 1  # the account id is remembered


def test_x_find_ignores_tweets_before_since(fake_x):
    fake_x.add_tweet(f"{POST.text} {FUND_URL} #fundfill", created_at=datetime.now(UTC) - timedelta(hours=3))
    assert TwitterAnnouncer().find(POST, key="k", since=datetime.now(UTC) - timedelta(hours=1)) is None


# --- Mastodon (Mastodon.py) ----------------------------------------------------------------------


@pytest.fixture
def fake_mastodon(settings):
    with FakeMastodon() as fake:
        settings.MASTODON_API_BASE = fake.url
        settings.MASTODON_ACCESS_TOKEN = TOKEN
        yield fake


def test_mastodon_posts_the_status_with_the_idempotency_key(fake_mastodon):
    result = MastodonAnnouncer().send(POST, key="outbox-1")

    [request] = fake_mastodon.calls("POST", "/api/v1/statuses")
    assert request.form["status"] == f"{POST.text} {FUND_URL} #fundfill"
    assert request.header("Idempotency-Key") == "outbox-1"
    assert result.provider_id == fake_mastodon.statuses[0]["id"]
    # Construction made no request (version_check_mode="none").
    assert [r.path for r in fake_mastodon.requests] == ["/api/v1/statuses"]


def test_mastodon_resend_with_the_same_key_makes_no_second_status(fake_mastodon):
    first = MastodonAnnouncer().send(POST, key="outbox-1")
    again = MastodonAnnouncer().send(POST, key="outbox-1")

    assert again.provider_id == first.provider_id
    assert len(fake_mastodon.statuses) == 1
    assert len(fake_mastodon.calls("POST", "/api/v1/statuses")) == 2


def test_mastodon_rate_limit_raises_with_the_reset_time(fake_mastodon):
    reset = in_a_while(300)
    fake_mastodon.rate_limit_next(reset, path="/api/v1/statuses")

    with pytest.raises(RateLimited) as caught:
        MastodonAnnouncer().send(POST, key="outbox-1")

    # Mastodon.py shifts the reset by the server's clock (the Date header, whole seconds).
    assert abs(caught.value.reset_at - reset) <= timedelta(seconds=2)
    assert fake_mastodon.statuses == []


def test_mastodon_server_error_is_transient_and_a_refusal_permanent(fake_mastodon, settings):
    fake_mastodon.fail_next(503, path="/api/v1/statuses")
    with pytest.raises(TransientError):
        MastodonAnnouncer().send(POST, key="outbox-1")

    fake_mastodon.fail_next(422, path="/api/v1/statuses", message="Validation failed: Text can't be blank")
    with pytest.raises(PermanentError):
        MastodonAnnouncer().send(POST, key="outbox-1")

    settings.MASTODON_API_BASE = closed_port_url()
    with pytest.raises(TransientError):
        MastodonAnnouncer().send(POST, key="outbox-1")


def test_mastodon_find_reads_the_accounts_recent_statuses(fake_mastodon):
    before = datetime.now(UTC)
    sent = MastodonAnnouncer().send(POST, key="outbox-1")
    assert fake_mastodon.statuses[0]["content"].startswith("<p>")  # HTML, as Mastodon returns it

    announcer = MastodonAnnouncer()
    assert announcer.find(POST, key="outbox-1", since=before) == sent.provider_id
    assert announcer.find(Post(text="Another fund", url=FUND_URL), key="k", since=before) is None
    assert announcer.find(POST, key="outbox-1", since=datetime.now(UTC) + timedelta(minutes=1)) is None
    assert len(fake_mastodon.statuses) == 1  # find never posts


# --- Bluesky (atproto) ---------------------------------------------------------------------------


@pytest.fixture
def fake_bluesky(settings):
    forget_sessions()
    with FakeBluesky() as fake:
        settings.BLUESKY_API_BASE = fake.url
        settings.BLUESKY_HANDLE = HANDLE
        settings.BLUESKY_APP_PASSWORD = APP_PASSWORD
        yield fake
    forget_sessions()


def test_bluesky_posts_with_a_link_facet_in_utf8_bytes(fake_bluesky):
    post = Post(text="Café ☕ bounty: 🇫🇷 translation — €500", url=FUND_URL, hashtag="fundfill")
    result = BlueskyAnnouncer().send(post, key="outbox-1")

    [stored] = fake_bluesky.posts
    record = stored["record"]
    text = f"{post.text} {FUND_URL} #fundfill"
    assert record["text"] == text
    assert result.provider_id == stored["uri"]
    assert result.provider_id.startswith(f"at://{DID}/app.bsky.feed.post/")

    encoded = text.encode("utf-8")
    link, tag = record["facets"]
    assert link["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": FUND_URL}]
    assert encoded[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode() == FUND_URL
    assert link["index"]["byteStart"] > text.index(FUND_URL)  # bytes, not characters
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "fundfill"}]
    assert encoded[tag["index"]["byteStart"] : tag["index"]["byteEnd"]].decode() == "#fundfill"


def test_bluesky_keeps_its_session_and_logs_in_again_when_it_is_refused(fake_bluesky):
    BlueskyAnnouncer().send(POST, key="outbox-1")
    BlueskyAnnouncer().send(Post(text="Second", url=FUND_URL), key="outbox-2")
    assert len(fake_bluesky.xrpc_calls("com.atproto.server.createSession")) == 1

    fake_bluesky.expire_sessions()
    BlueskyAnnouncer().send(Post(text="Third", url=FUND_URL), key="outbox-3")

    assert len(fake_bluesky.xrpc_calls("com.atproto.server.createSession")) == 2
    assert [p["record"]["text"].split(" ")[0] for p in fake_bluesky.posts] == ["New", "Second", "Third"]


def test_bluesky_refreshes_an_access_token_about_to_expire(fake_bluesky):
    fake_bluesky.access_lifetime = 60  # atproto refreshes within 15 minutes of expiry
    BlueskyAnnouncer().send(POST, key="outbox-1")
    BlueskyAnnouncer().send(Post(text="Second", url=FUND_URL), key="outbox-2")

    assert len(fake_bluesky.xrpc_calls("com.atproto.server.refreshSession")) >= 1
    assert len(fake_bluesky.xrpc_calls("com.atproto.server.createSession")) == 1
    assert len(fake_bluesky.posts) == 2


def test_bluesky_rate_limit_raises_with_the_reset_time(fake_bluesky):
    reset = in_a_while(600)
    fake_bluesky.rate_limit_next(reset, path="/xrpc/com.atproto.repo.createRecord")

    with pytest.raises(RateLimited) as caught:
        BlueskyAnnouncer().send(POST, key="outbox-1")
    assert caught.value.reset_at == reset
    assert fake_bluesky.posts == []


def test_bluesky_server_error_is_transient_and_a_bad_password_permanent(fake_bluesky, settings):
    fake_bluesky.fail_next(500, path="/xrpc/com.atproto.repo.createRecord")
    with pytest.raises(TransientError):
        BlueskyAnnouncer().send(POST, key="outbox-1")

    forget_sessions()
    settings.BLUESKY_APP_PASSWORD = "wrong-password"
    with pytest.raises(PermanentError):
        BlueskyAnnouncer().send(POST, key="outbox-1")
    assert fake_bluesky.posts == []


def test_bluesky_find_reads_the_author_feed(fake_bluesky):
    before = datetime.now(UTC)
    sent = BlueskyAnnouncer().send(POST, key="outbox-1")

    announcer = BlueskyAnnouncer()
    assert announcer.find(POST, key="outbox-1", since=before) == sent.provider_id
    assert announcer.find(Post(text="Another fund", url=FUND_URL), key="k", since=before) is None
    assert announcer.find(POST, key="outbox-1", since=datetime.now(UTC) + timedelta(minutes=1)) is None
    assert len(fake_bluesky.posts) == 1
