"""Payouts to winners, as worked examples: the hold, the balance, replays, races, four eyes, Stripe.

Award money enters a winner's payout account the way the claims service moves it (an
AWARD transfer from the fund's escrow, the backers' pledges marked awarded). The hold is
tested by passing the clock (`now`): transfers are immutable, so no test back-dates one.
Every test ends with the ledger proving itself (`ledger_violations() == []`).
"""

from datetime import timedelta

import pytest
import stripe
from django.contrib.auth.models import Group
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from wagtail.models import ModelLogEntry

from bounties import selectors
from bounties.errors import (
    IdempotencyMismatch,
    InsufficientPayout,
    NotFound,
    PaymentUnavailable,
    PayoutAccountMissing,
    PayoutNotAllowed,
    PayoutOnHold,
)
from bounties.models import (
    Account,
    AccountKind,
    ConnectedAccount,
    EventKind,
    Fund,
    FundStatus,
    Outbox,
    Payout,
    PayoutStatus,
    Pledge,
    PledgeStatus,
    TimelineEvent,
    Transfer,
    TransferKind,
)
from bounties.services import money_operation
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.ledger import escrow_for, ledger_violations, payout_for, transfer_post
from bounties.services.payouts import (
    FINANCE_GROUP,
    connect_onboarding_link,
    connect_refresh,
    payout_approve,
    payout_fail,
    payout_mark_paid,
    payout_record,
    payout_request,
    payouts_send,
    payouts_send_pending,
)
from bounties.services.pledging import pledge_create
from fundfill.checks import payout_settings
from tests.factories import UserFactory
from tests.fakes.stripe_server import site_on_fake_stripe
from tests.integration import errors_of, run_concurrently
from tests.money import top_up

HOLD = timedelta(days=7)  # PAYOUT_HOLD_DAYS' default


def award(winner, cents: int, *, fund, key: str = "award"):
    """A backer pledges `cents` to `fund` and the fund is awarded to `winner` (escrow → payout),
    as an accepted claim does: one AWARD transfer releases the pledges, and the fund is awarded."""
    backer = UserFactory()
    top_up(backer, cents)
    pledge_create(user=backer, fund_id=fund.pk, amount_cents=cents, key=key)

    @money_operation
    def post():
        money = Fund.objects.select_for_update().get(pk=fund.pk)
        transfer = transfer_post(
            kind=TransferKind.AWARD,
            key=f"award:{fund.pk}:{key}",
            legs=[(escrow_for(money), -cents), (payout_for(winner), cents)],
            memo="Awarded (test)",
            user=winner,
            fund=money,
        )
        Pledge.objects.filter(fund=money, status=PledgeStatus.ACTIVE).update(
            status=PledgeStatus.AWARDED, release_transfer=transfer
        )
        Fund.objects.filter(pk=money.pk).update(status=FundStatus.AWARDED)

    post()


def after_hold():
    return timezone.now() + HOLD + timedelta(minutes=1)


def payout_balance(user) -> int:
    return selectors.payout_balance(user=user)


def moved():
    """What a refusal must leave untouched: transfers, payouts and every balance."""
    return (
        Transfer.objects.count(),
        Payout.objects.count(),
        sorted(Account.objects.values_list("pk", "balance")),
    )


@pytest.fixture
def winner(db):
    return UserFactory(username="wendy")


@pytest.fixture
def finance(db):
    """Two members of the Finance group (the group is the migration's; made again after a flush)."""
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    first, second = UserFactory(username="fiona"), UserFactory(username="frank")
    for member in (first, second):
        member.groups.add(group)
    return first, second


# --- Settings --------------------------------------------------------------------------------------


def test_payout_settings_default_and_refuse_negative_values(settings):
    assert (settings.PAYOUT_HOLD_DAYS, settings.PAYOUT_DUAL_APPROVAL_CENTS) == (7, 100_000)
    assert settings.PAYOUT_METHOD == "manual"  # the test gateway is the local one
    assert payout_settings(None) == []
    settings.PAYOUT_HOLD_DAYS = -1
    settings.PAYOUT_DUAL_APPROVAL_CENTS = -5
    errors = payout_settings(None)
    assert [type(e) for e in errors] == [Error, Error]
    assert "PAYOUT_HOLD_DAYS is -1" in errors[0].msg
    assert "PAYOUT_DUAL_APPROVAL_CENTS is -5" in errors[1].msg


