"""Settings shared by every environment.

Integrations read the environment here, so ``dev``, ``test`` and ``production``
only say what differs. See the README's configuration table.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent
BASE_DIR = PROJECT_DIR.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "fundfill",
    "base",
    "pagecache",
    "accounts",
    "home",
    "content",
    "bounties",
    "finance",
    "search",
    "feedback",
    "monitoring",
    "demo",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_q",
    "axes",
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # Before the page cache: every response, a cached page too, carries its X-Request-ID (monitoring/requestid.py).
    "monitoring.requestid.RequestIdMiddleware",
    # First: a cached page is served before any other middleware runs, with the headers they
    # added when it was stored (pagecache/middleware.py).
    "pagecache.middleware.PageCacheMiddleware",
    # Then a signed-in reader verified lately: the cached page with their parts (pagecache/personal.py).
    "pagecache.personal.PersonalHitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A signed-in reader's page: the cached anonymous page with their own parts (pagecache/personal.py).
    "pagecache.personal.PersonalPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Content Security Policy, report-only for now (settings below).
    "csp.middleware.CSPMiddleware",
    # Last: turns a refused login into the lockout answer (fundfill.lockout).
    "axes.middleware.AxesMiddleware",
]

# Repeated wrong passwords (django-axes): the fifth failure for one username from one address
# locks that pair out for 15 minutes, for the login page, the admin and the API token alike.
# A lockout per username alone would let anyone lock any backer out of their money.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "fundfill.lockout.locked_out"
AXES_CLIENT_IP_CALLABLE = "fundfill.lockout.client_ip"
AXES_VERBOSE = False
# Content Security Policy (django-csp), report-only first: browsers report what it would block
# (in their console) without blocking it, until the site is known to keep to it. Scripts only from
# the site; inline styles stay allowed (progress bars set their width). The Wagtail admin, which
# relies on inline scripts, is left out.
CONTENT_SECURITY_POLICY_REPORT_ONLY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/django-admin/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],  # blob: the proposal form previews the chosen image
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'self'"],
        # The add-money form redirects to Stripe's checkout.
        "form-action": ["'self'", "https://checkout.stripe.com"],
    },
}
# Proxies in front that append to X-Forwarded-For (a platform's router: 1); 0 trusts REMOTE_ADDR.
TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))

ROOT_URLCONF = "fundfill.urls"
CSRF_FAILURE_VIEW = (
    "fundfill.views.csrf_failure"  # a refused form says, in the site's look, that no money moved
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

WSGI_APPLICATION = "fundfill.wsgi.application"

# Database: DATABASE_URL when given, else the embedded SQLite file. Connections
# persist: opening a PostgreSQL connection per request cuts page throughput to a third.
SQLITE_OPTIONS = {
    # Writers queue for the lock at BEGIN instead of failing mid-transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": SQLITE_OPTIONS,
        }
    }
# No ATOMIC_REQUESTS: every business action is its own durable transaction.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_URL = "/static/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded media (fundfill/media.py; README, "Media files"). With a bucket, uploads live in S3 or
# any S3-compatible store (AWS_S3_ENDPOINT_URL) through django-storages, which with boto3 reads
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment (or uses the instance's role).
# Without one, the app serves images from MEDIA_ROOT itself.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "fundfill.storage.MediaS3Storage"}  # S3Storage + Cache-Control
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_S3_CUSTOM_DOMAIN = os.environ.get("AWS_S3_CUSTOM_DOMAIN") or None  # a CDN in front
    # Unsigned URLs: remembered fragments and cached pages keep them longer than a signature lasts.
    AWS_QUERYSTRING_AUTH = False
    # Two uploads with one name keep both files, as on disk (django-storages overwrites by default).
    AWS_S3_FILE_OVERWRITE = False
    if AWS_S3_CUSTOM_DOMAIN:
        MEDIA_ORIGIN = f"https://{AWS_S3_CUSTOM_DOMAIN}"
    elif AWS_S3_ENDPOINT_URL:
        MEDIA_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(AWS_S3_ENDPOINT_URL))
    else:
        MEDIA_ORIGIN = "https://*.amazonaws.com"
    CONTENT_SECURITY_POLICY_REPORT_ONLY["DIRECTIVES"]["img-src"].append(MEDIA_ORIGIN)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Cache and background jobs: Redis when REDIS_URL is set (scale-out), else the database for
# both. Either way the cache is shared by every process (web, worker, manage.py), so a publish
# anywhere reaches every page cache (pagecache/generation.py); a per-process cache would not.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "pagecache.backends.RedisCache",  # Django's, reusing its client (pagecache/backends.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "fundfill",
        }
    }
    # A signed-in page view reads its session from Redis, not PostgreSQL (written through to both).
    # Only with a shared cache: a per-process one would keep a signed-out session alive elsewhere.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            # Django's, with an atomic incr that keeps expiry (pagecache/backends.py); the table comes
            # from the migrations. Room for every page and feed a minute, rate-limit keys included.
            "BACKEND": "pagecache.backends.DatabaseCache",
            "LOCATION": "fundfill_cache",
            "KEY_PREFIX": "fundfill",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        },
        # django-q2's cluster stats, rewritten every half second: not worth a database write each.
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    # Sessions stay plain `db`: cached_db would read the cache table instead of the session
    # table (the same one query) and write both.

# The anonymous page cache (pagecache/middleware.py): pages and feeds from the cache above,
# purged after every publish, unpublish, move or delete. Entries are fresh for
# PAGE_CACHE_SECONDS, which bounds how old the live figures (pledged, backers) can be.
PAGE_CACHE = env_bool("PAGE_CACHE", True)
PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "2"))
# How long a server process trusts its last read of the purge generation (it serves entries it
# holds meanwhile): a publish shows at once on the process that ran it, within this on others.
PAGE_CACHE_LOCAL_SECONDS = float(os.environ.get("PAGE_CACHE_LOCAL_SECONDS", "0.1"))
PAGE_CACHE_ALIAS = "default"
# Pledges a backer may send a minute, web and API together (bounties/ratelimits.py); empty: no limit.
PLEDGE_RATE_LIMIT = os.environ.get("PLEDGE_RATE_LIMIT", "30/m")
# Serving a live page remembers its route, restrictions, notice and link-preview tags per
# process until the generation moves (pagecache/memo.py); off renders each from the database.
# Only with a shared cache (Redis or the database): with local memory each process would have its
# own generation.
PAGE_MEMO = env_bool("PAGE_MEMO", True)
PAGE_CACHE_VIEWS = ("wagtail_serve", "search")  # URL names whose anonymous responses are cached
PAGE_CACHE_QUERY_PARAMS = ("page", "status", "q")  # the only parameters those views read
PAGE_CACHE_SKIP_PREFIXES = ("/admin/", "/django-admin/", "/api/", "/documents/")  # and static, media
# Signed-in readers get the cached page with their own header and messages swapped in
# (pagecache/personal.py), except readers this rule names: editors, whose pages carry the userbar.
PAGE_CACHE_RENDER_IN_FULL = "base.templatetags.userbar_tags.may_edit"

# A CDN in front is purged with the same events (wagtail.contrib.frontend_cache); off unless configured.
if os.environ.get("CLOUDFLARE_BEARER_TOKEN") and os.environ.get("CLOUDFLARE_ZONEID"):
    WAGTAILFRONTENDCACHE = {
        "cloudflare": {
            "BACKEND": "wagtail.contrib.frontend_cache.backends.CloudflareBackend",
            "BEARER_TOKEN": os.environ["CLOUDFLARE_BEARER_TOKEN"],
            "ZONEID": os.environ["CLOUDFLARE_ZONEID"],
        }
    }
elif os.environ.get("FRONTEND_CACHE_URL"):  # Varnish, nginx or any cache that takes PURGE requests
    WAGTAILFRONTENDCACHE = {
        "http": {
            "BACKEND": "wagtail.contrib.frontend_cache.backends.HTTPBackend",
            "LOCATION": os.environ["FRONTEND_CACHE_URL"],
        }
    }

Q_CLUSTER = {
    "name": "fundfill",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    # timeout < retry; the outbox, not the broker, owns retrying.
    "timeout": int(os.environ.get("Q_TIMEOUT", "30")),
    "retry": int(os.environ.get("Q_RETRY", "90")),
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "label": "Background jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["cache"] = "local"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Fundfill <noreply@fundfill.example>")

# Logs go to stdout, one line each, so the platform collects them, each with its request's id (or
# its worker task's). LOG_FORMAT=json writes one JSON object a line (production's default).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "monitoring.requestid.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "monitoring.logs.JsonFormatter"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        # One line per background task run is noise at INFO.
        "django_tasks": {"level": "WARNING"},
    },
}

# Wagtail
WAGTAIL_SITE_NAME = "Fundfill"
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "key", "odt", "pdf", "pptx", "rtf", "txt", "xlsx", "zip"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
# Documents always go through Wagtail's view (collection privacy, Content-Disposition), streamed
# from disk or the bucket; never a redirect to the file, which would skip those checks.
WAGTAILDOCS_SERVE_METHOD = "serve_view"

# Money: integer cents in one currency.
FUNDFILL_CURRENCY = os.environ.get("FUNDFILL_CURRENCY", "usd")
FUNDFILL_MIN_PLEDGE_CENTS = int(os.environ.get("FUNDFILL_MIN_PLEDGE_CENTS", "100"))
FUNDFILL_MAX_PLEDGE_CENTS = int(os.environ.get("FUNDFILL_MAX_PLEDGE_CENTS", "10000000"))
# On PostgreSQL a wallet pledge is written in two SQL statements (bounties/services/ledger.py);
# `false` puts it back on the ORM path that SQLite uses (the same rules, a dozen statements).
FUNDFILL_PLEDGE_SQL = os.environ.get("FUNDFILL_PLEDGE_SQL", "true").lower() != "false"

# Payments: `local` (dev and tests: a test-card page that emits the same signed
# events as Stripe) or `stripe`. STRIPE_API_BASE points the library elsewhere (tests).
PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "local")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
# The local gateway signs its events with a secret derived from SECRET_KEY
# (bounties.payments.local_gateway.LocalGateway.webhook_secret); `stripe` accepts only STRIPE_WEBHOOK_SECRET.

# Payouts to winners: award money is held PAYOUT_HOLD_DAYS against card disputes before it can
# be paid out; by Stripe Connect transfer with the Stripe gateway, else by hand by Finance staff,
# two different approvers above PAYOUT_DUAL_APPROVAL_CENTS (bounties/services/payouts.py).
PAYOUT_HOLD_DAYS = int(os.environ.get("PAYOUT_HOLD_DAYS", "7"))
PAYOUT_DUAL_APPROVAL_CENTS = int(os.environ.get("PAYOUT_DUAL_APPROVAL_CENTS", "100000"))
PAYOUT_METHOD = "stripe" if PAYMENT_GATEWAY == "stripe" else "manual"

# Announcements (bounties/announcers): the channels, a comma list of console, twitter, mastodon,
# bluesky; each enabled channel's settings are checked at start-up (fundfill/checks.py). The
# *_API_BASE settings send a client's requests elsewhere (tests, proxies).
ANNOUNCERS = os.environ.get("ANNOUNCERS", "console")
TWITTER_CONSUMER_KEY = os.environ.get("TWITTER_CONSUMER_KEY", "")
TWITTER_CONSUMER_SECRET = os.environ.get("TWITTER_CONSUMER_SECRET", "")
TWITTER_ACCESS_TOKEN = os.environ.get("TWITTER_ACCESS_TOKEN", "")
TWITTER_ACCESS_TOKEN_SECRET = os.environ.get("TWITTER_ACCESS_TOKEN_SECRET", "")
TWITTER_API_BASE = os.environ.get("TWITTER_API_BASE", "")
# Reading X (the mentions panel's recent search, feedback/sources/x.py) needs the app's bearer token;
# without one, X is not polled.
TWITTER_BEARER_TOKEN = os.environ.get("TWITTER_BEARER_TOKEN", "")
MASTODON_API_BASE = os.environ.get("MASTODON_API_BASE", "")
MASTODON_ACCESS_TOKEN = os.environ.get("MASTODON_ACCESS_TOKEN", "")
BLUESKY_HANDLE = os.environ.get("BLUESKY_HANDLE", "")
BLUESKY_APP_PASSWORD = os.environ.get("BLUESKY_APP_PASSWORD", "")
BLUESKY_API_BASE = os.environ.get("BLUESKY_API_BASE", "")

# How long a worker holds an outbox row it is delivering before the sweep may hand it to another
# (bounties/services/delivery.py); keep it above the slowest provider call.
OUTBOX_LEASE_SECONDS = float(os.environ.get("OUTBOX_LEASE_SECONDS", "60"))

# Webhook endpoints may reach private and loopback addresses only when this is on (tests, one-box set-ups).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

# Follow requests per client address (django-ratelimit rate): each sends a confirmation email.
FOLLOW_RATE_LIMIT = os.environ.get("FOLLOW_RATE_LIMIT", "20/h")
# Proposals, resubmissions, news posts and terms changes a creator may send, web and API together
# (bounties/ratelimits.py); the cap on proposals in review is the "Creators" site setting.
CREATOR_RATE_LIMIT = os.environ.get("CREATOR_RATE_LIMIT", "10/h")

# Announcements: at most this many posts a day per channel ("twitter=50,bluesky=200"; X bills
# per post); the rest wait for the next day, which the outbox admin says (bounties/services/delivery.py).
ANNOUNCE_DAILY_CAP = {
    name.strip(): int(cap)
    for name, _, cap in (
        item.partition("=") for item in os.environ.get("ANNOUNCE_DAILY_CAP", "").split(",") if "=" in item
    )
}

API_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    API_RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "bounties.api.authentication.TokenAuthentication",  # one prepared statement (its docstring)
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bounties.api.errors.exception_handler",
    # JSON only, refusing JSON nested too deeply as `invalid_json` (bounties/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["bounties.api.parsers.JSONParser"],
    # The browsable API (`?format=api`, HTML forms) only while debugging (dev.py turns it on).
    "DEFAULT_RENDERER_CLASSES": API_RENDERERS,
    # A capped limit and a checked offset (bounties/api/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "bounties.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fundfill API",
    "DESCRIPTION": "Wallets, funds and pledges. Money is in integer cents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["bounties.api.schema.api_v1_only"],
    # Several models have a `status`: each choice set gets its own name, not a hash.
    "ENUM_NAME_OVERRIDES": {
        "ClaimStatusEnum": "bounties.models.ClaimStatus",
        "PledgeStatusEnum": "bounties.models.PledgeStatus",
        "SettlementChoiceEnum": "bounties.models.SettlementChoice",
    },
}
# Feedback (feedback/): messages one address (IP) may send an hour (django-ratelimit rate, empty for
# no limit), and who is emailed each one (a comma list; empty: the admin listing only).
FEEDBACK_RATE_LIMIT = os.environ.get("FEEDBACK_RATE_LIMIT", "10/h")
FEEDBACK_EMAIL_TO = env_list("FEEDBACK_EMAIL_TO")
# Mentions on Hacker News come from the public Algolia HN search API; this points it elsewhere (tests).
HN_SEARCH_API_BASE = os.environ.get("HN_SEARCH_API_BASE", "")
FUNDFILL_FAULTS = ()  # test-only switches, see bounties/faults.py
