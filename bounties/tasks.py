"""django-q2 tasks: one-liners that call a service."""

from bounties.services.pledging import pending_pledges_complete


def complete_pending_pledges():
    return pending_pledges_complete()
