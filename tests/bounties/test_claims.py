"""Claims and money-weighted votes: the issue's worked examples, then each rule on its own."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bounties.errors import (
    ClaimClosed,
    ClaimInvalid,
    FundNotOpen,
    NoBackers,
    NotABacker,
    OwnClaim,
    ReasonRequired,
    SharesInvalid,
    WithdrawFrozen,
)
from bounties.models import (
    Account,
    Claim,
    ClaimStatus,
    EventKind,
    Fund,
    FundPage,
    FundStatus,
    Outbox,
    Pledge,
    PledgeStatus,
    TimelineEvent,
    Transfer,
)
from bounties.selectors import balances
from bounties.services.claims import (
    claim_submit,
    claim_tally,
    claim_withdraw,
    claims_tally,
    result,
    split_by_shares,
    vote_cast,
)
from bounties.services.ledger import escrow_for, ledger_violations
from bounties.services.pledging import pledge_withdraw
from tests.factories import UserFactory
from tests.money import back

WORK = "https://example.com/audit-report.pdf"


def claim_on(fund, claimant, **kwargs):
    return claim_submit(user=claimant, fund_id=fund.pk, statement="I audited it.", url=WORK, **kwargs)


def later(claim, **delta):
    """Move a claim's clock: its submission and window as if `delta` had passed (the tally reads `now`)."""
    shift = timedelta(**delta)
    Claim.objects.filter(pk=claim.pk).update(
        submitted_at=claim.submitted_at - shift, closes_at=claim.closes_at - shift
    )
    claim.refresh_from_db()
    return claim


@pytest.fixture
def backers(fund):
    """The issue's worked example: backers of $10, $30 and $60."""
    people = [UserFactory(username=name) for name in ("ten", "thirty", "sixty")]
    for person, cents in zip(people, (1_000, 3_000, 6_000), strict=True):
        back(person, fund, cents)
    return people


@pytest.fixture
def claimant(db):
    return UserFactory(username="claimant")


# --- Worked examples ---------------------------------------------------------------------------


