"""The backer's dashboard (`/dashboard/`): each section shows the signed-in user's own things, with links.

The worked example follows one backer, Alice, through money, pledges, a vote due, a vote cast,
a claim of her own and a followed fund; then the empty dashboard, the login wall, other users'
data, and a query count that does not grow with what she has.
"""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from bounties.announcers.email import confirm_token
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.following import follow_confirm, follow_request
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import back, top_up

pytestmark = pytest.mark.django_db

WORK = "https://example.com/audit-report.pdf"


def section(response, name: str) -> str:
    """The HTML of one dashboard section (`dashboard-money`, `dashboard-votes`, …)."""
    html = response.content.decode()
    found = re.search(rf'<section class="dashboard__section {name}".*?</section>', html, re.S)
    assert found, f"no {name} section"
    return found.group(0)


def follow(fund, user):
    """`user` follows `fund` with their account's address, confirmed by the link sent to it."""
    follower = follow_request(fund_id=fund.pk, email=user.email, user=user)
    follow_confirm(token=confirm_token(follower))


@pytest.fixture
def example(make_fund):
    """Alice backs two funds, can vote on a claim on one, voted on a claim on the other, claims a third."""
    alice, bob, carol, dave = (UserFactory(username=name) for name in ("alice", "bob", "carol", "dave"))
    audit = make_fund(title="Audit TrueCrypt", slug="audit-truecrypt")
    port = make_fund(title="Port to RISC-V", slug="port-to-risc-v")
    docs = make_fund(title="Write the docs", slug="write-the-docs")
    # Alice pledges $30.50 to the audit, then $20.25 to the port, and keeps $45.75 in her wallet.
    audit_pledge = back(alice, audit, 3_050)
    port_pledge = back(alice, port, 2_025)
    top_up(alice, 4_575)
    # Bob outweighs her on both funds, so her vote alone decides nothing; Dave backs the docs.
    bob_pledge = back(bob, audit, 7_000)
    back(bob, port, 8_000)
    back(dave, docs, 1_000)
    # Carol claims the audit (Alice has not voted) and the port (Alice approves, with her $20.25).
    due = claim_submit(user=carol, fund_id=audit.pk, statement="I audited it.", url=WORK)
    cast = claim_submit(user=carol, fund_id=port.pk, statement="I ported it.", url=WORK)
    vote_cast(user=alice, claim_id=cast.pk, approve=True)
    # Alice claims the docs with Carol, who takes a quarter.
    mine = claim_submit(
        user=alice, fund_id=docs.pk, statement="We wrote them.", url=WORK, co_claimants=[("carol", 2_500)]
    )
    # Alice follows the audit by email; Bob follows the port.
    follow(audit, alice)
    follow(port, bob)
    return {
        "alice": alice,
        "bob": bob,
        "funds": (audit, port, docs),
        "pledges": (audit_pledge, port_pledge),
        "bob_pledge": bob_pledge,
        "claims": (due, cast, mine),
    }


def test_the_worked_example_shows_each_item_with_its_amount_and_link(client, example):
    audit, port, docs = example["funds"]
    audit_pledge, port_pledge = example["pledges"]
    due, cast, mine = example["claims"]
    client.force_login(example["alice"])

    response = client.get("/dashboard/")
    assert response.status_code == 200

    # Money: $45.75 in the wallet, nothing to pay out; links to add money, cash out and payouts.
    money = section(response, "dashboard-money")
    assert '<dd class="dashboard-money__wallet">$45.75</dd>' in money
    assert '<dd class="dashboard-money__payout">$0</dd>' in money
    for url in ("/wallet/add/", "/wallet/cashout/", "/wallet/payouts/", "/wallet/"):
        assert f'href="{url}"' in money

    # Pledges: the port's $20.25 (newest) before the audit's $30.50, each in escrow, linking to its receipt.
    pledges = section(response, "dashboard-pledges")
    assert pledges.index(f'href="/pledges/{port_pledge.pk}/">$20.25') < pledges.index(
        f'href="/pledges/{audit_pledge.pk}/">$30.50'
    )
    assert pledges.count("In escrow") == 2
    assert f'href="{audit.url}">Audit TrueCrypt</a>' in pledges
    assert f'href="{port.url}">Port to RISC-V</a>' in pledges
    assert 'href="/pledges/">See all</a>' in pledges

    # Votes due: the audit claim, with her $30.50 weight and its deadline; the port vote can still change.
    votes = section(response, "dashboard-votes")
    due_part, cast_part = votes.split("Your votes you can still change")
    assert f'href="/claims/{due.pk}/">Vote on carol’s claim on Audit TrueCrypt</a>' in due_part
    assert "your weight $30.50" in due_part
    deadline = f"{due.closes_at:%-d %b %H:%M} UTC"  # timeuntil joins with no-break spaces
    assert re.search(rf"closes in \d+\s(days?|hours?)[^(]*\(<time [^>]+>{deadline}</time>\)", due_part)
    assert f"/claims/{cast.pk}/" not in due_part
    assert f'href="/claims/{cast.pk}/">Claim on Port to RISC-V</a>' in cast_part
    assert "you voted <strong>approve</strong> with $20.25" in cast_part

    # Her claim on the docs: under vote, her share 75%.
    claims = section(response, "dashboard-claims")
    assert f'href="/claims/{mine.pk}/">Claim on Write the docs</a>' in claims
    assert "Under vote" in claims and "your share 75%" in claims
    assert f"/claims/{due.pk}/" not in claims

    # Follows: the audit only; and the email preferences link.
    follows = section(response, "dashboard-follows")
    assert f'href="{audit.url}">Audit TrueCrypt</a>' in follows
    assert "Port to RISC-V" not in follows
    assert 'href="/email/preferences/"' in follows

    # No proposals of her own: a way to start one.
    assertContains(response, "You have proposed no funds yet")


