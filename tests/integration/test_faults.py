"""Injected failures (RELIABILITY T16: rollback and dropped connections; T18) and pending card pledges.

A failure anywhere inside a money operation must roll back every row it wrote:
the debit, the pledge, the fund totals and the outbox rows staged for it.
"""

import collections
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import bounties.services.announcing
import bounties.services.deposits
from bounties.errors import FundNotOpen
from bounties.models import (
    Account,
    Deposit,
    DepositStatus,
    Entry,
    Fund,
    FundPage,
    FundStatus,
    Outbox,
    Pledge,
    PledgeStatus,
    Transfer,
    TransferKind,
)
from bounties.services.ledger import escrow_for, ledger_violations, wallet_for
from bounties.services.pledging import (
    pledge_complete_pending,
    pledge_create,
    pledge_create_with_card,
)
from tests.factories import UserFactory
from tests.integration import errors_of, run_concurrently
from tests.money import checkout_event, deliver, top_up
from tests.pages_html import parse_html


def books(fund):
    """Every number a pledge touches, to compare before and after a failure."""
    state = Fund.objects.get(pk=fund.pk)
    return {
        "balances": dict(Account.objects.values_list("pk", "balance")),
        "fund": (state.pledged_cents, state.backer_count),
        "transfers": Transfer.objects.count(),
        "entries": Entry.objects.count(),
        "pledges": Pledge.objects.count(),
        "outbox": sorted(Outbox.objects.values_list("dedupe_key", flat=True)),
    }


def milestone_rows(fund, percent=50):
    """Rows announcing the milestone on the console channel (the test settings' only announcer)."""
    return Outbox.objects.filter(dedupe_key=f"milestone:{fund.pk}:{percent}:console").count()


# --- A failure between the debit and the pledge row ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "step, sql",
    [
        # The ORM path (SQLite's) writes the pledge row after the debit; the SQL path writes both
        # in one statement, so there is no moment between them to fail at.
        pytest.param("pledge row", False, id="pledge row-orm"),
        pytest.param("announcement", False, id="announcement-orm"),
        pytest.param("announcement", True, id="announcement-sql"),
    ],
)
def test_failure_after_the_debit_rolls_everything_back(step, sql, fund, monkeypatch, settings):
    settings.FUNDFILL_PLEDGE_SQL = sql
    frank = UserFactory(username="frank")
    top_up(frank, 10_000)
    escrow_for(fund.state)
    pledge_create(user=frank, fund_id=fund.pk, amount_cents=1_000, key="earlier")  # books not empty
    before = books(fund)
    seen = {}

    def boom(*args, **kwargs):
        # Inside the transaction the wallet has already been debited: the failure is mid-pledge.
        seen["wallet"] = wallet_for(frank).balance
        raise RuntimeError(f"injected failure at the {step}")

    if step == "pledge row":
        monkeypatch.setattr(Pledge, "save", boom)
    else:
        # A small goal, so this pledge crosses milestones and stages their announcements.
        FundPage.objects.filter(pk=fund.pk).update(goal_cents=4_000)
        monkeypatch.setattr(bounties.services.announcing, "stage", boom)

    with pytest.raises(RuntimeError, match="injected failure"):
        pledge_create(user=frank, fund_id=fund.pk, amount_cents=2_500, key="k")

    assert seen["wallet"] == 9_000 - 2_500  # the debit had happened...
    assert books(fund) == before  # ...and rolled back with everything else
    assert wallet_for(frank).balance == 9_000
    assert ledger_violations() == []

    monkeypatch.undo()  # the failure is gone: a retry with the same key pledges, once
    retry = pledge_create(user=frank, fund_id=fund.pk, amount_cents=2_500, key="k")
    again = pledge_create(user=frank, fund_id=fund.pk, amount_cents=2_500, key="k")
    assert not retry.replayed and again.replayed and again.pledge.pk == retry.pledge.pk
    assert wallet_for(frank).balance == 6_500
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 2
    assert ledger_violations() == []