def test_a_negative_payout_setting_stops_start_up(settings):
    settings.PAYOUT_HOLD_DAYS = -1
    with pytest.raises(SystemCheckError, match=r"fundfill.E006.*PAYOUT_HOLD_DAYS is -1"):
        call_command("check")


def test_the_migration_made_the_finance_group_with_admin_access(db):
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    from importlib import import_module

    from django.apps import apps

    import_module("bounties.migrations.0009_finance_group").create_finance_group(apps, None)
    codenames = set(Group.objects.get(name=FINANCE_GROUP).permissions.values_list("codename", flat=True))
    assert {"access_admin", "view_payout", "view_transfer", "view_account"} <= codenames
    assert apps.get_app_config("bounties").models_module is not None  # the registry is left as it was


# --- The hold and the balance ---------------------------------------------------------------------


@pytest.mark.django_db
def test_award_money_is_held_then_paid_out(winner, fund):
    # Wendy is awarded $50 today.
    award(winner, 5_000, fund=fund)
    assert payout_balance(winner) == 5_000
    assert selectors.payout_available(user=winner) == 0

    # Asking for it today: refused, with the day it becomes available; nothing moves.
    before = moved()
    with pytest.raises(PayoutOnHold) as refusal:
        payout_request(user=winner, amount_cents=5_000, key="p1")
    assert refusal.value.code == "payout_on_hold"
    assert refusal.value.details["available_cents"] == 0
    awarded_at = Transfer.objects.get(kind=TransferKind.AWARD).created_at
    assert refusal.value.details["available_at"] == (awarded_at + HOLD).isoformat()
    release_day = timezone.localtime(awarded_at + HOLD)
    assert f"{release_day:%B} {release_day.day}, {release_day.year}" in refusal.value.message
    assert moved() == before

    # A minute short of the hold: still held. After it: available, and paid out.
    almost = awarded_at + HOLD - timedelta(minutes=1)
    assert selectors.payout_available(user=winner, now=almost) == 0
    later = after_hold()
    assert selectors.payout_available(user=winner, now=later) == 5_000
    outcome = payout_request(user=winner, amount_cents=5_000, key="p1", now=later)

    payout = outcome.payout
    assert (outcome.replayed, payout.status, payout.method, payout.amount_cents) == (
        False,
        PayoutStatus.REQUESTED,
        "manual",
        5_000,
    )
    # The money left the payout account for the outside world in the request's transfer.
    assert payout.transfer.kind == TransferKind.PAYOUT
    assert payout.transfer.idempotency_key == f"payout:{winner.pk}:p1"
    assert sorted(payout.transfer.entries.values_list("account__kind", "amount")) == [
        (AccountKind.EXTERNAL, 5_000),
        (AccountKind.PAYOUT, -5_000),
    ]
    assert payout_balance(winner) == 0
    assert ModelLogEntry.objects.filter(action="bounties.payout.request", object_id=str(payout.pk)).exists()
    assert ledger_violations() == []


@pytest.mark.django_db
def test_only_the_money_out_of_the_hold_can_leave(winner, fund, make_fund):
    # Wendy is awarded $30, then $20 by another fund a moment later.
    award(winner, 3_000, fund=fund, key="a")
    award(winner, 2_000, fund=make_fund(title="Second", slug="second"), key="b")
    first, second = Transfer.objects.filter(kind=TransferKind.AWARD).order_by("created_at")
    assert first.created_at < second.created_at
    # The clock read between the two releases: the $30 is out of the hold, the $20 still in it.
    between = first.created_at + HOLD + (second.created_at - first.created_at) / 2
    assert selectors.payout_available(user=winner, now=between) == 3_000

    # $40 would need the second award too: refused, saying when that is.
    with pytest.raises(PayoutOnHold) as refusal:
        payout_request(user=winner, amount_cents=4_000, key="p", now=between)
    assert refusal.value.details == {
        "available_cents": 3_000,
        "available_at": (second.created_at + HOLD).isoformat(),
    }
    assert "$30 of your payout balance can be paid out now" in refusal.value.message

    # $25 is within what is free; what is left ($25) is $5 free and the held $20.
    payout_request(user=winner, amount_cents=2_500, key="p", now=between)
    assert payout_balance(winner) == 2_500
    assert selectors.payout_available(user=winner, now=between) == 500
    assert selectors.payout_available(user=winner, now=after_hold()) == 2_500
    assert ledger_violations() == []


