"""Receivers for Wagtail's publish and workflow signals.

A fund's published terms go into its terms history. A fund's first publish and each news
post's first publish are announced: the dedupe keys (`fund:{pk}:published`,
`news:{pk}:published`) make a later republish announce nothing.

Each step of a creator's proposal (or news post) in the "Fund review" workflow is emailed to
the creator who submitted it: submitted (again, after changes), changes requested with the
editor's comment, approved. Keyed by the task or workflow state, so each step mails once.
"""

from django.dispatch import receiver
from django.utils import formats
from wagtail.signals import page_published, task_submitted, workflow_approved, workflow_rejected

from bounties.models import FundPage, FundUpdatePage
from bounties.services import announcing
from bounties.services.terms import terms_record


@receiver(page_published, sender=FundPage)
def fund_published(sender, instance, revision=None, **kwargs):
    terms_record(instance)
    announcing.stage(key=f"fund:{instance.pk}:published", event="fund_published", fund=instance.pk)


@receiver(page_published, sender=FundUpdatePage)
def news_published(sender, instance, revision=None, **kwargs):
    fund_page = instance.get_parent().specific
    if not isinstance(fund_page, FundPage):
        return
    _, _, path = instance.get_url_parts() or (None, None, "")
    announcing.stage(
        key=f"news:{instance.pk}:published",
        event="news_published",
        fund=fund_page.pk,
        news=instance.pk,
        title=instance.title,
        path=path,
    )


def _reviewed_page(workflow_state):
    """The fund or news page under review when a creator (not staff) submitted it, else None."""
    page = workflow_state.content_object
    page = getattr(page, "specific", page)
    requester = workflow_state.requested_by
    if not isinstance(page, (FundPage, FundUpdatePage)) or requester is None or page.owner_id != requester.pk:
        return None
    if requester.is_staff:
        return None  # editors in the admin have Wagtail's own notifications
    return page


def _stage_step(event, key, workflow_state, page, **extra):
    fund_id = page.pk if isinstance(page, FundPage) else page.get_parent().pk
    announcing.stage(
        key=key,
        event=event,
        fund=fund_id,
        user=workflow_state.requested_by_id,
        page=page.pk,
        kind="fund" if isinstance(page, FundPage) else "news",
        title=page.title,
        **extra,
    )


@receiver(task_submitted)
def review_step_submitted(sender, instance, user=None, **kwargs):
    page = _reviewed_page(instance.workflow_state)
    if page is not None:
        _stage_step(
            "proposal_submitted", f"proposal:{page.pk}:submitted:{instance.pk}", instance.workflow_state, page
        )


@receiver(workflow_rejected)
def review_changes_requested(sender, instance, user=None, **kwargs):
    page = _reviewed_page(instance)
    if page is not None:
        task_state = instance.current_task_state
        _stage_step(
            "proposal_changes_requested",
            f"proposal:{page.pk}:changes:{task_state.pk}",
            instance,
            page,
            comment=task_state.comment or "",
        )


@receiver(workflow_approved)
def review_approved(sender, instance, user=None, **kwargs):
    page = _reviewed_page(instance)
    if page is None:
        return
    page.refresh_from_db()
    _, _, path = page.get_url_parts() or (None, None, "")
    revision = page.scheduled_revision  # approved with a go-live date still ahead
    scheduled = revision.approved_go_live_at if revision else None
    _stage_step(
        "proposal_approved",
        f"proposal:{page.pk}:approved:{instance.pk}",
        instance,
        page,
        live=page.live,
        path=path if page.live else "",
        go_live_at=formats.date_format(scheduled, "DATETIME_FORMAT") if scheduled else "",
    )
