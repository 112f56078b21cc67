"""The Finance admin's views: stuck money, the support actions, a user's money story, a fund's money.

Thin: each reads through `finance.selectors` or calls one `finance.services` action and answers
with a Wagtail message saying whether money moved. Only Finance staff and superusers may open
any of them (403 for everyone else; Wagtail's admin login for the anonymous).
"""

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.log_actions import registry as log_registry

from bounties.errors import BountiesError
from bounties.models import Deposit, FundPage, Payout, Pledge, Refund
from bounties.money import format_cents
from bounties.services.payouts import is_finance
from finance import charts, selectors, services
from finance.forms import ContactForm, UserSearchForm, WhyForm


def forbidden(request):
    """A 403 that says why. (Raised, PermissionDenied would become Wagtail's redirect to the
    dashboard, which reads as success to a script and hides the refusal from a person.)"""
    return TemplateResponse(request, "finance/forbidden.html", status=403)


class FinanceOnlyMixin:
    """Finance staff and superusers only: anyone else gets 403 before anything is read."""

    def dispatch(self, request, *args, **kwargs):
        if not is_finance(request.user):
            return forbidden(request)
        return super().dispatch(request, *args, **kwargs)


class FinanceView(FinanceOnlyMixin, WagtailAdminTemplateMixin, TemplateView):
    header_icon = "decimal"

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("finance:stuck"), "label": "Finance"},
            {"url": "", "label": self.get_page_title()},
        ]


def stuck_rows(stuck: selectors.StuckMoney) -> list[dict]:
    """Each stuck row as the report and the panel show it: what, whose, how much, since, and what
    Finance can do about it."""
    rows = []

    def row(kind, obj, user, what, amount, since, note, action=None, contact="pledge_pending"):
        rows.append(
            {
                "kind": kind,
                "obj": obj,
                "user": user,
                "what": what,
                "amount": amount,
                "since": since,
                "note": note,
                "story_url": reverse("finance:story", args=(user.pk,)),
                "action": action,
                "contact_url": reverse("finance:contact", args=(type(obj).__name__.lower(), obj.pk))
                + f"?template={contact}",
            }
        )

    for pledge in stuck.pledges:
        row(
            "Card pledge pending",
            pledge,
            pledge.user,
            f"Pledge #{pledge.pk} to {pledge.fund.page.title}",
            pledge.amount_cents,
            pledge.created_at,
            ", ".join(f"deposit #{d.pk} {d.get_status_display().lower()}" for d in pledge.deposits.all()),
            ("Complete", reverse("finance:pledge_complete", args=(pledge.pk,))),
        )
    for deposit in stuck.uncredited:
        row(
            "Paid, not credited",
            deposit,
            deposit.user,
            f"Deposit #{deposit.pk}",
            deposit.amount_cents,
            deposit.created_at,
            deposit.review_note or deposit.get_status_display(),
            contact="payment_not_credited",
        )
    for refund in stuck.refunds:
        row(
            "Card refund failed",
            refund,
            refund.cashout.user,
            f"Refund #{refund.pk} of deposit #{refund.deposit_id}",
            refund.amount_cents,
            refund.updated_at,
            refund.failure_reason,
            ("Retry", reverse("finance:refund_retry", args=(refund.pk,))),
            contact="refund_failed",
        )
    for payout in stuck.payouts:
        row(
            "Payout failed",
            payout,
            payout.user,
            f"Payout #{payout.pk} ({payout.method})",
            payout.amount_cents,
            payout.updated_at,
            payout.failure_reason,
            ("Retry", reverse("finance:payout_retry", args=(payout.pk,))),
            contact="payout_failed",
        )
    for deposit in stuck.flagged:
        row(
            "Deposit flagged",
            deposit,
            deposit.user,
            f"Deposit #{deposit.pk} ({deposit.get_status_display().lower()})",
            deposit.amount_cents,
            deposit.updated_at,
            deposit.review_note,
            contact="payment_not_credited",
        )
    return rows


class StuckMoneyView(FinanceView):
    page_title = "Stuck money"
    template_name = "finance/stuck_money.html"

    def get_context_data(self, **kwargs):
        stuck = selectors.stuck_money()
        return super().get_context_data(
            rows=stuck_rows(stuck),
            stuck_minutes=int(selectors.STUCK_AFTER.total_seconds() // 60),
            search_form=UserSearchForm(),
            **kwargs,
        )


# --- Support actions ----------------------------------------------------------------------------------


class SupportActionView(FinanceOnlyMixin, WagtailAdminTemplateMixin, FormView):
    """One support action on one stuck row: a form asking why, then the service, then a message."""

    template_name = "finance/support_action.html"
    header_icon = "decimal"
    form_class = WhyForm
    model = None
    label = ""

    def dispatch(self, request, *args, **kwargs):
        if not is_finance(request.user):
            return forbidden(request)
        self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_object(self):
        return get_object_or_404(self.model, pk=self.kwargs["pk"])

    def act(self, **cleaned) -> services.SupportOutcome:
        raise NotImplementedError

    def describe(self) -> str:
        user, amount, what = services.contact_subject(self.object)
        return f"{what[:1].upper()}{what[1:]}: {format_cents(amount)} of {user.get_username()}"

    def get_page_title(self):
        return self.label

    def get_page_subtitle(self):
        return self.describe()

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("finance:stuck"), "label": "Stuck money"},
            {"url": "", "label": self.label},
        ]

    def get_context_data(self, **kwargs):
        user, _, _ = services.contact_subject(self.object)
        return super().get_context_data(
            object=self.object,
            description=self.describe(),
            story_url=reverse("finance:story", args=(user.pk,)),
            history=history_of(self.object),
            action_url=self.request.get_full_path(),
            submit_button_label=self.label,
            submit_button_active_label=self.label,
            **kwargs,
        )

    def form_valid(self, form):
        try:
            outcome = self.act(**form.cleaned_data)
        except BountiesError as refusal:
            # Nothing moved: the service's transaction rolled back. Say so on the form.
            form.add_error(None, f"{refusal.user_message} No money moved.")
            return self.form_invalid(form)
        (messages.success if outcome.moved else messages.warning)(self.request, outcome.message)
        return redirect(reverse("finance:stuck"))


