"""Creators: proposing a fund, answering an editor's requested changes, posting news, changing terms.

A proposal is a draft `FundPage` owned by its creator, created and revised through Wagtail's page
API (`add_child`, `save_revision`, `publish`) and reviewed in Wagtail's "Fund review" workflow, so
the admin's page history shows every step under the creator's name: created, edited, submitted,
approved or sent back with a comment, published. Creators never get admin access: these functions
check what a creator may do (`can_manage`) instead of Wagtail's page permissions.

Each public function is one durable transaction. The creator's user row is locked first, so two
proposals sent at once cannot both slip under the limit of proposals in review. The emails about
each workflow step are staged from Wagtail's workflow signals (`bounties.signals`).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import slugify
from wagtail.images import get_image_model
from wagtail.models import (
    GroupApprovalTask,
    GroupPagePermission,
    Page,
    Site,
    Workflow,
    WorkflowPage,
    WorkflowState,
    WorkflowTask,
)
from wagtail.users.models import UserProfile

from bounties.errors import NotYourFund, ProposalInvalid, ProposalLimit, ProposalNotEditable, TermsLocked
from bounties.models import CreatorSettings, FundIndexPage, FundPage, FundStatus, FundTerms, FundUpdatePage

FUND_REVIEW = "Fund review"
REVIEW_TASK = "Editors' review"
REVIEW_GROUPS = ("Moderators", "Editors")

# The site's limits on what a creator may ask for (an editor in the admin is not held to them).
GOAL_MIN_CENTS = 1_000
GOAL_MAX_CENTS = 100_000_000
DEADLINE_MIN = timedelta(days=1)
DEADLINE_MAX = timedelta(days=365)
ESCROW_MAX_AFTER_DEADLINE = timedelta(days=730)

# What a creator fills in; `description` becomes the page body's first paragraph.
PROPOSAL_FIELDS = (
    "title",
    "acceptance_criteria",
    "summary",
    "description",
    "goal_cents",
    "pledge_deadline",
    "escrow_until",
    "failure_policy",
    "beneficiary_name",
    "vote_window_hours",
    "quorum_percent",
    "hashtag",
)
TERMS_FIELDS = FundTerms.TERMS_FIELDS
OPEN_STATES = (WorkflowState.STATUS_IN_PROGRESS, WorkflowState.STATUS_NEEDS_CHANGES)


def fund_review() -> Workflow:
    """The "Fund review" workflow (migration 0012 makes it; this remakes it on a flushed database)."""
    workflow = Workflow.objects.filter(name=FUND_REVIEW).first()
    if workflow is None:
        workflow = Workflow.objects.create(name=FUND_REVIEW, active=True)
        task = GroupApprovalTask.objects.create(name=REVIEW_TASK)
        task.groups.set(Group.objects.filter(name__in=REVIEW_GROUPS))
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    publish = Permission.objects.get(content_type__app_label="wagtailcore", codename="publish_page")
    for index in FundIndexPage.objects.all():
        WorkflowPage.objects.get_or_create(page=index, defaults={"workflow": workflow})
        # The task's approval publishes as the approver: its groups may publish funds and their news.
        for group in Group.objects.filter(name__in=REVIEW_GROUPS):
            GroupPagePermission.objects.get_or_create(group=group, page=index, permission=publish)
    return workflow


def creator_settings() -> CreatorSettings:
    site = Site.objects.filter(is_default_site=True).first()
    return CreatorSettings.for_site(site) if site else CreatorSettings()


def can_manage(user, page: Page) -> bool:
    """The page's creator, or staff who may publish it in the admin."""
    if not user.is_authenticated:
        return False
    return page.owner_id == user.pk or page.permissions_for_user(user).can_publish()


def in_review_count(user) -> int:
    """Proposals of `user` waiting for an editor, or for the creator's requested changes."""
    pages = [str(pk) for pk in FundPage.objects.filter(owner=user, live=False).values_list("pk", flat=True)]
    return WorkflowState.objects.filter(
        base_content_type=ContentType.objects.get_for_model(Page), object_id__in=pages, status__in=OPEN_STATES
    ).count()


