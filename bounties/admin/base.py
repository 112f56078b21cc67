"""The read-only base every money listing shares.

A permission policy that grants only "view"; index and inspect views that count and
show money in the listing's own words; and a ModelViewSet that routes the index and
inspect views and nothing else (no add, edit, copy or delete URL).
"""

import json

from django.contrib.auth import get_permission_codename, get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy

from bounties.models import (
    Account,
    Claim,
    Deposit,
    Fund,
    Outbox,
    Pledge,
    Refund,
    Transfer,
    WebhookEvent,
)
from bounties.money import format_cents as money


class ReadOnlyPermissionPolicy(ModelPermissionPolicy):
    """Grants "view" by the model's Django permission (or to superusers) and no other action to anyone."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)

    def users_with_any_permission(self, actions):
        if "view" not in actions:
            return get_user_model().objects.none()
        return super().users_with_any_permission(["view"])


# Registered in wagtail_hooks.py, before any view can create Wagtail's fallback policy.
MONEY_MODELS = (Transfer, Pledge, Account, Deposit, WebhookEvent, Outbox, Claim, Refund)


class MoneyColumn(Column):
    """Integer cents shown as money ("$12.50"); sorts by the cents."""

    def get_value(self, instance):
        return money(super().get_value(instance))


def fund_title(obj):
    return obj.fund.page.title if obj.fund_id else ""


def username(obj):
    return obj.user.get_username() if obj.user_id else ""


def fund_column():
    return Column("fund", label="Fund", accessor=fund_title, sort_key="fund__page__title")


def user_column():
    return Column("user", label="User", accessor=username, sort_key="user__username")


def account_label(account):
    if account.user_id:
        return f"{account.get_kind_display()} of {account.user.get_username()}"
    if account.fund_id:
        return f"{account.get_kind_display()} of {account.fund.page.title}"
    return "The outside world (cards and payouts)"


INSPECT_URL_NAMES = {
    Transfer: "money_transfers:inspect",
    Pledge: "money_pledges:inspect",
    Deposit: "money_deposits:inspect",
}


def describe_related(obj):
    """A related row in words, linked to its own inspect view when it is money."""
    if obj is None:
        return ""
    if isinstance(obj, Fund):
        return obj.page.title
    if isinstance(obj, get_user_model()):
        return obj.get_username()
    if isinstance(obj, Pledge):
        text = f"Pledge #{obj.pk}: {money(obj.amount_cents)}, {obj.get_status_display().lower()}"
    else:
        text = str(obj)
    if url_name := INSPECT_URL_NAMES.get(type(obj)):
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=(obj.pk,)), text)
    return text


class MoneyIndexView(IndexView):
    """The generic listing, counting rows by the viewset's own name."""

    def get_paginator(self, *args, **kwargs):
        paginator = super().get_paginator(*args, **kwargs)
        # Count in the listing's own words ("2 wallets"), not the model's ("2 accounts").
        paginator.verbose_name = self.verbose_name
        paginator.verbose_name_plural = self.verbose_name_plural
        return paginator


class MoneyInspectView(InspectView):
    """Inspects only rows of the viewset's queryset; shows cents as money and JSON readably."""

    queryset = None
    index_label = ""
    money_fields = {}  # field or annotation name -> label
    extra_labels = {}  # non-field name -> label, for get_<name>_display_value methods

    def get_breadcrumbs_items(self):
        # The generic view names the model ("Accounts"); say what this listing holds ("Wallets").
        index_url = reverse(self.index_url_name)
        return [
            {**item, "label": self.index_label} if item.get("url") == index_url else item
            for item in super().get_breadcrumbs_items()
        ]

    def get_object(self, queryset=None):
        return get_object_or_404(self.queryset if self.queryset is not None else self.model, pk=self.pk)

    def get_field_label(self, field_name, field):
        if field_name in self.money_fields:
            return self.money_fields[field_name]
        if field_name in self.extra_labels:
            return self.extra_labels[field_name]
        return super().get_field_label(field_name, field)

    def get_field_display_value(self, field_name, field):
        if field_name in self.money_fields:
            return money(getattr(self.object, field_name))
        if field is not None and (field.many_to_one or field.one_to_one):
            return describe_related(getattr(self.object, field_name))
        value = super().get_field_display_value(field_name, field)
        if isinstance(value, dict | list):
            return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))
        return value


class ReadOnlyModelViewSet(ModelViewSet):
    """A ModelViewSet with only the index and inspect views, over an optional custom queryset."""

    index_view_class = MoneyIndexView
    inspect_view_class = MoneyInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    # Money rows reference no content; indexing them would only add queries to every pledge.
    add_to_reference_index = False
    list_per_page = 50
    queryset = None
    money_fields = {}
    verbose_name = None
    verbose_name_plural = None

    def get_queryset(self):
        return self.queryset if self.queryset is not None else self.model._default_manager.all()

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        # These views are not routed (see get_urlpatterns): leave no name a template could reverse.
        for name in ("add", "edit", "delete", "history", "usage", "copy"):
            view_kwargs[f"{name}_url_name"] = None
        return view_kwargs

    def get_names_kwargs(self):
        # A viewset over part of a model (wallets among accounts) names itself, not the model.
        if not self.verbose_name_plural:
            return {}
        return {
            "verbose_name": self.verbose_name,
            "verbose_name_plural": self.verbose_name_plural,
            "page_title": capfirst(self.verbose_name_plural),
        }

    def get_index_view_kwargs(self, **kwargs):
        return super().get_index_view_kwargs(
            queryset=self.get_queryset(), **self.get_names_kwargs(), **kwargs
        )

    def get_inspect_view_kwargs(self, **kwargs):
        return super().get_inspect_view_kwargs(
            queryset=self.get_queryset(),
            money_fields=self.money_fields,
            index_label=capfirst(self.verbose_name_plural or self.model_opts.verbose_name_plural),
            **kwargs,
        )

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
        ]

    def register_admin_url_finder(self):
        # No edit view to point to: Wagtail's "edit this object" links stay absent.
        pass

    def get_permissions_to_register(self):
        content_type = ContentType.objects.get_for_model(self.model)
        return Permission.objects.filter(
            content_type=content_type, codename=get_permission_codename("view", self.model_opts)
        )
