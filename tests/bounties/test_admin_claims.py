"""Staff read claims in the admin: listing, filters, and each claim's tally, votes and timeline; nothing editable."""

import pytest
from django.urls import NoReverseMatch, reverse

from bounties.services.claims import claim_submit, vote_cast
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
