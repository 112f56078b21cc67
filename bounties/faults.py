"""Test-only fault switches (pretix's debug flags), read from settings.FUNDFILL_FAULTS.

Empty in every real environment. Control tests switch one on to prove the
concurrency tests can see the bug the guard prevents.
"""

import time

from django.conf import settings

# "unguarded": read-then-write balances and no fund row lock: the lost-update race.
KNOWN = {"unguarded"}


def active(name: str) -> bool:
    if name not in KNOWN:
        raise ValueError(f"unknown fault switch {name!r}")  # a typo would silently test nothing
    return name in getattr(settings, "FUNDFILL_FAULTS", ())


def pause():
    """Widen a race window so a control test reproduces it reliably."""
    time.sleep(0.02)
