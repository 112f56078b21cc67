"""Delivering the outbox: each row sent once, by one worker, outside any transaction.

RELIABILITY §3.5. A row is claimed by a conditional UPDATE that takes a lease (`sending`
until `lease_until`), so two workers never send it at once. The provider is called outside
any transaction; its id is recorded in a short one. A row whose lease expired with no
recorded id (a worker that died mid-call, a timeout) is *reconciled* before it is sent
again: the sender is asked to find it (X and Bluesky look among the account's recent posts;
Mastodon and email send again under the same idempotency key / Message-ID).

Errors: a rate limit reschedules the row at the provider's reset time (the worker never
sleeps); a transient error backs off exponentially with jitter; a permanent error, or the
last attempt, leaves the row `failed` for the admin's "retry". A per-channel daily cap
(`ANNOUNCE_DAILY_CAP`) defers the rest of a day's posts to the next day and says so on the row;
it is counted after reconciliation, so a post found among the account's own is recorded, never deferred.

Senders live in `bounties.announcers` (`sender_for(row)`); this module knows only rows.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from bounties.announcers.base import PermanentError, RateLimited, TransientError
from bounties.announcers.registry import sender_for
from bounties.models import Outbox, OutboxStatus

logger = logging.getLogger("fundfill.announce")

LEASE = timedelta(seconds=60)  # the default of settings.OUTBOX_LEASE_SECONDS
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """min(cap, base·2^attempts), scaled by a random 0.5–1: retries of many rows spread out."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    return delay * (0.5 + random.random() / 2)


def lease() -> timedelta:
    """How long a claimed row is this worker's (`OUTBOX_LEASE_SECONDS`, read at each claim; default 60)."""
    seconds = getattr(settings, "OUTBOX_LEASE_SECONDS", None)
    return LEASE if seconds is None else timedelta(seconds=seconds)


def _claim(row_id: int, now) -> bool:
    """Take the row's lease if it is due and nobody holds it: one UPDATE, so one worker wins."""
    due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxStatus.SENDING, lease_until__lt=now
    )
    return bool(
        Outbox.objects.filter(due, pk=row_id).update(
            status=OutboxStatus.SENDING, lease_until=now + lease(), attempts=F("attempts") + 1
        )
    )


def _finish(row: Outbox, **fields):
    """Record the outcome, only while this worker still holds the lease it took."""
    with transaction.atomic():
        Outbox.objects.filter(pk=row.pk, status=OutboxStatus.SENDING, lease_until=row.lease_until).update(
            **fields
        )


def _over_daily_cap(row: Outbox, now) -> bool:
    cap = settings.ANNOUNCE_DAILY_CAP.get(row.channel)
    if not cap:
        return False
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # The day's posts, and those other workers claimed before this one (an earlier lease, or the same
    # lease and a lower id) and are sending now: of two workers that each see one post left, exactly
    # the first claimant makes it, so the cap is neither exceeded nor left unused by the race.
    claimed_first = Q(lease_until__lt=row.lease_until) | Q(lease_until=row.lease_until, pk__lt=row.pk)
    posted = Q(status=OutboxStatus.SENT, sent_at__gte=today) | (
        Q(status=OutboxStatus.SENDING) & claimed_first
    )
    return Outbox.objects.filter(posted, channel=row.channel).exclude(pk=row.pk).count() >= cap


def _defer_to_tomorrow(row: Outbox, now) -> str:
    """The channel's daily cap is reached: due again at midnight UTC, no attempt spent, and the row says why."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    _finish(
        row,
        status=OutboxStatus.PENDING,
        next_attempt_at=tomorrow,
        lease_until=None,
        attempts=F("attempts") - 1,
        last_error=f"Deferred to {tomorrow:%Y-%m-%d}: the daily cap of {row.channel} posts was reached.",
    )
    return OutboxStatus.PENDING


def deliver(row_id: int) -> str:
    """Deliver one row if it is due; returns its status afterwards. Safe to call any number of times."""
    now = timezone.now()
    if not _claim(row_id, now):
        return Outbox.objects.filter(pk=row_id).values_list("status", flat=True).first() or "missing"
    row = Outbox.objects.get(pk=row_id)
    if row.provider_message_id:  # sent and recorded, then the worker died before marking it
        _finish(row, status=OutboxStatus.SENT, sent_at=row.sent_at or now, lease_until=None)
        return OutboxStatus.SENT
    sender = sender_for(row)
    try:
        provider_id = None
        if row.attempts > 1:  # an earlier attempt may have reached the provider: look before sending again
            provider_id = sender.find(row)
        # The cap is for new posts: one found above went out already and is recorded whatever the day's
        # count (deferring it would leave it uncounted today and found again only tomorrow).
        if not provider_id and _over_daily_cap(row, now):
            return _defer_to_tomorrow(row, now)
        if not provider_id:
            provider_id = sender.send(row)
    except RateLimited as limited:
        _finish(
            row,
            status=OutboxStatus.PENDING,
            next_attempt_at=max(limited.reset_at, now),
            lease_until=None,
            attempts=F("attempts") - 1,  # a rate limit is not the row's fault
            last_error=f"Rate limited until {limited.reset_at:%Y-%m-%d %H:%M:%S} UTC.",
        )
        return OutboxStatus.PENDING
    except (TransientError, PermanentError) as error:
        final = isinstance(error, PermanentError) or row.attempts >= MAX_ATTEMPTS
        _finish(
            row,
            status=OutboxStatus.FAILED if final else OutboxStatus.PENDING,
            next_attempt_at=now + backoff(row.attempts),
            lease_until=None,
            last_error=str(error)[:2000],
        )
        logger.warning("outbox %s (%s) attempt %s failed: %s", row.pk, row.channel, row.attempts, error)
        return OutboxStatus.FAILED if final else OutboxStatus.PENDING
    _finish(
        row,
        status=OutboxStatus.SENT,
        provider_message_id=provider_id,
        sent_at=now,
        lease_until=None,
        last_error="",
    )
    return OutboxStatus.SENT


def due_ids(now=None) -> list[int]:
    """Rows the sweep hands to the workers: pending and due, or sending with an expired lease."""
    now = now or timezone.now()
    due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxStatus.SENDING, lease_until__lt=now
    )
    return list(
        Outbox.objects.filter(due).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:500]
    )


def deliver_due() -> dict[str, int]:
    """`manage.py deliver_outbox`: deliver everything due in this process, once, and say what happened."""
    counts: dict[str, int] = {}
    for row_id in due_ids():
        status = deliver(row_id)
        counts[status] = counts.get(status, 0) + 1
    return counts


def outbox_retry(*, row_id: int) -> bool:
    """The admin's "retry": a failed row becomes due now, with its attempts counted afresh."""
    return bool(
        Outbox.objects.filter(pk=row_id, status=OutboxStatus.FAILED).update(
            status=OutboxStatus.PENDING, next_attempt_at=timezone.now(), attempts=0, last_error=""
        )
    )
