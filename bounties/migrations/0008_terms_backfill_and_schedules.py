"""Existing pledges keep the terms they were made under; the fund's first terms row; the money jobs' schedules.

Pledges made before pledges recorded their terms were made under the page's terms as they
stand now (there was no other record), so those are copied. Each fund gets its first
`FundTerms` row from its page. The claim tally, the settlement pass and the card-refund
sweep run every minute under django-q2 (each is also a management command).
"""

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "tally claims": "bounties.tasks.claims_tally",
    "settle funds": "bounties.tasks.funds_settle",
    "send card refunds and payouts": "bounties.tasks.money_out_send",
}


def backfill(apps, schema_editor):
    Pledge = apps.get_model("bounties", "Pledge")
    FundPage = apps.get_model("bounties", "FundPage")
    FundTerms = apps.get_model("bounties", "FundTerms")
    now = timezone.now()
    for page in FundPage.objects.all():
        Pledge.objects.filter(fund_id=page.pk, escrow_until__isnull=True).update(
            escrow_until=page.escrow_until,
            failure_policy=page.failure_policy,
            beneficiary_name=page.beneficiary_name,
        )
        if not FundTerms.objects.filter(fund_id=page.pk).exists():
            FundTerms.objects.create(
                fund_id=page.pk,
                effective_at=page.first_published_at or now,
                escrow_until=page.escrow_until,
                failure_policy=page.failure_policy,
                beneficiary_name=page.beneficiary_name,
                vote_window_hours=max(24, min(page.vote_window_hours, 14 * 24)),
                quorum_percent=page.quorum_percent,
            )


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}
        )


def drop_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0007_claims_votes_settlement_payouts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(add_schedules, drop_schedules),
    ]
