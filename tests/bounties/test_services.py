"""Every money service is its own unit of work: called inside another transaction, it refuses at once.

`money_operation` opens `transaction.atomic(durable=True)` (RELIABILITY.md §3.2). Nested
in a caller's transaction, a service would commit only when the caller commits, retry
inside a transaction that a deadlock has already aborted, and let the caller's later
failure undo money it reported as moved. Django refuses a durable block inside another
atomic block with a RuntimeError, before the service runs a query: these tests assert
that refusal itself, not a side effect (a nested pledge failing for want of money).
"""

import importlib
import pkgutil

import pytest
from django.db import transaction

import bounties.services
from bounties.models import Pledge, Transfer
from bounties.services.deposits import deposit_create, deposit_create_once, webhook_apply
from bounties.services.pledging import (
    pledge_complete,
    pledge_create,
    pledge_create_with_card,
    pledge_withdraw,
)
from tests.money import top_up

pytestmark = pytest.mark.django_db

DURABLE_REFUSAL = "A durable atomic block cannot be nested within another atomic block"


def money_operations():
    """Every function in bounties/services/ wrapped by `money_operation`, public or private."""
    found = {}
    for module_info in pkgutil.iter_modules(bounties.services.__path__):
        module = importlib.import_module(f"bounties.services.{module_info.name}")
        for name, value in vars(module).items():
            if callable(value) and getattr(value, "money_operation", False):
                found[f"{module_info.name}.{name}"] = value
    return found


def test_the_money_operations_are_found():
    assert {"pledging.pledge_withdraw", "deposits.deposit_create", "deposits.webhook_apply"} <= set(
        money_operations()
    )


@pytest.mark.parametrize("name, operation", sorted(money_operations().items()))
def test_every_money_operation_refuses_to_run_inside_another_transaction(name, operation):
    # No arguments needed: the durable block refuses before the function is called.
    with pytest.raises(RuntimeError, match=DURABLE_REFUSAL), transaction.atomic():
        operation()


@pytest.fixture
def funded(user, fund):
    """Alice holds 50.00 and has pledged 10.00 to the fund (outside any transaction of the test's)."""
    top_up(user, 5_000)
    pledge = pledge_create(user=user, fund_id=fund.pk, amount_cents=1_000, key="first").pledge
    return user, fund, pledge


# Each public entry point, called with arguments that would succeed on their own: the
# refusal must come from the nesting, not from a missing row or an empty wallet.
SERVICE_CALLS = {
    "pledge_create": lambda user, fund, pledge: pledge_create(
        user=user, fund_id=fund.pk, amount_cents=500, key="nested"
    ),
    "pledge_create_with_card": lambda user, fund, pledge: pledge_create_with_card(
        user=user, fund_id=fund.pk, amount_cents=500, key="nested", gateway="local"
    ),
    "pledge_withdraw": lambda user, fund, pledge: pledge_withdraw(user=user, pledge_id=pledge.pk),
    "pledge_complete": lambda user, fund, pledge: pledge_complete(pledge_id=pledge.pk),
    "deposit_create": lambda user, fund, pledge: deposit_create(
        user=user, amount_cents=1_000, gateway="local"
    ),
    "deposit_create_once": lambda user, fund, pledge: deposit_create_once(
        user=user, amount_cents=1_000, gateway="local", key="nested"
    ),
    "webhook_apply": lambda user, fund, pledge: webhook_apply(
        event_id="evt_nested", event_type="checkout.session.completed", payload={}
    ),
}


@pytest.mark.parametrize("service", SERVICE_CALLS)
def test_each_service_refuses_to_run_inside_another_transaction(funded, service):
    moved = Transfer.objects.count(), Pledge.objects.count()
    with pytest.raises(RuntimeError, match=DURABLE_REFUSAL), transaction.atomic():
        SERVICE_CALLS[service](*funded)
    assert (Transfer.objects.count(), Pledge.objects.count()) == moved  # nothing written
