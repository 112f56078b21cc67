"""The Finance team's support actions on stuck money, each one business action.

Each action checks that the member is in Finance and gave a reason, then acts through the bounty
services' in-transaction steps (`_pledge_complete`, `refund_retry_open`, `payout_retry_open`,
`announcing.stage`) inside its own `money_operation`, and writes Wagtail's audit log entry
(`finance.<action>`, with the member and their "why") in that same transaction: the money and
the record of who moved it and why commit together or not at all. Replays move nothing: a pledge
no longer pending is left as it is, a retry is keyed by the row it retries, a contact email by
the row and the template (the outbox's dedupe key).

Each returns a `SupportOutcome` saying in plain words whether money moved.
"""

from dataclasses import dataclass

from django.db.models import Model
from wagtail.log_actions import log

from bounties.announcers.email import dedupe_key as email_dedupe_key
from bounties.announcers.email import normalize
from bounties.errors import BountiesError, NotFound
from bounties.models import Deposit, Outbox, Payout, Pledge, PledgeStatus, Refund, RefundStatus
from bounties.money import format_cents
from bounties.services import announcing, money_operation
from bounties.services.cashouts import refund_retry_open, refunds_send
from bounties.services.payouts import STRIPE, is_finance, payout_retry_open
from bounties.services.pledging import _pledge_complete, lock_fund

WHY_MAX = 500


class SupportRefused(BountiesError):
    """A support action refused before anything moved (not Finance, no reason given)."""

    code = "support_refused"
    status = 403


@dataclass(frozen=True)
class SupportOutcome:
    """What a support action did: the row it acted on, whether money moved, and that in words."""

    obj: Model
    moved: bool
    message: str
    replayed: bool = False


def _check(staff, why: str) -> str:
    if not is_finance(staff):
        raise SupportRefused("Only Finance staff can act on stuck money.")
    why = " ".join((why or "").split())
    if not why:
        raise SupportRefused("Say why: the reason is kept in the audit log with your name.")
    return why[:WHY_MAX]


# --- Complete a pending card pledge ------------------------------------------------------------------


def support_pledge_complete(*, pledge_id: int, staff, why: str) -> SupportOutcome:
    """Finish a stuck card pledge as the webhook would have: into escrow if its payment landed
    (cancelled, the money kept in the wallet, if the fund closed or the wallet no longer holds
    enough), cancelled if every payment was declined, left waiting otherwise."""
    why = _check(staff, why)
    return _support_pledge_complete(pledge_id=pledge_id, staff=staff, why=why)


@money_operation
def _support_pledge_complete(*, pledge_id, staff, why) -> SupportOutcome:
    fund_id = Pledge.objects.filter(pk=pledge_id).values_list("fund_id", flat=True).first()
    if fund_id is None:
        raise NotFound("There is no such pledge.")
    lock_fund(fund_id)  # the lock order: the fund, then the pledge
    before = Pledge.objects.select_for_update(of=("self",)).get(pk=pledge_id)
    if before.status != PledgeStatus.PENDING_FUNDS:
        return SupportOutcome(
            obj=before,
            moved=False,
            replayed=True,
            message=f"Pledge #{before.pk} is no longer pending ({before.get_status_display().lower()}): "
            "nothing was done and no money moved.",
        )
    # The documented in-transaction form of `pledge_complete` (the webhook's), so the audit entry
    # below commits with the money.
    pledge = _pledge_complete(pledge_id)
    amount = format_cents(pledge.amount_cents)
    if pledge.status == PledgeStatus.ACTIVE:
        moved, message = True, f"Pledge #{pledge.pk} completed: {amount} moved from the wallet into escrow."
    elif pledge.status == PledgeStatus.CANCELLED:
        moved = False
        message = f"Pledge #{pledge.pk} cancelled: {pledge.note} No money moved into escrow."
    else:
        moved = False
        message = (
            f"Pledge #{pledge.pk} is still waiting for its card payment: no money moved. "
            "Contact the user or wait for the payment."
        )
    log(
        instance=pledge,
        action="finance.pledge_complete",
        user=staff,
        data={"why": why, "status": pledge.status, "moved": moved},
    )
    return SupportOutcome(obj=pledge, moved=moved, message=message)


