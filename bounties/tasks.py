"""django-q2 tasks: one-liners that call a service, named as the service is.

Each runs every minute from a schedule a migration creates (bounties/migrations), and each
is one idempotent pass: running it twice, or on two workers at once, moves nothing twice.
"""

from django_q.tasks import async_task

from bounties.services import announcing, cashouts, claims, delivery, payouts, pledging, settlement


def pledge_complete_pending():
    """Every minute (the "complete pending pledges" schedule)."""
    return pledging.pledge_complete_pending()


def claims_tally():
    """Every minute ("tally claims"): decide claims whose voting window has closed."""
    return claims.claims_tally()


def funds_settle():
    """Every minute ("settle funds"): settle pledges whose escrow date passed with no winner."""
    return settlement.funds_settle()


def money_out_send():
    """Every minute ("send card refunds and payouts"): what a door could not hand to the provider."""
    return cashouts.refunds_send_pending() + payouts.payouts_send_pending()


def payout_send(payout_id: int):
    """A Stripe payout, handed over once its request committed."""
    return payouts.payouts_send(payout_id)


def outbox_fan_out(keys: list[str]):
    """An event's rows, nudged by their dedupe keys once it committed: one delivery task each."""
    for row_id in announcing.staged_ids(keys):
        async_task("bounties.tasks.outbox_deliver", row_id, task_name=f"outbox-{row_id}")


def outbox_deliver(row_id: int):
    """One outbox row, nudged after its event committed (the sweep catches what a nudge missed)."""
    return delivery.deliver(row_id)


def outbox_sweep():
    """Every minute ("deliver the outbox"): rows due, and rows whose worker's lease expired."""
    for row_id in delivery.due_ids():
        async_task("bounties.tasks.outbox_deliver", row_id, task_name=f"outbox-{row_id}")
