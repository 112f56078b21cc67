"""Claims on a bounty, the backers' money-weighted votes, and the award of the escrow.

The rules (each has its own test in tests/bounties/test_claims.py):

- A claim snapshots each backer's escrowed amount in the fund when it is submitted (its
  eligible weight), leaving out the claimants' own pledges; money pledged later carries no
  weight on it. The claim keeps the fund's voting rules as they were then.
- Decided early as soon as the result can no longer change: accepted when approvals exceed
  half the eligible weight, rejected when rejections reach half. At window close: accepted
  when approvals exceed rejections and the turnout reaches the quorum; otherwise rejected
  (a tie rejects; silence is not consent).
- The late swing: a vote cast inside the window's last quarter (at most 24 h) that changes
  the outcome the close would give extends the window once, by that much. "The outcome the
  close would give" is the close rule above, quorum included, not merely which side leads:
  a vote that lifts the turnout to the quorum while approvals lead turns a close that would
  reject into one that accepts, and extends, though the leading side never changed (and a
  vote that swaps the leading side below the quorum changes nothing: the close rejects
  either way). Votes between the old and the new close count, and the tally at the old
  close leaves the claim alone.
- Accepted: in the same transaction the whole escrow goes to the claimants' payout accounts
  by their shares (largest remainder), every active pledge is awarded, the fund's other open
  claims are superseded and the fund is awarded. The award's transfer key is `award:{fund}`,
  so a fund can be paid out once, whatever races.

Lock order as in pledging: the fund row, then the claim, then accounts by id.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q, Sum
from django.utils import timezone

from bounties.errors import (
    ClaimClosed,
    ClaimInvalid,
    FundNotOpen,
    NoBackers,
    NotABacker,
    NotFound,
    OwnClaim,
    ReasonRequired,
    SharesInvalid,
)
from bounties.models import (
    Claim,
    Claimant,
    ClaimStatus,
    ClaimWeight,
    EventKind,
    Fund,
    FundStatus,
    Pledge,
    PledgeStatus,
    TimelineEvent,
    TransferKind,
    Vote,
)
from bounties.money import format_cents
from bounties.services import announcing, money_operation
from bounties.services.ledger import escrow_for, payout_for, transfer_post
from bounties.services.pledging import lock_fund

FULL_SHARE_BP = 10_000
MAX_EXTENSION = timedelta(hours=24)
MAX_STATEMENT = 10_000
MAX_REASON = 2_000


@dataclass(frozen=True)
class VoteOutcome:
    claim: Claim
    vote: Vote
    changed: bool = False  # the backer had voted the other way (or with another reason) before


# --- The rule ------------------------------------------------------------------------------------


def result(*, eligible: int, approve: int, reject: int, quorum_percent: int, closed: bool) -> str | None:
    """The decision the votes give, or None while it can still change (before the window closes)."""
    if approve * 2 > eligible:
        return ClaimStatus.ACCEPTED
    if reject * 2 >= eligible:
        return ClaimStatus.REJECTED
    if not closed:
        return None
    turnout_reached = (approve + reject) * 100 >= eligible * quorum_percent
    return ClaimStatus.ACCEPTED if approve > reject and turnout_reached else ClaimStatus.REJECTED


def _result(claim: Claim, *, closed: bool) -> str | None:
    return result(
        eligible=claim.eligible_cents,
        approve=claim.approve_cents,
        reject=claim.reject_cents,
        quorum_percent=claim.quorum_percent,
        closed=closed,
    )


def extension_for(claim: Claim) -> timedelta:
    """The late-swing extension: a quarter of the claim's window, at most 24 hours.

    It is also how late a swing must come to earn it: `vote_cast` extends only for a vote
    cast within this long of the close.
    """
    return min(timedelta(hours=claim.vote_window_hours) / 4, MAX_EXTENSION)


def split_by_shares(amount: int, shares: list[tuple[object, int]]) -> list[tuple[object, int]]:
    """`amount` cents split by basis-point shares, largest remainder first, so the parts sum to `amount`.

    Ties in the remainder go to the earlier share (the order given: largest share first), so the
    split is the same every time it is computed.
    """
    exact = [(who, amount * bp) for who, bp in shares]
    parts = [[who, whole // FULL_SHARE_BP] for who, whole in exact]
    left = amount - sum(part for _, part in parts)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i][1] % FULL_SHARE_BP), i))
    for i in by_remainder[:left]:
        parts[i][1] += 1
    return [(who, part) for who, part in parts]


# --- Timeline ------------------------------------------------------------------------------------


def record(fund_id, kind, *, claim=None, user=None, at=None, **data) -> TimelineEvent:
    """One public timeline event, in the caller's transaction."""
    return TimelineEvent.objects.create(
        fund_id=fund_id, claim=claim, kind=kind, user=user, at=at or timezone.now(), data=data
    )


