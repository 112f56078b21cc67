"""Proposals sent at once by one creator on PostgreSQL: the limit of proposals in review holds.

Each submission locks the creator's user row before counting, so of N simultaneous proposals
from a creator allowed `max_proposals_in_review` of them, exactly that many are created and the
rest are refused with a plain sentence; proposals by others at the same moment all go through.
"""

import pytest

from bounties.errors import ProposalLimit
from bounties.models import CreatorSettings, FundPage
from bounties.services.proposals import proposal_submit
from tests.bounties.test_proposals import proposal_fields
from tests.factories import UserFactory, build_site
from tests.integration import errors_of, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_proposals_never_exceed_the_limit(retried):
    _, index = build_site()
    settings = CreatorSettings.for_site(index.get_site())
    settings.max_proposals_in_review = 2
    settings.save()
    creator = UserFactory(username="carol")
    others = [UserFactory(username=f"other{n}") for n in range(6)]

    calls = [
        lambda n=n: proposal_submit(user=creator, fields=proposal_fields(title=f"Carol {n}"))
        for n in range(6)
    ]
    calls += [
        lambda u=u: proposal_submit(user=u, fields=proposal_fields(title=f"By {u.username}")) for u in others
    ]
    results = run_concurrently(calls)

    # Carol: two created, four refused in plain words. Everyone else: theirs, each in its own
    # place in the page tree (treebeard locks the parent while it adds a child).
    assert errors_of(results, ProposalLimit) == []
    refused = [r for r in results if isinstance(r, ProposalLimit)]
    assert len(refused) == 4
    assert all("2 proposals" in r.user_message for r in refused)
    assert FundPage.objects.filter(owner=creator).count() == 2
    assert FundPage.objects.exclude(owner=creator).count() == 6
    index.refresh_from_db()
    assert index.numchild == 8 == len(set(FundPage.objects.values_list("path", flat=True)))
    assert all(page.current_workflow_state is not None for page in FundPage.objects.all())
    assert retried == {}
