"""The homepage: a hero, the featured fund, and the open funds."""

from django.db import models
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from bounties.models import FundPage, FundStatus


class HomePage(Page):
    """The site root. Everything it says about the featured fund is read from that fund's live page."""

    hero_text = models.CharField(
        max_length=200, blank=True, help_text="The headline above the featured fund."
    )
    intro = RichTextField(blank=True, features=["bold", "italic", "link"])
    featured_fund = models.ForeignKey(
        "bounties.FundPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The fund the homepage leads with; its title, summary and image come from its live page.",
    )

    content_panels = Page.content_panels + [
        MultiFieldPanel([FieldPanel("hero_text"), FieldPanel("intro")], heading="Hero"),
        FieldPanel("featured_fund"),
    ]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["bounties.FundIndexPage"]
    max_count = 1

    @property
    def live_featured_fund(self):
        """The featured fund if it is live, else None (the homepage falls back to its own text)."""
        fund = self.featured_fund
        if fund is not None and fund.live:
            return fund
        return None

    def open_funds(self):
        return (
            FundPage.objects.live()
            .public()
            .filter(fund__status=FundStatus.OPEN)
            .select_related("fund", "image")
            .order_by("pledge_deadline")[:6]
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["featured"] = self.live_featured_fund
        context["open_funds"] = self.open_funds()
        return context
