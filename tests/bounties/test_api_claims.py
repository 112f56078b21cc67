"""The JSON API for claims, votes, settlement choices, cash-outs and payouts.

First the issue's worked example through the API alone (backers of $10, $30 and $60 pledge by
the pledge endpoint, a claim is submitted, the $60 backer approves, the claimant's wallet shows
the award), then every refusal answering with its code and status, saying no money moved, and
leaving the books as they were.
"""

import uuid

import pytest
from wagtail.models import PageViewRestriction

from bounties.models import Account, Cashout, Claim, Fund, FundStatus, Payout, Pledge, Transfer
from bounties.services.ledger import ledger_violations, wallet_for
from tests.api import assert_error, client_for
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db

WORK = "https://example.com/audit-report.pdf"


# --- Helpers ---------------------------------------------------------------------------------------


def pledge(user, fund, cents):
    """`user` adds `cents` by card and pledges it through the pledge endpoint; returns the pledge's id."""
    top_up(user, cents)
    response = client_for(user).post(
        f"/api/v1/funds/{fund.pk}/pledges/",
        {"amount_cents": cents},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def submit(user, fund, **fields):
    body = {"statement": "I audited it.", "url": WORK} | fields
    return client_for(user).post(f"/api/v1/funds/{fund.pk}/claims/", body, format="json")


def vote(user, claim_id, body):
    return client_for(user).post(f"/api/v1/claims/{claim_id}/vote/", body, format="json")


def cash_out(user, body, *, key="cashout-1"):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client_for(user).post("/api/v1/wallet/cashouts/", body, format="json", **headers)


def pay_out(user, body, *, key="payout-1"):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client_for(user).post("/api/v1/payouts/", body, format="json", **headers)


def books():
    """What a refusal must leave exactly as it was: every balance, transfer, claim, vote and payout."""
    return (
        Transfer.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
        list(Claim.objects.order_by("pk").values_list("pk", "status", "approve_cents", "reject_cents")),
        list(Fund.objects.order_by("pk").values_list("pk", "status")),
        Payout.objects.count(),
        Cashout.objects.count(),
    )


def refused(response, status, code):
    """The API's error shape with this status and code, saying that no money moved."""
    error = assert_error(response, status, code)
    assert "No money moved." in error["message"], error
    return error


@pytest.fixture
def backers(fund):
    """The issue's worked example: backers of $10, $30 and $60, pledged through the API."""
    people = [UserFactory(username=name) for name in ("ten", "thirty", "sixty")]
    for person, cents in zip(people, (1_000, 3_000, 6_000), strict=True):
        pledge(person, fund, cents)
    return people


@pytest.fixture
def claimant(db):
    return UserFactory(username="claimant")


@pytest.fixture
def claim(fund, backers, claimant):
    """A claim under vote on the worked example's fund."""
    response = submit(claimant, fund)
    assert response.status_code == 201, response.content
    return response.json()


# --- The worked example ----------------------------------------------------------------------------


def test_sixty_approves_through_the_api_and_the_claimant_is_paid(fund, backers, claimant):
    # The claimant says the work is done: a vote opens over the $100 the backers put in.
    response = submit(claimant, fund)
    assert response.status_code == 201, response.content
    claim = response.json()
    assert claim["status"] == "voting"
    assert (claim["fund"], claim["submitted_by"]) == (fund.pk, "claimant")
    assert (claim["eligible_cents"], claim["approve_cents"], claim["reject_cents"]) == (10_000, 0, 0)
    assert claim["voting_closes_at"]
    assert claim["claimants"] == [{"username": "claimant", "share_bp": 10_000}]
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.VOTING

    # The $60 backer approves: more than half of the weight, so the claim is accepted at once.
    response = vote(backers[2], claim["id"], {"approve": True})
    assert response.status_code == 200, response.content
    tally = response.json()
    assert tally["status"] == "accepted"
    assert (tally["approve_cents"], tally["reject_cents"]) == (6_000, 0)
    assert tally["decided_at"]
    assert tally["vote"] == {"approve": True, "reason": "", "weight_cents": 6_000, "changed": False}

    # The whole $100 escrow went to the claimant's payout balance, still inside the hold.
    wallet = client_for(claimant).get("/api/v1/wallet/").json()
    assert (wallet["payout_cents"], wallet["payout_available_cents"], wallet["balance_cents"]) == (
        10_000,
        0,
        0,
    )
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.AWARDED
    assert ledger_violations() == []


def test_the_public_claim_shows_its_tally_and_a_rejects_reason_and_username(fund, backers, claim):
    # The $30 backer rejects with a reason; the $10 backer approves. Nothing is decided yet.
    assert (
        vote(backers[1], claim["id"], {"approve": False, "reason": "The report is empty."}).status_code == 200
    )
    assert vote(backers[0], claim["id"], {"approve": True}).status_code == 200

    response = client_for().get(f"/api/v1/claims/{claim['id']}/")  # anyone may read it

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["approve_cents"], body["reject_cents"]) == ("voting", 1_000, 3_000)
    assert (body["eligible_cents"], body["quorum_cents"]) == (10_000, 1_000)  # the fund's 10 % quorum
    assert body["decided_at"] is None
    assert body["claimants"] == [{"username": "claimant", "share_bp": 10_000}]
    kinds = [event["kind"] for event in body["timeline"]]
    assert kinds == ["submitted", "voted", "voted"]
    reject = body["timeline"][1]
    assert (reject["username"], reject["approve"], reject["weight_cents"], reject["reason"]) == (
        "thirty",
        False,
        3_000,
        "The report is empty.",
    )
    assert body["timeline"][2]["username"] == "ten"

    # And the fund's list of claims, also public, has it.
    listed = client_for().get(f"/api/v1/funds/{fund.pk}/claims/")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["results"]] == [claim["id"]]


