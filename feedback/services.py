"""Feedback: storing what a reader sends, and telling staff.

`feedback_submit` stores the row and, when `FEEDBACK_EMAIL_TO` names anyone, enqueues the staff
email after commit (`feedback.tasks.feedback_email`, passed the primary key). The email does not go
through the outbox: the outbox's email audience is for the people a fund event or a money receipt
concerns (`bounties.announcers.email`), and a staff notice needs neither its dedupe nor its
retries; the row in the admin is the record, the email only a nudge. A lost email loses nothing.

Staff change a row's status and note in the admin (`feedback/admin.py`), whose generic edit view
writes each change to Wagtail's audit log (`wagtail.edit`: who and when).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django_q.tasks import async_task

from feedback.models import Feedback

logger = logging.getLogger("fundfill.feedback")

MAX_MESSAGE = 5000


def feedback_submit(*, message: str, email: str = "", page_url: str = "") -> Feedback:
    with transaction.atomic(durable=True):
        feedback = Feedback.objects.create(message=message, email=email, page_url=page_url[:500])
        if settings.FEEDBACK_EMAIL_TO:
            transaction.on_commit(lambda: _enqueue_email(feedback.pk))
    return feedback


def _enqueue_email(feedback_id: int):
    try:
        async_task("feedback.tasks.feedback_email", feedback_id, task_name=f"feedback-email-{feedback_id}")
    except Exception:  # a broker that is down loses the nudge only: the row is in the admin
        logger.warning("could not enqueue the email for feedback %s", feedback_id, exc_info=True)


def feedback_email(*, feedback_id: int) -> bool:
    """Email staff (`FEEDBACK_EMAIL_TO`) one feedback; False when there is nothing to send."""
    feedback = Feedback.objects.filter(pk=feedback_id).first()
    if feedback is None or not settings.FEEDBACK_EMAIL_TO:
        return False
    lines = [
        feedback.message,
        "",
        f"Sent from: {settings.SITE_URL}{feedback.page_url}" if feedback.page_url else "Sent from: (no page)",
        f"Reply to: {feedback.email}" if feedback.email else "No email left.",
        f"In the admin: {settings.WAGTAILADMIN_BASE_URL}{reverse('feedback:edit', args=(feedback.pk,))}",
    ]
    send_mail(
        subject=f"Feedback: {feedback}",
        message="\n".join(lines),
        from_email=None,
        recipient_list=list(settings.FEEDBACK_EMAIL_TO),
    )
    return True