# --- T18: milestone announcements and rollbacks -----------------------------------------------------


@pytest.fixture
def half_way(fund):
    """A fund with a 1 000.00 goal and 490.00 pledged: the next 20.00 crosses 50 %."""
    assert fund.goal_cents == 100_000
    whale = UserFactory(username="whale")
    top_up(whale, 49_000)
    pledge_create(user=whale, fund_id=fund.pk, amount_cents=49_000, key="whale")
    assert milestone_rows(fund, 25) == 1 and milestone_rows(fund) == 0
    return fund


@pytest.mark.django_db
def test_a_rolled_back_crossing_stages_no_milestone(half_way, monkeypatch):
    fund = half_way
    gina = UserFactory(username="gina")
    top_up(gina, 5_000)
    real_stage = bounties.services.announcing.stage
    staged = []

    def stage_then_fail(*, key, event, **payload):
        real_stage(key=key, event=event, **payload)
        if event == "milestone":
            staged.append(Outbox.objects.filter(dedupe_key=f"{key}:console").exists())  # in the transaction
            raise RuntimeError("a later step failed")

    monkeypatch.setattr(bounties.services.announcing, "stage", stage_then_fail)
    before = books(fund)
    with pytest.raises(RuntimeError):
        pledge_create(user=gina, fund_id=fund.pk, amount_cents=2_000, key="cross")
    assert staged == [True]  # the milestone row existed inside the failed transaction...
    assert milestone_rows(fund) == 0  # ...and rolled back with it: nothing will be announced
    assert books(fund) == before
    assert ledger_violations() == []

    monkeypatch.undo()
    pledge_create(user=gina, fund_id=fund.pk, amount_cents=2_000, key="cross")
    assert milestone_rows(fund) == 1
    assert Outbox.objects.get(dedupe_key=f"milestone:{fund.pk}:50:console").payload == {
        "fund": fund.pk,
        "percent": 50,
    }


@pytest.mark.django_db(transaction=True)
def test_racing_pledges_across_fifty_percent_announce_once(half_way):
    fund = half_way
    backers = [UserFactory(username=f"racer{i}") for i in range(8)]
    for backer in backers:
        top_up(backer, 2_000)

    results = run_concurrently(
        [lambda b=b: pledge_create(user=b, fund_id=fund.pk, amount_cents=2_000, key="go") for b in backers]
    )

    assert errors_of(results) == []
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 49_000 + 8 * 2_000  # 65 %: only 50 % crossed
    assert milestone_rows(fund) == 1 and milestone_rows(fund, 75) == 0
    assert Outbox.objects.filter(event="milestone").count() == 2  # 25 % (reaching half way) and 50 %
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_without_the_fund_lock_every_racer_stages_fifty_percent_and_the_key_dedupes(
    half_way, settings, monkeypatch
):
    """Control for the dedupe key: with the fund lock off, several pledges each believe they
    crossed 50 % and stage the milestone; the unique `milestone:{fund}:50` key keeps one row."""
    fund = half_way
    backers = [UserFactory(username=f"racer{i}") for i in range(8)]
    for backer in backers:
        top_up(backer, 2_000)
    staged = collections.Counter()
    real_stage = bounties.services.announcing.stage

    def counting_stage(*, key, event, **payload):
        staged[key] += 1
        real_stage(key=key, event=event, **payload)

    monkeypatch.setattr(bounties.services.announcing, "stage", counting_stage)
    settings.FUNDFILL_FAULTS = ("unguarded",)

    run_concurrently(
        [lambda b=b: pledge_create(user=b, fund_id=fund.pk, amount_cents=2_000, key="go") for b in backers]
    )

    assert staged[f"milestone:{fund.pk}:50"] >= 2  # more than one racer saw itself cross
    assert milestone_rows(fund) == 1  # one announcement all the same


# --- Pledges paid by card ----------------------------------------------------------------------------


@pytest.fixture
def hana(db):
    hana = UserFactory(username="hana")
    top_up(hana, 1_000)
    return hana