def test_a_user_with_nothing_sees_what_to_do_next(client, site_tree):
    client.force_login(UserFactory(username="newcomer"))

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert "Your wallet is empty" in section(response, "dashboard-money")
    assert 'No pledges yet — <a href="/funds/">browse funds</a>' in section(response, "dashboard-pledges")
    assert "Nothing to vote on" in section(response, "dashboard-votes")
    assert "Your votes you can still change" not in section(response, "dashboard-votes")
    assert "No claims yet" in section(response, "dashboard-claims")
    assert "You follow no funds yet" in section(response, "dashboard-follows")
    proposals = section(response, "dashboard-proposals")
    assert f'<a href="{reverse("fund_start")}">start a fund</a>' in proposals
    assertNotContains(response, 'href="/pledges/">See all')


def test_a_creator_sees_how_many_funds_they_proposed(client, make_fund, site_tree):
    creator = UserFactory(username="creator")
    make_fund(title="One", owner=creator)
    make_fund(title="Two", owner=creator)
    client.force_login(creator)

    proposals = section(client.get("/dashboard/"), "dashboard-proposals")

    assert f'<a href="{reverse("my_funds")}">2 funds you proposed</a>' in proposals


def test_anonymous_readers_are_sent_to_log_in(client, site_tree):
    response = client.get("/dashboard/")

    assertRedirects(response, "/accounts/login/?next=/dashboard/", fetch_redirect_response=False)


def test_logging_in_without_a_next_lands_on_the_dashboard(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})

    assertRedirects(response, "/dashboard/", fetch_redirect_response=False)


def test_another_users_data_never_appears(client, example):
    bob = example["bob"]
    due, cast, mine = example["claims"]
    client.force_login(bob)

    response = client.get("/dashboard/")

    # Bob sees his own pledges and follow, and votes on both of Carol's claims (not yet cast).
    html = response.content.decode()
    assert f'href="/pledges/{example["bob_pledge"].pk}/">$70' in html
    for pledge in example["pledges"]:
        assert f"/pledges/{pledge.pk}/" not in html
    assert "$30.50" not in html and "$20.25" not in html and "$45.75" not in html
    votes = section(response, "dashboard-votes")
    assert f"/claims/{due.pk}/" in votes and f"/claims/{cast.pk}/" in votes
    assert "Your votes you can still change" not in votes  # Alice's vote is hers
    assert f"/claims/{mine.pk}/" not in html  # a claim on a fund he did not back, by someone else
    assert "No claims yet" in section(response, "dashboard-claims")
    follows = section(response, "dashboard-follows")
    assert "Port to RISC-V" in follows and "Audit TrueCrypt" not in follows


def test_the_header_links_signed_in_users_to_the_dashboard(client, user, site_tree):
    assertNotContains(client.get("/"), 'href="/dashboard/"')

    client.force_login(user)

    assertContains(client.get("/"), '<a href="/dashboard/">Dashboard</a>')


# --- Queries -----------------------------------------------------------------------------------------


def test_the_worked_example_takes_a_bounded_number_of_queries(client, example, django_assert_max_num_queries):
    client.force_login(example["alice"])

    # 18 today: the user; 7 reads for the dashboard (pledges, weights, votes, balances, claims,
    # follows, proposals); the page chrome (the userbar's two permission reads, the site and its
    # root paths, the incident notice, created on a first request: its get_or_create's savepoint
    # and the one its save opens, to stage an announcement with it when it is switched on).
    with django_assert_max_num_queries(18):
        assert client.get("/dashboard/").status_code == 200


def count_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/").status_code == 200
    return len(queries)


def test_the_query_count_does_not_grow_with_pledges_votes_claims_or_follows(client, example, make_fund):
    alice, bob = example["alice"], example["bob"]
    client.force_login(alice)
    client.get("/dashboard/")  # warm what is read once per process (site root paths)
    before = count_queries(client)

    # Five more funds: Alice pledges to each and follows it; a claim on each awaits her vote,
    # and she votes on three of them.
    carol = UserFactory(username="carol")
    for n in range(5):
        fund = make_fund(title=f"More {n}")
        top_up(alice, 1_000)
        pledge_create(user=alice, fund_id=fund.pk, amount_cents=1_000, key=str(uuid.uuid4()))
        back(bob, fund, 5_000)
        follow(fund, alice)
        claim = claim_submit(user=carol, fund_id=fund.pk, statement="Done.", url=WORK)
        if n < 3:
            vote_cast(user=alice, claim_id=claim.pk, approve=True)
    # And two more claims of her own.
    for n in range(2):
        fund = make_fund(title=f"Hers {n}")
        back(bob, fund, 1_000)
        claim_submit(user=alice, fund_id=fund.pk, statement="Mine.", url=WORK)

    response = client.get("/dashboard/")
    assert section(response, "dashboard-pledges").count('class="dashboard-pledge"') == 7
    assert section(response, "dashboard-votes").count("dashboard-vote--due") == 3
    assert section(response, "dashboard-votes").count("dashboard-vote--cast") == 4
    assert section(response, "dashboard-claims").count('class="dashboard-claim"') == 3
    assert section(response, "dashboard-follows").count('class="dashboard-follow"') == 6
    assert count_queries(client) == before
