"""Fund pages: what editors write about a bounty, and its news."""

import html

from csp.decorators import csp_replace
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from django.http import HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.views.decorators.clickjacking import xframe_options_exempt
from wagtail.admin.panels import FieldPanel, FieldRowPanel, HelpPanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import StreamField
from wagtail.models import Page, PageManager, PageViewRestriction
from wagtail.query import PageQuerySet
from wagtail.search import index

from base.seo import SocialMetaMixin, social_meta_for
from bounties.admin.widgets import FundPageForm
from bounties.badges import fund_badge
from bounties.blocks import BodyBlock
from bounties.feeds import FundNewsFeed, NewFundsFeed
from pagecache import memo
from pagecache.serving import FastServeMixin, public_pages

from .funds import Fund, FundStatus

FRAMED_BY_ANYONE = {"frame-ancestors": ["*"]}


class FailurePolicy(models.TextChoices):
    REFUND = "refund", "Refund backers"
    BENEFICIARY = "beneficiary", "Give it to a named beneficiary"


class FundPageQuerySet(PageQuerySet):
    def public_funds(self):
        """Live funds with no view restriction on them or an ancestor (Wagtail's `public()`), with
        their `Fund` row, newest first: `bounties.selectors.public_funds` for everyone but the models.

        One query: the restriction check is a subquery (a restricted page's path is a prefix of
        the fund page's), where Wagtail's `public()` reads every restriction first.
        """
        restricted = PageViewRestriction.objects.filter(
            page__path=Substr(OuterRef("path"), 1, Length("page__path"))
        )
        return (
            self.live()
            .filter(~Exists(restricted))
            .select_related("fund")
            .order_by("-first_published_at", "-pk")
        )