# --- Submitting and withdrawing ------------------------------------------------------------------


def _team(user, co_claimants) -> list[tuple[object, int]]:
    """The claimants and their shares: the submitter takes what the co-claimants leave.

    `co_claimants` is `[(username, share_bp), …]`. If the submitter is listed, the shares must
    add up to 10,000 exactly; otherwise the submitter's share is 10,000 less theirs, and must
    be more than nothing.
    """
    co = list(co_claimants or [])
    names = [str(name).strip() for name, _ in co]
    if any(not isinstance(bp, int) or isinstance(bp, bool) or bp <= 0 for _, bp in co):
        raise SharesInvalid("Each claimant's share must be a whole number of basis points above 0.")
    if len({name.lower() for name in names}) != len(names):
        raise SharesInvalid("Each co-claimant may be named only once.")
    User = get_user_model()
    found = {u.username.lower(): u for u in User.objects.filter(username__in=names)}
    # Usernames are unique case-insensitively (accounts/usernames.py): look up the rest that way.
    for name in names:
        if name.lower() not in found:
            match = User.objects.filter(username__iexact=name).first()
            if match is None:
                raise SharesInvalid(f"There is no registered user called “{name}”.", username=name)
            found[name.lower()] = match
    team = [(found[name.lower()], bp) for name, (_, bp) in zip(names, co, strict=True)]
    listed_self = any(member.pk == user.pk for member, _ in team)
    total = sum(bp for _, bp in team)
    if listed_self:
        if total != FULL_SHARE_BP:
            raise SharesInvalid(f"The shares add up to {total} basis points, not 10,000.", total_bp=total)
    else:
        if total >= FULL_SHARE_BP:
            raise SharesInvalid(
                "The co-claimants' shares leave nothing for you: they must add up to less than 10,000 "
                "basis points (list yourself too if your share is given).",
                total_bp=total,
            )
        team.insert(0, (user, FULL_SHARE_BP - total))
    return sorted(team, key=lambda member: -member[1])


def _check_evidence(statement: str, url: str):
    statement = (statement or "").strip()
    if not statement or not (url or "").strip():
        raise ClaimInvalid()
    if len(statement) > MAX_STATEMENT:
        raise ClaimInvalid(f"Keep the statement under {MAX_STATEMENT:,} characters.")
    if not str(url).startswith(("https://", "http://")):
        raise ClaimInvalid("The link to the work must be a web address starting with https://.")


@money_operation
def claim_submit(*, user, fund_id: int, statement: str, url: str, co_claimants=(), document=None) -> Claim:
    """Open a claim under vote, with the backers' weights and the fund's voting rules as they are now."""
    _check_evidence(statement, url)
    team = _team(user, co_claimants)
    fund = lock_fund(fund_id)
    now = timezone.now()
    if not fund.page.live:
        raise FundNotOpen("This fund is not published, so it takes no claims.")
    if fund.status not in (FundStatus.OPEN, FundStatus.VOTING):
        raise FundNotOpen(f"This fund is {fund.get_status_display().lower()} and takes no more claims.")
    if now >= fund.page.escrow_until:
        raise FundNotOpen("This fund's escrow date has passed, so it takes no more claims.")
    team_ids = [member.pk for member, _ in team]
    weights = list(
        Pledge.objects.filter(fund=fund, status=PledgeStatus.ACTIVE)
        .exclude(user_id__in=team_ids)
        .values("user_id")
        .annotate(weight=Sum("amount_cents"))
        .order_by("user_id")
        .values_list("user_id", "weight")
    )
    eligible = sum(weight for _, weight in weights)
    if eligible == 0:
        raise NoBackers()
    page = fund.page
    claim = Claim.objects.create(
        fund=fund,
        user=user,
        statement=statement.strip(),
        url=url.strip(),
        document=document,
        eligible_cents=eligible,
        quorum_percent=page.quorum_percent,
        vote_window_hours=page.vote_window_hours,
        submitted_at=now,
        closes_at=now + timedelta(hours=page.vote_window_hours),
    )
    Claimant.objects.bulk_create(Claimant(claim=claim, user=member, share_bp=bp) for member, bp in team)
    ClaimWeight.objects.bulk_create(
        ClaimWeight(claim=claim, user_id=user_id, weight_cents=weight) for user_id, weight in weights
    )
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.VOTING)
    record(
        fund.pk,
        EventKind.SUBMITTED,
        claim=claim,
        user=user,
        at=now,
        eligible_cents=eligible,
        quorum_cents=claim.quorum_cents,
        closes_at=claim.closes_at.isoformat(),
        claimants=[{"username": member.username, "share_bp": bp} for member, bp in team],
    )
    announcing.stage(key=f"claim:{claim.pk}:submitted", event="claim_submitted", fund=fund.pk, claim=claim.pk)
    return claim


