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
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, QuerySet, Sum
from django.db.models.functions import Abs
from django.utils import timezone
from wagtail.query import PageQuerySet

from bounties.models import (
    Account,
    AccountKind,
    Claim,
    Claimant,
    ClaimStatus,
    ClaimWeight,
    Entry,
    Follower,
    Fund,
    FundPage,
    FundStatus,
    FundTerms,
    Outbox,
    OutboxStatus,
    Pledge,
    TimelineEvent,
    TransferKind,
    Vote,
)

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


# --- Payouts -----------------------------------------------------------------------------------------


def payout_balance(*, user) -> int:
    """What the winner's payout account holds, in cents (0 before their first award)."""
    found = Account.objects.filter(user=user, kind=AccountKind.PAYOUT).values_list("balance", flat=True)
    return found.first() or 0


def _held_awards(user, now: datetime | None) -> QuerySet[Entry]:
    """Award credits to the payout account still inside the hold against card disputes."""
    since = (now or timezone.now()) - timedelta(days=settings.PAYOUT_HOLD_DAYS)
    return Entry.objects.filter(
        account__user=user,
        account__kind=AccountKind.PAYOUT,
        transfer__kind=TransferKind.AWARD,
        transfer__created_at__gt=since,
        amount__gt=0,
    )


def payout_available(*, user, now: datetime | None = None) -> int:
    """The payout balance less awards credited within the last PAYOUT_HOLD_DAYS, never below 0.

    `now` is the clock (tests pass a later one instead of travelling in time: transfers are immutable).
    """
    held = _held_awards(user, now).aggregate(total=Sum("amount"))["total"] or 0
    return max(0, payout_balance(user=user) - held)


def payout_available_at(*, user, amount_cents: int, now: datetime | None = None) -> datetime | None:
    """When `amount_cents` of the payout balance will have left the hold (None: the balance is too small)."""
    balance = payout_balance(user=user)
    if amount_cents > balance:
        return None
    held = list(
        _held_awards(user, now).order_by("transfer__created_at").values_list("amount", "transfer__created_at")
    )
    remaining = sum(amount for amount, _ in held)
    available_at = now or timezone.now()
    for amount, created_at in held:
        if balance - remaining >= amount_cents:
            break
        remaining -= amount
        available_at = created_at + timedelta(days=settings.PAYOUT_HOLD_DAYS)
    return available_at


# --- Claims ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """A claim's live tally as the claim page and the API show it (cents, and percent of the eligible weight)."""

    status: str
    eligible_cents: int
    approve_cents: int
    reject_cents: int
    quorum_cents: int
    half_cents: int
    approve_percent: float
    reject_percent: float
    quorum_percent: int
    closes_at: datetime
    decided_at: datetime | None
    extended: bool

    @property
    def seconds_left(self) -> int:
        if self.decided_at is not None:
            return 0
        return max(0, int((self.closes_at - timezone.now()).total_seconds()))


def claim_tally(*, claim: Claim) -> Tally:
    def percent(cents):
        return round(cents * 100 / claim.eligible_cents, 2) if claim.eligible_cents else 0.0

    return Tally(
        status=claim.status,
        eligible_cents=claim.eligible_cents,
        approve_cents=claim.approve_cents,
        reject_cents=claim.reject_cents,
        quorum_cents=claim.quorum_cents,
        half_cents=claim.eligible_cents // 2,
        approve_percent=percent(claim.approve_cents),
        reject_percent=percent(claim.reject_cents),
        quorum_percent=claim.quorum_percent,
        closes_at=claim.closes_at,
        decided_at=claim.decided_at,
        extended=claim.extended,
    )


def fund_claims(*, fund_id: int) -> QuerySet[Claim]:
    """A fund's claims, newest first, with their claimants (and users) fetched."""
    return (
        Claim.objects.filter(fund_id=fund_id)
        .select_related("user")
        .prefetch_related(Prefetch("claimants", queryset=Claimant.objects.select_related("user")))
        .order_by("-submitted_at", "-pk")
    )


