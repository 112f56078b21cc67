"""The feedback app in the Wagtail admin: the "Feedback" menu and the mentions dashboard panel
(`feedback/admin.py`)."""

from wagtail import hooks

from feedback.admin import FeedbackViewSetGroup, MentionsPanel, may_view_mentions


@hooks.register("register_admin_viewset")
def register_feedback_views():
    return FeedbackViewSetGroup()


@hooks.register("construct_homepage_panels")
def add_mentions_panel(request, panels):
    if may_view_mentions(request.user):
        panels.append(MentionsPanel())
