"""Following a fund by email: double opt-in, one-click unsubscribe, and backers' email preferences.

An anonymous reader's address hears nothing until it confirms: `follow_request` keeps an
unconfirmed `Follower` and sends a signed link (an outbox row, event `follow_confirm`, written
directly rather than through `stage` so no social channel or webhook hears of it). At most one
confirmation a `CONFIRM_EVERY` goes to an address for a fund, so the form cannot be used to
flood someone's inbox; the row is locked while that is checked, so two requests at once send one.
A signed-in user's own account email counts as verified: `follow_now` follows in one step.

`unsubscribe` takes the signed token of any list email (a follower's or a backer's): it marks the
address unsubscribed from that fund, writing a `Follower` row if the address only backed it, so the
audience in `bounties.announcers.email` leaves it out from then on.
"""

from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone

from bounties.announcers.email import (
    CHANNEL,
    FOLLOW_CONFIRM,
    confirm_token_matches,
    normalize,
    read_confirm_token,
    read_unsubscribe_token,
)
from bounties.errors import BountiesError
from bounties.models import EmailPreference, Follower, Fund, Outbox

CONFIRM_EVERY = timedelta(hours=1)


class LinkInvalid(BountiesError):
    """A confirmation or unsubscribe link that we did not sign, or that was damaged or is too old."""

    code = "link_invalid"
    default_message = (
        "This link is not valid. It may have been mistyped, cut short, or be more than a week old."
    )

    @property
    def user_message(self):
        return self.message


class LinkUsed(LinkInvalid):
    """A confirmation link that was already used (or whose follow changed since it was sent)."""

    code = "link_used"
    default_message = "This link has already been used."


def follow_request(*, fund_id: int, email: str) -> Follower:
    """Keep an unconfirmed follow of `fund_id` by `email` and send it a confirmation link, at most once an hour.

    Says nothing different when the address already follows (nothing is sent then): the page
    must not tell a stranger who follows what.
    """
    email = normalize(email)
    now = timezone.now()
    with transaction.atomic(durable=True):
        Fund.objects.get(pk=fund_id)
        Follower.objects.get_or_create(fund_id=fund_id, email=email)
        follower = Follower.objects.select_for_update().get(fund_id=fund_id, email=email)
        if follower.is_active:
            return follower
        recent = Outbox.objects.filter(
            channel=CHANNEL,
            event=FOLLOW_CONFIRM,
            fund_id=fund_id,
            recipient=email,
            created_at__gte=now - CONFIRM_EVERY,
        )
        if recent.exists():
            return follower
        row = Outbox.objects.create(
            dedupe_key=f"follow:{follower.pk}:{int(now.timestamp())}",
            channel=CHANNEL,
            recipient=email,
            fund_id=fund_id,
            event=FOLLOW_CONFIRM,
            payload={"fund": fund_id, "follower": follower.pk, "why": "receipt"},
        )
        key = row.dedupe_key
        transaction.on_commit(lambda: _nudge(key))
    return follower


def _nudge(key: str):
    from bounties.services.announcing import nudge

    nudge([key])


def follow_confirm(*, token: str) -> Follower:
    """Confirm the follow a link was sent for; raises LinkInvalid (forged, old) or LinkUsed (spent)."""
    try:
        claims = read_confirm_token(token)
    except signing.BadSignature as error:  # SignatureExpired is one too
        raise LinkInvalid() from error
    with transaction.atomic(durable=True):
        follower = Follower.objects.select_for_update().filter(pk=claims.get("p")).first()
        if follower is None or not confirm_token_matches(follower, claims):
            raise LinkUsed()
        follower.confirmed_at = timezone.now()
        follower.unsubscribed_at = None
        follower.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return follower


def follow_now(*, fund_id: int, user) -> Follower:
    """A signed-in user follows with their account's address (verified by signing up with it)."""
    email = normalize(user.email)
    now = timezone.now()
    with transaction.atomic(durable=True):
        Fund.objects.get(pk=fund_id)
        follower, _ = Follower.objects.get_or_create(fund_id=fund_id, email=email, defaults={"user": user})
        follower = Follower.objects.select_for_update().get(pk=follower.pk)
        if not follower.is_active:
            follower.confirmed_at = now
        follower.unsubscribed_at = None
        follower.user = user
        follower.save(update_fields=["confirmed_at", "unsubscribed_at", "user"])
    return follower


def read_unsubscribe(*, token: str) -> tuple[str, int]:
    """(email, fund id) of an unsubscribe link; raises LinkInvalid."""
    try:
        return read_unsubscribe_token(token)
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise LinkInvalid() from error


def unsubscribe(*, token: str) -> Follower:
    """Stop every list email about the token's fund to the token's address (idempotent)."""
    email, fund_id = read_unsubscribe(token=token)
    with transaction.atomic(durable=True):
        if not Fund.objects.filter(pk=fund_id).exists():
            raise LinkInvalid(
                "The fund this link was for no longer exists: nothing more will be sent about it."
            )
        Follower.objects.get_or_create(fund_id=fund_id, email=email)
        follower = Follower.objects.select_for_update().get(fund_id=fund_id, email=email)
        if follower.unsubscribed_at is None:
            follower.unsubscribed_at = timezone.now()
            follower.save(update_fields=["unsubscribed_at"])
    return follower


def email_preferences_update(*, user, news: bool, claims: bool, outcomes: bool) -> EmailPreference:
    preference, _ = EmailPreference.objects.update_or_create(
        user=user, defaults={"news": news, "claims": claims, "outcomes": outcomes}
    )
    return preference


def email_preferences_get(*, user) -> EmailPreference:
    """The user's switches (all on, unsaved, for someone who never changed them)."""
    return EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
