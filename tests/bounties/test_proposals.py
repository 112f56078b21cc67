"""Creators propose funds; editors review them in Wagtail's "Fund review" workflow."""

from datetime import timedelta

import pytest
from django.utils import timezone
from wagtail.models import PageLogEntry, WorkflowState

from bounties.models import FundPage, Outbox
from bounties.services.proposals import proposal_submit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def proposal_fields(**overrides):
    now = timezone.now()
    return {
        "title": "Audit the OpenSSL heartbeat code",
        "acceptance_criteria": "A public report by a named auditor covering the heartbeat extension.",
        "summary": "Pay for an independent audit of the TLS heartbeat extension.",
        "description": "Heartbleed showed how little review this code gets.\n\nThis fund pays for one.",
        "goal_cents": 500_000,
        "pledge_deadline": now + timedelta(days=30),
        "escrow_until": now + timedelta(days=90),
        "failure_policy": "refund",
        "beneficiary_name": "",
        "vote_window_hours": 72,
        "quorum_percent": 10,
        "hashtag": "heartbeat",
        **overrides,
    }


def test_smoke(fund_index):
    carol = UserFactory(username="carol", email="carol@example.com")
    submitted = proposal_submit(user=carol, fields=proposal_fields())
    page = FundPage.objects.get(pk=submitted.page.pk)
    assert not page.live and page.owner == carol
    assert submitted.workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    print(list(PageLogEntry.objects.filter(page=page).values_list("action", "user__username")))
    print(list(Outbox.objects.values_list("dedupe_key", "event", "recipient")))
    task_state = submitted.workflow_state.current_task_state
    editor = UserFactory(username="ed", is_staff=True, is_superuser=True)
    task_state.approve(user=editor)
    page.refresh_from_db()
    assert page.live
    print(list(PageLogEntry.objects.filter(page=page).values_list("action", "user__username")))
    print(list(Outbox.objects.values_list("dedupe_key", "event", "recipient")))
