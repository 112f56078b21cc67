"""Reads for the Finance admin: stuck money, a user's money story, the reports' aggregates, and a
fund's money over time.

Every figure comes from the ledger's own rows (pledges, deposits, refunds, payouts, transfers and
their entries) and is aggregated in SQL; nothing here writes.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat, TruncDate
from django.utils import timezone

from bounties import selectors as bounty_selectors
from bounties.models import (
    Account,
    AccountKind,
    Cashout,
    Claim,
    Deposit,
    DepositStatus,
    Entry,
    Fund,
    Payout,
    PayoutStatus,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferKind,
    WebhookEvent,
)

# A card pledge is normally completed seconds after its payment: one still waiting this long is stuck.
STUCK_AFTER = timedelta(minutes=15)
# The provider events that say a payment was made (bounties.services.deposits.HANDLERS).
PAID_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
)
# Pledges whose money reached escrow (not a card pledge still waiting, nor one never made).
NOT_MOVED = [PledgeStatus.PENDING_FUNDS, PledgeStatus.CANCELLED]
MONEY_MOVED = ~Q(status__in=NOT_MOVED)


# --- Stuck money -----------------------------------------------------------------------------------


def stuck_pledges(*, now: datetime | None = None) -> QuerySet[Pledge]:
    """Card pledges still waiting for their payment STUCK_AFTER after they were made, oldest first."""
    cutoff = (now or timezone.now()) - STUCK_AFTER
    return (
        Pledge.objects.filter(status=PledgeStatus.PENDING_FUNDS, created_at__lt=cutoff)
        .select_related("user", "fund__page")
        .prefetch_related("deposits")
        .order_by("created_at", "pk")
    )


def uncredited_deposits() -> QuerySet[Deposit]:
    """Deposits the provider told us were paid (a signed paid event names them) that are not in the
    wallet: the event disagreed with the deposit (amount, currency, a declined or expired one), so
    the webhook credited nothing. The customer paid; the money is at the provider."""
    paid = (
        WebhookEvent.objects.filter(type__in=PAID_EVENTS)
        .annotate(
            deposit_ref=KT("payload__data__object__metadata__deposit"),
            payment_status=KT("payload__data__object__payment_status"),
        )
        .filter(deposit_ref=Cast(OuterRef("uuid"), CharField()))
        .exclude(payment_status="unpaid")
    )
    return (
        Deposit.objects.filter(Exists(paid))
        .filter(~Q(status=DepositStatus.SUCCEEDED) | Q(transfer__isnull=True))
        .select_related("user")
        .order_by("created_at", "pk")
    )


def _retried(key_prefix: str, model):
    """Whether a retry (keyed `{prefix}{pk}`, bounties.services) exists for the outer row."""
    return Exists(
        model.objects.filter(
            user_id=OuterRef(
                "cashout__user_id" if model is Cashout else "user_id",
            ),
            key=Concat(Value(key_prefix), Cast(OuterRef("pk"), CharField())),
        )
    )


def failed_refunds() -> QuerySet[Refund]:
    """Card refunds of cash-outs that failed (their money is back in the wallet) and were not retried."""
    return (
        Refund.objects.filter(status=RefundStatus.FAILED)
        .exclude(_retried("retry-refund:", Cashout))
        .select_related("cashout__user", "deposit")
        .order_by("updated_at", "pk")
    )


def failed_payouts() -> QuerySet[Payout]:
    """Payouts that failed (their money is back in the payout balance) and were not retried."""
    return (
        Payout.objects.filter(status=PayoutStatus.FAILED)
        .exclude(_retried("retry-payout:", Payout))
        .select_related("user")
        .order_by("updated_at", "pk")
    )


def flagged_deposits() -> QuerySet[Deposit]:
    """Deposits a signed provider event disagreed with (`needs_review`), newest first."""
    return Deposit.objects.filter(needs_review=True).select_related("user").order_by("-updated_at", "-pk")


@dataclass
class StuckMoney:
    """Every kind of stuck money, each a list of its rows, oldest first."""

    pledges: list[Pledge]
    uncredited: list[Deposit]
    refunds: list[Refund]
    payouts: list[Payout]
    flagged: list[Deposit]

    @property
    def count(self) -> int:
        return (
            len(self.pledges)
            + len(self.uncredited)
            + len(self.refunds)
            + len(self.payouts)
            + len(self.flagged)
        )


def stuck_money(*, now: datetime | None = None) -> StuckMoney:
    return StuckMoney(
        pledges=list(stuck_pledges(now=now)),
        uncredited=list(uncredited_deposits()),
        refunds=list(failed_refunds()),
        payouts=list(failed_payouts()),
        flagged=list(flagged_deposits()),
    )


# --- A user's money story ---------------------------------------------------------------------------


@dataclass
class StoryEvent:
    """One thing that happened to the user's money: what, how much, its state, and the records behind it."""

    at: datetime
    what: str
    obj: object
    amount_cents: int
    status: str
    keys: list[tuple[str, str]] = field(default_factory=list)  # (label, idempotency key or provider id)
    transfers: list[Transfer] = field(default_factory=list)


