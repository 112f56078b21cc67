"""Settle every pledge whose escrow date passed with no winner: one idempotent pass that exits (also scheduled)."""

from django.core.management.base import BaseCommand

from bounties.services.settlement import funds_settle


class Command(BaseCommand):
    help = (
        "Settle pledges whose escrow date passed with no accepted claim (idempotent; also run every minute)."
    )

    def handle(self, *args, **options):
        settled = funds_settle()
        self.stdout.write(f"Settled {settled} pledge(s).")