@dataclass
class Submitted:
    page: FundPage
    workflow_state: WorkflowState


def proposal_submit(*, user, fields: dict, image=None, now=None) -> Submitted:
    """Create the draft fund owned by `user` and submit it to "Fund review"."""
    with transaction.atomic(durable=True):
        _lock_user(user)
        limit = creator_settings().max_proposals_in_review
        if in_review_count(user) >= limit:
            raise ProposalLimit(
                f"You already have {limit} proposals waiting for review. Wait for an editor's answer on one of them."
            )
        index = FundIndexPage.objects.live().first()  # add_child locks it (treebeard)
        if index is None:
            raise ProposalNotEditable("The site takes no proposals yet: it has no list of funds.")
        page = FundPage(owner=user, live=False)
        _apply(page, fields, image=image, user=user)
        page.slug = _unique_slug(index, page.title)
        _validate(page, now=now)
        index.add_child(instance=page)  # logs "wagtail.create" under the owner
        page.save_revision(user=user, log_action=True)
        _quiet_wagtail_mail(user)
        state = fund_review().start(page, user)
        return Submitted(page=page, workflow_state=state)


def proposal_resubmit(*, user, page_id: int, fields: dict, image=None, now=None) -> Submitted:
    """After an editor asked for changes: save the creator's changes as a revision and resume the review."""
    with transaction.atomic(durable=True):
        _lock_user(user)
        page = _own_page(user, page_id, FundPage)
        state = page.current_workflow_state
        if page.live or state is None or state.status != WorkflowState.STATUS_NEEDS_CHANGES:
            raise ProposalNotEditable("This proposal can be changed only after an editor asks for changes.")
        draft = page.get_latest_revision_as_object()
        _apply(draft, fields, image=image, user=user)
        _validate(draft, now=now)
        draft.save_revision(user=user, log_action=True)
        state.resume(user)
        return Submitted(page=draft, workflow_state=state)


@dataclass
class NewsPosted:
    page: FundUpdatePage
    published: bool


def news_post(*, user, fund_id: int, title: str, body: str) -> NewsPosted:
    """A news post under the creator's live fund: published at once, or sent to review when the site
    says so or the account is new."""
    with transaction.atomic(durable=True):
        _lock_user(user)
        fund = _own_page(user, fund_id, FundPage)
        if not fund.live:
            raise ProposalNotEditable("News can be posted once the fund is live.")
        news = FundUpdatePage(
            title=title.strip(), owner=user, live=False, body=_paragraphs(body), date=timezone.localdate()
        )
        news.slug = _unique_slug(fund, news.title)
        _check(news)
        fund.add_child(instance=news)
        revision = news.save_revision(user=user, log_action=True)
        if needs_review(user):
            _quiet_wagtail_mail(user)
            fund_review().start(news, user)
            return NewsPosted(page=news, published=False)
        revision.publish(user=user, skip_permission_checks=True)
        news.refresh_from_db()
        return NewsPosted(page=news, published=True)


def needs_review(user) -> bool:
    settings = creator_settings()
    new = user.date_joined > timezone.now() - timedelta(days=settings.new_account_days)
    return settings.news_needs_review or new


def terms_change(*, user, fund_id: int, fields: dict) -> FundPage:
    """Publish new terms for pledges and claims made from now on (each existing one keeps its copy)."""
    with transaction.atomic(durable=True):
        _lock_user(user)
        page = _own_page(user, fund_id, FundPage, lock=True)
        if not page.live or page.state.status not in (FundStatus.OPEN, FundStatus.VOTING):
            raise ProposalNotEditable("Terms can be changed only while the fund is live and open.")
        if page.has_unpublished_changes or page.workflow_in_progress:
            raise TermsLocked(
                "An editor has unpublished changes to this fund. Its terms can be changed once they are published."
            )
        for name in TERMS_FIELDS:
            if name in fields:
                setattr(page, name, fields[name])
        if page.failure_policy != "beneficiary":
            page.beneficiary_name = ""
        _validate(page, creating=False)
        page.save_revision(user=user, log_action=True).publish(user=user, skip_permission_checks=True)
        page.refresh_from_db()
        return page


