"""Property test (RELIABILITY T5): random sequences of money operations against a pure-Python model.

A hypothesis state machine deposits (through signed webhook events, with duplicate
and second-event redeliveries), pledges, replays old keys (same body and changed
body), withdraws, pledges by card (the payment lands, is redelivered, or is declined
and a later paid event is flagged, not credited) and runs the pending-pledge sweep; and
the claim cycle: submits a claim, votes on it (approve, or reject with a reason) as a
random user, withdraws it, tallies it with its clock moved past the window, chooses
where a pledge goes if nobody wins, settles the funds with pledges made due, cashes
wallet money out to cards, and requests payouts of award money (with a clock past the
hold). After every step the database must agree with the model: each wallet, escrow,
payout and beneficiary account and the external account, each fund's status and
totals, each pledge's and claim's status; `ledger_violations()` must be empty; each fund
has at most one accepted claim; an awarded fund's escrow is 0 and its pledges were
released by the award; and the payout balances are the awards less the payouts asked for.

A fund closes only the way production closes one, by an accepted claim (the rule that
marked a fund failed by hand, escrow and all, went: the ledger now calls that a violation).

Each example runs inside a savepoint of pytest-django's test transaction and is
rolled back at teardown, so examples are independent and nothing is committed.
A failure prints the steps, and `print_blob` prints a `@reproduce_failure` line
to replay it; `--hypothesis-seed=N` replays a whole run.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bounties.errors import (
    ClaimClosed,
    FundNotOpen,
    IdempotencyMismatch,
    InsufficientFunds,
    InsufficientPayout,
    InvalidAmount,
    NoBackers,
    NotABacker,
    NotFound,
    NothingToRefund,
    OwnClaim,
    ReasonRequired,
    SettlementInvalid,
    WithdrawFrozen,
    WithdrawNotAllowed,
)
from bounties.models import (
    Account,
    AccountKind,
    Cashout,
    Claim,
    ClaimStatus,
    Entry,
    Fund,
    FundStatus,
    Payout,
    PayoutStatus,
    Pledge,
    PledgeStatus,
    SettlementChoice,
    TransferKind,
)
from bounties.services.cashouts import cashout_create, refunds_send
from bounties.services.claims import claim_submit, claim_tally, claim_withdraw, result, vote_cast
from bounties.services.deposits import deposit_create
from bounties.services.ledger import ledger_violations
from bounties.services.payouts import payout_request
from bounties.services.pledging import (
    MIN_CARD_CHARGE_CENTS,
    pledge_complete_pending,
    pledge_create,
    pledge_create_with_card,
    pledge_withdraw,
)
from bounties.services.settlement import funds_settle, pledge_settle, settlement_choose
from tests.factories import UserFactory
from tests.money import checkout_event, deliver, failed_event

pytestmark = pytest.mark.django_db

N_USERS = 4
N_FUNDS = 3
BENEFICIARY = "Electronic Frontier Foundation"  # the first fund's terms name one; the others refund
amounts = st.integers(min_value=100, max_value=6_000)
user_index = st.integers(0, N_USERS - 1)
fund_index = st.integers(0, N_FUNDS - 1)
WORK = "https://example.com/the-work"
# Payouts are asked for with a clock past the hold against card disputes (PAYOUT_HOLD_DAYS).
AFTER_THE_HOLD = timedelta(days=30)


@dataclass
class ModelPledge:
    pk: int
    user: int
    fund: int
    amount: int
    key: str
    status: str
    due: bool = False  # its own escrow date has passed (settlement may move it)
    choice: str = ""  # where it goes if nobody wins ("" = its terms' default)
    target: int | None = None  # the fund it is pledged on to, for the `fund` choice
    replayable: bool = True  # made by a client's key (a settlement's onward pledge is not)


@dataclass
class ModelClaim:
    pk: int
    fund: int
    user: int
    weights: dict  # user -> eligible weight (the snapshot at submission)
    votes: dict = field(default_factory=dict)  # user -> (approve, weight)
    status: str = ClaimStatus.VOTING

    def tally(self, *, closed):
        approve = sum(w for a, w in self.votes.values() if a)
        reject = sum(w for a, w in self.votes.values() if not a)
        eligible = sum(self.weights.values())
        return result(eligible=eligible, approve=approve, reject=reject, quorum_percent=10, closed=closed)


@dataclass
class CardPayment:
    pledge: ModelPledge
    deposit: object  # the Deposit row (its uuid and amount build the events)
    event: dict = field(default_factory=dict)
    landed: bool = False
    declined: bool = False


class LedgerMachine(RuleBasedStateMachine):
    """The model: integer balances per account, the pledges and their states."""

    users: list = []
    funds: list = []

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.wallet = {u.pk: 0 for u in self.users}
        self.escrow = {f.pk: 0 for f in self.funds}
        self.payout = {u.pk: 0 for u in self.users}
        self.beneficiary = {f.pk: 0 for f in self.funds}
        self.refundable = {u.pk: 0 for u in self.users}  # card money not yet sent back to a card
        self.external = 0
        self.status = {f.pk: FundStatus.OPEN for f in self.funds}
        self.pledges: list[ModelPledge] = []
        self.cards: list[CardPayment] = []
        self.claims: list[ModelClaim] = []
        self.keys = 0

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)
        transaction.set_rollback(False)  # back at a known-good point for the next example

    # --- helpers -----------------------------------------------------------------------------

    def new_key(self):
        self.keys += 1
        return f"key-{self.keys}"

    def opened(self, fund_pk) -> bool:
        """The fund takes pledges (also while a claim is under vote)."""
        return self.status[fund_pk] in (FundStatus.OPEN, FundStatus.VOTING)

    def user(self, pk):
        return next(u for u in self.users if u.pk == pk)

    def credit(self, user_pk, cents):
        self.wallet[user_pk] += cents
        self.refundable[user_pk] += cents
        self.external -= cents

    def decide(self, claim: ModelClaim, decision: str):
        """What the service does when a claim is decided: award the whole escrow, or reopen the fund."""
        claim.status = decision
        if decision == ClaimStatus.ACCEPTED:
            self.payout[claim.user] += self.escrow[claim.fund]
            self.escrow[claim.fund] = 0
            for pledge in self.pledges:
                if pledge.fund == claim.fund and pledge.status == PledgeStatus.ACTIVE:
                    pledge.status = PledgeStatus.AWARDED
            for other in self.claims:
                if other.fund == claim.fund and other.status == ClaimStatus.VOTING:
                    other.status = ClaimStatus.SUPERSEDED
            self.status[claim.fund] = FundStatus.AWARDED
        else:
            self.reopen_if_idle(claim.fund)

    def reopen_if_idle(self, fund_pk):
        voting = any(c.fund == fund_pk and c.status == ClaimStatus.VOTING for c in self.claims)
        if self.status[fund_pk] == FundStatus.VOTING and not voting:
            self.status[fund_pk] = FundStatus.OPEN

    def default_choice(self, pledge: ModelPledge) -> str:
        return SettlementChoice.BENEFICIARY if pledge.fund == self.funds[0].pk else SettlementChoice.WALLET

    def move_into_escrow(self, pledge: ModelPledge):
        self.wallet[pledge.user] -= pledge.amount
        self.escrow[pledge.fund] += pledge.amount
        pledge.status = PledgeStatus.ACTIVE

    # --- rules -------------------------------------------------------------------------------

    @initialize(data=st.data())
    def backers_with_pledges(self, data):
        """Every user starts with card money and pledges some of it, and maybe a claim is under vote,
        so the claim cycle has backers to weigh from the first step. (Hypothesis enables a random
        subset of the rules in each example; the rules below still start from anything.)"""
        for owner in self.users:
            self.deposit(self.users.index(owner), data.draw(st.integers(2_000, 20_000)), False, False)
            fund = data.draw(fund_index)
            self.pledge(self.users.index(owner), fund, data.draw(st.integers(100, 2_000)))
        if data.draw(st.booleans()):  # and, more often than not, a claim is already under vote
            self.submit_claim(data.draw(user_index), data.draw(fund_index))

    @rule(
        user=st.integers(0, N_USERS - 1),
        cents=st.integers(100, 20_000),
        redeliver=st.booleans(),
        second_event=st.booleans(),
    )
    def deposit(self, user, cents, redeliver, second_event):
        """Money arrives by a signed checkout event; duplicates and a second event id credit nothing."""
        owner = self.users[user]
        deposit = deposit_create(user=owner, amount_cents=cents, gateway="local")
        event = checkout_event(deposit)
        assert deliver(event) == (200, {"received": True, "replay": False})
        if redeliver:
            assert deliver(event) == (200, {"received": True, "replay": True})
        if second_event:
            assert (
                deliver(checkout_event(deposit, event_type="checkout.session.async_payment_succeeded"))[0]
                == 200
            )
        self.credit(owner.pk, cents)

    @rule(user=user_index, fund=fund_index, cents=amounts)
    def pledge(self, user, fund, cents):
        owner, fund_pk = self.users[user], self.funds[fund].pk
        key = self.new_key()
        try:
            outcome = pledge_create(user=owner, fund_id=fund_pk, amount_cents=cents, key=key)
        except FundNotOpen:
            assert not self.opened(fund_pk)
            return
        except InsufficientFunds as short:
            assert self.opened(fund_pk) and self.wallet[owner.pk] < cents
            assert short.details["shortfall_cents"] == cents - self.wallet[owner.pk]
            return
        assert self.opened(fund_pk) and self.wallet[owner.pk] >= cents and not outcome.replayed
        pledge = ModelPledge(outcome.pledge.pk, owner.pk, fund_pk, cents, key, PledgeStatus.ACTIVE)
        self.move_into_escrow(pledge)
        self.pledges.append(pledge)

    @rule(amount=st.sampled_from([0, -100, 99, 10**12]), user=st.integers(0, N_USERS - 1))
    def pledge_invalid_amount(self, amount, user):
        with pytest.raises(InvalidAmount):
            pledge_create(
                user=self.users[user], fund_id=self.funds[0].pk, amount_cents=amount, key=self.new_key()
            )

    @precondition(lambda self: any(p.replayable for p in self.pledges))
    @rule(data=st.data(), change_amount=st.booleans())
    def replay_old_key(self, data, change_amount):
        """A resubmission with an old key: the same answer and nothing moves; another body is refused."""
        pledge = data.draw(st.sampled_from([p for p in self.pledges if p.replayable]))
        owner = next(u for u in self.users if u.pk == pledge.user)
        cents = pledge.amount + 100 if change_amount else pledge.amount
        if change_amount:
            with pytest.raises(IdempotencyMismatch):
                pledge_create(user=owner, fund_id=pledge.fund, amount_cents=cents, key=pledge.key)
            return
        outcome = pledge_create(user=owner, fund_id=pledge.fund, amount_cents=cents, key=pledge.key)
        assert outcome.replayed and outcome.pledge.pk == pledge.pk

    @precondition(lambda self: self.pledges)
    @rule(data=st.data())
    def withdraw(self, data):
        pledge = data.draw(st.sampled_from(self.pledges))
        owner = next(u for u in self.users if u.pk == pledge.user)
        active = pledge.status == PledgeStatus.ACTIVE
        allowed = active and self.status[pledge.fund] == FundStatus.OPEN
        try:
            pledge_withdraw(user=owner, pledge_id=pledge.pk)
        except WithdrawNotAllowed as refusal:
            assert not allowed
            # Frozen while a claim is under vote (RELIABILITY T31); otherwise closed or already left.
            frozen = active and self.status[pledge.fund] == FundStatus.VOTING
            assert isinstance(refusal, WithdrawFrozen) == frozen
            return
        assert allowed
        self.escrow[pledge.fund] -= pledge.amount
        self.wallet[pledge.user] += pledge.amount
        pledge.status = PledgeStatus.WITHDRAWN

    @rule(user=user_index, fund=fund_index, cents=amounts)
    def pledge_by_card(self, user, fund, cents):
        """Pledge more than the wallet holds: pending until the card payment for the difference lands."""
        owner, fund_pk = self.users[user], self.funds[fund].pk
        key = self.new_key()
        try:
            outcome = pledge_create_with_card(
                user=owner, fund_id=fund_pk, amount_cents=cents, key=key, gateway="local"
            )
        except FundNotOpen:
            assert not self.opened(fund_pk)
            return
        assert self.opened(fund_pk)
        pledge = ModelPledge(outcome.pledge.pk, owner.pk, fund_pk, cents, key, outcome.pledge.status)
        self.pledges.append(pledge)
        if self.wallet[owner.pk] >= cents:  # enough already: it moves at once
            assert outcome.deposit is None and pledge.status == PledgeStatus.ACTIVE
            self.move_into_escrow(pledge)
            return
        assert pledge.status == PledgeStatus.PENDING_FUNDS
        # The card pays the difference, or the smallest card charge when the difference is tinier.
        assert outcome.deposit.amount_cents == max(cents - self.wallet[owner.pk], MIN_CARD_CHARGE_CENTS)
        self.cards.append(CardPayment(pledge, outcome.deposit, checkout_event(outcome.deposit)))

    @precondition(lambda self: any(not c.landed for c in self.cards))
    @rule(data=st.data(), redeliver=st.booleans())
    def card_payment_lands(self, data, redeliver):
        """The card money arrives: the wallet is credited and, in the same transaction, the
        pledge completes — or is cancelled (money kept) if the fund closed first. After a
        decline the deposit is final: the paid event is flagged and credits nothing."""
        card = data.draw(st.sampled_from([c for c in self.cards if not c.landed]))
        assert deliver(card.event)[0] == 200
        if redeliver:
            assert deliver(card.event) == (200, {"received": True, "replay": True})
        card.landed = True
        if card.declined:
            return  # a declined deposit is final: the late paid event is flagged, not credited
        self.credit(card.pledge.user, card.deposit.amount_cents)
        if card.pledge.status != PledgeStatus.PENDING_FUNDS:
            return  # cancelled by a decline: the money stays in the wallet
        if self.opened(card.pledge.fund) and self.wallet[card.pledge.user] >= card.pledge.amount:
            self.move_into_escrow(card.pledge)
        else:
            card.pledge.status = PledgeStatus.CANCELLED

    @precondition(lambda self: any(not (c.landed or c.declined) for c in self.cards))
    @rule(data=st.data())
    def card_declined(self, data):
        card = data.draw(st.sampled_from([c for c in self.cards if not (c.landed or c.declined)]))
        assert deliver(failed_event(card.deposit))[0] == 200
        card.declined = True
        if card.pledge.status == PledgeStatus.PENDING_FUNDS:
            card.pledge.status = PledgeStatus.CANCELLED

    @precondition(lambda self: self.cards)
    @rule()
    def sweep(self):
        """The scheduled job: every paid card pledge already completed with its payment."""
        assert pledge_complete_pending() == 0

    # --- the claim cycle ----------------------------------------------------------------------

    @rule(user=user_index, fund=fund_index)
    def submit_claim(self, user, fund):
        """A claim snapshots the other backers' active pledges as its eligible weight."""
        claimant, fund_pk = self.users[user], self.funds[fund].pk
        weights = {}
        for p in self.pledges:
            if p.fund == fund_pk and p.status == PledgeStatus.ACTIVE and p.user != claimant.pk:
                weights[p.user] = weights.get(p.user, 0) + p.amount
        try:
            claim = claim_submit(user=claimant, fund_id=fund_pk, statement="I did it.", url=WORK)
        except FundNotOpen:
            assert not self.opened(fund_pk)
            return
        except NoBackers:
            assert self.opened(fund_pk) and not weights
            return
        assert self.opened(fund_pk) and claim.eligible_cents == sum(weights.values()) > 0
        self.claims.append(ModelClaim(claim.pk, fund_pk, claimant.pk, weights))
        self.status[fund_pk] = FundStatus.VOTING

    @precondition(lambda self: any(c.status == ClaimStatus.VOTING for c in self.claims))
    @rule(data=st.data(), approve=st.booleans(), with_reason=st.booleans())
    def vote(self, data, approve, with_reason):
        """A random user votes (a backer with weight on the claim, more often than not): refused
        without a reason to reject, on their own claim, or without weight on it; otherwise counted
        with their snapshot weight, and maybe deciding at once."""
        claim = data.draw(st.sampled_from([c for c in self.claims if c.status == ClaimStatus.VOTING]))
        backers = [u for u in self.users if u.pk in claim.weights]
        voter = data.draw(st.sampled_from(backers * 2 + self.users))
        reason = "The work is not done." if with_reason else ""
        try:
            outcome = vote_cast(user=voter, claim_id=claim.pk, approve=approve, reason=reason)
        except ReasonRequired:
            assert not approve and not reason
            return
        except OwnClaim:
            assert voter.pk == claim.user and (approve or reason)
            return
        except NotABacker:
            assert voter.pk != claim.user and voter.pk not in claim.weights and (approve or reason)
            return
        assert approve or reason
        claim.votes[voter.pk] = (approve, claim.weights[voter.pk])
        assert outcome.vote.weight_cents == claim.weights[voter.pk]
        if decision := claim.tally(closed=False):
            self.decide(claim, decision)
        assert outcome.claim.status == claim.status

    @precondition(lambda self: any(c.status == ClaimStatus.VOTING for c in self.claims))
    @rule(data=st.data())
    def backers_approve(self, data):
        """Every backer with weight approves, one after another: the vote that crosses half the
        eligible weight accepts the claim and pays the escrow; later votes find it closed."""
        claim = data.draw(st.sampled_from([c for c in self.claims if c.status == ClaimStatus.VOTING]))
        for user_pk in sorted(claim.weights):
            if claim.status != ClaimStatus.VOTING:
                with pytest.raises(ClaimClosed):
                    vote_cast(user=self.user(user_pk), claim_id=claim.pk, approve=True)
                continue
            vote_cast(user=self.user(user_pk), claim_id=claim.pk, approve=True)
            claim.votes[user_pk] = (True, claim.weights[user_pk])
            if decision := claim.tally(closed=False):
                self.decide(claim, decision)
        assert claim.status == ClaimStatus.ACCEPTED

    @precondition(lambda self: any(c.status == ClaimStatus.VOTING for c in self.claims))
    @rule(data=st.data(), by_claimant=st.booleans())
    def withdraw_claim(self, data, by_claimant):
        claim = data.draw(st.sampled_from([c for c in self.claims if c.status == ClaimStatus.VOTING]))
        who = claim.user if by_claimant else next(u.pk for u in self.users if u.pk != claim.user)
        try:
            claim_withdraw(user=self.user(who), claim_id=claim.pk)
        except NotFound:
            assert not by_claimant  # only the submitter may take a claim back
            return
        assert by_claimant
        claim.status = ClaimStatus.WITHDRAWN
        self.reopen_if_idle(claim.fund)

    @precondition(lambda self: any(c.status == ClaimStatus.VOTING for c in self.claims))
    @rule(data=st.data())
    def tally_after_the_window(self, data):
        """The claim's clock moved past its window (submission and close), then the tally decides it."""
        claim = data.draw(st.sampled_from([c for c in self.claims if c.status == ClaimStatus.VOTING]))
        row = Claim.objects.get(pk=claim.pk)
        shift = row.closes_at - row.submitted_at + timedelta(hours=1)
        Claim.objects.filter(pk=claim.pk).update(
            submitted_at=row.submitted_at - shift, closes_at=row.closes_at - shift
        )
        decided = claim_tally(claim_id=claim.pk)
        self.decide(claim, claim.tally(closed=True))
        assert decided.status == claim.status

    @precondition(lambda self: self.pledges)
    @rule(data=st.data(), choice=st.sampled_from(SettlementChoice.values), other=fund_index)
    def choose_settlement(self, data, choice, other):
        pledge = data.draw(st.sampled_from(self.pledges))
        target_pk = self.funds[other].pk
        allowed = pledge.status == PledgeStatus.ACTIVE
        if choice == SettlementChoice.BENEFICIARY:
            allowed = allowed and pledge.fund == self.funds[0].pk  # only its terms name a beneficiary
        if choice == SettlementChoice.FUND:
            allowed = allowed and target_pk != pledge.fund and self.opened(target_pk)
        try:
            settlement_choose(
                user=self.user(pledge.user), pledge_id=pledge.pk, choice=choice, fund_id=target_pk
            )
        except SettlementInvalid:
            assert not allowed
            return
        assert allowed
        pledge.choice = choice
        pledge.target = target_pk if choice == SettlementChoice.FUND else None

    @rule(fund=fund_index)
    def settle_with_pledges_due(self, fund):
        """The fund's pledges reach their own escrow date; the scheduled pass settles every due pledge
        of a fund with no claim under vote or accepted, each by its backer's choice."""
        fund_pk = self.funds[fund].pk
        Pledge.objects.filter(fund_id=fund_pk).update(escrow_until=timezone.now() - timedelta(minutes=1))
        for pledge in self.pledges:
            if pledge.fund == fund_pk:
                pledge.due = True
        due = [
            p
            for p in self.pledges
            if p.due and p.status == PledgeStatus.ACTIVE and self.status[p.fund] == FundStatus.OPEN
        ]
        for pledge in sorted(due, key=lambda p: p.pk):
            settled = pledge_settle(pledge_id=pledge.pk)
            self.settle(pledge)
            assert settled.status == pledge.status
            for cashout_id in Cashout.objects.filter(pledge_id=pledge.pk).values_list("pk", flat=True):
                refunds_send(cashout_id)  # after the commit, as the scheduled pass does
        assert funds_settle() == 0  # nothing left due that the pass would settle

    def settle(self, pledge: ModelPledge):
        choice = pledge.choice or self.default_choice(pledge)
        self.escrow[pledge.fund] -= pledge.amount
        if choice == SettlementChoice.BENEFICIARY:
            self.beneficiary[pledge.fund] += pledge.amount
            pledge.status = PledgeStatus.TO_BENEFICIARY
            return
        self.wallet[pledge.user] += pledge.amount
        pledge.status = PledgeStatus.REPLEDGED if choice == SettlementChoice.FUND else PledgeStatus.REFUNDED
        if choice == SettlementChoice.CARD and self.refundable[pledge.user] >= pledge.amount:
            self.cash_out(pledge.user, pledge.amount)  # else it stays in the wallet, and the note says so
        if choice == SettlementChoice.FUND and self.opened(pledge.target):
            onward = Pledge.objects.get(user_id=pledge.user, key=f"settle:{pledge.pk}")
            moved = ModelPledge(
                onward.pk, pledge.user, pledge.target, pledge.amount, onward.key, "", replayable=False
            )
            self.move_into_escrow(moved)
            self.pledges.append(moved)

    def cash_out(self, user_pk, cents):
        self.wallet[user_pk] -= cents
        self.refundable[user_pk] -= cents
        self.external += cents

    @rule(user=user_index, cents=st.integers(1, 20_000))
    def cash_out_to_card(self, user, cents):
        """Wallet money back to the cards it came from; every local test refund succeeds."""
        owner = self.users[user]
        try:
            outcome = cashout_create(user=owner, amount_cents=cents, key=self.new_key())
        except InsufficientFunds:
            assert self.wallet[owner.pk] < cents
            return
        except NothingToRefund:
            assert self.wallet[owner.pk] >= cents > self.refundable[owner.pk]
            return
        assert self.wallet[owner.pk] >= cents and self.refundable[owner.pk] >= cents
        refunds_send(outcome.cashout.pk)
        self.cash_out(owner.pk, cents)

    @precondition(lambda self: any(self.payout.values()))
    @rule(user=user_index, whole=st.booleans(), part=st.integers(1, 5_000))
    def request_payout(self, user, whole, part):
        """A winner asks for their payout balance, or part of it, with a clock past the hold."""
        owner = self.users[user]
        cents = self.payout[owner.pk] if whole and self.payout[owner.pk] else part
        later = timezone.now() + AFTER_THE_HOLD
        try:
            payout_request(user=owner, amount_cents=cents, key=self.new_key(), now=later)
        except InsufficientPayout:
            assert cents > self.payout[owner.pk]
            return
        assert cents <= self.payout[owner.pk]
        self.payout[owner.pk] -= cents
        self.external += cents

    # --- the check after every step ------------------------------------------------------------

    @invariant()
    def database_matches_model(self):
        accounts = Account.objects.values_list("kind", "user_id", "fund_id", "balance")
        wallets = {u: b for k, u, _, b in accounts if k == AccountKind.WALLET}
        escrows = {f: b for k, _, f, b in accounts if k == AccountKind.ESCROW}
        payouts = {u: b for k, u, _, b in accounts if k == AccountKind.PAYOUT}
        beneficiaries = {f: b for k, _, f, b in accounts if k == AccountKind.BENEFICIARY}
        external = sum(b for k, _, _, b in accounts if k == AccountKind.EXTERNAL)
        assert {u: wallets.get(u, 0) for u in self.wallet} == self.wallet
        assert {f: escrows.get(f, 0) for f in self.escrow} == self.escrow
        assert {u: payouts.get(u, 0) for u in self.payout} == self.payout
        assert {f: beneficiaries.get(f, 0) for f in self.beneficiary} == self.beneficiary
        assert external == self.external
        rows = Fund.objects.values_list("pk", "status", "pledged_cents", "backer_count")
        totals = {pk: (status, cents, n) for pk, status, cents, n in rows}
        counted = (PledgeStatus.ACTIVE, PledgeStatus.AWARDED)  # what a fund's page shows as raised
        for fund_pk, status in self.status.items():
            mine = [p for p in self.pledges if p.fund == fund_pk and p.status in counted]
            assert totals[fund_pk] == (status, sum(p.amount for p in mine), len({p.user for p in mine}))
        assert dict(Pledge.objects.values_list("pk", "status")) == {p.pk: p.status for p in self.pledges}
        assert dict(Claim.objects.values_list("pk", "status")) == {c.pk: c.status for c in self.claims}
        assert ledger_violations() == []

    @invariant()
    def awards_are_whole_and_once(self):
        """At most one accepted claim a fund; an awarded fund holds nothing and its pledges were
        released by its award; the payout balances are the awards less the payouts asked for."""
        accepted = Claim.objects.filter(status=ClaimStatus.ACCEPTED).values("fund").annotate(n=Count("pk"))
        assert all(row["n"] == 1 for row in accepted)
        for claim in Claim.objects.filter(status=ClaimStatus.ACCEPTED).select_related("award_transfer"):
            assert claim.award_transfer.kind == TransferKind.AWARD
            assert claim.award_transfer.idempotency_key == f"award:{claim.fund_id}"
            assert Account.objects.get(kind=AccountKind.ESCROW, fund_id=claim.fund_id).balance == 0
            releases = Pledge.objects.filter(fund_id=claim.fund_id, status=PledgeStatus.AWARDED)
            assert set(releases.values_list("release_transfer", flat=True)) == {claim.award_transfer_id}
        awards = Entry.objects.filter(transfer__kind=TransferKind.AWARD, amount__gt=0)
        awarded = awards.aggregate(t=Sum("amount"))["t"] or 0
        asked = Payout.objects.exclude(status=PayoutStatus.FAILED).aggregate(t=Sum("amount_cents"))["t"] or 0
        held = Account.objects.filter(kind=AccountKind.PAYOUT).aggregate(t=Sum("balance"))["t"] or 0
        assert held == awarded - asked


def test_random_operation_sequences_keep_the_books(make_fund):
    LedgerMachine.users = [UserFactory(username=f"prop{i}") for i in range(N_USERS)]
    LedgerMachine.funds = [make_fund(failure_policy="beneficiary", beneficiary_name=BENEFICIARY)] + [
        make_fund() for _ in range(N_FUNDS - 1)
    ]
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=30,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
