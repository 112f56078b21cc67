"""django-q2 tasks: one-liners that call the feedback app's services with primary keys.

The two polls run every few minutes from the schedules of `feedback/migrations/0002_*`; each is one
idempotent pass (see `feedback.mentions`).
"""

from feedback import mentions, services


def feedback_email(feedback_id: int):
    return services.feedback_email(feedback_id=feedback_id)


def mentions_poll_x():
    """Every 5 minutes ("poll X mentions"); returns at once without a bearer token or while rate limited."""
    return mentions.poll_x().stored


def mentions_poll_hn():
    """Every 5 minutes ("poll Hacker News mentions")."""
    return mentions.poll_hn().stored
