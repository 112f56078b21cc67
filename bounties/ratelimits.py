"""Per-user limits on pledging (RELIABILITY T25) and on creators' posts, counted in the shared cache
by django-ratelimit.

One counter for the pledge page and the API, so a script cannot get around it by switching
channels. A replay counts too: the limit is far above what a person pledges in a minute.
"""

from django.conf import settings
from django_ratelimit.core import is_ratelimited

from bounties.errors import CreatorRateLimited, RateLimited


def check_pledge_rate(request):
    """Raise RateLimited (Retry-After: `RateLimited.retry_after`) when this backer's pledges in the
    last minute are over `PLEDGE_RATE_LIMIT`."""
    rate = settings.PLEDGE_RATE_LIMIT
    if rate and is_ratelimited(request, group="pledge", key="user", rate=rate, method="POST", increment=True):
        raise RateLimited()


def check_creator_rate(request):
    """Raise RateLimited when this creator's proposals, resubmissions, news posts and terms changes in
    the last hour are over `CREATOR_RATE_LIMIT` (web and API count together)."""
    rate = settings.CREATOR_RATE_LIMIT
    if rate and is_ratelimited(
        request, group="creator", key="user", rate=rate, method="POST", increment=True
    ):
        raise CreatorRateLimited()