@dataclass
class MoneyStory:
    user: object
    events: list[StoryEvent]
    wallet_cents: int
    payout_cents: int
    escrow_cents: int  # in the user's active pledges


def _with_entries(queryset):
    return queryset.prefetch_related(
        Prefetch("entries", queryset=Entry.objects.select_related("account__user", "account__fund__page"))
    )


def _present(*pairs) -> list[tuple[str, str]]:
    return [(label, str(value)) for label, value in pairs if value]


def money_story(*, user) -> MoneyStory:
    """Everything the user's money went through, in time order, with the ledger transfers behind it.

    A fixed number of queries however long the story: each kind of record once, and every transfer
    it names (with its entries) once.
    """
    deposits = list(Deposit.objects.filter(user=user).select_related("pledge"))
    pledges = list(Pledge.objects.filter(user=user).select_related("fund__page"))
    cashouts = list(Cashout.objects.filter(user=user).prefetch_related("refunds__deposit"))
    payouts = list(Payout.objects.filter(user=user))
    awards = list(
        Entry.objects.filter(
            account__user=user, account__kind=AccountKind.PAYOUT, transfer__kind=TransferKind.AWARD
        ).select_related("transfer__fund__page")
    )
    transfer_ids = {
        pk
        for pk in (
            *(d.transfer_id for d in deposits),
            *(p.transfer_id for p in pledges),
            *(p.release_transfer_id for p in pledges),
            *(c.transfer_id for c in cashouts),
            *(r.reversal_transfer_id for c in cashouts for r in c.refunds.all()),
            *(p.transfer_id for p in payouts),
            *(p.reversal_transfer_id for p in payouts),
            *(a.transfer_id for a in awards),
        )
        if pk
    }
    transfers = _with_entries(Transfer.objects.filter(pk__in=transfer_ids)).in_bulk()

    def behind(*ids):
        return [transfers[pk] for pk in ids if pk in transfers]

    events = []
    for d in deposits:
        events.append(
            StoryEvent(
                at=d.created_at,
                what=f"Deposit #{d.pk}" + (f" for pledge #{d.pledge_id}" if d.pledge_id else ""),
                obj=d,
                amount_cents=d.amount_cents,
                status=d.get_status_display() + (" · flagged for review" if d.needs_review else ""),
                keys=_present(
                    ("uuid", d.uuid),
                    ("key", d.key),
                    ("checkout", d.provider_id),
                    ("payment", d.payment_reference),
                ),
                transfers=behind(d.transfer_id),
            )
        )
    for p in pledges:
        events.append(
            StoryEvent(
                at=p.created_at,
                what=f"Pledge #{p.pk} to {p.fund.page.title}",
                obj=p,
                amount_cents=p.amount_cents,
                status=p.get_status_display(),
                keys=_present(("key", p.key)),
                transfers=behind(p.transfer_id, p.release_transfer_id),
            )
        )
    for c in cashouts:
        events.append(
            StoryEvent(
                at=c.created_at,
                what=f"Cash-out #{c.pk} to card",
                obj=c,
                amount_cents=c.amount_cents,
                status=", ".join(f"refund #{r.pk} {r.get_status_display().lower()}" for r in c.refunds.all()),
                keys=_present(("key", c.key))
                + [item for r in c.refunds.all() for item in _present((f"refund #{r.pk}", r.provider_id))],
                transfers=behind(c.transfer_id, *(r.reversal_transfer_id for r in c.refunds.all())),
            )
        )
    for p in payouts:
        events.append(
            StoryEvent(
                at=p.created_at,
                what=f"Payout #{p.pk} ({p.method})",
                obj=p,
                amount_cents=p.amount_cents,
                status=p.get_status_display(),
                keys=_present(("key", p.key), ("provider", p.provider_id), ("reference", p.reference)),
                transfers=behind(p.transfer_id, p.reversal_transfer_id),
            )
        )
    for a in awards:
        fund = a.transfer.fund
        events.append(
            StoryEvent(
                at=a.transfer.created_at,
                what="Award" + (f" from {fund.page.title}" if fund else ""),
                obj=a.transfer,
                amount_cents=a.amount,
                status="In the payout balance",
                keys=_present(("key", a.transfer.idempotency_key)),
                transfers=behind(a.transfer_id),
            )
        )
    events.sort(key=lambda e: (e.at, e.what))
    balances = bounty_selectors.balances(user=user)
    escrow = Pledge.objects.filter(user=user, status=PledgeStatus.ACTIVE).aggregate(t=Sum("amount_cents"))[
        "t"
    ]
    return MoneyStory(
        user=user,
        events=events,
        wallet_cents=balances.wallet_cents,
        payout_cents=balances.payout_cents,
        escrow_cents=escrow or 0,
    )


