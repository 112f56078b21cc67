"""What the site allows the people who propose funds (creators), set by editors per site.

A creator's fund is born as a draft `FundPage` they own, reviewed in the "Fund review"
workflow (`bounties.services.proposals`). These are the knobs editors turn without a deploy.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting


@register_setting(icon="user")
class CreatorSettings(BaseSiteSetting):
    max_proposals_in_review = models.PositiveSmallIntegerField(
        "proposals in review per creator",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="A creator with this many proposals in review (or waiting for their changes) cannot propose another.",
    )
    news_needs_review = models.BooleanField(
        "creators' news goes to review",
        default=False,
        help_text="Off: a creator's news about their live fund is published at once. On: it waits for an editor.",
    )
    new_account_days = models.PositiveSmallIntegerField(
        "new accounts (days)",
        default=7,
        validators=[MaxValueValidator(365)],
        help_text="News from accounts younger than this always waits for an editor, whatever the switch above says.",
    )

    panels = [
        FieldPanel("max_proposals_in_review"),
        FieldPanel("news_needs_review"),
        FieldPanel("new_account_days"),
    ]

    class Meta:
        verbose_name = "creators"