# --- Retry a failed card refund ------------------------------------------------------------------------


def support_refund_retry(*, refund_id: int, staff, why: str) -> SupportOutcome:
    """Send a failed refund's money to the user's other card payments (`refund_retry_open`), then
    send the new refunds to the gateway after commit and say what it answered."""
    why = _check(staff, why)
    outcome = _support_refund_retry(refund_id=refund_id, staff=staff, why=why)
    refunds = refunds_send(outcome.obj.pk)
    sent = sum(r.amount_cents for r in refunds if r.status == RefundStatus.SUCCEEDED)
    failed = sum(r.amount_cents for r in refunds if r.status == RefundStatus.FAILED)
    words = [outcome.message]
    if sent:
        words.append(f"{format_cents(sent)} was accepted by the card's bank.")
    if failed:
        words.append(f"{format_cents(failed)} failed again and is back in the wallet.")
    if len(refunds) and not (sent or failed):
        words.append("The gateway has not answered yet: the sweep sends it again.")
    return SupportOutcome(
        obj=outcome.obj, moved=outcome.moved, message=" ".join(words), replayed=outcome.replayed
    )


@money_operation
def _support_refund_retry(*, refund_id, staff, why) -> SupportOutcome:
    cashout, replayed = refund_retry_open(refund_id=refund_id)
    amount = format_cents(cashout.amount_cents)
    if replayed:
        return SupportOutcome(
            obj=cashout,
            moved=False,
            replayed=True,
            message=f"Refund #{refund_id} was already sent again (cash-out #{cashout.pk}): no money moved now.",
        )
    log(
        instance=Refund.objects.get(pk=refund_id),
        action="finance.refund_retry",
        user=staff,
        data={"why": why, "cashout": cashout.pk, "amount_cents": cashout.amount_cents},
    )
    return SupportOutcome(
        obj=cashout,
        moved=True,
        message=f"Refund #{refund_id} sent again: {amount} left the wallet for the card (cash-out #{cashout.pk}).",
    )


# --- Retry a failed payout ------------------------------------------------------------------------------


@money_operation
def support_payout_retry(*, payout_id: int, staff, why: str) -> SupportOutcome:
    """Ask again for a failed payout's amount (`payout_retry_open`): a new payout the usual way
    (Stripe sends it, or it waits in the manual queue for approval)."""
    why = _check(staff, why)
    payout, replayed = payout_retry_open(payout_id=payout_id, staff=staff)
    if replayed:
        return SupportOutcome(
            obj=payout,
            moved=False,
            replayed=True,
            message=f"Payout #{payout_id} was already asked for again (payout #{payout.pk}): no money moved now.",
        )
    log(
        instance=Payout.objects.get(pk=payout_id),
        action="finance.payout_retry",
        user=staff,
        data={"why": why, "payout": payout.pk, "amount_cents": payout.amount_cents},
    )
    next_step = "Stripe sends it now" if payout.method == STRIPE else "approve it in the payout queue"
    return SupportOutcome(
        obj=payout,
        moved=True,
        message=f"Payout #{payout_id} asked for again as payout #{payout.pk}: "
        f"{format_cents(payout.amount_cents)} left the payout balance; {next_step}.",
    )


# --- Contact the user ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactTemplate:
    kind: str  # the stuck row it is about: pledge, deposit, refund or payout
    label: str
    subject: str
    text: str  # str.format with: username, amount, what


