"""Production: everything from the environment; a missing secret stops start-up."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool

if not SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: export SECRET_KEY to a long random value before starting."
    )

DEBUG = env_bool("DEBUG", False)

# TLS terminates at the proxy in front (Heroku-style); trust its header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
if not SECURE_SSL_REDIRECT:
    # The operator says the proxy in front redirects to HTTPS (a platform router does): the
    # deploy check cannot see that, so its "no redirect" warning is answered here, on purpose.
    SILENCED_SYSTEM_CHECKS = ["security.W008"]
# Secure cookies follow HTTPS, not who redirects to it; only an explicit switch turns them off
# (production settings on plain-HTTP loopback, as the benches run them).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not env_bool("INSECURE_COOKIES", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL)  # noqa: F405

# Test cards are refused in production unless explicitly allowed (benches on loopback).
FUNDFILL_REQUIRE_REAL_PAYMENTS = not env_bool("ALLOW_LOCAL_PAYMENTS", False)

# A load balancer probes /healthz over plain HTTP from inside: answer it, do not redirect it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# One JSON object a log line unless LOG_FORMAT says otherwise (monitoring/logs.py).
LOGGING["handlers"]["stdout"]["formatter"] = os.environ.get("LOG_FORMAT", "json")  # noqa: F405

# Errors to Sentry only when a DSN is set: the Django integration, no personal data, the request id as a tag.
if os.environ.get("SENTRY_DSN"):  # noqa: F405
    from monitoring import sentry

    sentry.init(
        dsn=os.environ["SENTRY_DSN"],  # noqa: F405
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),  # noqa: F405
        release=os.environ.get("SENTRY_RELEASE") or None,  # noqa: F405
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),  # noqa: F405
    )
