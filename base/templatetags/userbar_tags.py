"""`{% editor_userbar %}`: Wagtail's userbar, without two permission queries on every backer's page view.

Wagtail's `{% wagtailuserbar %}` asks `has_perm("wagtailadmin.access_admin")`, which loads
the user's and their groups' permissions: two queries, about half of a signed-in fund page
render (bench/pages.py, "signed in"). Signed-in readers are mostly backers, so whether a user
is an editor is cached for `EDITOR_CHECK_SECONDS`. The userbar is only a shortcut: the admin
checks permissions itself, so a stale answer shows or hides a toolbar, never grants anything.
"""

from django import template
from django.core.cache import cache
from wagtail.admin.templatetags.wagtailuserbar import wagtailuserbar

register = template.Library()

EDITOR_CHECK_SECONDS = 60


def may_edit(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return user.is_active
    key = f"userbar:editor:{user.pk}"
    editor = cache.get(key)
    if editor is None:
        editor = user.has_perm("wagtailadmin.access_admin")
        cache.set(key, editor, EDITOR_CHECK_SECONDS)
    return editor


@register.simple_tag(takes_context=True)
def editor_userbar(context, position="bottom-right"):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_edit(user):
        return ""
    return wagtailuserbar(context, position)