def test_sixty_approves_and_the_claim_is_accepted_at_once(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    assert (claim.status, claim.eligible_cents) == (ClaimStatus.VOTING, 10_000)

    outcome = vote_cast(user=backers[2], claim_id=claim.pk, approve=True)

    assert outcome.claim.status == ClaimStatus.ACCEPTED
    assert balances(user=claimant).payout_cents == 10_000
    assert escrow_for(Fund.objects.get(pk=fund.pk)).balance == 0
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.AWARDED
    assert set(Pledge.objects.filter(fund_id=fund.pk).values_list("status", flat=True)) == {
        PledgeStatus.AWARDED
    }
    assert ledger_violations() == []


def test_sixty_rejects_with_a_reason_and_the_fund_reopens(fund, backers, claimant):
    claim = claim_on(fund, claimant)

    outcome = vote_cast(user=backers[2], claim_id=claim.pk, approve=False, reason="The report is empty.")

    assert outcome.claim.status == ClaimStatus.REJECTED
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN
    assert balances(user=claimant).payout_cents == 0
    assert escrow_for(Fund.objects.get(pk=fund.pk)).balance == 10_000
    reject = TimelineEvent.objects.get(claim=claim, kind=EventKind.VOTED)
    assert (reject.user.username, reject.data["reason"], reject.data["weight_cents"]) == (
        "sixty",
        "The report is empty.",
        6_000,
    )
    again = claim_on(fund, claimant)  # the bounty takes new claims
    assert again.status == ClaimStatus.VOTING
    assert ledger_violations() == []


# --- What the decisions announce -------------------------------------------------------------------


def staged(event: str) -> list[tuple[str, dict]]:
    """The console channel's rows of `event` (settings ANNOUNCERS = "console"): (dedupe key, payload)."""
    rows = Outbox.objects.filter(event=event, channel="console").order_by("pk")
    return [(row.dedupe_key, row.payload) for row in rows]


def test_an_accepted_claim_stages_claim_decided_and_fund_awarded_once(fund, backers, claimant, settings):
    settings.ANNOUNCERS = "console"
    claim = claim_on(fund, claimant)
    assert staged("claim_decided") == [] and staged("fund_awarded") == []

    vote_cast(user=backers[2], claim_id=claim.pk, approve=True)  # accepted at once
    claim_tally(claim_id=claim.pk)  # a tally after the decision: nothing to decide, nothing staged
    later(claim, hours=claim.vote_window_hours)
    claims_tally()

    assert staged("claim_decided") == [
        (f"claim:{claim.pk}:decided:console", {"fund": fund.pk, "claim": claim.pk, "status": "accepted"})
    ]
    assert staged("fund_awarded") == [
        (f"fund:{fund.pk}:awarded:console", {"fund": fund.pk, "claim": claim.pk, "amount_cents": 10_000})
    ]


def test_a_rejected_claim_stages_claim_decided_once_and_no_award(fund, backers, claimant, settings):
    settings.ANNOUNCERS = "console"
    early = claim_on(fund, claimant)
    vote_cast(user=backers[2], claim_id=early.pk, approve=False, reason="The report is empty.")
    at_close = claim_on(fund, claimant)  # the fund reopened: a second claim, rejected at its close
    vote_cast(user=backers[1], claim_id=at_close.pk, approve=False, reason="Still empty.")
    later(at_close, hours=at_close.vote_window_hours)
    assert claims_tally() == 1
    assert claims_tally() == 0

    assert staged("claim_decided") == [
        (f"claim:{early.pk}:decided:console", {"fund": fund.pk, "claim": early.pk, "status": "rejected"}),
        (
            f"claim:{at_close.pk}:decided:console",
            {"fund": fund.pk, "claim": at_close.pk, "status": "rejected"},
        ),
    ]
    assert staged("fund_awarded") == []


# --- The decision rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approve", "reject", "closed", "expected"),
    [
        (5_001, 0, False, ClaimStatus.ACCEPTED),  # more than half approves: decided early
        (5_000, 0, False, None),  # exactly half is not more than half
        (0, 5_000, False, ClaimStatus.REJECTED),  # half rejecting is enough
        (0, 4_999, False, None),
        (3_000, 1_000, True, ClaimStatus.ACCEPTED),  # at close: more approve, turnout 40 % ≥ quorum 10 %
        (2_000, 2_000, True, ClaimStatus.REJECTED),  # a tie rejects
        (900, 0, True, ClaimStatus.REJECTED),  # turnout 9 % < quorum 10 %: silence is not consent
        (1_000, 0, True, ClaimStatus.ACCEPTED),  # turnout exactly the quorum counts
        (0, 0, True, ClaimStatus.REJECTED),
    ],
)
def test_result_rule(approve, reject, closed, expected):
    assert (
        result(eligible=10_000, approve=approve, reject=reject, quorum_percent=10, closed=closed) == expected
    )


def test_at_window_close_approvals_ahead_with_quorum_accept(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)  # 30 % approves, nobody rejects
    assert claim_tally(claim_id=claim.pk).status == ClaimStatus.VOTING  # the window is still open

    later(claim, hours=claim.vote_window_hours)

    assert claims_tally() == 1
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.ACCEPTED
    assert balances(user=claimant).payout_cents == 10_000
    assert claims_tally() == 0  # idempotent: nothing left to decide, nothing moves again
    assert balances(user=claimant).payout_cents == 10_000
    assert ledger_violations() == []


def tally_claims() -> str:
    """Run `manage.py tally_claims` as the scheduler or an operator would; what it printed."""
    out = StringIO()
    call_command("tally_claims", stdout=out)
    return out.getvalue().strip()


