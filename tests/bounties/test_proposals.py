"""Creators propose funds; editors review them in Wagtail's "Fund review" workflow.

Each step is checked where a reader, the creator or an editor would see it: the fund index,
the page's URL, search, the outbox (announcements and the creator's emails), the admin's page
history, and the money (a terms change never alters a pledge already made).
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from wagtail.models import PageLogEntry, WorkflowState

from bounties import selectors
from bounties.errors import (
    NotABacker,
    NotYourFund,
    ProposalInvalid,
    ProposalLimit,
    ProposalNotEditable,
    TermsLocked,
)
from bounties.models import CreatorSettings, FundPage, FundTerms, FundUpdatePage, Outbox, Pledge
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.delivery import deliver_due
from bounties.services.proposals import (
    FUND_REVIEW,
    news_post,
    proposal_resubmit,
    proposal_submit,
    terms_change,
)
from tests.factories import UserFactory
from tests.money import back

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


@pytest.fixture
def creator(db):
    user = UserFactory(username="carol", email="carol@example.com")
    user.date_joined = timezone.now() - timedelta(days=60)  # not a new account
    user.save(update_fields=["date_joined"])
    return user


@pytest.fixture
def editor(db):
    return UserFactory(username="eddie", email="eddie@example.com", is_staff=True, is_superuser=True)


def emails_to(address):
    return list(
        Outbox.objects.filter(channel="email", recipient=address)
        .order_by("pk")
        .values_list("event", flat=True)
    )


def actions(page):
    return list(
        PageLogEntry.objects.filter(page=page)
        .order_by("timestamp", "pk")
        .values_list("action", "user__username")
    )


def test_a_proposal_is_a_draft_in_review_that_no_reader_can_find(client, fund_index, creator):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    page = FundPage.objects.get(pk=submitted.page.pk)

    assert (page.live, page.owner, page.get_parent().pk) == (False, creator, fund_index.pk)
    assert page.acceptance_criteria.startswith("A public report")
    state = page.current_workflow_state
    assert (state.workflow.name, state.status) == (FUND_REVIEW, WorkflowState.STATUS_IN_PROGRESS)
    # Not listed, not at its URL, not searchable, not in the API, not announced.
    assert not selectors.public_funds().filter(pk=page.pk).exists()
    assert page.title not in client.get("/funds/").content.decode()
    assert client.get(f"/funds/{page.slug}/").status_code == 404
    assert page.title not in client.get("/search/", {"q": "heartbeat"}).content.decode()
    assert client.get(f"/api/v1/funds/{page.pk}/").status_code == 404
    assert not Outbox.objects.exclude(channel="email").exists()
    # The creator hears that it is in review; the dashboard says so.
    assert emails_to("carol@example.com") == ["proposal_submitted"]
    (mine,) = selectors.proposals(user=creator)
    assert (mine.page.pk, mine.status) == (page.pk, "in_review")


def test_approval_publishes_lists_announces_and_tells_the_creator(client, fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    mail.outbox.clear()

    submitted.workflow_state.current_task_state.approve(user=editor)

    page = FundPage.objects.get(pk=submitted.page.pk)
    assert page.live
    assert page.title in client.get("/funds/").content.decode()
    assert client.get(page.url).status_code == 200
    assert page.title in client.get("/search/", {"q": "heartbeat"}).content.decode()
    assert client.get(f"/api/v1/funds/{page.pk}/").status_code == 200
    assert Outbox.objects.filter(dedupe_key=f"fund:{page.pk}:published:console").exists()
    assert emails_to("carol@example.com") == ["proposal_submitted", "proposal_approved"]
    approved = Outbox.objects.get(event="proposal_approved")
    assert approved.payload["live"] is True and approved.payload["path"] == page.url
    # Wagtail's own "approved" email (with an admin link the creator cannot open) is not sent to them.
    assert not [m for m in mail.outbox if "carol@example.com" in m.to]
    assert selectors.proposals(user=creator)[0].status == "live"
    # The terms the fund was published with open its terms history.
    assert FundTerms.objects.filter(fund_id=page.pk).count() == 1


def test_the_admin_history_shows_the_creator_and_the_editor(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.approve(user=editor)
    news = news_post(user=creator, fund_id=submitted.page.pk, title="Auditor chosen", body="We chose NCC.")

    assert actions(submitted.page) == [
        ("wagtail.create", "carol"),
        ("wagtail.edit", "carol"),
        ("wagtail.workflow.start", "carol"),
        ("wagtail.workflow.approve", "eddie"),
        ("wagtail.publish", "eddie"),
    ]
    assert actions(news.page) == [
        ("wagtail.create", "carol"),
        ("wagtail.edit", "carol"),
        ("wagtail.publish", "carol"),
    ]


def test_changes_requested_go_back_to_the_creator_with_the_comment(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.reject(user=editor, comment="Name the auditor's criteria.")

    (mine,) = selectors.proposals(user=creator)
    assert (mine.status, mine.comment, mine.editable) == (
        "changes_requested",
        "Name the auditor's criteria.",
        True,
    )
    changes = Outbox.objects.get(event="proposal_changes_requested")
    assert changes.recipient == "carol@example.com"
    assert changes.payload["comment"] == "Name the auditor's criteria."

    again = proposal_resubmit(
        user=creator,
        page_id=submitted.page.pk,
        fields={"acceptance_criteria": "A report naming OWASP ASVS L2."},
    )

    assert again.workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    page = FundPage.objects.get(pk=submitted.page.pk)
    assert not page.live
    assert page.get_latest_revision_as_object().acceptance_criteria == "A report naming OWASP ASVS L2."
    assert selectors.proposals(user=creator)[0].status == "in_review"
    assert emails_to("carol@example.com") == [
        "proposal_submitted",
        "proposal_changes_requested",
        "proposal_submitted",
    ]
    # While it is with an editor, the creator cannot change it.
    with pytest.raises(ProposalNotEditable):
        proposal_resubmit(user=creator, page_id=page.pk, fields={"title": "Sneaky"})


def test_an_approval_with_a_go_live_date_schedules_the_fund(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    go_live = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    # The editor sets "go live" in the admin (a new revision by them), then approves.
    draft = submitted.page.get_latest_revision_as_object()
    draft.go_live_at = go_live
    draft.save_revision(user=editor)
    # As the admin's next request would: the page as it is now (its latest revision is the editor's).
    FundPage.objects.get(pk=draft.pk).current_workflow_state.current_task_state.approve(user=editor)

    page = FundPage.objects.get(pk=submitted.page.pk)
    assert not page.live
    (mine,) = selectors.proposals(user=creator)
    assert (mine.status, mine.go_live_at) == ("approved", go_live)
    approved = Outbox.objects.get(event="proposal_approved")
    assert approved.payload["live"] is False and approved.payload["go_live_at"]


def test_invalid_proposals_change_nothing(fund_index, creator):
    cases = {
        "escrow_until": proposal_fields(escrow_until=timezone.now() + timedelta(days=10)),
        "goal_cents": proposal_fields(goal_cents=500),
        "pledge_deadline": proposal_fields(pledge_deadline=timezone.now() - timedelta(hours=1)),
        "beneficiary_name": proposal_fields(failure_policy="beneficiary", beneficiary_name=" "),
        "vote_window_hours": proposal_fields(vote_window_hours=2),
        "hashtag": proposal_fields(hashtag="two words"),
        "title": proposal_fields(title=""),
    }
    for field, fields in cases.items():
        with pytest.raises(ProposalInvalid) as refused:
            proposal_submit(user=creator, fields=fields)
        assert field in refused.value.fields, (field, refused.value.fields)
    assert not FundPage.objects.exists()
    assert not WorkflowState.objects.exists()
    assert not Outbox.objects.exists()


def test_a_creator_may_have_only_so_many_proposals_in_review(fund_index, creator, editor):
    settings = CreatorSettings.for_site(fund_index.get_site())
    settings.max_proposals_in_review = 2
    settings.save()
    first = proposal_submit(user=creator, fields=proposal_fields(title="One"))
    proposal_submit(user=creator, fields=proposal_fields(title="Two"))

    with pytest.raises(ProposalLimit, match="2 proposals"):
        proposal_submit(user=creator, fields=proposal_fields(title="Three"))
    assert FundPage.objects.count() == 2

    first.workflow_state.current_task_state.approve(user=editor)  # one decided: room for another
    third = proposal_submit(user=creator, fields=proposal_fields(title="Three"))
    assert third.page.slug == "three"
    # Someone else's proposals do not count against this creator.
    proposal_submit(user=UserFactory(username="dave"), fields=proposal_fields(title="Three"))
    assert FundPage.objects.filter(slug__startswith="three").count() == 2


def test_a_creator_cannot_touch_another_creators_fund(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.reject(user=editor, comment="More detail")
    mallory = UserFactory(username="mallory")

    with pytest.raises(NotYourFund):
        proposal_resubmit(user=mallory, page_id=submitted.page.pk, fields={"goal_cents": 100_000_000})
    proposal_resubmit(user=creator, page_id=submitted.page.pk, fields={})
    FundPage.objects.get(pk=submitted.page.pk).current_workflow_state.current_task_state.approve(user=editor)
    with pytest.raises(NotYourFund):
        news_post(user=mallory, fund_id=submitted.page.pk, title="Fake news", body="Nope")
    with pytest.raises(NotYourFund):
        terms_change(user=mallory, fund_id=submitted.page.pk, fields={"failure_policy": "beneficiary"})
    assert not FundUpdatePage.objects.exists()
    assert FundPage.objects.get(pk=submitted.page.pk).failure_policy == "refund"


def test_a_creator_who_is_not_a_backer_cannot_vote_on_a_claim_on_their_fund(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.approve(user=editor)
    fund = FundPage.objects.get(pk=submitted.page.pk)
    back(UserFactory(username="backer"), fund, 10_000)
    claim = claim_submit(
        user=UserFactory(username="claimant"),
        fund_id=fund.pk,
        statement="Audited.",
        url="https://example.com/r",
    )

    with pytest.raises(NotABacker):
        vote_cast(user=creator, claim_id=claim.pk, approve=True)


def test_a_terms_change_applies_to_new_pledges_only(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.approve(user=editor)
    fund = FundPage.objects.get(pk=submitted.page.pk)
    early = back(UserFactory(username="early"), fund, 2_000)
    old_escrow = fund.escrow_until
    new_escrow = old_escrow + timedelta(days=30)

    terms_change(
        user=creator,
        fund_id=fund.pk,
        fields={"escrow_until": new_escrow, "failure_policy": "beneficiary", "beneficiary_name": "EFF"},
    )

    fund.refresh_from_db()
    assert (fund.escrow_until, fund.failure_policy, fund.beneficiary_name) == (
        new_escrow,
        "beneficiary",
        "EFF",
    )
    early.refresh_from_db()
    assert (early.escrow_until, early.failure_policy, early.beneficiary_name) == (old_escrow, "refund", "")
    late = back(UserFactory(username="late"), fund, 3_000)
    assert (late.escrow_until, late.failure_policy, late.beneficiary_name) == (
        new_escrow,
        "beneficiary",
        "EFF",
    )
    # The fund page's terms history has both, newest last; the creator's publish is in the history.
    assert [t.failure_policy for t in FundTerms.objects.filter(fund_id=fund.pk)] == ["refund", "beneficiary"]
    assert actions(fund)[-1] == ("wagtail.publish", "carol")
    assert Pledge.objects.get(pk=early.pk).amount_cents == 2_000


def test_terms_wait_while_an_editor_has_unpublished_changes(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.approve(user=editor)
    fund = FundPage.objects.get(pk=submitted.page.pk)
    draft = fund.get_latest_revision_as_object()
    draft.summary = "An editor's half-finished rewrite."
    draft.save_revision(user=editor)

    with pytest.raises(TermsLocked):
        terms_change(user=creator, fund_id=fund.pk, fields={"quorum_percent": 50})
    fund.refresh_from_db()
    assert fund.quorum_percent == 10 and fund.summary.startswith("Pay for")  # nothing published


def test_news_is_published_at_once_or_sent_to_review(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.approve(user=editor)
    fund_id = submitted.page.pk

    posted = news_post(
        user=creator, fund_id=fund_id, title="Auditor chosen", body="NCC Group.\n\nStarts May."
    )
    assert posted.published and posted.page.live and posted.page.owner == creator
    assert "<p>NCC Group.</p><p>Starts May.</p>" in str(posted.page.body)
    assert Outbox.objects.filter(dedupe_key=f"news:{posted.page.pk}:published:console").exists()

    settings = CreatorSettings.for_site(fund_index.get_site())
    settings.news_needs_review = True
    settings.save()
    held = news_post(user=creator, fund_id=fund_id, title="Report drafted", body="Soon.")
    assert not held.published and not FundUpdatePage.objects.get(pk=held.page.pk).live
    assert held.page.current_workflow_state.status == WorkflowState.STATUS_IN_PROGRESS
    assert not Outbox.objects.filter(dedupe_key__startswith=f"news:{held.page.pk}:").exists()

    # A new account's news always waits for an editor, whatever the switch says.
    settings.news_needs_review = False
    settings.save()
    newcomer = UserFactory(username="newcomer")  # joined just now
    theirs = proposal_submit(user=newcomer, fields=proposal_fields(title="Newcomer's fund"))
    theirs.workflow_state.current_task_state.approve(user=editor)
    assert not news_post(user=newcomer, fund_id=theirs.page.pk, title="Hello", body="Hi.").published


def test_news_and_terms_need_a_live_fund(fund_index, creator):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    with pytest.raises(ProposalNotEditable):
        news_post(user=creator, fund_id=submitted.page.pk, title="Early", body="Too early.")
    with pytest.raises(ProposalNotEditable):
        terms_change(user=creator, fund_id=submitted.page.pk, fields={"quorum_percent": 20})


def test_each_review_step_reaches_the_creators_inbox_with_where_to_go_next(fund_index, creator, editor):
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    submitted.workflow_state.current_task_state.reject(
        user=editor, comment="Say which versions are in scope."
    )
    mail.outbox.clear()
    deliver_due()

    to_carol = [m for m in mail.outbox if m.to == ["carol@example.com"]]
    assert [m.subject for m in to_carol] == [
        "Fundfill: your proposal is in review",
        "Fundfill: changes requested to your proposal",
    ]
    changes = to_carol[1]
    edit_url = f"/my/funds/{submitted.page.pk}/edit/"
    assert "Say which versions are in scope." in changes.body and edit_url in changes.body
    assert edit_url in changes.alternatives[0][0]
    # About their own proposal: a receipt-like email, no list unsubscribe.
    assert "List-Unsubscribe" not in changes.message()
    assert all(row.status == "sent" for row in Outbox.objects.filter(channel="email"))


def test_creators_have_no_way_into_the_admin(client, fund_index, creator):
    proposal_submit(user=creator, fields=proposal_fields())
    client.force_login(creator)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_dates_at_the_end_of_the_calendar_are_refused_in_words(fund_index, creator):
    """Year 9999: the site's own arithmetic on the dates must not overflow into a 500."""
    far = timezone.now().replace(year=9999, month=12, day=30)
    with pytest.raises(ProposalInvalid) as refused:
        proposal_submit(user=creator, fields=proposal_fields(pledge_deadline=far, escrow_until=far))
    assert "pledge_deadline" in refused.value.fields
    assert not FundPage.objects.exists()


