"""The claim cycle's pages, request by request: claims, votes, settlement choices, cash-outs, payouts.

Each test says what the page shows and what money moved (or did not).
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects
from wagtail.documents.models import Document

from bounties.models import (
    Cashout,
    Claim,
    ClaimStatus,
    ConnectedAccount,
    Deposit,
    Fund,
    FundPage,
    FundStatus,
    Payout,
    Pledge,
    PledgeStatus,
    RefundStatus,
    SettlementChoice,
    Vote,
)
from bounties.payments.local_gateway import REFUND_FAILS_SUFFIX
from bounties.selectors import balances
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.ledger import ledger_violations, wallet_for
from bounties.services.terms import terms_record
from tests.factories import UserFactory
from tests.fakes.stripe_server import site_on_fake_stripe
from tests.money import back, top_up

pytestmark = pytest.mark.django_db

WORK = "https://example.com/audit-report.pdf"


def redirects(response, url):
    assertRedirects(response, url, fetch_redirect_response=False)


def hidden_key(response):
    return re.search(r'name="key" value="([0-9a-f-]{36})"', response.content.decode()).group(1)


@pytest.fixture
def people(fund):
    """Backers of $30 and $70, and a claimant who backed nothing."""
    thirty, seventy, claimant = (UserFactory(username=name) for name in ("thirty", "seventy", "claimant"))
    back(thirty, fund, 3_000)
    back(seventy, fund, 7_000)
    return thirty, seventy, claimant


@pytest.fixture
def claim(fund, people):
    return claim_submit(user=people[2], fund_id=fund.pk, statement="I audited it.", url=WORK)


# --- Claiming -------------------------------------------------------------------------------------


def test_the_fund_page_links_to_the_claim_form_which_signed_in_readers_get(client, fund, people):
    # The fund page is the same for every reader (it is cached): a link, no form, no token.
    response = client.get(fund.url)
    assertContains(response, f'href="/funds/{fund.pk}/claim/">Claim this bounty</a>')
    assertNotContains(response, 'class="form claim-form"')
    assertContains(response, "No claims yet.")

    client.force_login(people[2])
    assertNotContains(client.get(fund.url), 'class="form claim-form"')
    response = client.get(f"/funds/{fund.pk}/claim/")
    assertContains(response, 'class="form claim-form"')
    assertContains(response, "csrfmiddlewaretoken")


def test_the_claim_form_opens_a_claim_with_co_claimants(client, fund, people):
    thirty, seventy, claimant = people
    UserFactory(username="bob")
    client.force_login(claimant)
    response = client.post(
        f"/funds/{fund.pk}/claim/",
        {"statement": "I audited it.", "url": WORK, "co_claimants": "bob 25%\n"},
    )
    claim = Claim.objects.get(fund_id=fund.pk)
    redirects(response, f"/claims/{claim.pk}/")
    assert claim.status == ClaimStatus.VOTING
    assert claim.eligible_cents == 10_000
    assert sorted(claim.claimants.values_list("user__username", "share_bp")) == [
        ("bob", 2_500),
        ("claimant", 7_500),
    ]
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.VOTING

    # The fund page lists it and links to it; the pledge form says the vote is on.
    page = client.get(fund.url)
    assertContains(page, f'href="/claims/{claim.pk}/"')
    assertContains(page, "Under vote")
    assertContains(page, "this pledge too, is paid to the claimants")
    assertContains(page, "claimant submitted")  # the timeline


def test_a_claim_may_carry_a_document(client, fund, people):
    client.force_login(people[2])
    report = SimpleUploadedFile("report.pdf", b"%PDF-1.4 the audit", content_type="application/pdf")
    response = client.post(
        f"/funds/{fund.pk}/claim/", {"statement": "Done.", "url": WORK, "document": report}
    )
    claim = Claim.objects.select_related("document").get(fund_id=fund.pk)
    assert claim.document.title == "Evidence for a claim on Audit TrueCrypt"
    assertContains(client.get(response.url), claim.document.url)

    # A refused claim keeps no document; a file type Wagtail does not take is a form error.
    script = SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")
    response = client.post(
        f"/funds/{fund.pk}/claim/", {"statement": "Done.", "url": WORK, "document": script}
    )
    assertContains(response, "File extension “exe” is not allowed", status_code=400)
    again = SimpleUploadedFile("report.pdf", b"%PDF-1.4 again", content_type="application/pdf")
    data = {"statement": "Done.", "url": WORK, "document": again, "co_claimants": "nobody 10%"}
    response = client.post(f"/funds/{fund.pk}/claim/", data)
    assertContains(response, "There is no registered user called “nobody”. No money moved.", status_code=400)
    assert Document.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"statement": "", "url": WORK}, "Describe the work and give a link to it."),
        ({"statement": "Done.", "url": "not a link"}, "Enter a web address"),
        ({"statement": "Done.", "url": WORK, "co_claimants": "bob lots"}, "is not a username and a share"),
        ({"statement": "Done.", "url": WORK, "co_claimants": "nobody 10%"}, "no registered user called"),
        ({"statement": "Done.", "url": WORK, "co_claimants": "bob 100%"}, "less than 100%"),
    ],
)
def test_bad_claims_are_form_errors(client, fund, people, data, words):
    UserFactory(username="bob")
    client.force_login(people[2])
    response = client.post(f"/funds/{fund.pk}/claim/", data)
    assert response.status_code == 400
    assertContains(response, words, status_code=400)
    assert not Claim.objects.exists()


def test_a_fund_without_other_backers_refuses_the_claim_in_words(client, fund):
    lonely = UserFactory(username="lonely")
    back(lonely, fund, 1_000)
    client.force_login(lonely)
    response = client.post(f"/funds/{fund.pk}/claim/", {"statement": "Mine.", "url": WORK})
    assertContains(response, "has no backers other than the claimants", status_code=409)
    assertContains(response, "No money moved.", status_code=409)
    assert not Claim.objects.exists()


def test_anonymous_readers_are_sent_to_log_in(client, fund, claim):
    redirects(client.get(f"/funds/{fund.pk}/claim/"), f"/accounts/login/?next=/funds/{fund.pk}/claim/")
    redirects(client.post(f"/funds/{fund.pk}/claim/", {}), f"/accounts/login/?next={fund.url}")
    redirects(client.post(f"/claims/{claim.pk}/vote/", {}), f"/accounts/login/?next=/claims/{claim.pk}/")
    redirects(client.post(f"/claims/{claim.pk}/withdraw/"), f"/accounts/login/?next=/claims/{claim.pk}/")
    redirects(client.get("/wallet/payouts/"), "/accounts/login/?next=/wallet/payouts/")
    redirects(client.get("/wallet/cashout/"), "/accounts/login/?next=/wallet/cashout/")
    redirects(client.post("/pledges/1/settlement/", {}), "/accounts/login/?next=/pledges/")
    assert not Vote.objects.exists()


# --- The claim page and votes -------------------------------------------------------------------------


def test_the_claim_page_shows_the_tally_to_all_and_the_vote_form_only_to_backers(client, claim, people):
    thirty, seventy, claimant = people
    response = client.get(f"/claims/{claim.pk}/")
    assertContains(response, "I audited it.")
    assertContains(response, WORK)
    assertContains(response, "claimant: 100%")
    assertContains(response, "of $100 that can vote")
    assertContains(response, 'class="tally__mark tally__mark--half"')
    # The quorum mark sits at the claim's 10 % of the bar and says what must vote: $10 of $100.
    assertContains(response, 'class="tally__mark tally__mark--quorum" style="left: 10%" title="Quorum"')
    assertContains(response, "Quorum mark at 10 %: $10 must vote.")
    assertContains(response, "left</span> to vote")
    assertNotContains(response, 'class="form vote-form"')
    assertContains(response, "Log in</a> to vote")

    client.force_login(claimant)
    response = client.get(f"/claims/{claim.pk}/")
    assertNotContains(response, 'class="form vote-form"')
    assertContains(response, "so you cannot vote on it")
    assertContains(response, "Withdraw this claim")

    client.force_login(UserFactory(username="stranger"))
    response = client.get(f"/claims/{claim.pk}/")
    assertNotContains(response, 'class="form vote-form"')
    assertContains(response, "you had none then")

    client.force_login(thirty)
    response = client.get(f"/claims/{claim.pk}/")
    assertContains(response, 'class="form vote-form"')
    assertContains(response, "Your vote weighs $30")
    assertNotContains(response, "Withdraw this claim")


def test_a_reject_without_a_reason_is_a_form_error(client, claim, people):
    client.force_login(people[0])
    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "reject", "reason": "  "})
    assertContains(response, "Say why you reject this claim", status_code=400)
    assert not Vote.objects.exists()
    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "maybe"})
    assertContains(response, "Select a valid choice", status_code=400)


def test_a_vote_is_recorded_and_can_be_changed(client, claim, people):
    thirty = people[0]
    client.force_login(thirty)
    response = client.post(
        f"/claims/{claim.pk}/vote/", {"decision": "reject", "reason": "The report is empty."}
    )
    redirects(response, f"/claims/{claim.pk}/")
    page = client.get(response.url)
    assertContains(page, "Your vote is recorded as reject, with the $30 you had in the fund as its weight.")
    assertContains(page, "You voted to <strong>reject</strong>")
    assertContains(page, "The report is empty.")  # the reason, in the timeline
    assertContains(page, "Change my vote")

    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "approve", "reason": ""})
    page = client.get(response.url)
    assertContains(page, "Your vote is changed to approve")
    vote = Vote.objects.get(claim=claim, user=thirty)
    assert (vote.approve, vote.weight_cents) == (True, 3_000)
    claim.refresh_from_db()
    assert (claim.approve_cents, claim.reject_cents, claim.status) == (3_000, 0, ClaimStatus.VOTING)


def test_a_deciding_vote_says_so_and_the_fund_page_shows_the_outcome(client, fund, claim, people):
    thirty, seventy, claimant = people
    client.force_login(seventy)
    page = client.get(client.post(f"/claims/{claim.pk}/vote/", {"decision": "approve"}).url)
    assertContains(page, "That decided it: the claim is accepted")
    assertNotContains(page, 'class="form vote-form"')  # decided: no more votes
    assertContains(page, "The escrow of $100 was paid out to the winners: $100 to claimant.")
    assert balances(user=claimant).payout_cents == 10_000

    fund_page = client.get(fund.url)
    assertContains(fund_page, "The escrow was paid to claimant (100%).")
    assertContains(fund_page, "Awarded")

    # A late vote on the decided claim is refused in words, with the page as it is now.
    client.force_login(thirty)
    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "approve"})
    assertContains(response, "voting on it has ended. No money moved.", status_code=409)
    assert ledger_violations() == []


def test_a_non_backer_voting_is_refused_in_words(client, claim):
    client.force_login(UserFactory(username="stranger"))
    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "approve"})
    assert response.status_code == 403
    assert not Vote.objects.exists()


def test_the_submitter_withdraws_the_claim(client, fund, claim, people):
    client.force_login(people[0])  # not theirs: refused
    page = client.get(client.post(f"/claims/{claim.pk}/withdraw/").url)
    assertContains(page, "There is no such claim of yours. No money moved.")
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.VOTING

    client.force_login(people[2])
    page = client.get(client.post(f"/claims/{claim.pk}/withdraw/").url)
    assertContains(page, "You withdrew your claim. No money moved")
    assertContains(page, "Withdrawn by the claimant")
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.WITHDRAWN
    assert Fund.objects.get(pk=fund.pk).status == FundStatus.OPEN


def test_an_unknown_claim_is_a_404(client, db):
    assert client.get("/claims/999999/").status_code == 404


# --- Pledge receipts and settlement choices ---------------------------------------------------------


def test_the_receipt_shows_the_terms_and_saves_a_settlement_choice(client, fund, make_fund, people):
    thirty = people[0]
    other = make_fund(title="Fix the bridge", slug="fix-the-bridge")
    pledge = Pledge.objects.get(user=thirty)
    client.force_login(thirty)
    receipt = client.get(f"/pledges/{pledge.pk}/")
    assertContains(receipt, "Escrow until")
    assertContains(receipt, "Refunded to you")
    assertContains(receipt, "Back to my wallet (the default)")
    assertContains(receipt, "Fix the bridge")

    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "card"})
    redirects(response, f"/pledges/{pledge.pk}/")
    assertContains(
        client.get(response.url), "Saved: if nobody wins, this pledge goes back to my card. No money moved"
    )
    assert Pledge.objects.get(pk=pledge.pk).settlement_choice == SettlementChoice.CARD

    # Another fund needs one named; a beneficiary is not on offer when the terms name none.
    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "fund"})
    assertContains(response, "Choose the fund to pledge this money to.", status_code=400)
    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "beneficiary"})
    assertContains(response, "That choice is not open to this pledge.", status_code=400)
    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "fund", "fund": str(other.pk)})
    assertContains(client.get(response.url), "pledged to Fix the bridge")
    assert Pledge.objects.get(pk=pledge.pk).settlement_fund_id == other.pk

    listing = client.get("/pledges/")
    assertContains(listing, "Pledged to another open fund")


def test_no_withdraw_button_while_a_claim_is_under_vote(client, fund, claim, people):
    pledge = Pledge.objects.get(user=people[0])
    client.force_login(people[0])
    receipt = client.get(f"/pledges/{pledge.pk}/")
    assertNotContains(receipt, f'action="/pledges/{pledge.pk}/withdraw/"')
    assertContains(receipt, "cannot be withdrawn until the vote is decided")
    listing = client.get("/pledges/")
    assertNotContains(listing, f'action="/pledges/{pledge.pk}/withdraw/"')
    assertContains(listing, "Cannot be withdrawn while a claim is under vote")


def test_a_settled_pledge_offers_no_choice(client, fund, people):
    pledge = Pledge.objects.get(user=people[0])
    Pledge.objects.filter(pk=pledge.pk).update(status=PledgeStatus.REFUNDED, settled_at=timezone.now())
    client.force_login(people[0])
    assertNotContains(client.get(f"/pledges/{pledge.pk}/"), "settlement-form")
    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "card"})
    assertContains(response, "it is already settled. No money moved.", status_code=409)


# --- Cash-outs ------------------------------------------------------------------------------------


def test_the_wallet_sends_money_back_to_the_card_and_says_so(client, user):
    top_up(user, 5_000)
    client.force_login(user)
    wallet = client.get("/wallet/")
    assertContains(wallet, "Send back to my card")
    response = client.post("/wallet/cashout/", {"amount": "20", "key": hidden_key(wallet)})
    redirects(response, "/wallet/")
    page = client.get("/wallet/")
    assertContains(page, "$20 was sent back to the card you added $50 with")
    assert wallet_for(user).balance == 3_000
    cashout = Cashout.objects.get(user=user)
    assert list(cashout.refunds.values_list("status", flat=True)) == [RefundStatus.SUCCEEDED]
    assert ledger_violations() == []


def test_a_failed_card_refund_says_the_money_is_back_in_the_wallet(client, user):
    deposit = top_up(user, 2_000)
    Deposit.objects.filter(pk=deposit.pk).update(
        payment_reference=deposit.payment_reference + REFUND_FAILS_SUFFIX
    )
    client.force_login(user)
    response = client.post("/wallet/cashout/", {"amount": "20", "key": str(uuid.uuid4())})
    redirects(response, "/wallet/")
    page = client.get("/wallet/")
    assertContains(page, "Your card refund of $20 failed")
    assertContains(page, "the money is back in your wallet.")
    assertContains(page, "message--warning")
    assert wallet_for(user).balance == 2_000
    assert ledger_violations() == []


def test_cash_out_refusals_are_form_errors(client, user):
    top_up(user, 1_000)
    client.force_login(user)
    key = hidden_key(client.get("/wallet/cashout/"))
    response = client.post("/wallet/cashout/", {"amount": "abc", "key": key})
    assertContains(response, "Enter an amount in dollars", status_code=400)
    response = client.post("/wallet/cashout/", {"amount": "50", "key": key})
    assert response.status_code == 402
    assertContains(response, "No money moved.", status_code=402)
    assert wallet_for(user).balance == 1_000
    assert not Cashout.objects.exists()


# --- Payouts ------------------------------------------------------------------------------------


def test_the_winner_sees_the_payout_balance_and_the_hold(client, fund, claim, people, settings):
    thirty, seventy, claimant = people
    vote_cast(user=seventy, claim_id=claim.pk, approve=True)
    client.force_login(claimant)
    wallet = client.get("/wallet/")
    assertContains(wallet, 'class="wallet__payout-amount">$100<')
    assertContains(wallet, 'class="wallet__payout-available">$0<')

    page = client.get("/wallet/payouts/")
    assertContains(page, 'class="payouts__amount">$100<')
    response = client.post("/wallet/payouts/", {"amount": "100", "key": hidden_key(page)})
    assertContains(response, "can be paid out now", status_code=409)
    assertContains(response, "No money moved.", status_code=409)
    assert not Payout.objects.exists()


def test_a_payout_is_requested_after_the_hold(client, fund, claim, people, settings):
    settings.PAYOUT_HOLD_DAYS = 0
    settings.PAYOUT_METHOD = "manual"
    thirty, seventy, claimant = people
    vote_cast(user=seventy, claim_id=claim.pk, approve=True)
    client.force_login(claimant)
    page = client.get("/wallet/payouts/")
    response = client.post("/wallet/payouts/", {"amount": "40", "key": hidden_key(page)})
    redirects(response, "/wallet/payouts/")
    page = client.get("/wallet/payouts/")
    assertContains(page, "$40 left your payout balance; our finance team pays it out")
    assertContains(page, 'class="payouts__amount">$60<')
    assertContains(page, 'class="payout-row__status">Requested')
    assert Payout.objects.get(user=claimant).amount_cents == 4_000

    response = client.post("/wallet/payouts/", {"amount": "1,000", "key": hidden_key(page)})
    assertContains(
        response, "Your payout balance is $60; you asked for $1,000. No money moved.", status_code=402
    )
    assert ledger_violations() == []


def test_the_payout_page_with_nothing_to_pay_out(client, user):
    client.force_login(user)
    page = client.get("/wallet/payouts/")
    assertContains(page, "Nothing to pay out yet")
    assertNotContains(client.get("/wallet/"), "wallet__payout-amount")


def test_a_claim_escrow_date_passed_refuses_claims(client, fund, people):
    fund.escrow_until = timezone.now() - timedelta(minutes=1)
    fund.pledge_deadline = fund.escrow_until - timedelta(days=1)
    fund.save()
    client.force_login(people[2])
    assertNotContains(client.get(fund.url), "Claim this bounty")
    assertContains(client.get(f"/funds/{fund.pk}/claim/"), "This fund takes no claims now.")
    response = client.post(f"/funds/{fund.pk}/claim/", {"statement": "Late.", "url": WORK})
    assertContains(response, "escrow date has passed", status_code=409)


def test_the_fund_page_lists_its_dated_terms_and_timeline(client, fund, claim, people):
    terms_record(fund)
    FundPage.objects.filter(pk=fund.pk).update(quorum_percent=50)
    terms_record(FundPage.objects.get(pk=fund.pk))
    vote_cast(user=people[0], claim_id=claim.pk, approve=False, reason="Too thin.")
    page = client.get(fund.url)
    terms = re.search(r'<table class="ledger terms-history">.*?</table>', page.content.decode(), re.S).group(
        0
    )
    assert terms.count("<tr>") == 3  # the heading and two dated rows
    assert "10% quorum" in terms and "50% quorum" in terms
    assertContains(page, "thirty voted to <strong")
    assertContains(page, "Too thin.")


def test_a_closed_window_offers_no_vote_form(client, claim, people):
    Claim.objects.filter(pk=claim.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    client.force_login(people[0])
    page = client.get(f"/claims/{claim.pk}/")
    assertNotContains(page, 'class="form vote-form"')
    assertContains(page, "Voting has closed; the result is being counted.")


def test_odd_input_is_a_form_error_or_a_404_never_a_500(client, fund, claim, people):
    huge = "9" * 30
    assert client.get(f"/claims/{huge}/").status_code == 404
    client.force_login(people[0])
    assert client.post(f"/claims/{huge}/vote/", {"decision": "approve"}).status_code == 404
    assert client.post(f"/pledges/{huge}/settlement/", {"choice": "card"}).status_code == 404
    assert client.post(f"/funds/{huge}/claim/", {}).status_code == 404
    response = client.post(f"/claims/{claim.pk}/vote/", {"decision": "reject", "reason": "x\x00y"})
    assert response.status_code == 400
    pledge = Pledge.objects.get(user=people[0])
    response = client.post(f"/pledges/{pledge.pk}/settlement/", {"choice": "fund", "fund": huge})
    assertContains(response, "Choose one of the open funds listed.", status_code=400)
    response = client.post(
        f"/funds/{fund.pk}/claim/", {"statement": "x\x00", "url": WORK, "co_claimants": "a\x00 5%"}
    )
    assert response.status_code == 400
    response = client.post("/wallet/payouts/", {"amount": "1e9", "key": str(uuid.uuid4())})
    assertContains(response, "Enter an amount in dollars", status_code=400)


@pytest.fixture
def fake_stripe(settings):
    """A running fake Stripe, with payouts going by Stripe; the library's globals restored after."""
    with site_on_fake_stripe(settings, payouts=True, retries=0) as fake:
        yield fake


