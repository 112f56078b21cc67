"""django-q2 tasks: one-liners that call a service, named as the service is."""

from bounties.services import pledging


def pledge_complete_pending():
    """Every minute (the "complete pending pledges" schedule, bounties/migrations)."""
    return pledging.pledge_complete_pending()