CONTACT_TEMPLATES = {
    "pledge_pending": ContactTemplate(
        "pledge",
        "Card pledge still waiting for its payment",
        "Your pledge on Fundfill is waiting for your card payment",
        "Hello {username}, your pledge of {amount} ({what}) is still waiting for its card payment. "
        "No money has moved. If you meant to pledge, please pay again from your pledge page; if not, "
        "you need do nothing.",
    ),
    "payment_not_credited": ContactTemplate(
        "deposit",
        "A payment we received but did not credit",
        "We are checking a payment you made to Fundfill",
        "Hello {username}, we received a card payment from you ({what}, {amount}) that did not match "
        "what we expected, so it is not in your wallet yet. Our finance team is checking it with the "
        "card provider and will write to you again; you need do nothing.",
    ),
    "refund_failed": ContactTemplate(
        "refund",
        "A card refund that failed",
        "Your card refund from Fundfill did not go through",
        "Hello {username}, your card refund of {amount} ({what}) was refused by the card's bank, so "
        "the money is back in your Fundfill wallet. Reply to this email to agree another way to "
        "send it to you.",
    ),
    "payout_failed": ContactTemplate(
        "payout",
        "A payout that failed",
        "Your Fundfill payout did not go through",
        "Hello {username}, your payout of {amount} ({what}) did not go through, so the money is back "
        "in your payout balance. Please check your payout details; we will send it again.",
    ),
}
CONTACT_MODELS = {"pledge": Pledge, "deposit": Deposit, "refund": Refund, "payout": Payout}


def templates_for(kind: str) -> dict[str, ContactTemplate]:
    return {name: template for name, template in CONTACT_TEMPLATES.items() if template.kind == kind}


def contact_subject(obj) -> tuple[object, int, str]:
    """(user, amount, description) of a stuck row, for the email's words."""
    if isinstance(obj, Refund):
        return obj.cashout.user, obj.amount_cents, f"refund #{obj.pk}"
    if isinstance(obj, Pledge):
        return obj.user, obj.amount_cents, f"pledge #{obj.pk} to {obj.fund.page.title}"
    return obj.user, obj.amount_cents, f"{type(obj).__name__.lower()} #{obj.pk}"


def contact_text(*, template: str, obj) -> tuple[str, str]:
    """The (subject, text) the template says about this row."""
    chosen = CONTACT_TEMPLATES[template]
    user, amount_cents, what = contact_subject(obj)
    text = chosen.text.format(username=user.get_username(), amount=format_cents(amount_cents), what=what)
    return chosen.subject, text


@money_operation
def support_contact(
    *, kind: str, object_id: int, template: str, staff, why: str, note: str = ""
) -> SupportOutcome:
    """Email the user about a stuck row from a template (and an optional note), through the outbox:
    staged here, sent by the worker after commit. Once per row and template."""
    why = _check(staff, why)
    model = CONTACT_MODELS.get(kind)
    if model is None or template not in templates_for(kind):
        raise NotFound("There is no such row or email template.")
    obj = model.objects.filter(pk=object_id).first()
    if obj is None:
        raise NotFound(f"There is no such {kind}.")
    user, _, _ = contact_subject(obj)
    if not user.email:
        raise SupportRefused(f"{user.get_username()} has no email address: no email was sent.")
    key = f"support:{kind}:{obj.pk}:{template}"
    if Outbox.objects.filter(dedupe_key=email_dedupe_key(key, normalize(user.email))).exists():
        return SupportOutcome(
            obj=obj,
            moved=False,
            replayed=True,
            message=f"This email was already sent to {user.email} about this {kind}: nothing was sent again.",
        )
    subject, text = contact_text(template=template, obj=obj)
    note = " ".join((note or "").split())[:WHY_MAX]
    keys = announcing.stage(
        key=key,
        event="support_contact",
        user=user.pk,
        subject=subject,
        message=f"{text} {note}".strip(),
    )
    log(instance=obj, action="finance.contact", user=staff, data={"why": why, "template": template})
    return SupportOutcome(
        obj=obj,
        moved=False,
        message=f"Email to {user.email} queued ({CONTACT_TEMPLATES[template].label.lower()}); no money moved."
        if keys
        else f"{user.get_username()} cannot be emailed: no email was sent.",
    )
