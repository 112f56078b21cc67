"""Schemathesis over /api/v1/schema/: generated requests to every operation, anonymous and signed in.

Each operation gets a bounded, derandomized run (the same examples every time, well under a
minute in all) through the real WSGI application. Every answer must be documented: no 5xx,
only the statuses, content types and bodies the schema states. Signed-in runs come from a
backer with money in the wallet and a real open fund, so pledges and withdrawals reach the
services and not only their 404; the ledger must prove clean afterwards.
"""

from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.services.claims import claim_submit
from bounties.services.deposits import deposit_create
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)


# Loaded at collection, through the real application: the schema view touches no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
# What a well-formed request may meet besides success: refusals about money and state, not its shape.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    "2xx",
    "401",
    "402",
    "403",  # a vote by someone without weight in the claim, or on their own claim
    "404",
    "409",
    "422",
    "429",
]


# Requests the schema cannot tell apart from good ones: a password the validators refuse (common,
# too like the username), wrong credentials, a card that is not a test card, a co-claimant who is
# not a registered user (or shares that do not add up), a reject without a reason, a proposal's
# dates out of the site's window (a deadline a day to a year ahead, the escrow date after it) or a
# beneficiary left unnamed. Their 400s are documented; everywhere else a schema-valid request must
# not be refused as malformed.
RULES_BEYOND_THE_SCHEMA = {
    "account_create",
    "token_create",
    "deposit_create",
    "claim_create",
    "claim_vote",
    "fund_propose",
}


def checks_for(case):
    if case.operation.definition.raw.get("operationId") in RULES_BEYOND_THE_SCHEMA:
        return [check for check in CHECKS if check is not positive_data_acceptance]
    return CHECKS


@pytest.fixture(autouse=True)
def _inside_the_tests_transaction(settings):
    """Django closes the database connection around each real request, which would end the
    transaction this test runs in; Django's test client switches that off, and so does this."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    settings.PLEDGE_RATE_LIMIT = ""  # generated pledges would hit the per-backer limit; tested apart
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def books_stay_proven(db):
    yield
    call_command("ledger_check")  # raises CommandError naming each violation


@dataclass(frozen=True)
class Backer:
    headers: dict
    fund_id: int
    pledge_id: int
    claim_id: int

    def aim(self, case):
        """Send every other case with an `id` to the backer's real fund, pledge or claim, not a 404."""
        ids = case.path_parameters or {}
        if isinstance(ids.get("id"), int) and ids["id"] % 2 == 0:
            path = case.operation.path
            if path.startswith("/api/v1/pledges/"):
                real = self.pledge_id
            elif path.startswith("/api/v1/claims/"):
                real = self.claim_id
            else:
                real = self.fund_id
            case.path_parameters["id"] = real


def _paid(user, cents):
    deposit = deposit_create(user=user, amount_cents=cents, gateway="local")
    LocalGateway().pay(deposit, SUCCESS_CARD)


@pytest.fixture
def backer(db, fund, make_fund, books_stay_proven):
    """A signed-in backer with $1,000 in the wallet and one pledge to an open fund, and a vote to cast.

    Another backer has money in the open fund too, so the fuzzer's claims on it go to a vote; and
    the fuzzer backs a second fund on which that other backer's claim is under vote.
    """
    user = UserFactory(username="fuzzer")
    _paid(user, 100_000)
    pledged = pledge_create(user=user, fund_id=fund.pk, amount_cents=1_000, key="first")
    other = UserFactory(username="other-backer")
    _paid(other, 1_000)
    pledge_create(user=other, fund_id=fund.pk, amount_cents=1_000, key="other")
    voting = make_fund(title="Under vote")
    pledge_create(user=user, fund_id=voting.pk, amount_cents=1_000, key="voting")
    claim = claim_submit(user=other, fund_id=voting.pk, statement="Done.", url="https://example.com/work")
    token, _ = Token.objects.get_or_create(user=user)
    return Backer({"Authorization": f"Token {token.key}"}, fund.pk, pledged.pledge.pk, claim.pk)


def fuzz(operation, mode, send):
    """Run `send` on the bounded examples of one operation in one generation mode."""

    @EXAMPLES
    @given(case=operation.as_strategy(mode))
    def run(case):
        send(case)

    run()


# One test per operation and mode, each with its own id: the plugin's `schema.parametrize()`
# gave every operation the same node id under pytest 9, which hides which one ran (or failed).
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def _takes_input(operation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody") or "{" in operation.path)


# Negative examples need something to get wrong: an operation without input has none.
RUNS = [
    pytest.param(operation, mode, id=f"{operation.label}-{mode}")
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _takes_input(operation)
]


@pytest.mark.parametrize(("operation", "mode"), RUNS)
def test_anonymous(operation, mode, site_tree, books_stay_proven):
    fuzz(operation, mode, lambda case: case.call_and_validate(checks=checks_for(case)))


@pytest.mark.parametrize(("operation", "mode"), RUNS)
def test_signed_in(operation, mode, backer):
    def send(case):
        backer.aim(case)
        case.call_and_validate(headers=backer.headers, checks=checks_for(case))

    fuzz(operation, mode, send)
