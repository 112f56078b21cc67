from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """What readers tell the site (the feedback form) and what people say about it elsewhere (mentions)."""

    name = "feedback"
    verbose_name = "Feedback"