def books():
    """Everything a pass could change: transfers, balances, claims' states, timeline and outbox."""
    return (
        Transfer.objects.count(),
        sorted(Account.objects.values_list("pk", "balance")),
        sorted(Claim.objects.values_list("pk", "status", "decided_at")),
        TimelineEvent.objects.count(),
        Outbox.objects.count(),
    )


def test_the_tally_claims_command_decides_a_closed_window_once(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)  # 30 % approves: accepted at close
    assert tally_claims() == "Decided 0 claim(s)."  # the window is still open
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.VOTING
    later(claim, hours=claim.vote_window_hours)

    assert tally_claims() == "Decided 1 claim(s)."
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.ACCEPTED
    assert balances(user=claimant).payout_cents == 10_000
    after_first = books()

    assert tally_claims() == "Decided 0 claim(s)."  # a second pass: nothing left to decide
    assert books() == after_first  # and nothing moved, recorded or announced again
    assert ledger_violations() == []


def test_at_window_close_below_quorum_rejects(make_fund, claimant):
    fund = make_fund(quorum_percent=50)
    people = [UserFactory(username=f"b{i}") for i in range(3)]
    for person, cents in zip(people, (1_000, 3_000, 6_000), strict=True):
        back(person, fund, cents)
    claim = claim_on(fund, claimant)
    vote_cast(user=people[1], claim_id=claim.pk, approve=True)  # 30 % turnout, quorum 50 %

    later(claim, hours=claim.vote_window_hours)
    claims_tally()

    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.REJECTED
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN


def test_a_tie_at_close_rejects(fund, claimant):
    a, b = UserFactory(username="a"), UserFactory(username="b")
    back(a, fund, 2_000)
    back(b, fund, 2_000)
    c = UserFactory(username="c")
    back(c, fund, 6_000)
    claim = claim_on(fund, claimant)
    vote_cast(user=a, claim_id=claim.pk, approve=True)
    vote_cast(user=b, claim_id=claim.pk, approve=False, reason="Not finished.")

    later(claim, hours=claim.vote_window_hours)
    claims_tally()

    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.REJECTED


def test_a_vote_can_be_changed_until_decided(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Missing appendix.")
    changed = vote_cast(user=backers[1], claim_id=claim.pk, approve=True)

    assert changed.changed
    claim.refresh_from_db()
    assert (claim.approve_cents, claim.reject_cents) == (3_000, 0)
    vote_cast(user=backers[2], claim_id=claim.pk, approve=True)  # decided
    with pytest.raises(ClaimClosed):
        vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Changed my mind.")
    assert ledger_violations() == []


def test_late_swing_extends_the_window_once(fund, backers, claimant):
    claim = claim_on(fund, claimant)  # 72 h window: extension is 18 h
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)  # at close this would accept
    claim = later(claim, hours=60)  # 12 h left: inside the last quarter
    closes = claim.closes_at

    vote_cast(user=backers[0], claim_id=claim.pk, approve=False, reason="Too late to check.")
    assert Claim.objects.get(pk=claim.pk).closes_at == closes  # 30 approve vs 10 reject: no swing

    vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Found a hole.")  # now it rejects
    claim.refresh_from_db()
    assert claim.extended and claim.closes_at == closes + timedelta(hours=18)
    assert TimelineEvent.objects.filter(claim=claim, kind=EventKind.EXTENDED).count() == 1

    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)  # swings back: no second extension
    claim.refresh_from_db()
    assert claim.closes_at == closes + timedelta(hours=18)