def find_users(*, query: str, limit: int = 20) -> list:
    """Users whose username or email contains `query` (case-insensitive), for the story's search box."""
    query = query.strip()
    if not query:
        return []
    users = get_user_model().objects.filter(Q(username__icontains=query) | Q(email__icontains=query))
    return list(users.order_by("username")[:limit])


# --- Reports (each takes the filtered rows and aggregates them in SQL) -----------------------------


def pledges_by_fund_and_day(pledges: QuerySet[Pledge]) -> QuerySet:
    """Per fund and day (the site's time zone): how many pledges reached escrow, by how many
    backers, and how much."""
    return (
        pledges.filter(MONEY_MOVED)
        .annotate(day=TruncDate("created_at"), fund_title=F("fund__page__title"))
        .values("fund_id", "fund_title", "day")
        .annotate(pledges=Count("pk"), backers=Count("user", distinct=True), cents=Sum("amount_cents"))
        .order_by("-day", "fund_title")
    )


def backers_per_fund(funds: QuerySet[Fund], *, pledged: Q | None = None) -> QuerySet[Fund]:
    """Each fund with its backers, pledges and money (all pledges that reached escrow, and those
    still in it); `pledged` narrows the pledges counted (a date range)."""
    moved = ~Q(pledges__status__in=NOT_MOVED) & (pledged or Q())
    return (
        funds.annotate(
            fund_title=F("page__title"),
            backers=Count("pledges__user", filter=moved, distinct=True),
            pledge_count=Count("pledges", filter=moved),
            pledged_total=Sum("pledges__amount_cents", filter=moved, default=0),
            in_escrow=Sum(
                "pledges__amount_cents", filter=moved & Q(pledges__status=PledgeStatus.ACTIVE), default=0
            ),
        )
        .filter(pledge_count__gt=0)
        .order_by("-backers", "fund_title")
    )


