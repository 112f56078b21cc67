"""The development channel: an announcement is a log line on `fundfill.announce` (what `make run` prints)."""

import logging
from datetime import datetime

from bounties.announcers.base import Announcer, Post, SendResult

logger = logging.getLogger("fundfill.announce")


class ConsoleAnnouncer(Announcer):
    """Logs each post instead of publishing it; the default channel, so dev and tests need no keys."""

    name = "console"
    limit = 500
    url_weight = 23

    def send(self, post: Post, *, key: str) -> SendResult:
        logger.info("announce %s: %s", key, self.render(post))
        return SendResult(provider_id=f"console:{key}")

    def find(self, post: Post, *, key: str, since: datetime) -> str | None:
        # A log keeps no record to look in; logging the line again is harmless.
        return None