def test_a_winner_sets_up_a_stripe_payout_account_from_the_payout_page(client, user, fake_stripe):
    client.force_login(user)
    assertContains(client.get("/wallet/payouts/"), "Set up my payout account")

    # Stripe cannot be reached: said in words, and nothing was created.
    fake_stripe.fail_next(500, path="/v1/accounts")
    page = client.get(client.post("/wallet/payouts/connect/").url)
    assertContains(page, "We could not reach Stripe to set up your payout account")
    assert not ConnectedAccount.objects.exists()

    response = client.post("/wallet/payouts/connect/")
    (link,) = fake_stripe.posts("/v1/account_links")
    assert response.status_code == 302 and response.url == link.response["url"]
    assert link.params["return_url"] == "http://testserver/wallet/payouts/?stripe=return"
    assertContains(client.get("/wallet/payouts/"), "Stripe still needs some details from you.")

    # Back from Stripe with the onboarding done: the page reads the account again.
    fake_stripe.complete_onboarding(ConnectedAccount.objects.get(user=user).stripe_account_id)
    page = client.get("/wallet/payouts/?stripe=return")
    assertNotContains(page, "/wallet/payouts/connect/")
    assertNotContains(page, "Stripe still needs")
    assert ConnectedAccount.objects.get(user=user).payouts_enabled is True
