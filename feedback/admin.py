"""The "Feedback" menu: readers' feedback (status and a staff note editable) and the mentions found
on X and Hacker News (the `seen` flag editable), and the dashboard panel of the newest mentions.

Both listings use Wagtail's model permissions: the Editors and Moderators groups get view and
change on both (`feedback/migrations/0003_*`); nobody adds or deletes them here. Every edit goes
through Wagtail's generic edit view, which writes it to the audit log (who and when).
"""

from django.urls import reverse
from django.utils.text import Truncator
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import BooleanColumn, Column, DateColumn, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.permissions import policy_registry

from feedback import selectors
from feedback.models import Feedback, Mention

PANEL_ROWS = 10


def _short(field: str, length: int = 80):
    return lambda obj: Truncator(getattr(obj, field)).chars(length)


class FeedbackViewSet(ModelViewSet):
    model = Feedback
    name = "feedback"
    url_prefix = "feedback"
    icon = "comment"
    menu_label = "From readers"
    list_filter = ["status"]
    search_fields = ["message", "email", "staff_note"]
    search_backend_name = None  # the ORM: feedback is not in the search index
    copy_view_enabled = False
    list_display = [
        TitleColumn("message", label="Message", accessor=_short("message"), url_name="feedback:edit"),
        Column("page_url", label="Sent from"),
        Column("email", label="Email"),
        Column("status", label="Status", accessor="get_status_display"),
        DateColumn("created_at", label="Received"),
    ]
    panels = [
        FieldPanel("message", read_only=True),
        FieldPanel("email", read_only=True),
        FieldPanel("page_url", read_only=True),
        FieldPanel("created_at", read_only=True),
        FieldPanel("status"),
        FieldPanel("staff_note"),
    ]


class MentionIndexView(generic.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().select_related("fund")  # the Fund column, in one query


class MentionViewSet(ModelViewSet):
    model = Mention
    name = "mentions"
    url_prefix = "mentions"
    icon = "openquote"
    menu_label = "Mentions"
    list_filter = ["source", "seen"]
    search_fields = ["text", "author"]
    search_backend_name = None
    copy_view_enabled = False
    list_display = [
        TitleColumn("text", label="Post", accessor=_short("text", 120), url_name="mentions:edit"),
        Column("source", label="On", accessor="get_source_display"),
        Column("author", label="By"),
        Column("fund", label="Fund", accessor=lambda m: m.fund.title if m.fund_id else "—"),
        BooleanColumn("seen"),
        DateColumn("created_at", label="Posted"),
    ]
    panels = [
        FieldPanel("url", read_only=True),
        FieldPanel("author", read_only=True),
        FieldPanel("text", read_only=True),
        FieldPanel("created_at", read_only=True),
        FieldPanel("fund", read_only=True),
        FieldPanel("seen"),
    ]

    index_view_class = MentionIndexView


class FeedbackViewSetGroup(ModelViewSetGroup):
    menu_label = "Feedback"
    menu_icon = "comment"
    menu_order = 250
    items = (FeedbackViewSet, MentionViewSet)


def may_view_mentions(user) -> bool:
    return policy_registry.get_by_type(Mention).user_has_permission(user, "view")


class MentionsPanel(Component):
    """The dashboard's newest mentions, for users who may open the mentions listing."""

    name = "fundfill_mentions"
    template_name = "feedback/admin/mentions_panel.html"
    order = 60

    def get_context_data(self, parent_context=None):
        mentions = selectors.newest_mentions()
        return {
            "request": (parent_context or {}).get("request"),
            "mentions": mentions[:PANEL_ROWS],
            "unseen": mentions.filter(seen=False).count(),
            "all_url": reverse("mentions:index"),
        }
