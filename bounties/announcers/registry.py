"""Who hears about an event, and who sends each outbox row.

`audiences` turn one staged event into outbox rows, one per (event, channel or recipient),
written in the event's own transaction: the social channels of `ANNOUNCERS` (unless the
fund's automatic announcements are off), each webhook endpoint that wants the fund's events,
and each person to email (`bounties.announcers.email`). `sender_for(row)` is the object that
delivers a row: `send(row) -> provider id`, and `find(row) -> provider id | None` to
reconcile an attempt whose outcome is unknown.
"""

from collections.abc import Callable

from bounties.announcers.base import PermanentError, Post, enabled_names, get_announcer
from bounties.announcers.messages import message_for
from bounties.models import FundPage, Outbox

# Each takes (key, event, fund_id, payload) and returns unsaved Outbox rows. Email and webhook
# audiences register themselves here from their modules (a list, so the order is stable).
AUDIENCES: list[Callable[..., list[Outbox]]] = []
SENDERS: dict[str, Callable[[Outbox], object]] = {}


def audience(func):
    AUDIENCES.append(func)
    return func


def sender(channel: str):
    def register(factory):
        SENDERS[channel] = factory
        return factory

    return register


class SocialSender:
    """Delivers a row to one social network through its announcer (`bounties.announcers.base.Announcer`)."""

    def __init__(self, announcer):
        self.announcer = announcer

    def post(self, row: Outbox) -> Post:
        message = message_for(row.event, row.payload)
        if message is None:
            raise PermanentError(f"Nothing to say for event {row.event!r}.")
        return Post(text=message.text, url=message.url, hashtag=message.hashtag)

    def send(self, row: Outbox) -> str:
        return self.announcer.send(self.post(row), key=row.dedupe_key).provider_id

    def find(self, row: Outbox) -> str | None:
        return self.announcer.find(self.post(row), key=row.dedupe_key, since=row.created_at)


def sender_for(row: Outbox):
    if row.channel in SENDERS:
        return SENDERS[row.channel](row)
    return SocialSender(get_announcer(row.channel))


@audience
def social(*, key: str, event: str, fund_id: int | None, payload: dict) -> list[Outbox]:
    if event in PRIVATE_EVENTS:
        return []
    if fund_id and not FundPage.objects.filter(pk=fund_id, announce=True).exists():
        return []
    return [
        Outbox(dedupe_key=f"{key}:{name}", channel=name, event=event, payload=payload, fund_id=fund_id)
        for name in enabled_names()
    ]


# Events about one person's own money, or their own proposal's review: emailed to them alone
# (never switched off, no unsubscribe link), never announced.
PROPOSAL_EVENTS = {"proposal_submitted", "proposal_changes_requested", "proposal_approved"}
# An incident notice switched on (home.IncidentNotice, staged by `announcing.incident_announce`):
# `incident` is public (the social channels, site-wide webhooks); `incident_backers` is its email
# to each backer of the funds it names, private like a receipt (never announced, always sent).
INCIDENT = "incident"
INCIDENT_BACKERS = "incident_backers"
PRIVATE_EVENTS = {"deposit_received", "pledge_receipt", "cashout", "payout_receipt"} | PROPOSAL_EVENTS
PRIVATE_EVENTS |= {INCIDENT_BACKERS}
# Finance staff writing to one user about their stuck money (finance.services.support_contact).
SUPPORT_CONTACT = "support_contact"
PRIVATE_EVENTS |= {SUPPORT_CONTACT}
# A card refund that failed (`bounties.services.cashouts`): the money is back in the wallet, and
# its owner is told as by a receipt (its text: `bounties.announcers.email`).
REFUND_FAILED = "refund_failed"
PRIVATE_EVENTS |= {REFUND_FAILED}
