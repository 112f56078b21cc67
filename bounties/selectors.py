"""Reads shared by the pages, the API and the admin (HackSoft's selectors; writes are services).

Every function here is keyword-only, typed, and only reads: a backer who has never added
money has no wallet row, and a read says they hold nothing rather than creating one (the
services create accounts, inside a money operation).

"Public" is Wagtail's rule (`PageQuerySet.public()`): live, with no view restriction on
the page or any ancestor. It is written once, as a subquery in `FundPageQuerySet.public_funds`
(the page models list funds too, and cannot import this module), so a list of funds and the
live figures of many funds each stay one query.
"""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.functions import Abs
from wagtail.query import PageQuerySet

from bounties.models import Account, AccountKind, Entry, Fund, FundPage

# --- Public funds ----------------------------------------------------------------------------------


def public_funds() -> PageQuerySet:
    """Fund pages anyone may see, with their `Fund` row (status, totals), newest first."""
    return FundPage.objects.public_funds()


# --- Figures ---------------------------------------------------------------------------------------


def progress_percent(*, pledged_cents: int, goal_cents: int) -> int:
    """Pledged as a whole percentage of the goal, rounded half to even, at most 100 (0 with no goal)."""
    if not goal_cents:
        return 0
    return min(100, round(pledged_cents * 100 / goal_cents))


@dataclass(frozen=True)
class FundFigures:
    """What a fund's page shows live: its status and totals (the pledge transaction's counters)."""

    fund_id: int
    status: str
    pledged_cents: int
    backer_count: int
    progress_percent: int


def fund_figures(*, fund_ids: list[int]) -> list[FundFigures]:
    """The figures of the public funds among `fund_ids`, in one query (others are left out)."""
    public = public_funds().filter(pk__in=fund_ids).order_by().values("pk")
    rows = Fund.objects.filter(pk__in=public).values_list(
        "pk", "status", "pledged_cents", "backer_count", "page__goal_cents"
    )
    return [
        FundFigures(
            fund_id=pk,
            status=status,
            pledged_cents=pledged,
            backer_count=backers,
            progress_percent=progress_percent(pledged_cents=pledged, goal_cents=goal),
        )
        for pk, status, pledged, backers, goal in rows
    ]


# --- A backer's money --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balances:
    """A backer's money in cents: free to pledge, and awards waiting to be paid out."""

    wallet_cents: int
    payout_cents: int


def balances(*, user) -> Balances:
    """The backer's wallet and payout balances in one query; an account not opened yet holds 0."""
    found = dict(
        Account.objects.filter(user=user, kind__in=[AccountKind.WALLET, AccountKind.PAYOUT]).values_list(
            "kind", "balance"
        )
    )
    return Balances(
        wallet_cents=found.get(AccountKind.WALLET, 0), payout_cents=found.get(AccountKind.PAYOUT, 0)
    )


def wallet_balance(*, user) -> int:
    """What the backer's wallet holds, in cents (0 before their first deposit)."""
    found = Account.objects.filter(user=user, kind=AccountKind.WALLET).values_list("balance", flat=True)
    return found.first() or 0


def wallet_entries(*, user) -> QuerySet[Entry]:
    """The backer's wallet history, newest first, each entry with its `size` and its fund's page."""
    return (
        Entry.objects.filter(account__user=user, account__kind=AccountKind.WALLET)
        .annotate(size=Abs("amount"))
        .select_related("transfer__fund__page")
        .order_by("-transfer__created_at", "-pk")
    )
