"""Poll X and Hacker News for mentions once, and exit (the worker also runs both every 5 minutes)."""

from django.core.management.base import BaseCommand

from feedback import mentions


class Command(BaseCommand):
    help = "Poll X's recent search and Hacker News for mentions of the site (one idempotent pass each)."

    def add_arguments(self, parser):
        parser.add_argument("--source", choices=["x", "hn"], help="Only this source.")

    def handle(self, *args, source=None, **options):
        polls = {"x": mentions.poll_x, "hn": mentions.poll_hn}
        for name, poll in polls.items():
            if source and name != source:
                continue
            result = poll()
            if result.skipped:
                self.stdout.write(f"{name}: skipped, {result.skipped}.")
            else:
                self.stdout.write(f"{name}: {result.stored} new mention(s).")