def _lock_claim(claim_id) -> tuple[Fund, Claim]:
    fund_id = Claim.objects.filter(pk=claim_id).values_list("fund_id", flat=True).first()
    if fund_id is None:
        raise NotFound("There is no such claim.")
    fund = lock_fund(fund_id)
    claim = Claim.objects.select_for_update().get(pk=claim_id)
    return fund, claim


@money_operation
def claim_withdraw(*, user, claim_id: int) -> Claim:
    """The submitter takes back their claim while it is under vote; the fund reopens if it was the last."""
    fund, claim = _lock_claim(claim_id)
    if claim.user_id != user.pk:
        raise NotFound("There is no such claim of yours.")
    if claim.status != ClaimStatus.VOTING:
        raise ClaimClosed(f"This claim is {claim.get_status_display().lower()}, so it cannot be withdrawn.")
    claim.status = ClaimStatus.WITHDRAWN
    claim.decided_at = timezone.now()
    claim.save(update_fields=["status", "decided_at"])
    record(fund.pk, EventKind.WITHDRAWN, claim=claim, user=user, at=claim.decided_at)
    _reopen_if_idle(fund)
    return claim


# --- Voting --------------------------------------------------------------------------------------


@money_operation
def vote_cast(*, user, claim_id: int, approve: bool, reason: str = "") -> VoteOutcome:
    """Record (or change) a backer's vote with the weight the claim's snapshot gave them.

    Then decide the claim if the result can no longer change; otherwise, if this vote changed
    the outcome the window's close would give (`result(..., closed=True)`: approvals ahead
    *and* the quorum reached, else rejected) and came within `extension_for(claim)` of the
    close, push the close back by that much, once per claim. The comparison is of outcomes,
    quorum included, so the backers get time to answer any vote that changes what the close
    would decide, not only one that swaps the leading side.
    """
    reason = (reason or "").strip()
    if not isinstance(approve, bool):
        raise ReasonRequired("Say whether you approve or reject the claim.")
    if not approve and not reason:
        raise ReasonRequired()
    if len(reason) > MAX_REASON:
        raise ReasonRequired(f"Keep the reason under {MAX_REASON:,} characters.")
    fund, claim = _lock_claim(claim_id)
    now = timezone.now()
    if claim.status != ClaimStatus.VOTING:
        raise ClaimClosed(f"This claim is {claim.get_status_display().lower()}: voting on it has ended.")
    if now >= claim.closes_at:
        raise ClaimClosed("Voting on this claim has closed; the result is being counted.")
    if claim.claimants.filter(user=user).exists():
        raise OwnClaim()
    weight = claim.weights.filter(user=user).values_list("weight_cents", flat=True).first()
    if weight is None:
        raise NotABacker()
    at_close_before = _result(claim, closed=True)
    vote = Vote.objects.filter(claim=claim, user=user).first()
    changed = vote is not None and (vote.approve != approve or vote.reason != reason)
    if vote is None:
        vote = Vote.objects.create(
            claim=claim, user=user, approve=approve, reason=reason, weight_cents=weight
        )
    elif changed:
        vote.approve, vote.reason = approve, reason
        vote.save(update_fields=["approve", "reason", "updated_at"])
    _recount(claim)
    record(
        fund.pk,
        EventKind.VOTED,
        claim=claim,
        user=user,
        at=now,
        approve=approve,
        weight_cents=weight,
        reason=reason,
        changed=changed,
    )
    decision = _result(claim, closed=False)
    if decision:
        _decide(fund, claim, decision, now)
    elif _result(claim, closed=True) != at_close_before and not claim.extended:
        extension = extension_for(claim)
        if now >= claim.closes_at - extension:
            claim.closes_at += extension
            claim.extended = True
            claim.save(update_fields=["closes_at", "extended"])
            record(
                fund.pk,
                EventKind.EXTENDED,
                claim=claim,
                at=now,
                closes_at=claim.closes_at.isoformat(),
                hours=extension.total_seconds() / 3600,
            )
    return VoteOutcome(claim=claim, vote=vote, changed=changed)


