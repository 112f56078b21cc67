"""Prove the ledger: exit 0 when every invariant holds, else name each violation and exit 1."""

from django.core.management.base import BaseCommand, CommandError

from bounties.services.ledger import ledger_violations


class Command(BaseCommand):
    help = "Verify every ledger invariant; exits non-zero naming each violation."

    def handle(self, *args, **options):
        problems = ledger_violations()
        if problems:
            for problem in problems:
                self.stderr.write(f"VIOLATION: {problem}")
            raise CommandError(f"{len(problems)} ledger violation(s).", returncode=1)
        self.stdout.write(self.style.SUCCESS("Ledger OK: every invariant holds."))