def history_of(obj) -> list:
    """Who did what to this row and why (Wagtail's audit log), oldest first."""
    return list(log_registry.get_logs_for_instance(obj).select_related("user").order_by("timestamp"))


class PledgeCompleteView(SupportActionView):
    model = Pledge
    label = "Complete pledge"

    def get_object(self):
        return get_object_or_404(Pledge.objects.select_related("user", "fund__page"), pk=self.kwargs["pk"])

    def act(self, why):
        return services.support_pledge_complete(pledge_id=self.object.pk, staff=self.request.user, why=why)


class RefundRetryView(SupportActionView):
    model = Refund
    label = "Retry refund"

    def get_object(self):
        return get_object_or_404(Refund.objects.select_related("cashout__user"), pk=self.kwargs["pk"])

    def act(self, why):
        return services.support_refund_retry(refund_id=self.object.pk, staff=self.request.user, why=why)


class PayoutRetryView(SupportActionView):
    model = Payout
    label = "Retry payout"

    def act(self, why):
        return services.support_payout_retry(payout_id=self.object.pk, staff=self.request.user, why=why)


CONTACT_QUERYSETS = {
    "pledge": Pledge.objects.select_related("user", "fund__page"),
    "deposit": Deposit.objects.select_related("user"),
    "refund": Refund.objects.select_related("cashout__user"),
    "payout": Payout.objects.select_related("user"),
}


class ContactView(SupportActionView):
    form_class = ContactForm
    label = "Email the user"

    def get_object(self):
        queryset = CONTACT_QUERYSETS.get(self.kwargs["kind"])
        if queryset is None:
            raise Http404("No such kind of row.")
        return get_object_or_404(queryset, pk=self.kwargs["pk"])

    def get_initial(self):
        template = self.request.GET.get("template")
        return {"template": template} if template in services.CONTACT_TEMPLATES else {}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "templates": services.templates_for(self.kwargs["kind"])}

    def get_context_data(self, **kwargs):
        previews = {
            name: services.contact_text(template=name, obj=self.object)
            for name in services.templates_for(self.kwargs["kind"])
        }
        user, _, _ = services.contact_subject(self.object)
        return super().get_context_data(previews=previews, recipient=user.email, **kwargs)

    def act(self, why, template, note):
        return services.support_contact(
            kind=self.kwargs["kind"],
            object_id=self.object.pk,
            template=template,
            staff=self.request.user,
            why=why,
            note=note,
        )


# --- A user's money story -------------------------------------------------------------------------------


class MoneyStoryView(FinanceView):
    template_name = "finance/money_story.html"

    def get_page_title(self):
        return f"Money story of {self.person.get_username()}"

    def dispatch(self, request, *args, **kwargs):
        if not is_finance(request.user):
            return forbidden(request)
        self.person = get_object_or_404(get_user_model(), pk=kwargs["user_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(story=selectors.money_story(user=self.person), **kwargs)


class FindUserView(FinanceView):
    page_title = "Find a user's money story"
    template_name = "finance/find_user.html"

    def get_context_data(self, **kwargs):
        form = UserSearchForm(self.request.GET or None)
        users = selectors.find_users(query=form.cleaned_data["q"]) if form.is_valid() else []
        return super().get_context_data(search_form=form, users=users, searched=form.is_bound, **kwargs)


# --- A fund's money -----------------------------------------------------------------------------------------


class FundMoneyView(FinanceView):
    template_name = "finance/fund_money.html"

    def dispatch(self, request, *args, **kwargs):
        if not is_finance(request.user):
            return forbidden(request)
        self.fund_page = get_object_or_404(FundPage.objects.select_related("fund"), pk=kwargs["page_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self):
        return f"Money of {self.fund_page.title}"

    def get_context_data(self, **kwargs):
        fund = self.fund_page.fund
        series = selectors.escrow_series(fund=fund)
        return super().get_context_data(
            fund_page=self.fund_page,
            fund=fund,
            series=series,
            chart=charts.escrow_chart(series),
            transfers=selectors.fund_transfers(fund=fund)[:200],
            edit_url=reverse("wagtailadmin_pages:edit", args=(self.fund_page.pk,)),
            **kwargs,
        )