def test_sixty_rejects_and_the_fund_takes_pledges_and_claims_again(fund, backers, claimant, claim):
    response = vote(backers[2], claim["id"], {"approve": False, "reason": "Not done."})
    assert response.json()["status"] == "rejected"
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN
    assert client_for(claimant).get("/api/v1/wallet/").json()["payout_cents"] == 0
    assert submit(claimant, fund).status_code == 201


def test_co_claimants_share_the_award_by_their_basis_points(fund, backers, claimant):
    partner = UserFactory(username="Partner")
    response = submit(claimant, fund, co_claimants=[{"username": "partner", "share_bp": 2_500}])
    assert response.status_code == 201, response.content
    claim = response.json()
    assert claim["claimants"] == [
        {"username": "claimant", "share_bp": 7_500},
        {"username": "Partner", "share_bp": 2_500},
    ]

    vote(backers[2], claim["id"], {"approve": True})

    assert client_for(claimant).get("/api/v1/wallet/").json()["payout_cents"] == 7_500
    assert client_for(partner).get("/api/v1/wallet/").json()["payout_cents"] == 2_500


def test_a_backer_may_change_their_vote(backers, claim):
    vote(backers[1], claim["id"], {"approve": False, "reason": "Not yet."})
    response = vote(backers[1], claim["id"], {"approve": True})
    assert response.status_code == 200
    body = response.json()
    assert (body["approve_cents"], body["reject_cents"]) == (3_000, 0)
    assert body["vote"]["changed"] is True


# --- Withdrawing a claim ---------------------------------------------------------------------------


def test_the_claimant_withdraws_their_claim_and_the_fund_reopens(fund, backers, claimant, claim):
    assert_error(client_for(backers[0]).delete(f"/api/v1/claims/{claim['id']}/"), 404, "not_found")

    response = client_for(claimant).delete(f"/api/v1/claims/{claim['id']}/")

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN
    # Twice: it is no longer under vote.
    refused(client_for(claimant).delete(f"/api/v1/claims/{claim['id']}/"), 409, "claim_closed")


