"""An Atom feed of one fund's announcements: `/funds/<slug>/announcements.atom`.

Read from the outbox's social rows, not from the fund's timeline: those rows are exactly what
was announced (news, milestones, claims, decisions, the award), in the words every channel used
(`message_for`), whereas the timeline records claim and money events only, with each vote and
each pledge's settlement among them. A fund whose automatic announcements are off announces
nothing, here too. One entry per event however many channels carried it (each row's dedupe key
is the event's key plus `:{channel}`), whether or not a network has accepted the post yet.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.utils.feedgenerator import Atom1Feed

from bounties import selectors
from bounties.announcers.email import site_domain
from bounties.announcers.messages import Message, fund_link, message_for
from bounties.announcers.registry import PRIVATE_EVENTS
from bounties.models import Outbox

FEED_LENGTH = 30


@dataclass(frozen=True)
class Announcement:
    key: str
    event: str
    message: Message
    at: datetime


def fund_announcements(*, fund_id: int, limit: int = FEED_LENGTH) -> list[Announcement]:
    """The fund's announced events, newest first, each once."""
    from bounties.announcers.base import REGISTRY  # the social channels' names

    rows = (
        Outbox.objects.filter(fund_id=fund_id, channel__in=list(REGISTRY))
        .exclude(event__in=PRIVATE_EVENTS)
        .order_by("-created_at", "-pk")
        .only("dedupe_key", "channel", "event", "payload", "created_at")
    )
    seen, found = set(), []
    for row in rows.iterator():
        suffix = f":{row.channel}"
        key = row.dedupe_key[: -len(suffix)] if row.dedupe_key.endswith(suffix) else row.dedupe_key
        if key in seen:
            continue
        seen.add(key)
        message = message_for(row.event, row.payload)
        if message is not None:
            found.append(Announcement(key=key, event=row.event, message=message, at=row.created_at))
        if len(found) >= limit:
            break
    return found


class FundAnnouncementsFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, slug):
        self.request = request
        page = selectors.public_funds().filter(slug=slug).first()
        if page is None:
            raise Http404("No such fund.")
        return page

    def title(self, obj):
        return f"Fundfill: announcements of {obj.title}"

    def subtitle(self, obj):
        return obj.summary

    def link(self, obj):
        return fund_link(obj)

    def feed_url(self, obj):
        return self.request.build_absolute_uri()

    def items(self, obj):
        return fund_announcements(fund_id=obj.pk)

    def item_title(self, item):
        return item.message.text

    def item_description(self, item):
        return item.message.text

    def item_link(self, item):
        return item.message.url

    def item_guid(self, item):
        # A tag URI (RFC 4151): stable whatever the entry's link, unique per announced event.
        return f"tag:{site_domain()},{item.at:%Y-%m-%d}:{item.key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.at

    def item_updateddate(self, item):
        return item.at


fund_announcements_feed = FundAnnouncementsFeed()