@pytest.mark.django_db
def test_more_than_the_balance_is_refused_and_nothing_moves(winner, fund):
    award(winner, 2_500, fund=fund)
    before = moved()
    with pytest.raises(InsufficientPayout) as refusal:
        payout_request(user=winner, amount_cents=2_501, key="p", now=after_hold())
    assert refusal.value.code == "insufficient_payout"
    assert refusal.value.details == {"balance_cents": 2_500}
    assert "$25" in refusal.value.message
    assert moved() == before
    assert ledger_violations() == []


@pytest.mark.django_db
def test_no_payout_account_means_nothing_to_pay_and_none_is_created(winner):
    with pytest.raises(InsufficientPayout) as refusal:
        payout_request(user=winner, amount_cents=100, key="p", now=after_hold())
    assert refusal.value.details == {"balance_cents": 0}
    assert not Account.objects.filter(user=winner, kind=AccountKind.PAYOUT).exists()
    assert selectors.payout_balance(user=winner) == selectors.payout_available(user=winner) == 0


@pytest.mark.django_db
def test_a_replayed_request_returns_the_first_and_moves_nothing_more(winner, fund):
    award(winner, 5_000, fund=fund)
    later = after_hold()
    first = payout_request(user=winner, amount_cents=2_000, key="same", now=later)
    again = payout_request(user=winner, amount_cents=2_000, key="same", now=later)
    assert (again.replayed, again.payout.pk) == (True, first.payout.pk)
    assert Transfer.objects.filter(kind=TransferKind.PAYOUT).count() == 1
    assert payout_balance(winner) == 3_000
    # The same key for another amount is a different request: refused.
    with pytest.raises(IdempotencyMismatch):
        payout_request(user=winner, amount_cents=2_500, key="same", now=later)
    assert payout_balance(winner) == 3_000
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_pay_out_more_than_the_balance(winner, fund):
    # Wendy holds $100; eight requests of $30 at once, each with its own key, and four
    # copies of one more request under a single key.
    award(winner, 10_000, fund=fund)
    later = after_hold()

    def ask(key, cents=3_000):
        return lambda: payout_request(user=winner, amount_cents=cents, key=key, now=later)

    calls = [ask(f"k{i}") for i in range(8)] + [ask("dup") for _ in range(4)]
    results = run_concurrently(calls)

    assert errors_of(results, InsufficientPayout) == []
    paid = {r.payout.pk for r in results if not isinstance(r, BaseException)}
    # Three $30 payouts fit in $100 (a fourth would need $120): exactly three, with the
    # duplicate key either among them once or refused every time.
    assert len(paid) == 3
    assert Payout.objects.count() == 3
    assert payout_balance(winner) == 1_000
    assert Payout.objects.filter(key="dup").count() <= 1
    assert ledger_violations() == []


# --- Manual payouts: Finance staff, four eyes above the threshold --------------------------------


@pytest.fixture
def requested(winner, fund):
    """Wendy was awarded $2,000 and asked for all of it, paid by hand (the local gateway)."""

    def make(cents=200_000, key="p"):
        award(winner, cents, fund=fund, key=key)
        return payout_request(user=winner, amount_cents=cents, key=key, now=after_hold()).payout

    return make


def test_above_the_threshold_two_different_approvers_then_paid(requested, finance):
    fiona, frank = finance
    payout = requested(200_000)  # above $1,000

    payout = payout_approve(payout_id=payout.pk, staff=fiona)
    assert (payout.status, payout.approved_by, payout.second_approved_by) == (
        PayoutStatus.APPROVED,
        fiona,
        None,
    )
    # Fiona again: refused, as is paying it on one approval.
    with pytest.raises(PayoutNotAllowed, match="second, different member"):
        payout_approve(payout_id=payout.pk, staff=fiona)
    with pytest.raises(PayoutNotAllowed, match="two approvals"):
        payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-1")
    payout.refresh_from_db()
    assert (payout.status, payout.second_approved_by, payout.paid_at) == (PayoutStatus.APPROVED, None, None)

    # Frank is the second approver; then either of them records the bank payment.
    payout = payout_approve(payout_id=payout.pk, staff=frank)
    assert payout.second_approved_by == frank
    with pytest.raises(PayoutNotAllowed, match="all the approvals"):
        payout_approve(payout_id=payout.pk, staff=UserFactory(is_superuser=True))
    payout = payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="  BANK-1  ")
    payout.refresh_from_db()
    assert (payout.status, payout.reference, payout.approved_by, payout.second_approved_by) == (
        PayoutStatus.PAID,
        "BANK-1",
        fiona,
        frank,
    )
    assert payout.paid_at is not None
    actions = list(
        ModelLogEntry.objects.filter(object_id=str(payout.pk), action__startswith="bounties.payout.")
        .order_by("pk")
        .values_list("action", "user__username")
    )
    assert actions == [
        ("bounties.payout.request", "wendy"),
        ("bounties.payout.approve", "fiona"),
        ("bounties.payout.approve", "frank"),
        ("bounties.payout.paid", "fiona"),
    ]
    # Paid is final.
    with pytest.raises(PayoutNotAllowed, match="already paid"):
        payout_fail(payout_id=payout.pk, staff=frank, reason="oops")
    assert ledger_violations() == []


