"""Who a session's reader is, as this process last verified it: what a signed-in page hit needs.

A signed-in reader's page is the cached anonymous page with their own parts
(`pagecache.personal`), and those parts need only two answers: is the reader signed in, and
are they an editor (whose pages are rendered in full, for Wagtail's userbar). Django answers
the first by loading the user row on every request (`AuthenticationMiddleware`: the session's
user id, the backend, the session's password hash, `is_active`), which was most of what a
signed-in page view cost (bench/pages.py, "signed in").

So each process remembers, for `READER_CHECK_SECONDS`, the answers Django's full check gave
for a session's (user id, session hash) pair. A session is only ever found by its unguessable
key, and what it says is written by the server, so the pair names one verified sign-in: a
session that logs out is emptied at once, and a password change gives the user's other
sessions a hash Django refuses on their next full check. Until then (at most a minute, and
never in the process where the change was saved: it forgets the user at once) their header
may still show the signed-in links. It is display only, as the editor check already was
(`base.templatetags.userbar_tags`): every link leads to a view that authenticates in full.
"""

import threading
import time
from dataclasses import dataclass

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.signals import setting_changed
from django.db.models.signals import m2m_changed, post_save

READER_CHECK_SECONDS = 60
READERS_KEPT = 10_000


@dataclass(frozen=True)
class Reader:
    signed_in: bool
    editor: bool


ANONYMOUS = Reader(signed_in=False, editor=False)


class _Readers:
    def __init__(self):
        self.lock = threading.Lock()
        self.known: dict[tuple[str, str], tuple[Reader, float]] = {}

    def get(self, user_id, session_hash) -> Reader | None:
        with self.lock:
            found = self.known.get((str(user_id), session_hash or ""))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, user_id, session_hash, reader: Reader):
        with self.lock:
            if len(self.known) >= READERS_KEPT:
                self.known.clear()
            self.known[(str(user_id), session_hash or "")] = (reader, time.monotonic() + READER_CHECK_SECONDS)

    def forget(self, user_id=None):
        with self.lock:
            if user_id is None:
                self.known.clear()
            else:
                for key in [key for key in self.known if key[0] == str(user_id)]:
                    del self.known[key]


readers = _Readers()


def known_reader(session_data: dict) -> Reader | None:
    """The reader of a session (its loaded data), or None when this process has not verified it lately."""
    user_id = session_data.get(SESSION_KEY)
    if user_id is None:
        return ANONYMOUS
    return readers.get(user_id, session_data.get(HASH_SESSION_KEY))


def remember_reader(request, *, editor: bool):
    """After Django's full check of `request.user`: remember its answer for the session's pair."""
    user_id = request.session.get(SESSION_KEY)
    if user_id is not None:
        reader = Reader(signed_in=request.user.is_authenticated, editor=editor)
        readers.put(user_id, request.session.get(HASH_SESSION_KEY), reader)


def _forget_saved_user(sender, instance, **kwargs):
    # A password change or a deactivation: this process checks the user again at once.
    readers.forget(instance.pk)


def _forget_regrouped(sender, instance, **kwargs):
    # Joining or leaving a group (Editors) changes whether pages are rendered in full for them.
    readers.forget(instance.pk if isinstance(instance, get_user_model()) else None)


post_save.connect(_forget_saved_user, sender=get_user_model(), dispatch_uid="pagecache.readers.forget")
m2m_changed.connect(
    _forget_regrouped, sender=get_user_model().groups.through, dispatch_uid="pagecache.readers.groups"
)
setting_changed.connect(
    lambda **kwargs: readers.forget(), dispatch_uid="pagecache.readers.settings", weak=False
)