class FundIndexPage(FastServeMixin, SocialMetaMixin, RoutablePageMixin, Page):
    """Lists every fund, filterable by status; `feed/` is the new-funds RSS feed."""

    intro = models.TextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["home.HomePage"]
    subpage_types = ["bounties.FundPage"]
    max_count_per_parent = 1
    per_page = 12

    def funds(self):
        return FundPage.objects.public_funds().child_of(self).select_related("image")

    def social_meta(self, request):
        """Never an empty description: the promote tab's, else the intro, else a sentence of our own."""
        return social_meta_for(
            self,
            request,
            description=self.search_description
            or Truncator(self.intro).chars(300)
            or "Every bounty, open and closed: what must be done, the goal, and what is pledged so far.",
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        status = request.GET.get("status", "")
        funds = self.funds()
        if status in FundStatus.values:
            funds = funds.filter(fund__status=status)
        else:
            status = ""
        paginator = Paginator(funds, self.per_page)
        try:
            funds_page = paginator.page(request.GET.get("page", 1))
        except PageNotAnInteger:
            funds_page = paginator.page(1)
        except EmptyPage:
            funds_page = paginator.page(paginator.num_pages)
        context.update(funds=funds_page, status=status, statuses=FundStatus.choices)
        return context

    def get_cached_paths(self):
        # The feed is served from the same page: a CDN purges both.
        return ["/", "feed/"]

    @path("feed/", name="feed")
    def feed(self, request):
        return NewFundsFeed(self)(request)


class FundPage(FastServeMixin, SocialMetaMixin, RoutablePageMixin, Page):
    """A bounty: what must be done, the goal, and the rules for its escrow.

    Status and pledged totals are not page fields: they live on `Fund`, which
    only the bounty services change (see `bounties.models.funds`).
    """

    summary = models.CharField(
        max_length=300, help_text="One or two sentences: shown in lists and link previews."
    )
    acceptance_criteria = models.TextField(
        "what counts as done",
        blank=True,
        help_text="The test a claim must pass, in plain words: backers vote against it.",
    )
    body = StreamField(BodyBlock(), blank=True)
    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Shown on the page and in link previews (Open Graph).",
    )
    goal_cents = models.PositiveBigIntegerField(
        "goal", validators=[MinValueValidator(100)], help_text="In dollars; stored as cents."
    )
    # The admin shows and reads dates in the site's time zone: the help names it.
    pledge_deadline = models.DateTimeField(
        help_text=f"Pledges are accepted until this moment ({settings.TIME_ZONE})."
    )
    escrow_until = models.DateTimeField(
        help_text=(
            f"Money stays in escrow until this moment ({settings.TIME_ZONE}); "
            "must be on or after the pledge deadline."
        )
    )
    failure_policy = models.CharField(
        max_length=16,
        choices=FailurePolicy.choices,
        default=FailurePolicy.REFUND,
        help_text="What happens to the money when nobody wins by the escrow date.",
    )
    beneficiary_name = models.CharField(
        max_length=200, blank=True, help_text="Required when the failure policy is a beneficiary."
    )
    vote_window_hours = models.PositiveIntegerField(
        default=72,
        validators=[MinValueValidator(24), MaxValueValidator(14 * 24)],
        help_text="How long backers vote on a claim: 24 hours to 14 days.",
    )
    quorum_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of the escrowed money that must vote for a claim decision to count.",
    )
    hashtag = models.CharField(
        max_length=50,
        blank=True,
        validators=[RegexValidator(r"^\w+$", "Letters, digits and underscores only, without the #.")],
        help_text="Added to this fund's announcements (without the #).",
    )
    announce = models.BooleanField(
        "automatic announcements",
        default=True,
        help_text="Announce this fund's events on the site's channels. Backers' receipts are sent regardless.",
    )

    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("acceptance_criteria"),
        index.SearchField("body"),
    ]

    content_panels = Page.content_panels + [
        FieldPanel("summary"),
        FieldPanel("acceptance_criteria"),
        FieldPanel("image"),
        FieldPanel("body"),
        MultiFieldPanel(
            [
                FieldPanel("goal_cents"),
                FieldRowPanel([FieldPanel("pledge_deadline"), FieldPanel("escrow_until")]),
                FieldRowPanel([FieldPanel("failure_policy"), FieldPanel("beneficiary_name")]),
            ],
            heading="Money and escrow",
        ),
        MultiFieldPanel(
            [FieldRowPanel([FieldPanel("vote_window_hours"), FieldPanel("quorum_percent")])],
            heading="Voting on claims",
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("hashtag"), FieldPanel("announce")]),
                HelpPanel(template="bounties/panels/fund_announcements_panel.html"),
            ],
            heading="Announcements",
        ),
        HelpPanel(
            template="bounties/panels/fund_status_panel.html",
            heading="Status (set by the bounty services, read-only)",
        ),
    ]

    # Types the goal in dollars (bounties/admin/widgets.py).
    base_form_class = FundPageForm

    parent_page_types = ["bounties.FundIndexPage"]
    subpage_types = ["bounties.FundUpdatePage"]
    objects = PageManager.from_queryset(FundPageQuerySet)()

    class Meta:
        verbose_name = "fund"

    def clean(self):
        super().clean()
        errors = {}
        if self.pledge_deadline and self.escrow_until and self.escrow_until < self.pledge_deadline:
            errors["escrow_until"] = "The escrow date must be on or after the pledge deadline."
        if self.failure_policy == FailurePolicy.BENEFICIARY and not self.beneficiary_name.strip():
            errors["beneficiary_name"] = "Name the beneficiary who receives the money if nobody wins."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # Every fund page has its money-side row from the start.
        Fund.objects.get_or_create(page_id=self.pk)

    @cached_property
    def state(self):
        """The fund's status and totals (an unsaved default while previewing a new page)."""
        try:
            return self.fund
        except Fund.DoesNotExist:
            return Fund(page=self)

    @property
    def is_open_for_pledges(self):
        return (
            self.state.status in (FundStatus.OPEN, FundStatus.VOTING)
            and timezone.now() < self.pledge_deadline
        )

    def updates(self, request=None):
        return public_pages(FundUpdatePage.objects.live(), request).child_of(self).order_by("-date", "-pk")

    def social_meta(self, request):
        """What a link to this fund previews as: its title, summary and image (also the homepage's when featured)."""
        return social_meta_for(
            self,
            request,
            description=self.search_description or self.summary,
            image=self.image,
            image_alt=self.title if self.image else "",
            type="article",
        )

    def get_cached_paths(self):
        # Served from the same page (and page cache): a CDN purges them all with it.
        return ["/", "feed/", "embed/", "badge/"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["updates"] = memo.remember(
            request, ("updates", self.pk), lambda: list(self.updates(request)[:20])
        )
        context["currency"] = settings.FUNDFILL_CURRENCY
        return context

    @path("feed/", name="feed")
    def feed(self, request):
        return FundNewsFeed(self)(request)

    # Other sites frame the widget: no X-Frame-Options, and CSP's frame-ancestors opened for it
    # (enforced and report-only alike; django-csp adds no header for a policy that is not set).
    @path("embed/", name="embed")
    @xframe_options_exempt
    @csp_replace(FRAMED_BY_ANYONE)
    @csp_replace(FRAMED_BY_ANYONE, REPORT_ONLY=True)
    def embed(self, request):
        """A compact card of the fund for other sites' pages: title, progress, a link to pledge.

        Served and cached like the page itself, so its figures are as fresh as the page's.
        """
        return self.render(request, template="bounties/fund_embed.html")

    @path("badge/", name="badge")
    def badge(self, request):
        """A shields.io-like SVG badge, "$1,910 pledged · 42 backers", for READMEs and posts.

        At `badge/`, not `badge.svg`: Wagtail serves only URLs of slug-like segments
        (`wagtail.urls`), and serving it there is what caches and purges it with the page.
        """
        return HttpResponse(fund_badge(self), content_type="image/svg+xml; charset=utf-8")


class FundUpdatePage(FastServeMixin, SocialMetaMixin, Page):
    """News about one fund, listed on its page newest first."""

    date = models.DateField("post date", default=timezone.localdate)
    body = StreamField(BodyBlock(), blank=True)

    search_fields = Page.search_fields + [index.SearchField("body")]
    content_panels = Page.content_panels + [FieldPanel("date"), FieldPanel("body")]

    parent_page_types = ["bounties.FundPage"]
    subpage_types = []

    class Meta:
        verbose_name = "fund news"
        verbose_name_plural = "fund news"

    @property
    def fund_page(self):
        return self.get_parent().specific

    def excerpt(self, length=300):
        """The first paragraph's text, for link previews when the promote tab says nothing."""
        for block in self.body:
            if block.block_type == "paragraph":
                if text := html.unescape(strip_tags(block.value.source)).strip():
                    return Truncator(text).chars(length)
        return ""

    def social_meta(self, request):
        """An article dated by its post date, shown with its fund's image (news has none of its own)."""
        fund = self.fund_page
        return social_meta_for(
            self,
            request,
            description=self.search_description or self.excerpt() or fund.summary,
            image=fund.image,
            image_alt=fund.title if fund.image else "",
            type="article",
            published_time=self.date.isoformat(),
        )
