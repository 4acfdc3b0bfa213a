"""Settings shared by every environment; every value comes from the environment."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.settings.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_redis,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_secret("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])

# Field encryption: the first key encrypts, every key decrypts (rotation:
# prepend the new key, run `rotate_field_keys`, then drop the old one).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY")
for _key in FIELD_ENCRYPTION_KEYS:
    if len(_key) < 32:
        raise ImproperlyConfigured(
            "Environment variable FIELD_ENCRYPTION_KEY: each key must be at least 32 characters"
        )
SALT_KEY = FIELD_ENCRYPTION_KEYS  # django-fernet-encrypted-fields reads this name
# Keyed hash for lookups of encrypted values; must never change once data exists.
FIELD_HASH_KEY = env_secret("FIELD_HASH_KEY")

# Where each machine keeps its memory-mapped DNC index files ("" = the system temp dir).
DNC_INDEX_DIR = os.environ.get("DNC_INDEX_DIR", "")

TELEPHONY_BACKEND = env_choice("TELEPHONY_BACKEND", ("preview", "twilio", "sip"), "preview")

# Telephony (dialer/backends/). Credentials come from the environment or *_FILE
# secrets, never from the database. A backend that lacks its settings refuses
# to place calls (the attempt is closed as failed) rather than guess.
TELEPHONY_RING_SECONDS = env_int("TELEPHONY_RING_SECONDS", 25, minimum=15)  # 47 CFR 64.1200(a)(6)
# A preview call taken in "My calls" and not logged within this many minutes goes back.
PREVIEW_TAKE_TIMEOUT_MINUTES = env_int("PREVIEW_TAKE_TIMEOUT_MINUTES", 10, minimum=1)
# A staff member's availability lapses when their page has not been seen for this long.
PRESENCE_TIMEOUT_SECONDS = env_int("PRESENCE_TIMEOUT_SECONDS", 90, minimum=15)
# The public origin that providers call back (https://calls.example.org); signatures cover it.
TELEPHONY_PUBLIC_URL = env_str("TELEPHONY_PUBLIC_URL", "").rstrip("/")
if TELEPHONY_PUBLIC_URL and not re.match(r"^https?://[^/\s]+$", TELEPHONY_PUBLIC_URL):
    raise ImproperlyConfigured("Environment variable TELEPHONY_PUBLIC_URL: must be an origin")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
if TWILIO_ACCOUNT_SID and not re.match(r"^AC[0-9a-f]{32}$", TWILIO_ACCOUNT_SID):
    raise ImproperlyConfigured("Environment variable TWILIO_ACCOUNT_SID: must be AC + 32 hex")
TWILIO_AUTH_TOKEN = (
    env_secret("TWILIO_AUTH_TOKEN", min_length=32)
    if os.environ.get("TWILIO_AUTH_TOKEN") or os.environ.get("TWILIO_AUTH_TOKEN_FILE")
    else ""
)
# Only tests point this elsewhere (a local fake of the REST API).
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com").rstrip("/")
# SIP: a baresip user agent with its ctrl_tcp module, and the trunk or PBX it dials through.
SIP_CTRL_HOST = env_str("SIP_CTRL_HOST", "127.0.0.1")
SIP_CTRL_PORT = env_int("SIP_CTRL_PORT", 4444, minimum=1)
SIP_TRUNK_HOST = env_str("SIP_TRUNK_HOST", "")  # host[:port] of the PBX or trunk
# Every request to a provider gives up after this many seconds (a slow provider
# must not push calls out of their window); a chunk of planned calls stops placing
# after DISPATCH_CHUNK_SECONDS and hands the rest back to the planner.
TELEPHONY_PLACE_TIMEOUT_SECONDS = env_int("TELEPHONY_PLACE_TIMEOUT_SECONDS", 10, minimum=1)
DISPATCH_CHUNK_SECONDS = env_int("DISPATCH_CHUNK_SECONDS", 120, minimum=1)
# An attempt without an outcome this long after it started is asked of its backend
# (dialer/runtime/reconciler.py); longer than ring time plus the place timeout, so a call
# still being placed or ringing is never taken for a stranded one.
RECONCILE_LEASE_SECONDS = env_int("RECONCILE_LEASE_SECONDS", 300, minimum=60)
if RECONCILE_LEASE_SECONDS <= TELEPHONY_RING_SECONDS + TELEPHONY_PLACE_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "Environment variable RECONCILE_LEASE_SECONDS: must exceed"
        " TELEPHONY_RING_SECONDS + TELEPHONY_PLACE_TIMEOUT_SECONDS"
    )

# The audit trail: requests append rows unsealed; the sealer (audit.services.audit_seal)
# links them into the hash chain every AUDIT_SEAL_INTERVAL_SECONDS. An unsealed row older
# than AUDIT_SEAL_MAX_SECONDS is an alert (verify_audit, /health/, the sealer's log).
AUDIT_SEAL_INTERVAL_SECONDS = env_int("AUDIT_SEAL_INTERVAL_SECONDS", 2, minimum=1)
AUDIT_SEAL_MAX_SECONDS = env_int("AUDIT_SEAL_MAX_SECONDS", 30, minimum=5)
if AUDIT_SEAL_MAX_SECONDS <= 2 * AUDIT_SEAL_INTERVAL_SECONDS:
    raise ImproperlyConfigured(
        "Environment variable AUDIT_SEAL_MAX_SECONDS: must exceed twice AUDIT_SEAL_INTERVAL_SECONDS"
    )

# Reassigned Numbers Database queries (dnc/rnd/provider.py): the scrub service's
# API and key. Unset: no queries are sent (answers come from results files).
RND_PROVIDER_URL = env_str("RND_PROVIDER_URL", "").rstrip("/")
if RND_PROVIDER_URL and not re.match(r"^https?://[^\s]+$", RND_PROVIDER_URL):
    raise ImproperlyConfigured("Environment variable RND_PROVIDER_URL: must be an http(s) URL")
RND_PROVIDER_KEY = (
    env_secret("RND_PROVIDER_KEY", min_length=16)
    if os.environ.get("RND_PROVIDER_KEY") or os.environ.get("RND_PROVIDER_KEY_FILE")
    else ""
)
RND_PROVIDER_BATCH = env_int("RND_PROVIDER_BATCH", 1000, minimum=1)  # queries per request
RND_PROVIDER_TIMEOUT = env_int("RND_PROVIDER_TIMEOUT", 30, minimum=1)  # seconds

INSTALLED_APPS = [
    "access.apps.StaffAdminConfig",  # the admin site, behind two factors
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "audit",
    "dnc",
    "campaigns",
    "consent",
    "dialer",
    "reports",
    # Staff sign-in: second factors (TOTP, recovery codes) and lockout. After the
    # apps above, so that access's admin module can withdraw the libraries' pages.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "access",
]

# The staff side's (access.*: session, sign-in, second factor, messages, idle logoff)
# pass API requests with a token straight on: they have nothing to do there.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "access.middleware.StaffSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "access.middleware.StaffAuthenticationMiddleware",
    "access.middleware.StaffOTPMiddleware",
    "access.middleware.StaffMessageMiddleware",
    "access.middleware.IdleLogoffMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes' own (its checks look for it by name): for an API request, one getattr.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "access.middleware.idle_logoff_context",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL")}
# Django's PostgreSQL backend with a health check that sends no query (common.postgres).
DATABASES["default"]["ENGINE"] = "common.postgres"
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parameters bound on the server, so PostgreSQL can keep a plan per statement and
# connection: a statement run DB_PREPARE_THRESHOLD times is prepared. Planning was
# most of the database time of an API request (bench/api.py). 0 turns it off
# (for a connection pooler that cannot keep prepared statements).
_prepare_threshold = env_int("DB_PREPARE_THRESHOLD", 2, minimum=0)
DATABASES["default"]["OPTIONS"] = {
    **DATABASES["default"].get("OPTIONS", {}),
    "server_side_binding": True,
    "prepare_threshold": _prepare_threshold or None,
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The marketing alias: the same database, as a role that may read only the
# marketing view (created by reports' migration or `manage.py marketing_role`).
# reports.routers sends the marketing models there; nothing else uses it.
MARKETING_DB_USER = env_str("MARKETING_DB_USER", "marketing")
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", MARKETING_DB_USER):
    raise ImproperlyConfigured(
        "Environment variable MARKETING_DB_USER: must be a lower-case PostgreSQL role name"
    )
# Default: derived from SECRET_KEY (stable across processes, never stored).
MARKETING_DB_PASSWORD = env_secret(
    "MARKETING_DB_PASSWORD",
    hmac.new(SECRET_KEY.encode(), b"marketing-db-password", hashlib.sha256).hexdigest(),
)
DATABASES["marketing"] = {
    **DATABASES["default"],
    "USER": MARKETING_DB_USER,
    "PASSWORD": MARKETING_DB_PASSWORD,
    # Tests: the same test database, reached as the marketing role (a mirror is
    # neither created nor flushed by the test runner).
    "TEST": {"MIRROR": "default"},
}
DATABASE_ROUTERS = ["reports.routers.MarketingRouter"]

REDIS_URL = env_redis("REDIS_URL")
# Short timeouts: with Redis unreachable, a request fails over (the API throttle
# counts in-process) within a second or two instead of hanging.
REDIS_SOCKET_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 2}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": REDIS_SOCKET_TIMEOUTS,
    }
}

# Staff passwords: long, unlike the user's own names, and not on the list of
# 20,000 breached passwords that Django ships (no network call).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff sign-in (access/; HIPAA 164.312(a)(2)(iii), (d), 164.308(a)(5)(ii)(C)).
# Axes checks the lockout before any password is compared.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Idle logoff: a session without a request for this long is signed out (and its
# call in hand goes back); the cookie itself ends when the browser closes.
SIGNIN_IDLE_MINUTES = env_int("SIGNIN_IDLE_MINUTES", 15, minimum=1)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A backstop for a session whose browser never came back (one working day).
SESSION_COOKIE_AGE = 12 * 3600
# Lockout: after this many failures (a wrong password or a wrong code) for one
# user name, or from one address, sign-in is refused until an operator unlocks
# (`manage.py signin_unlock`), or after SIGNIN_LOCKOUT_MINUTES when set.
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10, minimum=3)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
_lockout_minutes = env_int("SIGNIN_LOCKOUT_MINUTES", 0, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=_lockout_minutes) if _lockout_minutes else None
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False  # unlocking goes through the audited command only
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "csrfmiddlewaretoken"]
AXES_LOCKOUT_TEMPLATE = "access/locked.html"
AXES_PERMALOCK_MESSAGE = (
    "This account or address is locked after too many failed sign-ins. "
    "Ask an operator to unlock it."
)
# Behind N reverse proxies, the client is the N-th address from the right of
# X-Forwarded-For (0: the connection's own address).
SIGNIN_PROXY_COUNT = env_int("SIGNIN_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "access.services.client_address"
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Call orchestrator")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; local times are the called party's
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Celery: the database is the queue of record; Redis only carries short-lived work.
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport, with one client per channel for publishing (config/broker.py).
CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "dispatch"
CELERY_TASK_ROUTES = {"*.bulk_*": {"queue": "bulk"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing fails fast while Redis is down (a few tries within about a second,
# not a long retry): what was to be sent is in the database, and the planner's
# next tick sends it (a callback's on-commit dispatch is logged as not queued).
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 5}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["dialer.api.auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["dialer.api.auth.IsApiClient"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["dialer.api.common.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env_str("API_THROTTLE_RATE", "6000/min")},
    "EXCEPTION_HANDLER": "dialer.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Call orchestrator API",
    "DESCRIPTION": "Callbacks, contacts, consents, Do-Not-Call and call decisions for one program.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dialer.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "UsStateEnum": "dialer.api.common.US_STATE_CODES",
        "ConsentStateEnum": "dialer.api.consents.CONSENT_STATES",
        "RevocationChannelEnum": "consent.models.RevocationChannel",
    },
}

# No phone number in a log line (common.logging): every handler redacts the path
# segment after /dnc/ and phone-shaped numbers, and configuring the filter cleans
# every record of the process at creation (granian's access log included).
# Django's own loggers are routed to these handlers so none keeps an unfiltered one.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_phi": {"()": "common.logging.RedactPhi"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_phi"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_phi"],
        },
    },
    "loggers": {
        # Replaces Django's defaults (console in DEBUG, mail_admins): records
        # go to the root's filtered handler; an error mail would carry the request.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # The client logs each request's parameters (the called number) at INFO.
        "twilio": {"handlers": [], "level": "WARNING", "propagate": True},
        # Sign-in events are in the audit trail; the library's own lines repeat them.
        "axes": {"handlers": [], "level": "ERROR", "propagate": True},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}

LOGIN_URL = "admin:login"