def test_at_or_below_the_threshold_one_member_marks_it_paid(requested, finance):
    fiona, _ = finance
    payout = requested(100_000)  # exactly $1,000: one approver is enough
    with pytest.raises(PayoutNotAllowed, match="reference"):
        payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="   ")
    payout = payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-7")
    assert (payout.status, payout.approved_by, payout.second_approved_by, payout.reference) == (
        PayoutStatus.PAID,
        fiona,
        None,
        "BANK-7",
    )
    assert ledger_violations() == []


def test_only_finance_staff_act_on_payouts(requested, finance, settings):
    payout = requested(5_000)
    editor = UserFactory(username="eddie", is_staff=True)
    superuser = UserFactory(username="root", is_superuser=True)
    inactive = UserFactory(username="gone", is_active=False)
    inactive.groups.add(Group.objects.get(name=FINANCE_GROUP))
    before = moved()
    actions = [(payout_approve, {}), (payout_mark_paid, {"reference": "X"}), (payout_fail, {"reason": "X"})]
    for outsider in (editor, inactive, payout.user):
        for action, extra in actions:
            with pytest.raises(PayoutNotAllowed, match="Only Finance"):
                action(payout_id=payout.pk, staff=outsider, **extra)
    assert moved() == before
    payout.refresh_from_db()
    assert (payout.status, payout.approved_by) == (PayoutStatus.REQUESTED, None)
    # A superuser counts as Finance.
    assert payout_approve(payout_id=payout.pk, staff=superuser).approved_by == superuser
    with pytest.raises(NotFound):
        payout_approve(payout_id=payout.pk + 1000, staff=superuser)


@pytest.mark.parametrize("cents", [100_000, 200_000])  # one approver enough; two needed
def test_finance_staff_do_not_approve_or_pay_their_own_payout(requested, finance, winner, cents):
    fiona, frank = finance
    winner.groups.add(Group.objects.get(name=FINANCE_GROUP))  # Wendy works in Finance herself
    payout = requested(cents)
    before = moved()

    with pytest.raises(PayoutNotAllowed) as approving:
        payout_approve(payout_id=payout.pk, staff=winner)
    with pytest.raises(PayoutNotAllowed) as paying:
        payout_mark_paid(payout_id=payout.pk, staff=winner, reference="BANK-OWN")
    assert approving.value.user_message == (
        "This is your own payout: another member of Finance must approve it and mark it paid. No money moved."
    )
    assert paying.value.user_message == approving.value.user_message
    assert moved() == before
    payout.refresh_from_db()
    assert (payout.status, payout.approved_by, payout.reference, payout.paid_at) == (
        PayoutStatus.REQUESTED,
        None,
        "",
        None,
    )

    # Not as the second approver either, nor to record a payment others approved.
    payout_approve(payout_id=payout.pk, staff=fiona)
    if cents > 100_000:
        with pytest.raises(PayoutNotAllowed, match="your own payout"):
            payout_approve(payout_id=payout.pk, staff=winner)
        payout_approve(payout_id=payout.pk, staff=frank)
    with pytest.raises(PayoutNotAllowed, match="your own payout"):
        payout_mark_paid(payout_id=payout.pk, staff=winner, reference="BANK-OWN")
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.APPROVED
    assert payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-1").status == PayoutStatus.PAID
    assert ledger_violations() == []


