"""Email: who hears about a fund's events in their inbox, and the sender that delivers each row.

**Who** (`email_audience`, one outbox row per address per event, dedupe key
`{event key}:email:{address}`, so a backer who also follows gets one email):

- followers of the fund (confirmed, not unsubscribed) hear its news and its outcomes
  (`FOLLOWER_EVENTS`);
- backers (a pledge in escrow, awarded or settled by the fund's end) hear its news, each claim
  they may vote on (the vote link and the deadline) and its outcomes, as their
  `EmailPreference` allows (`BACKER_EVENTS` names the switch);
- the user named in a private money event gets its receipt (`PRIVATE_EVENTS`): never switched
  off, never carrying an unsubscribe link;
- each backer of the funds an incident notice names (`incident_backers`, one email however many
  of those funds they back) gets the notice: it is about their money, so like a receipt it
  ignores the news switches and a fund's unsubscribe, and carries no unsubscribe link.

An explicit follow outlives a backer's switched-off preference for the follower events (they
asked for those). An address that unsubscribed from a fund (a `Follower` row with
`unsubscribed_at`, which a backer's unsubscribe writes too) hears nothing more about it, and a
row staged before the unsubscribe is refused at sending time.

**How** (`EmailSender`): a plain text and an HTML part from `bounties/email/*`, the Message-ID
`<outbox-{row.pk}@{SITE_URL's host}>` (deterministic, so the resend that reconciles an unknown
outcome is recognisably the same message), a `List-Id`, and on list mail the RFC 8058 one-click
unsubscribe (`List-Unsubscribe` + `List-Unsubscribe-Post`) to a signed token URL.
"""

import hashlib
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from bounties.announcers.messages import Message, message_for
from bounties.announcers.registry import (
    INCIDENT_BACKERS,
    PRIVATE_EVENTS,
    PROPOSAL_EVENTS,
    REFUND_FAILED,
    SUPPORT_CONTACT,
    audience,
    sender,
)
from bounties.models import Follower, FundPage, Outbox, Pledge, PledgeStatus
from bounties.money import format_cents

CHANNEL = "email"

FOLLOWER_EVENTS = {"news_published", "claim_decided", "fund_awarded", "fund_failed"}
# Event → the EmailPreference switch that lets a backer hear it.
BACKER_EVENTS = {
    "news_published": "news",
    "claim_submitted": "claims",
    "claim_decided": "outcomes",
    "fund_awarded": "outcomes",
    "fund_failed": "outcomes",
}
# Who counts as a backer: money in escrow, or money the fund's end already settled (a failed fund
# is announced after its pledges were refunded, given to the beneficiary or pledged onward).
BACKER_STATUSES = (
    PledgeStatus.ACTIVE,
    PledgeStatus.AWARDED,
    PledgeStatus.REFUNDED,
    PledgeStatus.TO_BENEFICIARY,
    PledgeStatus.REPLEDGED,
)
# Transactional mail: no unsubscribe link, never switched off.
FOLLOW_CONFIRM = "follow_confirm"
RECEIPT_EVENTS = PRIVATE_EVENTS | {FOLLOW_CONFIRM}

UNSUBSCRIBE_SALT = "fundfill.email.unsubscribe"
CONFIRM_SALT = "fundfill.follow.confirm"
CONFIRM_MAX_AGE = 7 * 24 * 3600


def normalize(address: str) -> str:
    return address.strip().lower()


def dedupe_key(key: str, address: str) -> str:
    """`{key}:email:{address}`, within the outbox's 300 characters (a long address by its hash)."""
    full = f"{key}:email:{address}"
    if len(full) <= 300:
        return full
    return f"{key[:200]}:email:{hashlib.sha256(address.encode()).hexdigest()}"


# Signed tokens (django.core.signing): no stored secret, no login.