# --- Refusals, each with its code, moving nothing ----------------------------------------------------


def test_only_backers_with_weight_vote_and_never_on_their_own_claim(backers, claimant, claim):
    outsider = UserFactory(username="outsider")
    before = books()
    refused(vote(outsider, claim["id"], {"approve": True}), 403, "not_a_backer")
    refused(vote(claimant, claim["id"], {"approve": True}), 403, "own_claim")
    assert books() == before


def test_a_reject_needs_a_reason_and_approve_must_be_a_boolean(backers, claim):
    before = books()
    refused(vote(backers[2], claim["id"], {"approve": False}), 400, "reason_required")
    refused(vote(backers[2], claim["id"], {"approve": False, "reason": "   "}), 400, "reason_required")
    for approve in ("yes", 1, None):
        refused(vote(backers[2], claim["id"], {"approve": approve}), 400, "reason_required")
    refused(vote(backers[2], claim["id"], {}), 400, "reason_required")
    refused(vote(backers[2], claim["id"], {"approve": False, "reason": 5}), 400, "reason_required")
    assert books() == before


def test_a_decided_claim_takes_no_more_votes_and_the_awarded_fund_no_more_claims(
    fund, backers, claimant, claim
):
    vote(backers[2], claim["id"], {"approve": True})
    before = books()
    refused(vote(backers[1], claim["id"], {"approve": True}), 409, "claim_closed")
    refused(submit(claimant, fund), 409, "fund_not_open")
    assert books() == before


def test_a_fund_without_other_backers_takes_no_claim(fund, claimant):
    refused(submit(claimant, fund), 409, "no_backers")
    pledge(claimant, fund, 1_000)  # the claimant's own money carries no weight
    refused(submit(claimant, fund), 409, "no_backers")
    assert not Claim.objects.exists()


@pytest.mark.parametrize(
    "co_claimants",
    [
        pytest.param([{"username": "nobody-here", "share_bp": 1_000}], id="unknown-username"),
        pytest.param([{"username": "partner", "share_bp": 10_000}], id="nothing-left"),
        pytest.param([{"username": "partner", "share_bp": 0}], id="zero-share"),
        pytest.param([{"username": "partner", "share_bp": "1000"}], id="string-share"),
        pytest.param([{"username": "partner", "share_bp": 10.5}], id="fraction-share"),
        pytest.param([{"username": "partner", "share_bp": True}], id="boolean-share"),
        pytest.param([{"username": "partner"}], id="missing-share"),
        pytest.param([{"share_bp": 100}], id="missing-username"),
        pytest.param(
            [{"username": "partner", "share_bp": 100}, {"username": "PARTNER", "share_bp": 100}], id="twice"
        ),
        pytest.param(
            [{"username": "partner", "share_bp": 5_000}, {"username": "claimant", "share_bp": 4_000}],
            id="listed-self-not-10000",
        ),
        pytest.param("partner", id="not-a-list"),
        pytest.param(["partner"], id="not-objects"),
    ],
)
def test_bad_co_claimants_are_shares_invalid(fund, backers, claimant, co_claimants):
    UserFactory(username="partner")
    before = books()
    refused(submit(claimant, fund, co_claimants=co_claimants), 400, "shares_invalid")
    assert books() == before


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"statement": ""}, id="blank-statement"),
        pytest.param({"statement": "   "}, id="whitespace-statement"),
        pytest.param({"url": ""}, id="blank-url"),
        pytest.param({"url": "ftp://example.com/work"}, id="not-a-web-address"),
        pytest.param({"url": "https://example.com/" + "a" * 500}, id="url-too-long"),
        pytest.param({"statement": "x" * 10_001}, id="statement-too-long"),
        pytest.param({"statement": 5}, id="statement-not-a-string"),
        pytest.param({"statement": "nul \x00 byte"}, id="nul-byte"),
    ],
)
def test_a_claim_needs_a_statement_and_a_link(fund, backers, claimant, fields):
    before = books()
    refused(submit(claimant, fund, **fields), 400, "invalid_claim")
    assert books() == before