def test_a_failed_payout_returns_the_money_to_the_payout_balance(requested, finance, winner):
    fiona, frank = finance
    payout = requested(200_000)
    payout_approve(payout_id=payout.pk, staff=fiona)
    assert payout_balance(winner) == 0
    with pytest.raises(PayoutNotAllowed, match="Say why"):
        payout_fail(payout_id=payout.pk, staff=frank, reason="")

    payout = payout_fail(payout_id=payout.pk, staff=frank, reason="The bank returned it: account closed.")
    assert (payout.status, payout.failure_reason) == (
        PayoutStatus.FAILED,
        "The bank returned it: account closed.",
    )
    reversal = payout.reversal_transfer
    assert (reversal.kind, reversal.idempotency_key) == (
        TransferKind.PAYOUT_REVERSAL,
        f"payout-reversal:{payout.pk}",
    )
    assert sorted(reversal.entries.values_list("account__kind", "amount")) == [
        (AccountKind.EXTERNAL, -200_000),
        (AccountKind.PAYOUT, 200_000),
    ]
    assert payout_balance(winner) == 200_000
    # Failed is final: no second reversal, no payment.
    with pytest.raises(PayoutNotAllowed, match="already failed"):
        payout_fail(payout_id=payout.pk, staff=fiona, reason="again")
    with pytest.raises(PayoutNotAllowed):
        payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK")
    assert payout_balance(winner) == 200_000
    # The money can be asked for again (it left the hold long ago).
    payout_request(user=winner, amount_cents=200_000, key="again", now=after_hold())
    assert ledger_violations() == []


def paid_out_events(user):
    """The public timeline's "paid out" entries for `user`: (fund, cents, payout), oldest first."""
    events = TimelineEvent.objects.filter(kind=EventKind.PAID_OUT, user=user).order_by("at", "pk")
    return [(e.fund_id, e.data["amount_cents"], e.data["payout"]) for e in events]


def sent_announcements():
    """The public `payout_sent` rows staged: (dedupe key, fund, payout)."""
    rows = Outbox.objects.filter(event="payout_sent").order_by("pk")
    return [(row.dedupe_key, row.fund_id, row.payload["payout"]) for row in rows]


def test_a_paid_payout_is_announced_once_and_paid_out_on_each_fund_it_draws_from(
    finance, winner, make_fund, settings, client
):
    settings.ANNOUNCERS = "console"
    fiona, _ = finance
    first, second = make_fund(title="First", slug="first"), make_fund(title="Second", slug="second")
    award(winner, 60_000, fund=first, key="a")  # the older award
    award(winner, 50_000, fund=second, key="b")
    payout = payout_request(user=winner, amount_cents=100_000, key="p", now=after_hold()).payout
    assert sent_announcements() == [] and paid_out_events(winner) == []  # requested is not sent

    payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-1")

    # First in, first out: the $1,000 pays all of First's $600 award and $400 of Second's.
    assert paid_out_events(winner) == [(first.pk, 60_000, payout.pk), (second.pk, 40_000, payout.pk)]
    # One public announcement, naming the fund it draws most from; the private receipt as before.
    assert sent_announcements() == [(f"payout:{payout.pk}:sent:console", first.pk, payout.pk)]
    assert Outbox.objects.filter(
        event="payout_receipt", dedupe_key__startswith=f"payout:{payout.pk}:paid"
    ).exists()

    # Paying it again, or a replayed provider answer, stages and records nothing more.
    before = (sent_announcements(), paid_out_events(winner), Outbox.objects.count())
    with pytest.raises(PayoutNotAllowed, match="already paid"):
        payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-1")
    assert payout_record(payout_id=payout.pk, ok=True, provider_id="again").status == PayoutStatus.PAID
    assert (sent_announcements(), paid_out_events(winner), Outbox.objects.count()) == before

    # The next payout takes up where the last left off: the rest of Second's award.
    nxt = payout_request(user=winner, amount_cents=10_000, key="q", now=after_hold()).payout
    payout_mark_paid(payout_id=nxt.pk, staff=fiona, reference="BANK-2")
    assert paid_out_events(winner)[2:] == [(second.pk, 10_000, nxt.pk)]
    assert sent_announcements()[1:] == [(f"payout:{nxt.pk}:sent:console", second.pk, nxt.pk)]

    # Each fund's public timeline shows what of its award has been paid out.
    assert "wendy was paid out $600 of the award" in client.get(first.url).content.decode()
    page = client.get(second.url).content.decode()
    assert "wendy was paid out $400 of the award" in page and "wendy was paid out $100 of the award" in page
    assert ledger_violations() == []


