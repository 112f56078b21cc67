"""Helpers that make stuck money the way production makes it, shared by the Finance tests and the
Finance support journey (tests/ui/test_finance_support_journey.py)."""

from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from bounties.models import Deposit, DepositStatus, TransferKind
from bounties.services import money_operation
from bounties.services.ledger import external_account, transfer_post, wallet_for
from bounties.services.payouts import FINANCE_GROUP
from tests.factories import UserFactory

VIEW_MODELS = ["transfer", "pledge", "account", "deposit", "payout", "refund", "cashout"]  # migrations


def finance_member(username="fiona"):
    """A member of the Finance group with the permissions its migrations grant."""
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(
            content_type__app_label="bounties", codename__in=[f"view_{model}" for model in VIEW_MODELS]
        ),
    )
    member = UserFactory(username=username)
    member.groups.add(group)
    return member


def backdate(model, pk, minutes):
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


@money_operation
def credit_only(deposit: Deposit):
    """The webhook's credit of a deposit (`deposit:{id}`, external → wallet) without its pledge step."""
    transfer = transfer_post(
        kind=TransferKind.DEPOSIT,
        key=f"deposit:{deposit.pk}",
        legs=[(external_account(), -deposit.amount_cents), (wallet_for(deposit.user), deposit.amount_cents)],
        memo="Money added by card",
        user=deposit.user,
    )
    Deposit.objects.filter(pk=deposit.pk).update(
        status=DepositStatus.SUCCEEDED, transfer=transfer, payment_reference=f"pi_test_{deposit.uuid.hex}"
    )
