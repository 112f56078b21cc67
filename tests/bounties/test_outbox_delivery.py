"""The outbox delivers each row once, by one worker, after its event committed (RELIABILITY §3.5)."""

import logging
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.utils import timezone

from bounties.announcers.base import TransientError
from bounties.errors import InsufficientFunds
from bounties.models import Outbox, OutboxStatus
from bounties.services import delivery
from bounties.services.announcing import backer_milestones_crossed, stage
from bounties.services.delivery import deliver, deliver_due, due_ids, outbox_retry
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up


def announce_lines(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fundfill.announce" and "announce " in r.getMessage()
    ]


@pytest.fixture
def half_way(make_fund):
    """A $100 fund: a $50 pledge crosses the 25 % and 50 % milestones."""
    return make_fund(title="Audit TrueCrypt", slug="audit-truecrypt", goal_cents=10_000)


def test_a_milestone_is_staged_with_the_pledge_and_delivered_once(
    half_way, caplog, django_capture_on_commit_callbacks, settings
):
    caplog.set_level(logging.INFO, logger="fundfill.announce")
    backer = UserFactory(username="ada")
    top_up(backer, 5_000)

    with django_capture_on_commit_callbacks(execute=True):  # the nudge runs the worker's task (sync in tests)
        pledge_create(user=backer, fund_id=half_way.pk, amount_cents=5_000, key="k")

    rows = Outbox.objects.filter(event="milestone", channel="console").order_by("pk")
    assert [(r.payload["percent"], r.status) for r in rows] == [
        (25, OutboxStatus.SENT),
        (50, OutboxStatus.SENT),
    ]
    lines = announce_lines(caplog)
    assert len(lines) == 2
    assert "Audit TrueCrypt has reached 50% of its $100 goal." in lines[1]
    assert f"{settings.SITE_URL}/funds/audit-truecrypt/" in lines[1]

    deliver_due()  # what else is due (the backer's emailed receipts) goes; no milestone is posted again
    assert len(announce_lines(caplog)) == 2
    for row in rows:
        assert deliver(row.pk) == OutboxStatus.SENT
    assert len(announce_lines(caplog)) == 2


def test_a_rolled_back_event_stages_nothing(half_way):
    backer = UserFactory(username="ada")
    top_up(backer, 1_000)
    with pytest.raises(InsufficientFunds):
        pledge_create(user=backer, fund_id=half_way.pk, amount_cents=5_000, key="k")  # not enough money
    assert not Outbox.objects.filter(event="milestone").exists()


def test_a_fund_with_announcements_off_posts_nothing_but_receipts_still_stage(half_way):
    type(half_way).objects.filter(pk=half_way.pk).update(announce=False)
    backer = UserFactory(username="ada")
    top_up(backer, 5_000)
    pledge_create(user=backer, fund_id=half_way.pk, amount_cents=5_000, key="k")
    assert not Outbox.objects.filter(event="milestone").exists()


def test_backer_milestones_are_each_doubling_from_ten():
    assert backer_milestones_crossed(before=9, after=10) == [10]
    assert backer_milestones_crossed(before=10, after=11) == []
    assert backer_milestones_crossed(before=19, after=20) == [20]
    assert backer_milestones_crossed(before=39, after=40) == [40]
    assert backer_milestones_crossed(before=0, after=5) == []


@pytest.fixture
def row(fund):
    stage(key=f"custom:{uuid.uuid4()}", event="custom", fund=fund.pk, text="Hello backers")
    return Outbox.objects.get(event="custom", channel="console")


def test_a_row_is_claimed_by_one_worker_only(row):
    now = timezone.now()
    assert delivery._claim(row.pk, now) is True
    assert delivery._claim(row.pk, now) is False  # leased: another worker leaves it
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.SENDING, 1)
    assert due_ids(now) == []
    assert due_ids(now + delivery.LEASE + timedelta(seconds=1)) == [row.pk]  # the lease expired: due again


def test_a_recorded_provider_id_is_never_sent_again(row, caplog):
    caplog.set_level(logging.INFO, logger="fundfill.announce")
    # A worker sent and recorded the id, then died before marking the row sent.
    Outbox.objects.filter(pk=row.pk).update(
        status=OutboxStatus.SENDING,
        lease_until=timezone.now() - timedelta(seconds=1),
        provider_message_id="p-1",
    )
    assert deliver(row.pk) == OutboxStatus.SENT
    assert announce_lines(caplog) == []


def test_a_failed_row_waits_for_the_admins_retry(row, caplog):
    Outbox.objects.filter(pk=row.pk).update(status=OutboxStatus.FAILED, attempts=delivery.MAX_ATTEMPTS)
    assert deliver(row.pk) == OutboxStatus.FAILED
    assert outbox_retry(row_id=row.pk) is True
    assert deliver(row.pk) == OutboxStatus.SENT
    assert outbox_retry(row_id=row.pk) is False  # only failed rows


def test_the_daily_cap_defers_the_rest_to_tomorrow(fund, settings):
    settings.ANNOUNCE_DAILY_CAP = {"console": 1}
    for n in range(2):
        stage(key=f"custom:{n}", event="custom", fund=fund.pk, text=f"Post {n}")
    first, second = Outbox.objects.filter(event="custom").order_by("pk")
    assert deliver(first.pk) == OutboxStatus.SENT
    assert deliver(second.pk) == OutboxStatus.PENDING
    second.refresh_from_db()
    assert "daily cap" in second.last_error and second.next_attempt_at > timezone.now()
    assert second.attempts == 0


def test_backoff_grows_and_is_capped():
    delays = [delivery.backoff(n) for n in range(1, 12)]
    assert all(d <= delivery.BACKOFF_CAP for d in delays)
    assert delivery.BACKOFF_BASE / 2 <= delays[0] <= delivery.BACKOFF_BASE
    assert delays[5] >= delivery.BACKOFF_BASE * 16