def test_after_an_extension_votes_between_the_old_and_the_new_close_count(fund, backers, claimant):
    claim = claim_on(fund, claimant)  # 72 h window: extension is 18 h
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)  # at close this would accept
    claim = later(claim, hours=60)  # 12 h left
    old_close = claim.closes_at
    vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Found a hole.")  # swings: extended
    claim.refresh_from_db()
    assert claim.closes_at == old_close + timedelta(hours=18)

    claim = later(claim, hours=13)  # the old close passed an hour ago; 17 h of the extension are left
    assert claim.closes_at - timedelta(hours=18) < timezone.now() < claim.closes_at

    # The tally at (and after) the old close leaves the claim alone: its window is the new one.
    assert claims_tally(now=claim.closes_at - timedelta(hours=18)) == 0
    assert claims_tally() == 0
    assert claim_tally(claim_id=claim.pk).status == ClaimStatus.VOTING
    # And a backer can still answer the swing: the vote is taken and counted.
    outcome = vote_cast(user=backers[0], claim_id=claim.pk, approve=True)
    assert (outcome.claim.status, outcome.claim.approve_cents, outcome.claim.reject_cents) == (
        ClaimStatus.VOTING,
        1_000,
        3_000,
    )
    assert TimelineEvent.objects.filter(claim=claim, kind=EventKind.VOTED, user=backers[0]).exists()

    later(claim, hours=17)  # now the new close has passed: decided by the close rule
    assert claims_tally() == 1
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.REJECTED  # 10 approve vs 30 reject
    assert ledger_violations() == []


def test_a_late_vote_that_brings_the_quorum_extends_though_the_leading_side_stays(make_fund, claimant):
    """The swing is in the outcome the close would give, quorum included: approvals led all along,
    but below the quorum the close would reject; the vote that reaches it would make it accept."""
    fund = make_fund(quorum_percent=50)
    a, b, c = (UserFactory(username=name) for name in ("a", "b", "c"))
    for person, cents in ((a, 2_000), (b, 3_000), (c, 5_000)):
        back(person, fund, cents)
    claim = claim_on(fund, claimant)
    vote_cast(user=a, claim_id=claim.pk, approve=True)  # 20 % turnout: the close would reject
    claim = later(claim, hours=60)
    closes = claim.closes_at

    vote_cast(user=b, claim_id=claim.pk, approve=True)  # 50 % turnout, all approving: it would accept

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.VOTING  # half is not more than half: not decided early
    assert claim.extended and claim.closes_at == closes + timedelta(hours=18)