# Helpers.


def _lock_user(user):
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _own_page(user, page_id, model, *, lock=False):
    pages = model.objects.all()
    if lock:
        pages = pages.select_for_update()
    page = pages.filter(pk=page_id).first()
    if page is None or not can_manage(user, page):
        raise NotYourFund()
    return page


def _apply(page: FundPage, fields: dict, *, image, user):
    for name in PROPOSAL_FIELDS:
        if name == "description" or name not in fields:
            continue
        value = fields[name]
        setattr(page, name, value.strip() if isinstance(value, str) else value)
    if "description" in fields:
        page.body = _paragraphs(fields["description"])
    if page.failure_policy != "beneficiary":
        page.beneficiary_name = ""
    if not page.search_description:
        page.search_description = page.summary
    if image is not None:
        page.image = get_image_model().objects.create(
            title=page.title[:255], file=image, uploaded_by_user=user
        )


def _paragraphs(text: str) -> list:
    """Plain text as Wagtail rich text: a blank line between paragraphs, a line break within one.
    Browsers send CRLF; `<br/>` is the form Wagtail's editor reads back."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    parts = [part.strip() for part in text.split("\n\n") if part.strip()]
    if not parts:
        return []
    html = "".join("<p>" + "<br/>".join(map(escape, part.split("\n"))) + "</p>" for part in parts)
    return [("paragraph", html)]


def _unique_slug(parent: Page, title: str) -> str:
    base = (slugify(title) or "fund")[:60].strip("-") or "fund"
    taken = set(parent.get_children().filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check(page: Page):
    try:
        page.full_clean(exclude=["path", "depth", "slug"] if page.pk is None else None)
    except ValidationError as error:
        raise ProposalInvalid.from_validation(error) from None


def _validate(page: FundPage, *, now=None, creating=True):
    """The model's own rules, then the site's limits on what a creator may ask for."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    try:
        page.full_clean(exclude=["path", "depth", "slug"] if page.pk is None else None)
    except ValidationError as error:
        errors.update(error.message_dict)
    if page.goal_cents is not None and not errors.get("goal_cents"):
        if not GOAL_MIN_CENTS <= page.goal_cents <= GOAL_MAX_CENTS:
            errors["goal_cents"] = [
                f"The goal must be between ${GOAL_MIN_CENTS // 100:,} and ${GOAL_MAX_CENTS // 100:,}."
            ]
    if creating and page.pledge_deadline and not errors.get("pledge_deadline"):
        if not now + DEADLINE_MIN <= page.pledge_deadline <= now + DEADLINE_MAX:
            errors["pledge_deadline"] = ["The pledge deadline must be between a day and a year from now."]
    if page.pledge_deadline and page.escrow_until and not errors.get("escrow_until"):
        if page.escrow_until - page.pledge_deadline > ESCROW_MAX_AFTER_DEADLINE:  # no overflow near year 9999
            errors["escrow_until"] = ["The escrow date must be within two years of the pledge deadline."]
        if not creating and page.escrow_until < now:
            errors["escrow_until"] = ["The escrow date must be in the future."]
    if errors:
        raise ProposalInvalid(fields=errors)


def _quiet_wagtail_mail(user):
    """Creators hear of each step from us (with links they can open); Wagtail's own approval and
    rejection emails link to the admin, which creators cannot enter."""
    profile = UserProfile.get_for_user(user)
    if profile.approved_notifications or profile.rejected_notifications:
        profile.approved_notifications = profile.rejected_notifications = False
        profile.save(update_fields=["approved_notifications", "rejected_notifications"])
