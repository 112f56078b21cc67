"""The homepage (a hero, the featured fund, the open funds) and the site-wide incident notice."""

from dataclasses import replace

from django import forms
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.html import strip_tags
from django.utils.text import Truncator
from modelcluster.fields import ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, HelpPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import RichTextField
from wagtail.models import Page

from base.seo import SocialMetaMixin, social_meta_for
from bounties.models import FundPage, FundStatus
from bounties.services.announcing import incident_announce
from pagecache import memo
from pagecache.serving import FastRouteMixin, public_pages


class HomePage(FastRouteMixin, SocialMetaMixin, Page):
    """The site root. Everything it says about the featured fund is read from that fund's live page.

    Nothing about the fund is copied here: the hero, the progress and the fund's part of <head>
    (title, description, Open Graph and Twitter titles and image) are rendered from the fund's
    live row at request time, so they cannot disagree with each other or with the fund. The
    canonical link and og:url are always the homepage's own.
    When the fund is not live (unpublished, deleted, or not yet published) the homepage
    falls back to its own text and `social_image`, and the editor is warned.
    """

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
    social_image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The site's own link-preview image, used while no live fund is featured.",
    )

    content_panels = Page.content_panels + [
        MultiFieldPanel([FieldPanel("hero_text"), FieldPanel("intro")], heading="Hero"),
        MultiFieldPanel(
            [
                FieldPanel("featured_fund"),
                HelpPanel(template="home/panels/featured_fund_status.html"),
            ],
            heading="Featured fund",
        ),
    ]
    promote_panels = Page.promote_panels + [FieldPanel("social_image")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["bounties.FundIndexPage", "content.ContentPage"]
    max_count = 1

    @property
    def live_featured_fund(self):
        """The featured fund if it is live, else None (the homepage falls back to its own text).

        One query (with its `Fund` row and image), remembered for the current `featured_fund_id`
        so the hero and the <head> tags of one render read the same row.
        """
        fund_id = self.featured_fund_id
        cached = getattr(self, "_live_featured_fund", None)
        if cached is None or cached[0] != fund_id:
            fund = None
            if fund_id is not None:
                fund = FundPage.objects.live().select_related("fund", "image").filter(pk=fund_id).first()
            cached = (fund_id, fund)
            self._live_featured_fund = cached
        return cached[1]

    def social_meta(self, request):
        """The homepage's own URL, title and pitch; with a live featured fund, previews as the hero does.

        The canonical link and og:url stay the homepage's (a link to "/" is not a link to the
        fund); the <title> and description name the site, then the fund; og:title and the
        image are the fund's.
        """
        pitch = self.search_description or Truncator(strip_tags(self.intro)).chars(300)
        fund = self.live_featured_fund
        if fund is None:
            return social_meta_for(self, request, description=pitch, image=self.social_image)
        own = social_meta_for(self, request, description=pitch)
        shown = fund.social_meta(request)
        return replace(
            shown,
            url=own.url,
            type=own.type,
            head_title=f"{own.site_name} · {shown.title}",
            description=" ".join(part for part in (pitch, shown.description) if part),
        )

    def open_funds(self, request=None):
        return (
            public_pages(FundPage.objects.live(), request)
            .filter(fund__status=FundStatus.OPEN)
            .select_related("fund", "image")
            .order_by("pledge_deadline")[:6]
        )

    def featured_for(self, request):
        """The live featured fund for this render: the page remembered until the next publish, its
        figures (`state`) read afresh."""

        def find():
            # Without its `Fund` row: the figures change with every pledge and are read per render.
            if self.featured_fund_id is None:
                return None
            return FundPage.objects.live().select_related("image").filter(pk=self.featured_fund_id).first()

        return memo.remember(request, ("featured", self.pk, self.featured_fund_id), find)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["featured"] = self.featured_for(request)
        context["open_funds"] = self.open_funds(request)
        return context


class IncidentLevel(models.TextChoices):
    INFO = "info", "Information"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


@register_setting(icon="warning")
class IncidentNotice(ClusterableModel, BaseSiteSetting):
    """A banner at the top of every page, for telling readers what is going on during an incident.

    Saving it purges the page cache (`pagecache.purge`), so switching it on or off shows
    on every page at the next request. Read with Wagtail's `for_request`; base.html keeps the
    rendered banner in a `{% remember %}` fragment, so a remembered page does not read it.

    Saved switched on, it can also tell people outside the site, through the outbox in the
    save's own transaction (`bounties.services.announcing.incident_announce`): a post on the
    site's social accounts when `announce` is ticked, and an email to each backer of the
    `affected_funds`. Each message is told once: saving the same words again sends nothing.
    It is a `ClusterableModel` so that the chosen funds are written by `save()` itself (a
    `ParentalManyToManyField`), not after it as a plain many-to-many form field would be, and
    the save can read the funds it is about.
    """

    active = models.BooleanField(default=False, help_text="Show the notice on every page now.")
    level = models.CharField(max_length=16, choices=IncidentLevel.choices, default=IncidentLevel.INFO)
    message = models.CharField(
        max_length=300,
        blank=True,
        help_text="One or two plain sentences, e.g. “Pledges are paused while we fix a payment problem.”",
    )

    announce = models.BooleanField(
        default=False,
        verbose_name="also post on the site's social accounts",
        help_text="When the notice is switched on, post its message on every announcement channel, once.",
    )
    affected_funds = ParentalManyToManyField(
        "bounties.FundPage",
        blank=True,
        related_name="+",
        help_text="Each backer of these funds gets the message by email, once. None: no email.",
    )

    panels = [
        FieldPanel("active"),
        FieldPanel("level"),
        FieldPanel("message"),
        MultiFieldPanel(
            [FieldPanel("announce"), FieldPanel("affected_funds", widget=forms.CheckboxSelectMultiple)],
            heading="Tell people outside the site",
        ),
    ]

    class Meta:
        verbose_name = "incident notice"

    def clean(self):
        super().clean()
        if self.active and not self.message.strip():
            raise ValidationError({"message": "Write the message readers should see, or switch it off."})

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)  # writes affected_funds too (ClusterableModel)
            if self.active and self.message.strip():
                incident_announce(
                    notice_id=self.pk,
                    message=self.message.strip(),
                    level=self.level,
                    announce=self.announce,
                    fund_ids=list(self.affected_funds.values_list("pk", flat=True)),
                )