def claim_get(*, claim_id: int) -> Claim | None:
    """One claim of a public fund, with its fund page, submitter and claimants; None if there is none."""
    public = public_funds().order_by().values("pk")
    return (
        Claim.objects.filter(pk=claim_id, fund_id__in=public)
        .select_related("user", "fund__page", "document")
        .prefetch_related(Prefetch("claimants", queryset=Claimant.objects.select_related("user")))
        .first()
    )


def timeline(*, fund_id: int | None = None, claim_id: int | None = None) -> QuerySet[TimelineEvent]:
    """The public record of a fund or a claim, oldest first, with each event's user."""
    events = TimelineEvent.objects.select_related("user")
    if claim_id is not None:
        events = events.filter(claim_id=claim_id)
    if fund_id is not None:
        events = events.filter(fund_id=fund_id)
    return events.order_by("at", "pk")


@dataclass(frozen=True)
class Standing:
    """Where one user stands on one claim: their weight in its snapshot, their vote, whether they claim it."""

    weight_cents: int
    vote: Vote | None
    is_claimant: bool

    @property
    def can_vote(self) -> bool:
        return self.weight_cents > 0 and not self.is_claimant


def standing(*, claim: Claim, user) -> Standing:
    if not user.is_authenticated:
        return Standing(weight_cents=0, vote=None, is_claimant=False)
    weight = ClaimWeight.objects.filter(claim=claim, user=user).values_list("weight_cents", flat=True).first()
    return Standing(
        weight_cents=weight or 0,
        vote=Vote.objects.filter(claim=claim, user=user).first(),
        is_claimant=Claimant.objects.filter(claim=claim, user=user).exists(),
    )


def terms_history(*, fund_id: int) -> QuerySet[FundTerms]:
    """The fund's terms as they changed, oldest first (pledges and claims keep the terms of their day)."""
    return FundTerms.objects.filter(fund_id=fund_id).order_by("effective_at", "pk")


# --- Creators' proposals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A creator's fund as their dashboard and `GET /api/v1/me/proposals/` show it."""

    page: FundPage
    # draft, in_review, changes_requested, approved (scheduled to go live), live, cancelled, unpublished
    status: str
    comment: str  # the editor's comment when changes were requested
    submitted_at: datetime | None
    go_live_at: datetime | None

    @property
    def editable(self) -> bool:
        return self.status == "changes_requested"


def proposals(*, user, page_id: int | None = None) -> list[Proposal]:
    """The funds `user` created (owns), newest first, each with where it stands in "Fund review"."""
    from wagtail.models import WorkflowState

    pages = (
        FundPage.objects.filter(owner=user)
        .select_related("fund")
        .order_by("-latest_revision_created_at", "-pk")
    )
    if page_id is not None:
        pages = pages.filter(pk=page_id)
    pages = list(pages)
    states: dict[str, WorkflowState] = {}
    for state in (
        WorkflowState.objects.filter(
            object_id__in=[str(page.pk) for page in pages], base_content_type__model="page"
        )
        .select_related("current_task_state")
        .order_by("created_at", "pk")
    ):
        states[state.object_id] = state  # the latest workflow state of each page
    return [_proposal(page, states.get(str(page.pk))) for page in pages]


def _proposal(page: FundPage, state) -> Proposal:
    from wagtail.models import WorkflowState

    task_state = state.current_task_state if state else None
    comment, go_live_at = "", None
    if page.live:
        status = "live"
    elif state is None:
        status = "unpublished" if page.first_published_at else "draft"
    elif state.status == WorkflowState.STATUS_IN_PROGRESS:
        status = "in_review"
    elif state.status == WorkflowState.STATUS_NEEDS_CHANGES:
        status, comment = "changes_requested", (task_state.comment if task_state else "")
    elif state.status == WorkflowState.STATUS_APPROVED:
        scheduled = page.scheduled_revision  # approved with a go-live date still ahead
        go_live_at = scheduled.approved_go_live_at if scheduled else None
        status = "approved" if go_live_at else "unpublished"
    else:
        status = "cancelled"
    return Proposal(
        page=page,
        status=status,
        comment=comment or "",
        submitted_at=state.created_at if state else None,
        go_live_at=go_live_at,
    )


# --- Backer dashboard ----------------------------------------------------------------------------

