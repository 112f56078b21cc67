"""Editors' view of a fund's announcements: what was announced where, a custom announcement, and "retry".

A fund's announcements page (linked from the fund's edit view) lists its outbox rows by
event with each channel's delivery state, and takes a custom announcement that goes
through the same outbox as everything else. Any user who may edit the fund page may use it.
The money menu's outbox listing shows each row's last error beside its state (`OutboxNoteColumn`),
so a row the daily cap deferred says "Deferred to …" there, not only on its inspect page.
A failed outbox row can be retried from its inspect view by superusers and users with the
"change outbox" permission; retrying makes it due now with its attempts counted afresh.
"""

import uuid

from django import forms
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.text import Truncator
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.auth import permission_denied
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import HeaderButton

from bounties.admin.base import MoneyInspectView
from bounties.models import FundPage, Outbox, OutboxStatus
from bounties.services.announcing import stage
from bounties.services.delivery import outbox_retry

CUSTOM_MAX = 240


class OutboxNoteColumn(Column):
    """Why a row is waiting or failed: its last error ("Deferred to …: the daily cap …", "Rate limited
    until …", the provider's refusal), cut short for the listing; the inspect view has it whole."""

    def __init__(self, name="last_error", label="Note", length=100, **kwargs):
        super().__init__(name, label=label, **kwargs)
        self.length = length

    def get_value(self, instance):
        return Truncator(instance.last_error or "").chars(self.length)


def can_retry(user) -> bool:
    return user.is_superuser or user.has_perm("bounties.change_outbox")


class OutboxInspectView(MoneyInspectView):
    def get_header_buttons(self):
        buttons = super().get_header_buttons()
        if self.object.status == OutboxStatus.FAILED and can_retry(self.request.user):
            url = reverse("money_outbox:retry", args=(self.object.pk,))
            buttons.append(HeaderButton("Retry", url=url, icon_name="rotate"))
        return buttons


class RetryForm(forms.Form):
    pass


class OutboxRetryView(WagtailAdminTemplateMixin, FormView):
    """Confirm, then make a failed row due now (GET shows the question; POST retries)."""

    template_name = "bounties/admin/outbox_retry.html"
    form_class = RetryForm
    page_title = "Retry"

    def dispatch(self, request, *args, **kwargs):
        if not can_retry(request.user):
            return permission_denied(request)
        self.object = get_object_or_404(Outbox, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return self.object.dedupe_key

    def get_context_data(self, **kwargs):
        return super().get_context_data(row=self.object, action_url=self.request.path, **kwargs)

    def form_valid(self, form):
        if outbox_retry(row_id=self.object.pk):
            messages.success(self.request, f"{self.object.dedupe_key} will be sent again within a minute.")
        else:
            messages.error(
                self.request,
                f"{self.object.dedupe_key} is {self.object.status}, not failed: nothing to retry.",
            )
        return redirect(reverse("money_outbox:inspect", args=(self.object.pk,)))


class CustomAnnouncementForm(forms.Form):
    text = forms.CharField(
        max_length=CUSTOM_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {CUSTOM_MAX} characters; the fund's link and hashtag are added on every channel.",
    )


class FundAnnouncementsView(WagtailAdminTemplateMixin, FormView):
    template_name = "bounties/admin/fund_announcements.html"
    form_class = CustomAnnouncementForm
    header_icon = "mail"

    def dispatch(self, request, *args, **kwargs):
        self.page = get_object_or_404(FundPage, pk=kwargs["page_id"])
        if not self.page.permissions_for_user(request.user).can_edit():
            return permission_denied(request)
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self):
        return "Announcements"

    def get_page_subtitle(self):
        return self.page.title

    def get_context_data(self, **kwargs):
        rows = Outbox.objects.filter(fund_id=self.page.pk).order_by("-created_at", "event", "channel")
        by_event: dict[str, list[Outbox]] = {}
        for row in rows[:300]:
            event_key = row.dedupe_key.rsplit(":", 1)[0] if row.channel in row.dedupe_key else row.dedupe_key
            by_event.setdefault(event_key, []).append(row)
        return super().get_context_data(
            fund_page=self.page,
            announcements=by_event,
            edit_url=reverse("wagtailadmin_pages:edit", args=(self.page.pk,)),
            action_url=self.request.path,
            **kwargs,
        )

    def form_valid(self, form):
        with transaction.atomic():
            keys = stage(
                key=f"custom:{self.page.pk}:{uuid.uuid4().hex}",
                event="custom",
                fund=self.page.pk,
                text=form.cleaned_data["text"].strip(),
            )
        if keys:
            messages.success(self.request, f"Announcement queued on {len(keys)} channel(s).")
        else:
            messages.warning(
                self.request,
                "Nothing was queued: this fund's automatic announcements are off, and nobody else hears.",
            )
        return redirect(self.request.path)