def unsubscribe_token(*, email: str, fund_id: int) -> str:
    """Never expires: the link in a years-old email must still unsubscribe."""
    return signing.dumps({"e": normalize(email), "f": fund_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[str, int]:
    """(email, fund id); raises signing.BadSignature for a forged or damaged token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    return data["e"], int(data["f"])


def unsubscribe_url(*, email: str, fund_id: int) -> str:
    return settings.SITE_URL + reverse(
        "email_unsubscribe", args=[unsubscribe_token(email=email, fund_id=fund_id)]
    )


def _stamp(value) -> str:
    return value.isoformat() if value else ""


def confirm_token(follower: Follower) -> str:
    """Valid for a week and only while the follow is in the state it was sent in: once used, it is spent."""
    return signing.dumps(
        {
            "p": follower.pk,
            "e": follower.email,
            "c": _stamp(follower.confirmed_at),
            "u": _stamp(follower.unsubscribed_at),
        },
        salt=CONFIRM_SALT,
        compress=True,
    )


def read_confirm_token(token: str) -> dict:
    """The token's claims; raises signing.BadSignature (or SignatureExpired) when it is not ours or too old."""
    return signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)


def confirm_token_matches(follower: Follower, claims: dict) -> bool:
    return (
        claims.get("p") == follower.pk
        and claims.get("e") == follower.email
        and claims.get("c") == _stamp(follower.confirmed_at)
        and claims.get("u") == _stamp(follower.unsubscribed_at)
    )


# The audience.


def _follower_addresses(fund_id: int) -> list[str]:
    rows = Follower.objects.filter(fund_id=fund_id, confirmed_at__isnull=False, unsubscribed_at__isnull=True)
    return [normalize(email) for email in rows.values_list("email", flat=True)]


def _backer_addresses(fund_id: int, switch: str) -> list[str]:
    users = (
        get_user_model()
        .objects.filter(is_active=True, pledges__fund_id=fund_id, pledges__status__in=BACKER_STATUSES)
        .exclude(email="")
        .exclude(**{f"email_preference__{switch}": False})  # no preference row: everything on
        .distinct()
    )
    opted_out = {
        normalize(email)
        for email in Follower.objects.filter(fund_id=fund_id, unsubscribed_at__isnull=False).values_list(
            "email", flat=True
        )
    }
    return [
        address
        for address in map(normalize, users.values_list("email", flat=True))
        if address not in opted_out
    ]


def _incident_addresses(fund_ids: list[int]) -> dict[str, list[str]]:
    """Each backer's address of any of `fund_ids` → the titles of the ones they back (one query)."""
    rows = (
        Pledge.objects.filter(fund_id__in=fund_ids, status__in=BACKER_STATUSES, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", "fund__page__title")
        .order_by("fund__page__title")
        .distinct()
    )
    backs: dict[str, list[str]] = {}
    for address, title in rows:
        titles = backs.setdefault(normalize(address), [])
        if title not in titles:
            titles.append(title)
    return backs


@audience
def email_audience(*, key: str, event: str, fund_id: int | None, payload: dict) -> list[Outbox]:
    """One unsaved row per address that hears of `event` (see the module docstring for who)."""
    why: dict[str, str] = {}
    extra: dict[str, dict] = {}
    if event == INCIDENT_BACKERS:
        for address, titles in _incident_addresses(payload.get("funds") or []).items():
            why[address], extra[address] = "incident", {"backs": titles}
    elif event in PRIVATE_EVENTS:
        user = (
            get_user_model().objects.filter(pk=payload.get("user"), is_active=True).exclude(email="").first()
        )
        if user is not None:
            why[normalize(user.email)] = "receipt"
    elif fund_id is not None:
        if event in BACKER_EVENTS:
            why.update(dict.fromkeys(_backer_addresses(fund_id, BACKER_EVENTS[event]), "backer"))
        if event in FOLLOWER_EVENTS:
            for address in _follower_addresses(fund_id):
                why.setdefault(address, "follower")
    return [
        Outbox(
            dedupe_key=dedupe_key(key, address),
            channel=CHANNEL,
            recipient=address,
            event=event,
            payload={**payload, "why": reason, **extra.get(address, {})},
            fund_id=fund_id,
        )
        for address, reason in why.items()
    ]


# What a receipt says (message_for speaks only of public events).


def _receipt(event: str, payload: dict) -> Message | None:
    amount = format_cents(payload.get("amount_cents") or 0)
    site = settings.SITE_URL
    page = FundPage.objects.filter(pk=payload.get("fund")).first() if payload.get("fund") else None
    if event == "deposit_received":
        text, url = (
            f"We received your payment of {amount}. It is in your Fundfill wallet.",
            site + reverse("wallet"),
        )
    elif event == "pledge_receipt":
        where = f" to {page.title}" if page else ""
        text = f"Your pledge of {amount}{where} is in escrow."
        url = (
            site + reverse("pledge_detail", args=[payload["pledge"]])
            if payload.get("pledge")
            else site + reverse("my_pledges")
        )
    elif event == "cashout":
        text, url = f"{amount} from your wallet is on its way back to your card.", site + reverse("wallet")
    elif event == "payout_receipt":
        text, url = f"Your payout of {amount} has been sent.", site + reverse("payouts")
    elif event == REFUND_FAILED:
        reason = payload.get("reason") or "the card's bank did not accept it"
        text = f"Your card refund of {amount} failed ({reason}); the money is back in your wallet."
        url = site + reverse("wallet")
    elif event in PROPOSAL_EVENTS:
        return _proposal_message(event, payload)
    elif event == SUPPORT_CONTACT:  # Finance staff's own words (finance.services.support_contact)
        text, url = payload.get("message", ""), site + reverse("wallet")
        return Message(text=text, url=url, subject=payload.get("subject", "Fundfill: about your money")[:150])
    elif event == INCIDENT_BACKERS:
        text, url = payload.get("message", ""), site + reverse("my_pledges")
        return Message(text=text, url=url, subject=f"Fundfill: {text}"[:150])
    else:
        return None
    return Message(text=text, url=url, subject=f"Fundfill receipt: {text}"[:150])


def _proposal_message(event: str, payload: dict) -> Message:
    """Each step of a creator's proposal (or news post) in review, with where to go next."""
    what = "news post" if payload.get("kind") == "news" else "proposal"
    title = payload.get("title", "")
    dashboard = settings.SITE_URL + reverse("my_funds")
    if event == "proposal_submitted":
        text = f'Your {what} "{title}" is with our editors. We will email you when they have read it.'
        url, subject = dashboard, f"Fundfill: your {what} is in review"
    elif event == "proposal_changes_requested":
        comment = (payload.get("comment") or "").strip() or "(no comment)"
        text = f'An editor asked for changes to your {what} "{title}": {comment}'
        url = (
            settings.SITE_URL + reverse("proposal_edit", args=[payload["page"]])
            if what == "proposal"
            else dashboard
        )
        subject = f"Fundfill: changes requested to your {what}"
    elif payload.get("live"):
        text = f'Your {what} "{title}" is approved and live.'
        url, subject = settings.SITE_URL + (payload.get("path") or "/"), f"Fundfill: your {what} is live"
    else:
        text = f'Your {what} "{title}" is approved. It goes live on {payload.get("go_live_at", "its scheduled date")}.'
        url, subject = dashboard, f"Fundfill: your {what} is approved"
    return Message(text=text, url=url, subject=subject[:150])


# The sender.


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "fundfill.example"


def message_id(row: Outbox) -> str:
    return f"<outbox-{row.pk}@{site_domain()}>"


def _list_id(row: Outbox, page: FundPage | None) -> str:
    if row.event in PRIVATE_EVENTS or page is None:
        return f"Fundfill receipts <receipts.{site_domain()}>"
    name = page.title.replace('"', "").replace("\\", "")
    return f'"{name}" <fund-{page.pk}.{site_domain()}>'


ACTIONS = {
    "claim_submitted": "Read the claim and vote",
    "claim_decided": "See the decision",
    INCIDENT_BACKERS: "See your pledges",
}
WHY = {
    "backer": "You get this because you back {title}.",
    "follower": "You get this because you follow {title}.",
}


def _error(error: Exception) -> Exception:
    """An SMTP failure as the outbox understands it: refused for good (5xx) or worth retrying."""
    from bounties.announcers.base import PermanentError, TransientError

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            return PermanentError(f"Recipient refused: {error.recipients}")
        return TransientError(f"Recipient deferred: {error.recipients}")
    if isinstance(error, (smtplib.SMTPConnectError, smtplib.SMTPAuthenticationError)):
        return TransientError(f"SMTP: {error}")  # our side or the relay's: fixed without touching the row
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500:
        return PermanentError(f"SMTP {error.smtp_code}: {error.smtp_error!r}")
    return TransientError(f"SMTP: {error!r}")  # 4xx, a dropped connection, a timeout


@sender(CHANNEL)
class EmailSender:
    """Delivers one email row through Django's email API (`EMAIL_BACKEND`: SMTP, console, an ESP)."""

    def __init__(self, row: Outbox):
        self.row = row

    def build(self, row: Outbox) -> EmailMultiAlternatives:
        from bounties.announcers.base import PermanentError

        page = FundPage.objects.filter(pk=row.fund_id).first() if row.fund_id else None
        context = {
            "row": row,
            "page": page,
            "site_url": settings.SITE_URL,
            "receipt": row.event in RECEIPT_EVENTS,
        }
        if row.event == FOLLOW_CONFIRM:
            follower = Follower.objects.filter(pk=row.payload.get("follower")).first()
            if follower is None or page is None:
                raise PermanentError("Nothing to confirm: the follow request is gone.")
            if follower.is_active:
                raise PermanentError("Not sent: the address already follows this fund.")
            context["confirm_url"] = settings.SITE_URL + reverse(
                "follow_confirm", args=[confirm_token(follower)]
            )
            subject = f"Confirm that you want news of {page.title}"
            template = "follow_confirm"
        else:
            message = (
                _receipt(row.event, row.payload)
                if row.event in PRIVATE_EVENTS
                else message_for(row.event, row.payload)
            )
            if message is None:
                raise PermanentError(f"Nothing to say for event {row.event!r}.")
            context.update(
                message=message, action=ACTIONS.get(row.event, "Read more"), subject=message.subject
            )
            subject, template = message.subject, "incident" if row.event == INCIDENT_BACKERS else "message"
            context["backs"] = row.payload.get("backs", [])
        if not context["receipt"]:
            if Follower.objects.filter(
                fund_id=row.fund_id, email__iexact=row.recipient, unsubscribed_at__isnull=False
            ).exists():
                raise PermanentError(f"Not sent: {row.recipient} unsubscribed from this fund's email.")
            context["unsubscribe_url"] = unsubscribe_url(email=row.recipient, fund_id=row.fund_id)
            context["why"] = WHY.get(row.payload.get("why"), WHY["follower"]).format(
                title=page.title if page else ""
            )
            context["preferences_url"] = settings.SITE_URL + reverse("email_preferences")
        headers = {
            "Message-ID": message_id(row),
            "List-Id": _list_id(row, page),
            "Auto-Submitted": "auto-generated",
        }
        if context.get("unsubscribe_url"):
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=" ".join(subject.split()),
            body=render_to_string(f"bounties/email/{template}.txt", context),
            to=[row.recipient],
            headers=headers,
        )
        email.attach_alternative(render_to_string(f"bounties/email/{template}.html", context), "text/html")
        return email

    def send(self, row: Outbox) -> str:
        email = self.build(row)
        try:
            email.send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            raise _error(error) from error
        return message_id(row)

    def find(self, row: Outbox) -> str | None:
        # Mail keeps no record we can read back: sending again under the same Message-ID is the
        # reconciliation (RELIABILITY §3.5); receiving systems fold the duplicate.
        return None
