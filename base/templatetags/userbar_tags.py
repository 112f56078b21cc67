"""`{% editor_userbar %}`: Wagtail's userbar, without two permission queries on every backer's page view.

Wagtail's `{% wagtailuserbar %}` asks `has_perm("wagtailadmin.access_admin")`, which loads
the user's and their groups' permissions: two queries, about half of a signed-in fund page
render (bench/pages.py, "signed in"). Signed-in readers are mostly backers, so whether a user
is an editor is remembered by each process for `EDITOR_CHECK_SECONDS`. The userbar is only a shortcut: the admin
checks permissions itself, so a stale answer shows or hides a toolbar, never grants anything.
"""

import time

from django import template
from wagtail.admin.templatetags.wagtailuserbar import wagtailuserbar

register = template.Library()

EDITOR_CHECK_SECONDS = 60


# user id -> (is an editor, until when): kept in the process, so a backer's page view spends no
# round trip on it (pagecache/personal.py asks on every signed-in page view). Bounded: cleared when full.
_editors: dict[int, tuple[bool, float]] = {}
EDITOR_CHECKS_KEPT = 10_000


def may_edit(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return user.is_active
    now = time.monotonic()
    known = _editors.get(user.pk)
    if known is not None and known[1] > now:
        return known[0]
    editor = user.has_perm("wagtailadmin.access_admin")
    if len(_editors) >= EDITOR_CHECKS_KEPT:
        _editors.clear()
    _editors[user.pk] = (editor, now + EDITOR_CHECK_SECONDS)
    return editor


@register.simple_tag(takes_context=True)
def editor_userbar(context, position="bottom-right"):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_edit(user):
        return ""
    return wagtailuserbar(context, position)