def test_a_payout_of_a_claim_s_award_is_on_that_claim_s_timeline(finance, fund, settings):
    fiona, _ = finance
    backer, winner = UserFactory(username="bob"), UserFactory(username="wendy")
    top_up(backer, 5_000)
    pledge_create(user=backer, fund_id=fund.pk, amount_cents=5_000, key="p")
    claim = claim_submit(user=winner, fund_id=fund.pk, statement="Done.", url="https://example.com/w")
    vote_cast(user=backer, claim_id=claim.pk, approve=True)  # accepted: $50 to Wendy's payout balance
    payout = payout_request(user=winner, amount_cents=5_000, key="p", now=after_hold()).payout

    payout_mark_paid(payout_id=payout.pk, staff=fiona, reference="BANK-9")

    (event,) = selectors.timeline(claim_id=claim.pk).filter(kind=EventKind.PAID_OUT)
    assert (event.fund_id, event.user, event.data["amount_cents"]) == (fund.pk, winner, 5_000)
    assert sent_announcements() == [(f"payout:{payout.pk}:sent:console", fund.pk, payout.pk)]
    assert ledger_violations() == []


# --- Stripe Connect, against the fake Stripe server --------------------------------------------


@pytest.fixture
def fake_stripe(settings):
    """A running fake Stripe, with payouts going by Stripe; the library's globals restored after."""
    with site_on_fake_stripe(settings, payouts=True, retries=0) as fake:
        yield fake


@pytest.fixture
def onboarded(fake_stripe, winner):
    """Wendy has been through Stripe's onboarding and Stripe enabled her payouts."""
    connect_onboarding_link(user=winner, refresh_url="https://f.example/r", return_url="https://f.example/b")
    account_id = ConnectedAccount.objects.get(user=winner).stripe_account_id
    fake_stripe.complete_onboarding(account_id)
    connect_refresh(winner)
    return account_id


@pytest.mark.django_db
def test_onboarding_creates_one_express_account_and_links_to_it(fake_stripe, winner):
    url = connect_onboarding_link(
        user=winner, refresh_url="https://f.example/r", return_url="https://f.example/b"
    )
    (created,) = fake_stripe.posts("/v1/accounts")
    assert created.params["type"] == "express"
    connected = ConnectedAccount.objects.get(user=winner)
    assert connected.stripe_account_id == created.response["id"]
    assert connected.payouts_enabled is False
    (link,) = fake_stripe.posts("/v1/account_links")
    assert link.params == {
        "account": connected.stripe_account_id,
        "refresh_url": "https://f.example/r",
        "return_url": "https://f.example/b",
        "type": "account_onboarding",
    }
    assert url == link.response["url"]

    # Coming back (or a second tab) links to the same account: no second one is created.
    connect_onboarding_link(user=winner, refresh_url="https://f.example/r", return_url="https://f.example/b")
    assert len(fake_stripe.posts("/v1/accounts")) == 1
    assert len(fake_stripe.posts("/v1/account_links")) == 2

    # Until Stripe enables payouts, a payout request is refused with its own code.
    assert connect_refresh(winner).payouts_enabled is False
    with pytest.raises(PayoutAccountMissing) as refusal:
        payout_request(user=winner, amount_cents=100, key="p", now=after_hold())
    assert refusal.value.code == "payout_account_missing"
    fake_stripe.complete_onboarding(connected.stripe_account_id)
    assert connect_refresh(winner).payouts_enabled is True
    assert connect_refresh(UserFactory()) is None  # never onboarded


@pytest.mark.django_db
def test_unreachable_stripe_during_onboarding_is_a_clear_refusal(fake_stripe, winner):
    fake_stripe.fail_next(500, path="/v1/accounts")
    with pytest.raises(PaymentUnavailable):
        connect_onboarding_link(
            user=winner, refresh_url="https://f.example/r", return_url="https://f.example/b"
        )
    assert not ConnectedAccount.objects.exists()