def test_deliver_outbox_command_delivers_what_is_due(row, capsys):
    call_command("deliver_outbox")
    assert "1 sent" in capsys.readouterr().out
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_row_send_it_once(fund, caplog):
    caplog.set_level(logging.INFO, logger="fundfill.announce")
    stage(key="custom:race", event="custom", fund=fund.pk, text="Once")
    row = Outbox.objects.get(event="custom")
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(deliver(row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(announce_lines(caplog)) == 1
    assert Outbox.objects.get(pk=row.pk).status == OutboxStatus.SENT


def test_an_outbox_lease_shorter_than_the_worker_timeout_stops_start_up(settings):
    settings.OUTBOX_LEASE_SECONDS = 30  # Q_CLUSTER's timeout is 30: a slow send could be claimed twice
    with pytest.raises(SystemCheckError, match="OUTBOX_LEASE_SECONDS is 30"):
        call_command("check")


def test_of_two_rows_claimed_at_once_under_a_cap_of_one_the_first_claimant_posts(fund, settings):
    settings.ANNOUNCE_DAILY_CAP = {"console": 1}
    for n in range(2):
        stage(key=f"custom:cap{n}", event="custom", fund=fund.pk, text=f"Post {n}")
    first, second = Outbox.objects.filter(event="custom").order_by("pk")
    now = timezone.now()
    assert delivery._claim(first.pk, now) and delivery._claim(second.pk, now)  # two workers, same moment
    first.refresh_from_db()
    second.refresh_from_db()
    assert delivery._over_daily_cap(first, now) is False  # claimed first (same lease, lower id): it posts
    assert delivery._over_daily_cap(second, now) is True  # counts the first, in flight: deferred


class _AlwaysDown:
    """A sender whose provider answers 5xx every time (`find` too: an attempt after the first looks first)."""

    def __init__(self):
        self.sends = 0

    def find(self, row):
        raise TransientError("Mastodon server error: 503")

    def send(self, row):
        self.sends += 1
        raise TransientError("Mastodon server error: 503")


def test_a_transient_error_on_every_attempt_ends_failed_after_the_last(row, monkeypatch):
    down = _AlwaysDown()
    monkeypatch.setattr(delivery, "sender_for", lambda row: down)
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        # The backoff has passed: the row is due again (what the sweep would find).
        Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        status = deliver(row.pk)
        row.refresh_from_db()
        assert row.attempts == attempt
        if attempt < delivery.MAX_ATTEMPTS:
            assert (status, row.status) == (OutboxStatus.PENDING, OutboxStatus.PENDING), attempt
            assert row.next_attempt_at > timezone.now()  # backed off, not retried at once
        else:
            assert (status, row.status) == (OutboxStatus.FAILED, OutboxStatus.FAILED)
    assert "503" in row.last_error
    assert down.sends == 1  # the first attempt sent; each later one looked first and was refused there
    # Failed is final: due or not, nobody sends it again until the admin's retry.
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert due_ids() == []
    assert deliver(row.pk) == OutboxStatus.FAILED
    assert Outbox.objects.get(pk=row.pk).attempts == delivery.MAX_ATTEMPTS


class _AlreadyPosted:
    """A sender whose provider already has the row's post (an earlier attempt's answer was lost)."""

    def __init__(self, provider_id):
        self.provider_id, self.sends = provider_id, 0

    def find(self, row):
        return self.provider_id

    def send(self, row):
        self.sends += 1
        return "a-second-post"


def test_a_post_found_by_reconciliation_is_recorded_even_when_the_day_is_capped(fund, settings, monkeypatch):
    settings.ANNOUNCE_DAILY_CAP = {"console": 1}
    for n in range(2):
        stage(key=f"custom:found{n}", event="custom", fund=fund.pk, text=f"Post {n}")
    earlier, lost = Outbox.objects.filter(event="custom").order_by("pk")
    # Today's one post went out (`earlier`), and so did `lost`'s, whose worker died before hearing back:
    # its lease expired with no id recorded.
    assert deliver(earlier.pk) == OutboxStatus.SENT
    Outbox.objects.filter(pk=lost.pk).update(
        status=OutboxStatus.SENDING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    posted = _AlreadyPosted("console:found")
    monkeypatch.setattr(delivery, "sender_for", lambda row: posted)

    assert deliver(lost.pk) == OutboxStatus.SENT  # found and recorded, not deferred to tomorrow
    lost.refresh_from_db()
    assert (lost.status, lost.provider_message_id, lost.last_error) == (
        OutboxStatus.SENT,
        "console:found",
        "",
    )
    assert posted.sends == 0  # nothing posted again


def test_a_lost_attempt_not_found_under_a_full_cap_is_deferred(fund, settings, monkeypatch):
    settings.ANNOUNCE_DAILY_CAP = {"console": 1}
    for n in range(2):
        stage(key=f"custom:missing{n}", event="custom", fund=fund.pk, text=f"Post {n}")
    earlier, lost = Outbox.objects.filter(event="custom").order_by("pk")
    assert deliver(earlier.pk) == OutboxStatus.SENT
    Outbox.objects.filter(pk=lost.pk).update(
        status=OutboxStatus.SENDING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    missing = _AlreadyPosted(None)  # the lost attempt never reached the provider
    monkeypatch.setattr(delivery, "sender_for", lambda row: missing)

    assert deliver(lost.pk) == OutboxStatus.PENDING
    lost.refresh_from_db()
    assert lost.last_error.startswith("Deferred to ") and missing.sends == 0
    assert lost.attempts == 1  # the deferral spends no attempt: tomorrow's still looks first
