"""Following a fund by email: double opt-in, one-click unsubscribe, and backers' email preferences.

An anonymous reader's address hears nothing until it confirms: `follow_request` keeps an
unconfirmed `Follower` and sends a signed link (an outbox row, event `follow_confirm`, written
directly rather than through `stage` so no social channel or webhook hears of it). At most one
confirmation a `CONFIRM_EVERY` goes to an address for a fund, so the form cannot be used to
flood someone's inbox; the row is locked while that is checked, so two requests at once send one.
Signing up does not verify an address (anyone may register with someone else's), so a signed-in
user follows in one step (`follow_now`) only once their account's address is verified
(`address_verified`): a follow of theirs, at that very address, was confirmed by the link sent to
it. Until then a signed-in follow is a double opt-in like an anonymous one, the link going to the
account's address; confirming it verifies the account for every later follow.

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


class AddressNotVerified(BountiesError):
    """A one-click follow by a signed-in user whose account address no confirmation link has verified."""

    code = "address_not_verified"
    default_message = "Your account's address is not confirmed yet: we send it a link first."

    @property
    def user_message(self):
        return self.message


def address_verified(*, user) -> bool:
    """Whether `user` has shown they read mail at their account's current address: a follow of theirs at
    that address was confirmed by the link sent to it (the project keeps no other verification record).

    A follow confirmed without an account (the link's follower had no user) does not count: whoever
    registers with an address later has not shown it is theirs. Neither does a one-click follow.
    """
    if not user.is_authenticated or not user.email:
        return False
    email = normalize(user.email)
    confirmed = set(
        Follower.objects.filter(user=user, email=email, confirmed_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    if not confirmed:
        return False
    links = Outbox.objects.filter(channel=CHANNEL, event=FOLLOW_CONFIRM, recipient=email).values_list(
        "payload", flat=True
    )
    return any(payload.get("follower") in confirmed for payload in links)


def follow_request(*, fund_id: int, email: str, user=None) -> Follower:
    """Keep an unconfirmed follow of `fund_id` by `email` and send it a confirmation link, at most once an hour.

    `user`: the signed-in user asking for their account's address (`email`); the follow is theirs, so
    confirming its link verifies that address for their later follows (`address_verified`).

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
        if user is not None and follower.user_id is None:
            follower.user = user
            follower.save(update_fields=["user"])
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
    """A signed-in user whose account address is verified follows with it in one step.

    Raises AddressNotVerified otherwise (the caller sends a confirmation link: `follow_request`).
    """
    email = normalize(user.email)
    now = timezone.now()
    with transaction.atomic(durable=True):
        Fund.objects.get(pk=fund_id)
        if not address_verified(user=user):
            raise AddressNotVerified()
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
