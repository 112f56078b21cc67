"""Property test (RELIABILITY T5): random sequences of money operations against a pure-Python model.

A hypothesis state machine deposits (through signed webhook events, with duplicate
and second-event redeliveries), pledges, replays old keys (same body and changed
body), withdraws, pledges by card (the payment lands, is redelivered, or is declined
and a later paid event is flagged, not credited), closes a fund and runs the pending-pledge sweep. After every step
the database must agree with the model: each wallet, escrow and the external
account, each fund's totals and each pledge's status; and `ledger_violations()`
must be empty.

Each example runs inside a savepoint of pytest-django's test transaction and is
rolled back at teardown, so examples are independent and nothing is committed.
A failure prints the steps, and `print_blob` prints a `@reproduce_failure` line
to replay it; `--hypothesis-seed=N` replays a whole run.
"""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bounties.errors import (
    FundNotOpen,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    WithdrawNotAllowed,
)
from bounties.models import Account, AccountKind, Fund, FundStatus, Pledge, PledgeStatus
from bounties.services.deposits import deposit_create
from bounties.services.ledger import ledger_violations
from bounties.services.pledging import (
    MIN_CARD_CHARGE_CENTS,
    pledge_complete_pending,
    pledge_create,
    pledge_create_with_card,
    pledge_withdraw,
)
from tests.factories import UserFactory
from tests.money import checkout_event, deliver, failed_event

pytestmark = pytest.mark.django_db

N_USERS = 3
N_FUNDS = 3
amounts = st.integers(min_value=100, max_value=6_000)


@dataclass
class ModelPledge:
    pk: int
    user: int
    fund: int
    amount: int
    key: str
    status: str


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
        self.external = 0
        self.open = {f.pk: True for f in self.funds}
        self.pledges: list[ModelPledge] = []
        self.cards: list[CardPayment] = []
        self.keys = 0

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)
        transaction.set_rollback(False)  # back at a known-good point for the next example

    # --- helpers -----------------------------------------------------------------------------

    def new_key(self):
        self.keys += 1
        return f"key-{self.keys}"

    def credit(self, user_pk, cents):
        self.wallet[user_pk] += cents
        self.external -= cents

    def move_into_escrow(self, pledge: ModelPledge):
        self.wallet[pledge.user] -= pledge.amount
        self.escrow[pledge.fund] += pledge.amount
        pledge.status = PledgeStatus.ACTIVE

    # --- rules -------------------------------------------------------------------------------

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

    @rule(user=st.integers(0, N_USERS - 1), fund=st.integers(0, N_FUNDS - 1), cents=amounts)
    def pledge(self, user, fund, cents):
        owner, fund_pk = self.users[user], self.funds[fund].pk
        key = self.new_key()
        try:
            outcome = pledge_create(user=owner, fund_id=fund_pk, amount_cents=cents, key=key)
        except FundNotOpen:
            assert not self.open[fund_pk]
            return
        except InsufficientFunds as short:
            assert self.open[fund_pk] and self.wallet[owner.pk] < cents
            assert short.details["shortfall_cents"] == cents - self.wallet[owner.pk]
            return
        assert self.open[fund_pk] and self.wallet[owner.pk] >= cents and not outcome.replayed
        pledge = ModelPledge(outcome.pledge.pk, owner.pk, fund_pk, cents, key, PledgeStatus.ACTIVE)
        self.move_into_escrow(pledge)
        self.pledges.append(pledge)

    @rule(amount=st.sampled_from([0, -100, 99, 10**12]), user=st.integers(0, N_USERS - 1))
    def pledge_invalid_amount(self, amount, user):
        with pytest.raises(InvalidAmount):
            pledge_create(
                user=self.users[user], fund_id=self.funds[0].pk, amount_cents=amount, key=self.new_key()
            )

    @precondition(lambda self: self.pledges)
    @rule(data=st.data(), change_amount=st.booleans())
    def replay_old_key(self, data, change_amount):
        """A resubmission with an old key: the same answer and nothing moves; another body is refused."""
        pledge = data.draw(st.sampled_from(self.pledges))
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
        allowed = pledge.status == PledgeStatus.ACTIVE and self.open[pledge.fund]
        try:
            pledge_withdraw(user=owner, pledge_id=pledge.pk)
        except WithdrawNotAllowed:
            assert not allowed
            return
        assert allowed
        self.escrow[pledge.fund] -= pledge.amount
        self.wallet[pledge.user] += pledge.amount
        pledge.status = PledgeStatus.WITHDRAWN

    @rule(user=st.integers(0, N_USERS - 1), fund=st.integers(0, N_FUNDS - 1), cents=amounts)
    def pledge_by_card(self, user, fund, cents):
        """Pledge more than the wallet holds: pending until the card payment for the difference lands."""
        owner, fund_pk = self.users[user], self.funds[fund].pk
        key = self.new_key()
        try:
            outcome = pledge_create_with_card(
                user=owner, fund_id=fund_pk, amount_cents=cents, key=key, gateway="local"
            )
        except FundNotOpen:
            assert not self.open[fund_pk]
            return
        assert self.open[fund_pk]
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
        if self.open[card.pledge.fund] and self.wallet[card.pledge.user] >= card.pledge.amount:
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

    @rule()
    def sweep(self):
        """The scheduled job: every paid card pledge already completed with its payment."""
        assert pledge_complete_pending() == 0

    @precondition(lambda self: self.open[self.funds[-1].pk])
    @rule()
    def close_last_fund(self):
        Fund.objects.filter(pk=self.funds[-1].pk).update(status=FundStatus.FAILED)
        self.open[self.funds[-1].pk] = False

    # --- the check after every step ------------------------------------------------------------

    @invariant()
    def database_matches_model(self):
        accounts = Account.objects.values_list("kind", "user_id", "fund_id", "balance")
        wallets = {u: b for k, u, _, b in accounts if k == AccountKind.WALLET}
        escrows = {f: b for k, _, f, b in accounts if k == AccountKind.ESCROW}
        external = sum(b for k, _, _, b in accounts if k == AccountKind.EXTERNAL)
        assert {u: wallets.get(u, 0) for u in self.wallet} == self.wallet
        assert {f: escrows.get(f, 0) for f in self.escrow} == self.escrow
        assert external == self.external
        totals = {pk: (c, n) for pk, c, n in Fund.objects.values_list("pk", "pledged_cents", "backer_count")}
        for fund_pk, cents in self.escrow.items():
            backers = {p.user for p in self.pledges if p.fund == fund_pk and p.status == PledgeStatus.ACTIVE}
            assert totals[fund_pk] == (cents, len(backers))
        assert dict(Pledge.objects.values_list("pk", "status")) == {p.pk: p.status for p in self.pledges}
        assert ledger_violations() == []


def test_random_operation_sequences_keep_the_books(make_fund):
    LedgerMachine.users = [UserFactory(username=f"prop{i}") for i in range(N_USERS)]
    LedgerMachine.funds = [make_fund() for _ in range(N_FUNDS)]
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