def test_a_swing_before_the_last_quarter_does_not_extend(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Found a hole.")
    claim.refresh_from_db()
    assert not claim.extended


def test_extension_is_at_most_a_day(make_fund, claimant):
    fund = make_fund(vote_window_hours=14 * 24)  # a quarter would be 3.5 days
    a, b = UserFactory(username="a"), UserFactory(username="b")
    back(a, fund, 3_000)
    back(b, fund, 7_000)
    claim = claim_on(fund, claimant)
    vote_cast(user=a, claim_id=claim.pk, approve=True)
    claim = later(claim, hours=14 * 24 - 2)
    closes = claim.closes_at
    vote_cast(user=a, claim_id=claim.pk, approve=False, reason="No.")
    claim.refresh_from_db()
    assert claim.closes_at == closes + timedelta(hours=24)


# --- Weight is a snapshot ----------------------------------------------------------------------


def test_pledges_during_a_vote_are_taken_but_carry_no_weight(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    latecomer = UserFactory(username="latecomer")
    back(latecomer, fund, 50_000)  # accepted while voting

    with pytest.raises(NotABacker):
        vote_cast(user=latecomer, claim_id=claim.pk, approve=False, reason="Buying the vote.")
    more = back(backers[0], fund, 90_000)  # an eligible backer adding money gains no weight either
    assert more.status == PledgeStatus.ACTIVE
    vote_cast(user=backers[0], claim_id=claim.pk, approve=False, reason="Not convinced.")
    claim.refresh_from_db()
    assert (claim.eligible_cents, claim.reject_cents) == (10_000, 1_000)

    vote_cast(user=backers[2], claim_id=claim.pk, approve=True)  # accepted: the whole escrow goes
    assert balances(user=claimant).payout_cents == 10_000 + 50_000 + 90_000
    assert ledger_violations() == []


def test_claimants_own_pledges_carry_no_weight_and_they_cannot_vote(fund, backers, claimant):
    back(claimant, fund, 40_000)
    claim = claim_on(fund, claimant)
    assert claim.eligible_cents == 10_000
    with pytest.raises(OwnClaim):
        vote_cast(user=claimant, claim_id=claim.pk, approve=True)


def test_a_fund_with_no_other_backers_cannot_be_claimed(fund, claimant):
    back(claimant, fund, 5_000)
    with pytest.raises(NoBackers):
        claim_on(fund, claimant)
    assert not Claim.objects.exists()
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN


def test_withdrawals_freeze_while_a_claim_is_under_vote_and_thaw_after(fund, backers, claimant):
    pledge = Pledge.objects.get(fund_id=fund.pk, user=backers[0])
    claim = claim_on(fund, claimant)
    with pytest.raises(WithdrawFrozen):
        pledge_withdraw(user=backers[0], pledge_id=pledge.pk)
    assert escrow_for(Fund.objects.get(pk=fund.pk)).balance == 10_000

    claim_withdraw(user=claimant, claim_id=claim.pk)

    assert pledge_withdraw(user=backers[0], pledge_id=pledge.pk).status == PledgeStatus.WITHDRAWN
    assert ledger_violations() == []


# --- Claims --------------------------------------------------------------------------------------


def test_a_reject_needs_a_reason(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    with pytest.raises(ReasonRequired):
        vote_cast(user=backers[0], claim_id=claim.pk, approve=False, reason="   ")
    assert not claim.votes.exists()


def test_a_claim_needs_evidence(fund, backers, claimant):
    with pytest.raises(ClaimInvalid):
        claim_submit(user=claimant, fund_id=fund.pk, statement="", url=WORK)
    with pytest.raises(ClaimInvalid):
        claim_submit(user=claimant, fund_id=fund.pk, statement="Done.", url="javascript:alert(1)")
    assert not Claim.objects.exists()


def test_several_claims_are_decided_each_on_its_own_and_the_first_accepted_supersedes(
    fund, backers, claimant
):
    rival = UserFactory(username="rival")
    first = claim_on(fund, claimant)
    second = claim_on(fund, rival)
    vote_cast(user=backers[2], claim_id=first.pk, approve=False, reason="Incomplete.")
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.VOTING  # the other claim is still under vote

    vote_cast(user=backers[2], claim_id=second.pk, approve=True)

    assert Claim.objects.get(pk=first.pk).status == ClaimStatus.REJECTED
    assert Claim.objects.get(pk=second.pk).status == ClaimStatus.ACCEPTED
    assert balances(user=rival).payout_cents == 10_000


def test_open_claims_are_superseded_when_another_is_accepted(fund, backers, claimant):
    rival = UserFactory(username="rival")
    first = claim_on(fund, claimant)
    second = claim_on(fund, rival)
    vote_cast(user=backers[2], claim_id=first.pk, approve=True)
    assert Claim.objects.get(pk=second.pk).status == ClaimStatus.SUPERSEDED
    with pytest.raises(ClaimClosed):
        vote_cast(user=backers[1], claim_id=second.pk, approve=True)
    with pytest.raises(FundNotOpen):
        claim_on(fund, rival)


def test_team_shares_that_do_not_divide_evenly_add_up_to_the_escrow(fund, claimant):
    backer = UserFactory(username="backer")
    back(backer, fund, 10_001)
    UserFactory(username="bea")
    UserFactory(username="cy")
    claim = claim_on(fund, claimant, co_claimants=[("bea", 3_333), ("cy", 3_333)])
    vote_cast(user=backer, claim_id=claim.pk, approve=True)

    paid = {u: balances(user=UserFactory(username=u)).payout_cents for u in ("claimant", "bea", "cy")}
    assert paid == {"claimant": 3_335, "bea": 3_333, "cy": 3_333}
    assert sum(paid.values()) == 10_001
    assert ledger_violations() == []


def test_split_by_shares_is_largest_remainder():
    assert split_by_shares(100, [("a", 3_334), ("b", 3_333), ("c", 3_333)]) == [
        ("a", 34),
        ("b", 33),
        ("c", 33),
    ]
    assert split_by_shares(2, [("a", 5_000), ("b", 5_000)]) == [("a", 1), ("b", 1)]
    assert split_by_shares(1, [("a", 5_000), ("b", 5_000)]) == [("a", 1), ("b", 0)]
    assert split_by_shares(7, [("a", 6_000), ("b", 4_000)]) == [("a", 4), ("b", 3)]


@pytest.mark.parametrize(
    "co",
    [
        [("nobody", 1_000)],  # not a registered user
        [("bea", 10_000)],  # leaves the submitter nothing
        [("bea", 0)],
        [("bea", 1_000), ("BEA", 1_000)],  # named twice
        [("claimant", 6_000), ("bea", 3_000)],  # listed self: must sum to 10,000
    ],
)
def test_invalid_shares_are_refused(fund, backers, claimant, co):
    UserFactory(username="bea")
    with pytest.raises(SharesInvalid):
        claim_on(fund, claimant, co_claimants=co)
    assert not Claim.objects.exists()


def test_co_claimants_cannot_vote_and_their_pledges_carry_no_weight(fund, backers, claimant):
    bea = UserFactory(username="bea")
    back(bea, fund, 2_000)
    claim = claim_on(fund, claimant, co_claimants=[("bea", 5_000)])
    assert claim.eligible_cents == 10_000
    with pytest.raises(OwnClaim):
        vote_cast(user=bea, claim_id=claim.pk, approve=True)


def test_only_the_submitter_withdraws_and_only_while_under_vote(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    with pytest.raises(Exception) as other:
        claim_withdraw(user=backers[0], claim_id=claim.pk)
    assert other.value.code == "not_found"
    withdrawn = claim_withdraw(user=claimant, claim_id=claim.pk)
    assert withdrawn.status == ClaimStatus.WITHDRAWN
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN
    with pytest.raises(ClaimClosed):
        claim_withdraw(user=claimant, claim_id=claim.pk)


def test_claims_close_at_the_escrow_date(make_fund, claimant):
    fund = make_fund(
        pledge_deadline=timezone.now() + timedelta(days=1), escrow_until=timezone.now() + timedelta(days=2)
    )
    backer = UserFactory(username="backer")
    back(backer, fund, 1_000)
    past = timezone.now() - timedelta(minutes=1)
    FundPage.objects.filter(pk=fund.pk).update(pledge_deadline=past, escrow_until=past)
    with pytest.raises(FundNotOpen):
        claim_on(fund, claimant)


def test_a_claim_keeps_the_voting_rules_it_was_submitted_under(fund, backers, claimant):
    claim = claim_on(fund, claimant)
    fund.quorum_percent, fund.vote_window_hours = 90, 24
    fund.save_revision().publish()

    claim.refresh_from_db()
    assert (claim.quorum_percent, claim.vote_window_hours) == (10, 72)
    vote_cast(user=backers[1], claim_id=claim.pk, approve=True)
    later(claim, hours=72)
    claims_tally()
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.ACCEPTED  # 30 % ≥ its own 10 % quorum


def test_a_fund_taken_down_takes_no_claim(fund):
    """Unpublished after backers pledged (an editor took it down): the escrow waits for its date, and
    nobody can open a vote on a page readers cannot see."""
    backer = UserFactory(username="backer-of-taken-down")
    back(backer, fund, 2_000)
    fund.unpublish()
    with pytest.raises(FundNotOpen, match="not published"):
        claim_submit(
            user=UserFactory(username="claimant-x"),
            fund_id=fund.pk,
            statement="Done.",
            url="https://example.com/w",
        )
    assert not Claim.objects.exists()