def card_pledge(user, fund, amount_cents=5_000, key="card"):
    outcome = pledge_create_with_card(
        user=user, fund_id=fund.pk, amount_cents=amount_cents, key=key, gateway="local"
    )
    assert outcome.pledge.status == PledgeStatus.PENDING_FUNDS
    assert outcome.deposit.amount_cents == amount_cents - wallet_for(user).balance  # the difference
    return outcome


@pytest.mark.django_db
def test_card_pledge_completes_when_its_deposit_lands(hana, fund):
    outcome = card_pledge(hana, fund)
    assert wallet_for(hana).balance == 1_000  # nothing moved yet
    deliver(checkout_event(outcome.deposit))  # 4 000 arrive; the pledge completes in that transaction
    pledge = Pledge.objects.get(pk=outcome.pledge.pk)
    assert pledge.status == PledgeStatus.ACTIVE
    assert wallet_for(hana).balance == 0
    assert escrow_for(Fund.objects.get(pk=fund.pk)).balance == 5_000
    assert ledger_violations() == []


@pytest.mark.django_db
@pytest.mark.parametrize("closed_by", ["status", "deadline"])
def test_card_pledge_landing_after_the_fund_closed_is_cancelled_money_kept(hana, fund, closed_by):
    outcome = card_pledge(hana, fund)
    if closed_by == "status":
        Fund.objects.filter(pk=fund.pk).update(status=FundStatus.FAILED)
    else:
        FundPage.objects.filter(pk=fund.pk).update(pledge_deadline=timezone.now() - timedelta(minutes=1))

    assert deliver(checkout_event(outcome.deposit))[0] == 200
    pledge = Pledge.objects.get(pk=outcome.pledge.pk)
    assert pledge.status == PledgeStatus.CANCELLED
    assert "Your payment is in your wallet." in pledge.note
    assert pledge.transfer_id is None
    assert wallet_for(hana).balance == 5_000  # 1 000 before + 4 000 paid: all of it kept
    state = Fund.objects.get(pk=fund.pk)
    assert (state.pledged_cents, state.backer_count) == (0, 0)
    assert escrow_for(state).balance == 0
    assert ledger_violations() == []
    with pytest.raises(FundNotOpen):  # and the fund refuses new pledges
        pledge_create(user=hana, fund_id=fund.pk, amount_cents=100, key="late")


