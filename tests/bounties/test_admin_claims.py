"""Staff read claims in the admin: listing, filters, and each claim's tally, votes and timeline; nothing editable."""

import pytest
from django.urls import NoReverseMatch, reverse

from bounties.models import RefundStatus
from bounties.payments.local_gateway import REFUND_FAILS_CARD, SUCCESS_CARD, LocalGateway
from bounties.services.cashouts import cashout_create, refunds_send
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.deposits import deposit_create
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(fund):
    backers = [UserFactory(username=name) for name in ("ten", "thirty", "sixty")]
    for i, (person, cents) in enumerate(zip(backers, (1_000, 3_000, 6_000), strict=True)):
        top_up(person, cents)
        pledge_create(user=person, fund_id=fund.pk, amount_cents=cents, key=f"k{i}")
    claimant = UserFactory(username="quinn")
    claim = claim_submit(
        user=claimant, fund_id=fund.pk, statement="I audited it.", url="https://example.com/r"
    )
    vote_cast(user=backers[1], claim_id=claim.pk, approve=False, reason="Appendix B is missing.")
    vote_cast(user=backers[0], claim_id=claim.pk, approve=True)
    return claim


def test_claims_list_with_their_tally_and_filter_by_status(admin_client, claim):
    listing = admin_client.get(reverse("money_claims:index")).content.decode()
    assert "quinn" in listing and "Audit TrueCrypt" in listing
    assert "$100" in listing and "$30" in listing and "$10" in listing  # eligible, reject, approve

    decided = admin_client.get(reverse("money_claims:index"), {"status": "accepted"}).content.decode()
    assert "quinn" not in decided


def test_a_claim_shows_its_votes_reasons_and_timeline(admin_client, claim):
    page = admin_client.get(reverse("money_claims:inspect", args=(claim.pk,))).content.decode()
    assert "Appendix B is missing." in page
    assert "thirty" in page and "ten" in page
    assert "Claim submitted" in page and "Quorum $10" in page


def test_claims_cannot_be_edited_or_deleted_from_the_admin(admin_client, claim):
    for name in ("add", "edit", "delete"):
        with pytest.raises(NoReverseMatch):
            reverse(f"money_claims:{name}", args=() if name == "add" else (claim.pk,))


def test_editors_without_the_permission_do_not_see_claims(client, claim):
    editor = UserFactory(username="editor", is_staff=True)
    client.force_login(editor)
    response = client.get(reverse("money_claims:index"))
    assert response.status_code in (302, 403)


def refunded(username, card):
    """A user pays $25 by card on the local gateway and cashes $10 of it out: the refund, sent."""
    user = UserFactory(username=username)
    deposit = deposit_create(user=user, amount_cents=2_500, gateway="local")
    LocalGateway().pay(deposit, card)
    (refund,) = refunds_send(cashout_create(user=user, amount_cents=1_000, key="back").cashout.pk)
    return refund


def test_the_card_refunds_filter_lists_the_failed_ones(admin_client, db):
    failed = refunded("fay", REFUND_FAILS_CARD)
    succeeded = refunded("sam", SUCCESS_CARD)
    assert (failed.status, succeeded.status) == (RefundStatus.FAILED, RefundStatus.SUCCEEDED)
    index = reverse("money_refunds:index")

    def inspect(refund):
        return reverse("money_refunds:inspect", args=(refund.pk,))

    everything = admin_client.get(index).content.decode()
    assert inspect(failed) in everything and inspect(succeeded) in everything
    listing = admin_client.get(index, {"status": "failed"}).content.decode()
    assert inspect(failed) in listing and "fay" in listing
    assert "the card has expired or was cancelled" in listing  # why it failed
    assert inspect(succeeded) not in listing and "sam" not in listing
    done = admin_client.get(index, {"status": "succeeded"}).content.decode()
    assert inspect(succeeded) in done and inspect(failed) not in done