def test_missing_fields_and_non_objects_are_400s_with_a_code(fund, backers, claimant):
    client = client_for(claimant)
    refused(client.post(f"/api/v1/funds/{fund.pk}/claims/", {}, format="json"), 400, "invalid_claim")
    refused(client.post(f"/api/v1/funds/{fund.pk}/claims/", [1, 2], format="json"), 400, "invalid_request")
    response = client.post(f"/api/v1/funds/{fund.pk}/claims/", "{", content_type="application/json")
    assert_error(response, 400, "invalid_json")
    assert not Claim.objects.exists()


def test_withdrawals_freeze_while_a_claim_is_under_vote(fund, claimant):
    people = [UserFactory(username=name) for name in ("ten", "ninety")]
    pledge_ids = [pledge(person, fund, cents) for person, cents in zip(people, (1_000, 9_000), strict=True)]
    assert submit(claimant, fund).status_code == 201
    before = books()

    response = client_for(people[0]).delete(f"/api/v1/pledges/{pledge_ids[0]}/")

    refused(response, 409, "withdraw_frozen")
    assert books() == before


def test_unknown_and_private_claims_and_funds_are_404s(fund, make_fund, backers, claimant, claim):
    private = make_fund(title="Members only")
    PageViewRestriction.objects.create(page=private, restriction_type=PageViewRestriction.LOGIN)
    anyone = client_for()

    refused(anyone.get("/api/v1/claims/999999/"), 404, "not_found")
    refused(anyone.get(f"/api/v1/funds/{private.pk}/claims/"), 404, "not_found")
    refused(anyone.get("/api/v1/funds/999999/claims/"), 404, "not_found")
    refused(submit(claimant, private), 404, "not_found")
    refused(vote(backers[2], 999999, {"approve": True}), 404, "not_found")
    refused(client_for(claimant).delete("/api/v1/claims/999999/"), 404, "not_found")

    # A claim whose fund has since been restricted is not public any more.
    PageViewRestriction.objects.create(page=fund, restriction_type=PageViewRestriction.LOGIN)
    refused(anyone.get(f"/api/v1/claims/{claim['id']}/"), 404, "not_found")
    refused(vote(backers[2], claim["id"], {"approve": True}), 404, "not_found")


# --- Settlement choices ----------------------------------------------------------------------------


def test_a_backer_chooses_where_their_pledge_goes_if_nobody_wins(fund, make_fund, user):
    other = make_fund(title="Another audit")
    pledge_id = pledge(user, fund, 2_000)
    client = client_for(user)
    url = f"/api/v1/pledges/{pledge_id}/settlement/"

    response = client.put(url, {"choice": "card"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["fund"], body["choice"], body["chosen"]) == (pledge_id, fund.pk, "card", True)
    assert (body["default_choice"], body["settlement_fund"], body["status"]) == ("wallet", None, "active")

    response = client.put(url, {"choice": "fund", "fund": other.pk}, format="json")
    assert response.status_code == 200
    assert (response.json()["choice"], response.json()["settlement_fund"]) == ("fund", other.pk)
    assert Pledge.objects.get(pk=pledge_id).settlement_fund_id == other.pk


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"choice": "beneficiary"}, 409, id="no-beneficiary-in-the-terms"),
        pytest.param({"choice": "fund"}, 409, id="fund-without-a-fund"),
        pytest.param({"choice": "fund", "fund": 999999}, 409, id="unknown-fund"),
        pytest.param({"choice": "lottery"}, 400, id="not-a-choice"),
        pytest.param({}, 400, id="missing"),
        pytest.param({"choice": "fund", "fund": "12"}, 400, id="fund-id-a-string"),
        pytest.param({"choice": "fund", "fund": 2**40}, 400, id="fund-id-too-large"),
    ],
)
def test_a_settlement_choice_that_cannot_be_used_is_refused(fund, user, body, status):
    pledge_id = pledge(user, fund, 2_000)
    code = "invalid_request" if "fund" in body and not isinstance(body["fund"], int) else "settlement_invalid"
    code = "invalid_request" if body.get("fund") == 2**40 else code

    response = client_for(user).put(f"/api/v1/pledges/{pledge_id}/settlement/", body, format="json")

    refused(response, status, code)
    assert Pledge.objects.get(pk=pledge_id).settlement_choice == ""


