"""Deliver every outbox row that is due, in this process, once, and exit (cron set-ups and tests)."""

from django.core.management.base import BaseCommand

from bounties.services.delivery import deliver_due


class Command(BaseCommand):
    help = "Deliver every due announcement and email in one pass, then exit."

    def handle(self, *args, **options):
        counts = deliver_due()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
        self.stdout.write(f"Outbox: {summary}.")