def claims_with_outcomes(claims: QuerySet[Claim]) -> QuerySet[Claim]:
    """Each claim with its fund, claimants, tally and what it was awarded (the positive legs of its
    award transfer)."""
    return (
        claims.select_related("fund__page", "user")
        .annotate(
            fund_title=F("fund__page__title"),
            claimant_count=Count("claimants", distinct=True),
            # A subquery: joined beside the claimants, the award's legs would be summed once per claimant.
            awarded_cents=Coalesce(
                Subquery(
                    Entry.objects.filter(transfer=OuterRef("award_transfer"), amount__gt=0)
                    .values("transfer")
                    .annotate(total=Sum("amount"))
                    .values("total")
                ),
                0,
            ),
        )
        .order_by("-submitted_at", "-pk")
    )


def _by_day_and_status(rows: QuerySet, *extra: str) -> QuerySet:
    return (
        rows.annotate(day=TruncDate("created_at"))
        .values("day", "status", *extra)
        .annotate(count=Count("pk"), cents=Sum("amount_cents"))
        .order_by("-day", "status", *extra)
    )


def payouts_by_day(payouts: QuerySet[Payout]) -> QuerySet:
    """Per day asked for, state and method: how many payouts and how much."""
    return _by_day_and_status(payouts, "method")


def refunds_by_day(refunds: QuerySet[Refund]) -> QuerySet:
    """Per day sent and state: how many card refunds and how much."""
    return _by_day_and_status(refunds)


def settlements_by_fund(pledges: QuerySet[Pledge]) -> QuerySet:
    """Per fund, day settled and outcome: the pledges settled when their escrow date passed with no
    winner (back to the wallet or card, to the beneficiary, or pledged onward)."""
    return (
        pledges.filter(settled_at__isnull=False)
        .annotate(day=TruncDate("settled_at"), fund_title=F("fund__page__title"))
        .values("fund_id", "fund_title", "day", "status")
        .annotate(pledges=Count("pk"), cents=Sum("amount_cents"))
        .order_by("-day", "fund_title", "status")
    )


# --- A fund's money over time ----------------------------------------------------------------------


@dataclass(frozen=True)
class EscrowDay:
    day: date
    in_cents: int
    out_cents: int
    balance_cents: int  # escrow at the end of the day


def escrow_series(*, fund: Fund) -> list[EscrowDay]:
    """The fund's escrow per day that moved it, oldest first: money in (pledges), money out
    (withdrawals, settlements, awards) and the balance at the day's end. One grouped query over the
    escrow account's entries, so the last balance is the escrow's cached balance."""
    rows = (
        Entry.objects.filter(account__kind=AccountKind.ESCROW, account__fund=fund)
        .annotate(day=TruncDate("transfer__created_at"))
        .values("day")
        .annotate(
            in_cents=Sum("amount", filter=Q(amount__gt=0), default=0),
            out_cents=Sum("amount", filter=Q(amount__lt=0), default=0),
        )
        .order_by("day")
    )
    series, balance = [], 0
    for row in rows:
        balance += row["in_cents"] + row["out_cents"]
        series.append(
            EscrowDay(
                day=row["day"], in_cents=row["in_cents"], out_cents=-row["out_cents"], balance_cents=balance
            )
        )
    return series


def fund_transfers(*, fund: Fund) -> QuerySet[Transfer]:
    """Every transfer that touched the fund's escrow (or names the fund), newest first, with the
    amount it moved in or out of escrow."""
    escrow = Account.objects.filter(kind=AccountKind.ESCROW, fund=fund)
    legs = Entry.objects.filter(transfer=OuterRef("pk")).values("transfer")

    def total(entries):
        return Coalesce(Subquery(entries.annotate(total=Sum("amount")).values("total")), 0)

    return (
        Transfer.objects.filter(Q(fund=fund) | Exists(legs.filter(account__in=escrow)))
        .annotate(
            escrow_cents=total(legs.filter(account__in=escrow)),
            moved_cents=total(legs.filter(amount__gt=0)),
        )
        .select_related("user")
        .order_by("-created_at", "-pk")
    )
