import pytest


@pytest.fixture(autouse=True)
def _no_feedback_rate_limit(settings):
    """The per-address limit has its own test, from its own address: the others share 127.0.0.1."""
    settings.FEEDBACK_RATE_LIMIT = ""
    settings.FEEDBACK_EMAIL_TO = []
