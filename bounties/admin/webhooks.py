"""Webhook endpoints in the Settings menu: who receives the site's (or one fund's) announcements as signed POSTs.

Superusers, and users holding the model's Django permissions (`bounties.add_webhookendpoint`
and so on, offered in the group editor), list, add, edit and delete endpoints. The URL is
checked against the SSRF guard of `bounties.announcers.webhook` when the form is saved (the
sender checks again at each send). A blank secret is generated; the secret is shown once, in
the message on the edit page the form goes to after saving, and never again: the form offers
"generate a new secret" instead of showing the current one.
"""

from django import forms
from django.urls import reverse
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.ui.tables import BooleanColumn, Column, DateColumn
from wagtail.admin.views import generic
from wagtail.admin.viewsets.model import ModelViewSet

from bounties.announcers.webhook import check_url, new_secret
from bounties.models import Fund, WebhookEndpoint


class FundChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, fund):
        return fund.page.title


class WebhookEndpointForm(WagtailAdminModelForm):
    """The URL passes the SSRF guard; the fund is named by its page's title."""

    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="An https address of yours that accepts POSTs signed by the Standard Webhooks scheme.",
    )
    fund = FundChoiceField(
        queryset=Fund.objects.select_related("page").order_by("page__title"),
        required=False,
        empty_label="Every fund (site-wide)",
        help_text="Only this fund's events; leave it on “every fund” for all of them.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "fund", "active"]
        help_texts = {
            "active": "Untick to stop sending. A receiver that answers 410 Gone is switched off here.",
        }

    def clean_url(self):
        url = self.cleaned_data["url"]
        if error := check_url(url):
            raise forms.ValidationError(error)
        return url

    def shown_secret(self) -> str | None:
        """The secret to show the user once: one they did not type themselves."""
        return getattr(self, "_generated_secret", None)

    def save(self, commit=True):
        endpoint = super().save(commit=False)
        if endpoint.active:  # switched back on: the reason it was off no longer holds
            endpoint.disabled_reason = ""
        if commit:
            endpoint.save()
        return endpoint


class WebhookEndpointCreateForm(WebhookEndpointForm):
    class Meta(WebhookEndpointForm.Meta):
        fields = ["url", "fund", "secret", "active"]
        help_texts = {
            **WebhookEndpointForm.Meta.help_texts,
            "secret": "Leave blank to generate one (shown once, after saving). Or paste a whsec_… secret.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"].required = False

    def clean_secret(self):
        secret = self.cleaned_data.get("secret", "").strip()
        if not secret:
            self._generated_secret = new_secret()
            return self._generated_secret
        from standardwebhooks import Webhook

        if not secret.startswith("whsec_"):
            raise forms.ValidationError("A Standard Webhooks secret starts with whsec_.")
        try:
            Webhook(secret)
        except Exception:
            raise forms.ValidationError(
                "This is not a valid whsec_… secret (base64 after the prefix)."
            ) from None
        return secret


class WebhookEndpointEditForm(WebhookEndpointForm):
    new_secret = forms.BooleanField(
        label="Generate a new secret",
        required=False,
        help_text="The old one stops working at once; the new one is shown once, after saving.",
    )

    def save(self, commit=True):
        if self.cleaned_data.get("new_secret"):
            self._generated_secret = new_secret()
            self.instance.secret = self._generated_secret
        return super().save(commit=commit)


class SecretMessageMixin:
    """After saving, go to the edit page and show a generated secret there, this once."""

    def get_success_url(self):
        return reverse(self.edit_url_name, args=(self.object.pk,))

    def save_action(self):
        response = super().save_action()
        if secret := self.form.shown_secret():
            messages.warning(
                self.request,
                f"The signing secret of {self.object.url} is {secret} — copy it now: it is not shown again.",
            )
        return response


class WebhookEndpointCreateView(SecretMessageMixin, generic.CreateView):
    pass


class WebhookEndpointEditView(SecretMessageMixin, generic.EditView):
    pass


class WebhookEndpointViewSet(ModelViewSet):
    model = WebhookEndpoint
    name = "webhook_endpoints"
    url_prefix = "webhooks"
    icon = "link-external"
    menu_label = "Webhooks"
    add_to_settings_menu = True
    add_view_class = WebhookEndpointCreateView
    edit_view_class = WebhookEndpointEditView
    list_filter = ["active"]
    search_fields = ["url"]
    search_backend_name = None  # the ORM: endpoints are not in the search index
    list_display = [
        Column("url", label="URL"),
        Column("fund", label="Fund", accessor=lambda e: e.fund.page.title if e.fund_id else "Every fund"),
        BooleanColumn("active"),
        Column("disabled_reason", label="Why off"),
        DateColumn("created_at", label="Added"),
    ]

    def get_form_class(self, for_update=False):
        return WebhookEndpointEditForm if for_update else WebhookEndpointCreateForm
