"""Decide every claim whose voting window has closed: one idempotent pass that exits (also scheduled)."""

from django.core.management.base import BaseCommand

from bounties.services.claims import claims_tally


class Command(BaseCommand):
    help = "Decide claims whose voting window has closed (idempotent; the worker also runs it every minute)."

    def handle(self, *args, **options):
        decided = claims_tally()
        self.stdout.write(f"Decided {decided} claim(s).")