@pytest.mark.django_db
def test_a_stripe_payout_is_one_transfer_with_its_idempotency_key(fake_stripe, onboarded, winner, fund):
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    assert payout.method == "stripe" and payout.status == PayoutStatus.REQUESTED

    payout = payouts_send(payout.pk)
    (sent,) = fake_stripe.posts("/v1/transfers")
    assert sent.idempotency_key == f"payout:{payout.pk}"
    assert (sent.params["amount"], sent.params["currency"], sent.params["destination"]) == (
        "7500",
        "usd",
        onboarded,
    )
    assert (payout.status, payout.provider_id) == (PayoutStatus.PAID, sent.response["id"])
    assert payout.paid_at is not None
    assert sent_announcements() == [(f"payout:{payout.pk}:sent:console", fund.pk, payout.pk)]
    assert paid_out_events(winner) == [(fund.pk, 7_500, payout.pk)]
    # Sending again (the sweep, a retried task) asks Stripe nothing and changes nothing.
    assert payouts_send(payout.pk).status == PayoutStatus.PAID
    assert payouts_send_pending() == 0
    assert len(fake_stripe.posts("/v1/transfers")) == 1
    assert len(sent_announcements()) == 1 and len(paid_out_events(winner)) == 1
    assert payout_balance(winner) == 0
    assert ledger_violations() == []


@pytest.mark.django_db
def test_a_refused_stripe_transfer_returns_the_money(fake_stripe, onboarded, winner, fund):
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    fake_stripe.set_available_balance(1_000)  # the platform cannot cover it: Stripe refuses (400)

    payout = payouts_send(payout.pk)
    assert payout.status == PayoutStatus.FAILED
    assert "insufficient available funds" in payout.failure_reason
    assert payout.reversal_transfer.idempotency_key == f"payout-reversal:{payout.pk}"
    assert payout_balance(winner) == 7_500
    assert payouts_send(payout.pk).status == PayoutStatus.FAILED  # recorded once
    assert Transfer.objects.filter(kind=TransferKind.PAYOUT_REVERSAL).count() == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_unreachable_stripe_leaves_the_payout_for_the_sweep(fake_stripe, onboarded, winner, fund):
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    fake_stripe.fail_next(500, path="/v1/transfers")

    assert payouts_send(payout.pk).status == PayoutStatus.REQUESTED
    assert payout_balance(winner) == 0  # still on its way out, not back

    # The sweep sends it again under the same idempotency key, and it goes through.
    assert payouts_send_pending() == 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    keys = [r.idempotency_key for r in fake_stripe.posts("/v1/transfers")]
    assert keys == [f"payout:{payout.pk}"] * 2
    assert len(fake_stripe.transfers) == 1
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_a_stripe_request_is_sent_once_it_commits(fake_stripe, onboarded, winner, fund):
    # The test settings run django-q2 synchronously: the task enqueued on commit runs at once.
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.posts("/v1/transfers")) == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_manual_actions_refuse_stripe_payouts(fake_stripe, onboarded, winner, fund, finance):
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    with pytest.raises(PayoutNotAllowed, match="sent by Stripe"):
        payout_mark_paid(payout_id=payout.pk, staff=finance[0], reference="BANK")


@pytest.mark.django_db
def test_a_lost_answer_is_found_by_its_transfer_group_once_stripe_forgot_the_key(
    fake_stripe, onboarded, winner, fund
):
    award(winner, 7_500, fund=fund)
    payout = payout_request(user=winner, amount_cents=7_500, key="p", now=after_hold()).payout
    # Stripe makes the transfer but the answer never arrives (the client times out).
    stripe.default_http_client = stripe.RequestsClient(timeout=0.5)
    fake_stripe.delay_next(2, path="/v1/transfers")
    assert payouts_send(payout.pk).status == PayoutStatus.REQUESTED
    (made,) = fake_stripe.transfers.values()

    # A day later Stripe has forgotten the idempotency key: a plain resend would pay twice.
    fake_stripe.forget_idempotency_keys()
    assert payouts_send_pending(now=payout.created_at + timedelta(hours=25)) == 1
    payout.refresh_from_db()
    assert (payout.status, payout.provider_id) == (PayoutStatus.PAID, made["id"])
    assert len(fake_stripe.transfers) == 1
    assert len(fake_stripe.posts("/v1/transfers")) == 1
    assert ledger_violations() == []


@pytest.mark.django_db
def test_the_ledger_check_names_a_payout_whose_records_disagree(requested, finance):
    payout = requested(5_000)
    assert ledger_violations() == []
    # A failure recorded without returning the money, and a payment without a reference.
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED)
    assert ledger_violations() == [f"payout {payout.pk} is failed and has reversal None"]
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.PAID, paid_at=timezone.now())
    assert ledger_violations() == [f"payout {payout.pk} is paid but records no date or reference"]
