"""Receivers for Wagtail's publish signal: a fund's published terms go into its terms history."""

from django.dispatch import receiver
from wagtail.signals import page_published

from bounties.models import FundPage
from bounties.services.terms import terms_record


@receiver(page_published, sender=FundPage)
def record_terms(sender, instance, revision=None, **kwargs):
    terms_record(instance)
