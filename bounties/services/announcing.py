"""Staging announcements and emails in the outbox, inside the transaction that caused them.

`stage` writes one row per (event, channel or recipient) — the audiences in
`bounties.announcers.registry` decide who — with `bulk_create(ignore_conflicts=True)` on a
unique dedupe key, so an event is announced once however often it is staged (replays,
concurrent crossings of a milestone). A rolled-back transaction stages nothing. After
commit the new rows are handed to the worker (`outbox_deliver`); if that nudge is lost, the
minute's sweep finds them.
"""

import hashlib
import logging

from django.db import transaction
from django_q.tasks import async_task

from bounties.announcers.registry import AUDIENCES, INCIDENT, INCIDENT_BACKERS
from bounties.models import Outbox, OutboxStatus

logger = logging.getLogger("fundfill.announce")

MILESTONES = (25, 50, 75, 100)
BACKER_MILESTONE_FROM = 10


def stage(*, key: str, event: str, fund: int | None = None, **payload) -> list[str]:
    """Stage `event` for everyone who hears of it; returns the rows' dedupe keys."""
    payload = {"fund": fund, **payload} if fund is not None else payload
    rows = [row for make in AUDIENCES for row in make(key=key, event=event, fund_id=fund, payload=payload)]
    if not rows:
        return []
    Outbox.objects.bulk_create(rows, ignore_conflicts=True)
    keys = [row.dedupe_key for row in rows]
    transaction.on_commit(lambda: nudge(keys))
    return keys


def nudge(keys: list[str]):
    """Hand freshly committed rows to the worker (best effort: the sweep is the guarantee).

    One task per event, by the rows' dedupe keys: the worker looks the rows up and gives each
    its own delivery task (`bounties.tasks.outbox_fan_out`). The request that staged them pays
    one enqueue and no query, which on a busy fund is most of what its announcements cost it.
    """
    try:
        async_task("bounties.tasks.outbox_fan_out", keys)
    except Exception:  # a broker that is down loses only the nudge; the sweep delivers
        logger.warning("could not enqueue outbox rows %s", keys, exc_info=True)


def staged_ids(keys: list[str]) -> list[int]:
    """The rows staged under these dedupe keys that are still waiting to be sent."""
    pending = Outbox.objects.filter(dedupe_key__in=keys, status=OutboxStatus.PENDING)
    return list(pending.values_list("pk", flat=True))


def incident_announce(
    *, notice_id: int, message: str, level: str, announce: bool, fund_ids: list[int]
) -> list[str]:
    """Stage a switched-on incident notice: a public post (if `announce`) and an email to each backer
    of `fund_ids`. Call it in the transaction that saves the notice, so a failed save tells no one.

    The key names the notice and a hash of its message (`incident:<id>:<sha256[:16]>`): saving the
    same words again sends nothing twice, new words are a new announcement, and a fund added to a
    notice already sent emails only the backers who have not had it.
    """
    key = f"incident:{notice_id}:{hashlib.sha256(message.encode()).hexdigest()[:16]}"
    keys = stage(key=key, event=INCIDENT, message=message, level=level) if announce else []
    if fund_ids:
        funds = sorted(set(fund_ids))
        keys += stage(key=f"{key}:backers", event=INCIDENT_BACKERS, message=message, level=level, funds=funds)
    return keys


def milestones_crossed(*, goal_cents: int, before: int, after: int) -> list[int]:
    if goal_cents <= 0:
        return []
    return [m for m in MILESTONES if before * 100 < m * goal_cents <= after * 100]


def backer_milestones_crossed(*, before: int, after: int) -> list[int]:
    """Each doubling of the backer count from 10 (10, 20, 40, …) that `before → after` reached."""
    crossed, mark = [], BACKER_MILESTONE_FROM
    while mark <= after:
        if before < mark:
            crossed.append(mark)
        mark *= 2
    return crossed