def test_another_backers_pledge_is_a_404(fund, user):
    pledge_id = pledge(user, fund, 2_000)
    response = client_for(UserFactory(username="mallory")).put(
        f"/api/v1/pledges/{pledge_id}/settlement/", {"choice": "card"}, format="json"
    )
    refused(response, 404, "not_found")


# --- Cash-outs ---------------------------------------------------------------------------------------


def test_a_cashout_goes_back_to_the_card_once_per_key(user):
    top_up(user, 3_000)
    top_up(user, 2_000)

    # $35 back: all of the newer $20 payment, then $15 of the older one.
    response = cash_out(user, {"amount_cents": 3_500}, key="back-to-card")
    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    body = response.json()
    assert body["amount_cents"] == 3_500
    assert [(r["amount_cents"], r["status"]) for r in body["refunds"]] == [
        (2_000, "succeeded"),
        (1_500, "succeeded"),
    ]
    assert "$20 was sent back to the card" in body["message"]
    assert wallet_for(user).balance == 1_500

    # The same key again: the same answer, and nothing more moves.
    transfers = Transfer.objects.count()
    again = cash_out(user, {"amount_cents": 3_500}, key="back-to-card")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == body
    assert (wallet_for(user).balance, Transfer.objects.count(), Cashout.objects.count()) == (
        1_500,
        transfers,
        1,
    )

    # The same key for another amount is refused.
    refused(cash_out(user, {"amount_cents": 100}, key="back-to-card"), 422, "idempotency_mismatch")
    assert ledger_violations() == []


def test_cashout_refusals(user):
    top_up(user, 1_000)
    before = books()
    refused(cash_out(user, {"amount_cents": 1_001}), 402, "insufficient_funds")
    assert_error(cash_out(user, {"amount_cents": 100}, key=None), 400, "idempotency_key_required")
    for amount in (0, -5, "100", 10.5, True, None):
        refused(cash_out(user, {"amount_cents": amount}), 400, "invalid_amount")
    refused(cash_out(user, {}), 400, "invalid_amount")
    assert books() == before


def test_award_money_cannot_go_back_to_a_card(fund, backers, claimant, claim):
    vote(backers[2], claim["id"], {"approve": True})
    refused(cash_out(claimant, {"amount_cents": 100}), 402, "insufficient_funds")  # the wallet is empty


# --- Payouts -----------------------------------------------------------------------------------------


def test_an_award_is_held_then_paid_out_once_per_key(fund, backers, claimant, claim, settings):
    vote(backers[2], claim["id"], {"approve": True})
    before = books()

    # Straight after the award: inside the hold against card disputes.
    error = refused(pay_out(claimant, {"amount_cents": 10_000}), 409, "payout_on_hold")
    assert error["details"]["available_cents"] == 0
    refused(pay_out(claimant, {"amount_cents": 10_001}), 402, "insufficient_payout")
    refused(pay_out(claimant, {"amount_cents": "100"}), 400, "invalid_amount")
    assert_error(pay_out(claimant, {"amount_cents": 100}, key=None), 400, "idempotency_key_required")
    assert books() == before

    # Once the hold is over (no hold days: the award is already past it).
    settings.PAYOUT_HOLD_DAYS = 0
    assert client_for(claimant).get("/api/v1/wallet/").json()["payout_available_cents"] == 10_000
    response = pay_out(claimant, {"amount_cents": 4_000}, key="first")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount_cents"], body["status"], body["method"]) == (4_000, "requested", "manual")
    assert "Finance" in body["message"]
    assert client_for(claimant).get("/api/v1/wallet/").json()["payout_cents"] == 6_000

    again = pay_out(claimant, {"amount_cents": 4_000}, key="first")
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == body
    assert Payout.objects.count() == 1
    refused(pay_out(claimant, {"amount_cents": 1_000}, key="first"), 422, "idempotency_mismatch")
    assert ledger_violations() == []