DASHBOARD_PLEDGES = 10  # the newest shown; "See all" opens `my_pledges`


@dataclass(frozen=True)
class OpenVote:
    """A claim under vote on which the user holds weight in its snapshot, and their vote so far (None: not yet)."""

    claim: Claim
    weight_cents: int
    vote: Vote | None


@dataclass(frozen=True)
class MadeClaim:
    """A claim the user made, as its submitter or a co-claimant, with their share of the award."""

    claim: Claim
    share_bp: int


@dataclass(frozen=True)
class Dashboard:
    """What a signed-in user's `/dashboard/` shows: their money, pledges, votes, claims and follows."""

    balances: Balances
    pledges: list[Pledge]  # the newest DASHBOARD_PLEDGES
    more_pledges: bool
    votes_due: list[OpenVote]  # soonest deadline first
    votes_cast: list[OpenVote]  # still open, so the vote can be changed
    claims: list[MadeClaim]
    follows: list[FundPage]
    proposal_count: int


def recent_pledges(*, user, limit: int = DASHBOARD_PLEDGES) -> tuple[list[Pledge], bool]:
    """The user's newest `limit` pledges with their fund and page, and whether there are more (one query)."""
    found = list(
        Pledge.objects.filter(user=user)
        .select_related("fund__page")
        .order_by("-created_at", "-pk")[: limit + 1]
    )
    return found[:limit], len(found) > limit


def open_votes(*, user, now: datetime | None = None) -> list[OpenVote]:
    """Claims on public funds still open for voting where the user has weight, soonest deadline first.

    Claimants have no weight in their own claim's snapshot (`claim_submit` leaves the team out),
    so every row is a claim the user may vote on. Two queries, however many claims.
    """
    public = public_funds().order_by().values("pk")
    weights = list(
        ClaimWeight.objects.filter(
            user=user,
            claim__status=ClaimStatus.VOTING,
            claim__closes_at__gt=now or timezone.now(),
            claim__fund_id__in=public,
        )
        .select_related("claim__user", "claim__fund__page")
        .order_by("claim__closes_at", "claim__pk")
    )
    votes = {
        vote.claim_id: vote
        for vote in Vote.objects.filter(user=user, claim_id__in=[w.claim_id for w in weights])
    }
    return [OpenVote(claim=w.claim, weight_cents=w.weight_cents, vote=votes.get(w.claim_id)) for w in weights]


def claims_made(*, user) -> list[MadeClaim]:
    """The claims on public funds the user is a claimant of (the submitter is one too), newest first."""
    public = public_funds().order_by().values("pk")
    rows = (
        Claimant.objects.filter(user=user, claim__fund_id__in=public)
        .select_related("claim__fund__page")
        .order_by("-claim__submitted_at", "-claim__pk")
    )
    return [MadeClaim(claim=row.claim, share_bp=row.share_bp) for row in rows]


def followed_funds(*, user) -> list[FundPage]:
    """The public funds the user's address follows (confirmed, not unsubscribed), newest first; one query."""
    if not user.email:
        return []
    follows = Follower.objects.filter(
        email__iexact=user.email, confirmed_at__isnull=False, unsubscribed_at__isnull=True
    ).values("fund_id")
    return list(public_funds().filter(pk__in=follows))


