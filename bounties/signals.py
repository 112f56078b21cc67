"""Receivers for Wagtail's publish signal.

A fund's published terms go into its terms history. A fund's first publish and each news
post's first publish are announced: the dedupe keys (`fund:{pk}:published`,
`news:{pk}:published`) make a later republish announce nothing.
"""

from django.dispatch import receiver
from wagtail.signals import page_published

from bounties.models import FundPage, FundUpdatePage
from bounties.services import announcing
from bounties.services.terms import terms_record


@receiver(page_published, sender=FundPage)
def fund_published(sender, instance, revision=None, **kwargs):
    terms_record(instance)
    announcing.stage(key=f"fund:{instance.pk}:published", event="fund_published", fund=instance.pk)


@receiver(page_published, sender=FundUpdatePage)
def news_published(sender, instance, revision=None, **kwargs):
    fund_page = instance.get_parent().specific
    if not isinstance(fund_page, FundPage):
        return
    _, _, path = instance.get_url_parts() or (None, None, "")
    announcing.stage(
        key=f"news:{instance.pk}:published",
        event="news_published",
        fund=fund_page.pk,
        news=instance.pk,
        title=instance.title,
        path=path,
    )