# --- Signing in --------------------------------------------------------------------------------------


def test_anonymous_writes_are_401_in_the_error_shape(fund, backers, claim):
    pledge_id = Pledge.objects.filter(user=backers[0]).values_list("pk", flat=True).get()
    anyone = client_for()
    before = books()
    responses = [
        anyone.post(f"/api/v1/funds/{fund.pk}/claims/", {"statement": "x", "url": WORK}, format="json"),
        anyone.post(f"/api/v1/claims/{claim['id']}/vote/", {"approve": True}, format="json"),
        anyone.delete(f"/api/v1/claims/{claim['id']}/"),
        anyone.put(f"/api/v1/pledges/{pledge_id}/settlement/", {"choice": "card"}, format="json"),
        anyone.post(
            "/api/v1/wallet/cashouts/", {"amount_cents": 100}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        ),
        anyone.post("/api/v1/payouts/", {"amount_cents": 100}, format="json", HTTP_IDEMPOTENCY_KEY="k"),
    ]
    for response in responses:
        assert_error(response, 401, "not_authenticated")
    assert books() == before
    assert client_for().get(f"/api/v1/claims/{claim['id']}/").status_code == 200


# --- Hostile ids and the schema ------------------------------------------------------------------------

HUGE = 2**63  # past PostgreSQL's bigint: must be a 404, never a database error


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/v1/claims/{HUGE}/", None),
        ("get", f"/api/v1/funds/{HUGE}/claims/", None),
        ("post", f"/api/v1/funds/{HUGE}/claims/", {"statement": "x", "url": WORK}),
        ("post", f"/api/v1/claims/{HUGE}/vote/", {"approve": True}),
        ("delete", f"/api/v1/claims/{HUGE}/", None),
        ("put", f"/api/v1/pledges/{HUGE}/settlement/", {"choice": "card"}),
    ],
)
def test_ids_past_bigint_are_404s(user, method, path, body):
    response = getattr(client_for(user), method)(path, body, format="json")
    refused(response, 404, "not_found")


def test_the_schema_documents_each_operation_with_its_refusals():
    schema = client_for().get("/api/v1/schema/?format=json").json()
    operations = {
        ("post", "/api/v1/funds/{id}/claims/"): {"201", "400", "401", "404", "409"},
        ("get", "/api/v1/funds/{id}/claims/"): {"200", "404"},
        ("get", "/api/v1/claims/{id}/"): {"200", "404"},
        ("delete", "/api/v1/claims/{id}/"): {"200", "401", "404", "409"},
        ("post", "/api/v1/claims/{id}/vote/"): {"200", "400", "401", "403", "404", "409"},
        ("put", "/api/v1/pledges/{id}/settlement/"): {"200", "400", "401", "404", "409"},
        ("post", "/api/v1/wallet/cashouts/"): {"201", "400", "401", "402", "409", "422"},
        ("post", "/api/v1/payouts/"): {"201", "400", "401", "402", "409", "422"},
    }
    for (method, path), statuses in operations.items():
        operation = schema["paths"][path][method]
        assert statuses <= set(operation["responses"]), (method, path)
    for path in ("/api/v1/wallet/cashouts/", "/api/v1/payouts/"):
        header = next(p for p in schema["paths"][path]["post"]["parameters"] if p["in"] == "header")
        assert (header["name"], header["required"]) == ("Idempotency-Key", True)
    wallet = schema["components"]["schemas"]["Wallet"]["properties"]
    assert {"payout_cents", "payout_available_cents"} <= set(wallet)
