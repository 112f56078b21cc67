"""The dated history of a fund's terms: a row whenever a publish changes them.

Pledges and claims copy the terms they were made under, so a change applies only to later
ones; this history is what the fund page lists, so backers see what changed and when.
"""

from django.utils import timezone

from bounties.models import FundPage, FundTerms


def terms_record(page: FundPage, *, at=None) -> FundTerms | None:
    """Record the published page's terms if they differ from the latest recorded; returns the new row."""
    current = FundTerms(
        fund_id=page.pk,
        effective_at=at or timezone.now(),
        **{name: getattr(page, name) for name in FundTerms.TERMS_FIELDS},
    )
    latest = FundTerms.objects.filter(fund_id=page.pk).order_by("-effective_at", "-pk").first()
    if latest is not None and latest.values() == current.values():
        return None
    current.save()
    return current
