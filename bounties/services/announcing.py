"""Staging announcements in the outbox, inside the transaction that caused them.

A rolled-back transaction stages nothing; a unique dedupe key means an event is
announced once however often it is staged (replays, concurrent crossings).
"""

from bounties.models import Outbox

MILESTONES = (25, 50, 75, 100)


def stage(*, key: str, event: str, **payload):
    Outbox.objects.bulk_create([Outbox(dedupe_key=key, event=event, payload=payload)], ignore_conflicts=True)


def milestones_crossed(*, goal_cents: int, before: int, after: int) -> list[int]:
    if goal_cents <= 0:
        return []
    return [m for m in MILESTONES if before * 100 < m * goal_cents <= after * 100]