def _recount(claim: Claim):
    """The tally from the votes themselves (never incremented, so it cannot drift)."""
    sums = claim.votes.aggregate(
        approving=Sum("weight_cents", filter=Q(approve=True)),
        rejecting=Sum("weight_cents", filter=Q(approve=False)),
    )
    claim.approve_cents = sums["approving"] or 0
    claim.reject_cents = sums["rejecting"] or 0
    claim.save(update_fields=["approve_cents", "reject_cents"])


# --- Deciding ------------------------------------------------------------------------------------


@money_operation
def claim_tally(*, claim_id: int) -> Claim:
    """Decide one claim whose window has closed. Idempotent: a decided or still-open claim is returned as it is."""
    fund, claim = _lock_claim(claim_id)
    now = timezone.now()
    if claim.status == ClaimStatus.VOTING and now >= claim.closes_at:
        _decide(fund, claim, _result(claim, closed=True), now)
    return claim


def claims_tally(now=None) -> int:
    """The scheduled pass (`manage.py tally_claims`): decide every claim whose window has closed. Returns how many."""
    due = Claim.objects.filter(status=ClaimStatus.VOTING, closes_at__lte=now or timezone.now())
    decided = 0
    for claim_id in list(due.values_list("pk", flat=True)):
        if claim_tally(claim_id=claim_id).status != ClaimStatus.VOTING:
            decided += 1
    return decided


def _decide(fund: Fund, claim: Claim, decision: str, now):
    claim.status = decision
    claim.decided_at = now
    claim.save(update_fields=["status", "decided_at"])
    kind = EventKind.ACCEPTED if decision == ClaimStatus.ACCEPTED else EventKind.REJECTED
    record(
        fund.pk,
        kind,
        claim=claim,
        at=now,
        approve_cents=claim.approve_cents,
        reject_cents=claim.reject_cents,
        eligible_cents=claim.eligible_cents,
        quorum_cents=claim.quorum_cents,
    )
    if decision == ClaimStatus.ACCEPTED:
        _award(fund, claim, now)
    else:
        _reopen_if_idle(fund)
    announcing.stage(
        key=f"claim:{claim.pk}:decided", event="claim_decided", fund=fund.pk, claim=claim.pk, status=decision
    )


def _reopen_if_idle(fund: Fund):
    """A fund with no claim left under vote takes pledges, withdrawals and claims again."""
    if fund.status == FundStatus.VOTING and not fund.claims.filter(status=ClaimStatus.VOTING).exists():
        Fund.objects.filter(pk=fund.pk).update(status=FundStatus.OPEN)
        fund.status = FundStatus.OPEN


def _award(fund: Fund, claim: Claim, now):
    """The whole escrow to the claimants by share, in this transaction; the fund is awarded."""
    escrow = escrow_for(fund)
    escrow.refresh_from_db(fields=["balance"])
    team = [(member.user, member.share_bp) for member in claim.claimants.select_related("user")]
    parts = [(member, cents) for member, cents in split_by_shares(escrow.balance, team) if cents]
    transfer = transfer_post(
        kind=TransferKind.AWARD,
        key=f"award:{fund.pk}",
        legs=[(escrow, -escrow.balance)] + [(payout_for(member), cents) for member, cents in parts],
        memo=f"Award of {fund.page.title} (claim #{claim.pk})",
        fund=fund,
    )
    Pledge.objects.filter(fund=fund, status=PledgeStatus.ACTIVE).update(
        status=PledgeStatus.AWARDED, release_transfer=transfer, updated_at=now
    )
    Claim.objects.filter(pk=claim.pk).update(award_transfer=transfer)
    claim.award_transfer = transfer
    for other in fund.claims.filter(status=ClaimStatus.VOTING).exclude(pk=claim.pk):
        other.status = ClaimStatus.SUPERSEDED
        other.decided_at = now
        other.save(update_fields=["status", "decided_at"])
        record(fund.pk, EventKind.SUPERSEDED, claim=other, at=now, by_claim=claim.pk)
    Fund.objects.filter(pk=fund.pk).update(status=FundStatus.AWARDED)
    fund.status = FundStatus.AWARDED
    record(
        fund.pk,
        EventKind.AWARDED,
        claim=claim,
        at=now,
        amount_cents=sum(cents for _, cents in parts),
        paid=[{"username": member.username, "cents": cents} for member, cents in parts],
        summary=", ".join(f"{format_cents(cents)} to {member.username}" for member, cents in parts),
    )
    announcing.stage(
        key=f"fund:{fund.pk}:awarded",
        event="fund_awarded",
        fund=fund.pk,
        claim=claim.pk,
        amount_cents=sum(cents for _, cents in parts),
    )