def test_an_editor_requests_changes_in_the_admin_and_the_history_shows_each_step(client, fund_index, creator):
    """Through the admin's own workflow action (the "Request changes" modal posts here)."""
    from django.contrib.auth.models import Group

    editor = UserFactory(username="edna", email="edna@example.com", is_staff=True)
    editor.groups.add(Group.objects.get(name="Editors"))
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    task_state = submitted.workflow_state.current_task_state
    client.force_login(editor)

    response = client.post(
        f"/admin/pages/workflow/action/{submitted.page.pk}/reject/{task_state.pk}/",
        {"comment": "Say who may claim it."},
    )

    assert response.status_code in (200, 302)
    (mine,) = selectors.proposals(user=creator)
    assert (mine.status, mine.comment) == ("changes_requested", "Say who may claim it.")
    history = client.get(f"/admin/pages/{submitted.page.pk}/history/").content.decode()
    for words in ("carol", "edna", "Say who may claim it."):
        assert words in history, words


def _editor_in_group(username="edgar"):
    from django.contrib.auth.models import Group

    user = UserFactory(username=username, email=f"{username}@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    return user


def test_a_member_of_the_editors_group_approves_and_publishes_in_the_admin(client, fund_index, creator):
    """Editors keep the site's quality: the "Fund review" task is theirs, so its approval (which
    publishes as the approver) must be theirs to give, not refused for want of publish permission."""
    editor = _editor_in_group()
    submitted = proposal_submit(user=creator, fields=proposal_fields())
    task_state = submitted.workflow_state.current_task_state
    client.force_login(editor)

    client.post(f"/admin/pages/workflow/action/{submitted.page.pk}/approve/{task_state.pk}/", {"comment": ""})

    page = FundPage.objects.get(pk=submitted.page.pk)
    assert page.live
    assert actions(page)[-1] == ("wagtail.publish", "edgar")


def test_a_description_typed_in_a_browser_opens_in_the_admin_editor(client, fund_index, creator):
    """Browsers send line breaks as CRLF; the body must be rich text Wagtail's editor can read."""
    fields = proposal_fields(description="First line\r\nsecond line.\r\n\r\nA second paragraph.")
    submitted = proposal_submit(user=creator, fields=fields)
    client.force_login(_editor_in_group())

    response = client.get(f"/admin/pages/{submitted.page.pk}/edit/")

    assert response.status_code == 200
    body = str(FundPage.objects.get(pk=submitted.page.pk).get_latest_revision_as_object().body)
    assert "<p>First line<br/>second line.</p><p>A second paragraph.</p>" in body