def dashboard(*, user, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows, in a fixed number of queries (none grows with what the user has)."""
    pledges, more = recent_pledges(user=user)
    votes = open_votes(user=user, now=now)
    return Dashboard(
        balances=balances(user=user),
        pledges=pledges,
        more_pledges=more,
        votes_due=[vote for vote in votes if vote.vote is None],
        votes_cast=[vote for vote in votes if vote.vote is not None],
        claims=claims_made(user=user),
        follows=followed_funds(user=user),
        proposal_count=FundPage.objects.filter(owner=user).count(),
    )


# --- Fund page pictures ----------------------------------------------------------------------------


def pledge_series(*, fund_id: int) -> list[tuple[date, int]]:
    """Cumulative cents pledged to the fund by the end of each day that had pledges, oldest first.

    Counts the pledges still in its escrow or paid to its winner (active and awarded): the same
    money as `Fund.pledged_cents`, so the last point is the pledged total. Days are the site's
    (`TIME_ZONE`). One query, grouped by day in the database.
    """
    from django.db.models.functions import TruncDate

    from bounties.models import Pledge, PledgeStatus

    rows = (
        Pledge.objects.filter(fund_id=fund_id, status__in=[PledgeStatus.ACTIVE, PledgeStatus.AWARDED])
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(cents=Sum("amount_cents"))
        .order_by("day")
        .values_list("day", "cents")
    )
    series, total = [], 0
    for day, cents in rows:
        total += cents
        series.append((day, total))
    return series


# --- Admin dashboard -------------------------------------------------------------------------------

CLOSING_SOON = timedelta(days=7)


def funds_closing_soon(
    *, now: datetime | None = None, within: timedelta = CLOSING_SOON
) -> QuerySet[FundPage]:
    """Live funds open for pledges whose pledge deadline is within `within` from now, soonest first."""
    now = now or timezone.now()
    return (
        FundPage.objects.live()
        .filter(fund__status=FundStatus.OPEN, pledge_deadline__gt=now, pledge_deadline__lte=now + within)
        .select_related("fund")
        .order_by("pledge_deadline", "pk")
    )


def claims_under_vote() -> QuerySet[Claim]:
    """Claims whose vote is not decided yet, closing soonest first, with their fund page and submitter."""
    return (
        Claim.objects.filter(status=ClaimStatus.VOTING)
        .select_related("user", "fund__page")
        .order_by("closes_at", "pk")
    )


@dataclass(frozen=True)
class MoneyToday:
    """Pledges whose money reached escrow today (the site's day), and what every fund's escrow holds now."""

    day: date
    pledge_count: int
    pledged_cents: int
    escrow_cents: int


def money_today(*, now: datetime | None = None) -> MoneyToday:
    """Today runs from midnight in the site's time zone (`TIME_ZONE`), as the admin shows dates.

    A pledge counts on the day its pledge transfer moved the money into escrow (a pledge still
    waiting for its card payment has none yet), whatever happened to it since. The escrow sum
    is the escrow accounts' balances: the ledger's figure, which `ledger_check` proves.
    """
    now = timezone.localtime(now or timezone.now())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    pledged = Pledge.objects.filter(
        transfer__created_at__gte=midnight, transfer__created_at__lte=now
    ).aggregate(count=Count("pk"), cents=Sum("amount_cents"))
    escrow = Account.objects.filter(kind=AccountKind.ESCROW).aggregate(cents=Sum("balance"))
    return MoneyToday(
        day=now.date(),
        pledge_count=pledged["count"],
        pledged_cents=pledged["cents"] or 0,
        escrow_cents=escrow["cents"] or 0,
    )


@dataclass(frozen=True)
class InReview:
    """A fund proposal in the "Fund review" workflow, waiting for an editor's decision."""

    page: FundPage
    task_name: str
    requested_by: object  # the user who submitted it (a creator, or an editor)
    submitted_at: datetime


def proposals_in_review() -> list[InReview]:
    """Fund pages with a "Fund review" workflow in progress, longest waiting first (two queries)."""
    from wagtail.models import WorkflowState

    from bounties.services.proposals import FUND_REVIEW

    states = list(
        WorkflowState.objects.filter(
            status=WorkflowState.STATUS_IN_PROGRESS,
            workflow__name=FUND_REVIEW,
            base_content_type__app_label="wagtailcore",
            base_content_type__model="page",
        )
        .select_related("requested_by", "current_task_state__task")
        .order_by("created_at", "pk")
    )
    pages = FundPage.objects.in_bulk([int(state.object_id) for state in states])
    return [
        InReview(
            page=pages[int(state.object_id)],
            task_name=state.current_task_state.task.name if state.current_task_state else "",
            requested_by=state.requested_by,
            submitted_at=state.created_at,
        )
        for state in states
        if int(state.object_id) in pages
    ]


def failed_announcements() -> QuerySet[Outbox]:
    """Outbox rows (announcements, emails, webhooks) that gave up after their retries, newest first."""
    return (
        Outbox.objects.filter(status=OutboxStatus.FAILED)
        .select_related("fund__page")
        .order_by("-created_at", "-pk")
    )