@pytest.mark.django_db
def test_sweep_completes_a_paid_pending_pledge_once(hana, fund, monkeypatch):
    paid = card_pledge(hana, fund, key="paid")
    unpaid = card_pledge(hana, fund, amount_cents=3_000, key="unpaid")
    # The deposit lands but its pledge is not completed (as if the completion step were lost).
    monkeypatch.setattr(bounties.services.deposits, "_pledge_complete", lambda pledge_id: None)
    deliver(checkout_event(paid.deposit))
    monkeypatch.undo()
    assert Deposit.objects.get(pk=paid.deposit.pk).status == DepositStatus.SUCCEEDED
    assert Pledge.objects.get(pk=paid.pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert wallet_for(hana).balance == 5_000  # stranded in the wallet: the sweep's job
    assert ledger_violations() == []

    assert pledge_complete_pending() == 1  # the paid one; the unpaid one waits for its money
    assert Pledge.objects.get(pk=paid.pledge.pk).status == PledgeStatus.ACTIVE
    assert Pledge.objects.get(pk=unpaid.pledge.pk).status == PledgeStatus.PENDING_FUNDS
    assert wallet_for(hana).balance == 0
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 5_000
    moved = (Transfer.objects.count(), Entry.objects.count())

    assert pledge_complete_pending() == 0  # a second run moves nothing
    assert (Transfer.objects.count(), Entry.objects.count()) == moved
    assert wallet_for(hana).balance == 0
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_card_pledge_deposit_racing_the_sweep_completes_once(make_fund):
    """The webhook and the scheduled sweep (several runs) complete one pledge at once: one transfer."""
    fund = make_fund()
    ivan = UserFactory(username="ivan")
    top_up(ivan, 1_000)
    outcome = card_pledge(ivan, fund)
    event = checkout_event(outcome.deposit)

    results = run_concurrently([lambda: deliver(event)] * 4 + [pledge_complete_pending] * 4)

    assert errors_of(results) == []
    assert Pledge.objects.get(pk=outcome.pledge.pk).status == PledgeStatus.ACTIVE
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert wallet_for(ivan).balance == 0 and Fund.objects.get(pk=fund.pk).pledged_cents == 5_000
    assert ledger_violations() == []


# --- T16: the database connection drops mid-pledge --------------------------------------------------


def drop_my_connection():
    """What a database restart or failover does to this request: PostgreSQL ends its session."""
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.fixture
def dropped_mid_pledge(monkeypatch):
    """Staging the pledge's announcements ends the session first (the wallet is already debited and
    the pledge row written, on either path), `left` times."""
    original = bounties.services.announcing.stage
    drops = {"left": 0, "done": 0}

    def stage(*args, **kwargs):
        if drops["left"]:
            drops["left"] -= 1
            drops["done"] += 1
            drop_my_connection()
        return original(*args, **kwargs)

    monkeypatch.setattr(bounties.services.announcing, "stage", stage)
    return drops


@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_is_retried_on_a_new_one_and_pledges_once(fund, dropped_mid_pledge):
    frank = UserFactory(username="frank")
    top_up(frank, 10_000)
    before = books(fund)
    dropped_mid_pledge["left"] = 1

    outcome = pledge_create(user=frank, fund_id=fund.pk, amount_cents=2_500, key="k")

    assert dropped_mid_pledge["done"] == 1 and not outcome.replayed
    assert wallet_for(frank).balance == 7_500
    assert books(fund)["pledges"] == before["pledges"] + 1
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_when_every_attempt_loses_the_connection_the_api_answers_503_and_a_retry_pledges_once(
    fund, dropped_mid_pledge
):
    frank = UserFactory(username="frank")
    top_up(frank, 10_000)
    before = books(fund)
    token, _ = Token.objects.get_or_create(user=frank)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    def post():
        return client.post(
            f"/api/v1/funds/{fund.pk}/pledges/",
            {"amount_cents": 2_500},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k",
        )

    dropped_mid_pledge["left"] = 100
    response = post()
    assert response.status_code == 503 and response["Retry-After"]
    error = response.json()["error"]
    assert error["code"] == "try_again"
    assert "may or may not have gone through" in error["message"]
    assert "Sending the same request again is safe" in error["message"]
    assert dropped_mid_pledge["done"] == 4  # the first try and three retries, each on a new connection
    assert books(fund) == before and ledger_violations() == []

    dropped_mid_pledge["left"] = 0  # the database is back
    assert post().status_code == 201
    replay = post()
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert wallet_for(frank).balance == 7_500
    assert Transfer.objects.filter(kind=TransferKind.PLEDGE).count() == 1
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_the_pledge_form_says_the_money_may_have_moved_and_keeps_its_key(fund, dropped_mid_pledge):
    frank = UserFactory(username="frank")
    top_up(frank, 10_000)
    client = Client()
    client.force_login(frank)
    url = reverse("pledge_create", args=[fund.pk])
    key = parse_html(client.get(url).content).find("input", name="key").get("value")

    dropped_mid_pledge["left"] = 100
    response = client.post(url, {"amount": "25", "key": key})
    page = parse_html(response.content)
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert "may or may not have gone through" in page.text and "No money moved" not in page.text
    assert page.find("input", name="key").get("value") == key  # sending it again is the same pledge

    dropped_mid_pledge["left"] = 0
    assert client.post(url, {"amount": "25", "key": key}).status_code == 302
    assert client.post(url, {"amount": "25", "key": key}).status_code == 302  # the receipt again
    assert wallet_for(frank).balance == 7_500 and ledger_violations() == []
