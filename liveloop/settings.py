"""Liveloop settings: every knob is an environment variable, documented in docs/operations.md.

Development (the default) runs on SQLite in ./var with a secret key made for the installation
(var/secret_key) and without DEBUG unless LIVELOOP_DEBUG=1; production sets
LIVELOOP_ENV=production, which refuses to start without a real secret key.
"""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from liveloop.secretkey import installation_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


ENVIRONMENT = env_str("LIVELOOP_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("LIVELOOP_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"

DATA_DIR = Path(env_str("LIVELOOP_DATA_DIR", str(BASE_DIR / "var")))

if PRODUCTION:
    SECRET_KEY = env_str("LIVELOOP_SECRET_KEY")
else:
    # No published default: an installation without a key makes its own, once, beside the
    # database (liveloop/secretkey.py), so nobody can forge its signed links from the source.
    SECRET_KEY = os.environ.get("LIVELOOP_SECRET_KEY") or installation_key(DATA_DIR)
# Previous keys, comma-separated, while rotating: signed links and sessions stay valid and
# integration secrets encrypted at rest still decrypt (then `liveloop reseal-secrets`).
SECRET_KEY_FALLBACKS = env_list("LIVELOOP_SECRET_KEY_FALLBACKS", "")
# Only when asked for: DEBUG pages show settings, tracebacks and every URL pattern to whoever
# mistypes a link — promoters inside WeChat included.
DEBUG = env_bool("LIVELOOP_DEBUG", False)
ALLOWED_HOSTS = env_list("LIVELOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # before our apps: its failed-sign-in receiver runs before the audit log's
    "django_htmx",
    "ninja",  # serves the API docs page's Swagger UI from our own static files, not a CDN
    "liveloop.orgs",
    "liveloop.lives",
    "liveloop.promoters",
    "liveloop.events",
    "liveloop.analytics",
    "liveloop.notify",
    "liveloop.web",
    "liveloop.integrations",
    "liveloop.money",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "liveloop.web.middleware.SecurityHeadersMiddleware",
    "liveloop.web.middleware.ApiErrorsAsJsonMiddleware",
    "liveloop.web.middleware.RefuseNulMiddleware",
    "liveloop.web.errors.OverloadMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "liveloop.web.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its docs ask: turns a locked-out sign-in into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "liveloop.urls"
WSGI_APPLICATION = "liveloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]


# Overload (docs/events.md "Overload"): a request waits at most this long for the database's
# write turn (SQLite: the ingest queue and the write lock together) or for any lock (PostgreSQL
# lock_timeout), then answers 503 with Retry-After. Well under gunicorn's 60 s worker timeout.
LIVELOOP_DB_LOCK_WAIT = float(env_str("LIVELOOP_DB_LOCK_WAIT", "10"))
if not 0 < LIVELOOP_DB_LOCK_WAIT <= 30:
    raise ImproperlyConfigured("LIVELOOP_DB_LOCK_WAIT must be more than 0 and at most 30 seconds")
LIVELOOP_RETRY_AFTER = int(env_str("LIVELOOP_RETRY_AFTER", "5"))
# PostgreSQL statement_timeout in seconds; 0 (the default) is none. `liveloop serve` sets 50 for
# its workers, so a runaway query answers 503 before gunicorn kills the worker at 60.
LIVELOOP_DB_STATEMENT_TIMEOUT = float(env_str("LIVELOOP_DB_STATEMENT_TIMEOUT", "0"))
# A rebuild replays the log in parts of about this many events, one group of persons at a time,
# so its memory is bounded by a part, not by the log (events.rebuild, docs/architecture.md).
LIVELOOP_REPLAY_PART_EVENTS = int(env_str("LIVELOOP_REPLAY_PART_EVENTS", "500000"))


def database_from_url(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write
        # lock at BEGIN so two ingest requests never interleave check-then-insert.
        # wal_autocheckpoint: the commit that finds the WAL past this many pages (4 KiB each)
        # copies them into the database and syncs it. At SQLite's 1,000 an ingest batch paid
        # for a checkpoint every few batches, rewriting the same hot index pages each time;
        # at 10,000 (about 40 MB of WAL) commits took half the time (docs/performance.md).
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": LIVELOOP_DB_LOCK_WAIT,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000;",
        }
        config["CONN_MAX_AGE"] = 0
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # random_page_cost 1.1, not PostgreSQL's 4 (a spinning disk's): on SSDs, with the hot
        # indexes cached, the default made the planner read a tenant's whole log rather than
        # probe its (org, eid) index for a batch's 500 ids until the log passed some 100,000
        # rows — 6 ms against 1.4 at 40,000 (docs/performance.md).
        options = f"-c lock_timeout={int(LIVELOOP_DB_LOCK_WAIT * 1000)} -c random_page_cost=1.1"
        if LIVELOOP_DB_STATEMENT_TIMEOUT:
            options += f" -c statement_timeout={int(LIVELOOP_DB_STATEMENT_TIMEOUT * 1000)}"
        config.setdefault("OPTIONS", {})["options"] = options
        # Two checkouts testing side by side on one server each name their own test database.
        config.setdefault("TEST", {})["NAME"] = env_str("LIVELOOP_TEST_DATABASE_NAME", "test_liveloop")
    return config


DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'liveloop.sqlite3'}"
DATABASES = {"default": database_from_url(env_str("LIVELOOP_DATABASE_URL", DEFAULT_DATABASE_URL))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every password set from a page or the command line goes through these (12345678, password,
# the username itself are refused; the messages are Django's own, translated to Chinese).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins (django-axes, docs/security.md): after LIVELOOP_SIGNIN_FAILURES failures from
# one address, or against one account, sign-in is refused for LIVELOOP_SIGNIN_LOCK_MINUTES after
# the last counted failure — the right password included. Attempts while locked do not extend it.
AUTHENTICATION_BACKENDS = [
    "liveloop.orgs.signin.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env_str("LIVELOOP_SIGNIN_FAILURES", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env_str("LIVELOOP_SIGNIN_LOCK_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each on its own: per address and per account
# Not reset by a success: axes would delete every failure from that address, so someone with an
# account of their own could sign in between guesses at another's and never be locked.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "liveloop.web.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "liveloop.orgs.signin.client_address"  # the rate limits' address
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:lives"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "liveloop" / "locale"]
USE_I18N = True
USE_TZ = True
# Stored in UTC; shown in the organisation's zone (default below).
TIME_ZONE = "Asia/Shanghai"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Uploaded brand images (logos, covers): files in the data directory, with no URL of their own:
# views that check the organisation serve them (promoters.images).
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# One ingest request: at most this many events and bytes (EVENTS.md: 1,000 events, each attrs ≤ 2 KB).
INGEST_MAX_EVENTS = 1000
INGEST_MAX_BYTES = 4 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BYTES

# Promoter posters draw Chinese with this font ("path" or "path#index" for a .ttc); empty finds
# Noto Sans CJK SC through fontconfig, then the pinned cvttf_NotoSansCJK_Regular package.
LIVELOOP_CJK_FONT = env_str("LIVELOOP_CJK_FONT", "")
# … and emoji with this colour emoji font (a CBDT font with a 109 px strike, like Noto Color
# Emoji); empty finds Debian's fonts-noto-color-emoji through fontconfig.
LIVELOOP_EMOJI_FONT = env_str("LIVELOOP_EMOJI_FONT", "")

# Cookies and headers (docs/security.md). Production is served over HTTPS only; `make demo`
# (development) stays on plain http, so the Secure flags and HSTS follow PRODUCTION.
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: forms carry the token, htmx sends it from the form.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = int(env_str("LIVELOOP_HSTS_SECONDS", str(365 * 24 * 3600))) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # the brand's other hosts are not ours to pin
# Behind the TLS-terminating proxy (docs/operations.md) the proxy says the request was https.
if env_bool("LIVELOOP_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (liveloop.web.middleware.SecurityHeadersMiddleware): scripts only from
# our own static files (htmx, ECharts, Swagger UI are vendored), no inline script.
LIVELOOP_CSP = env_str("LIVELOOP_CSP", "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # htmx injects its indicator <style>; Swagger UI and ECharts set style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
]))

# Counters for rate limits (docs/security.md). Production shares one Redis among all gunicorn
# workers (LIVELOOP_CACHE_URL=redis://127.0.0.1:6379/0); without it each process counts in its
# own memory, so N workers let through up to N times a limit (fine for `make demo` and tests).
LIVELOOP_CACHE_URL = env_str("LIVELOOP_CACHE_URL", "")
if LIVELOOP_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": LIVELOOP_CACHE_URL, "KEY_PREFIX": "liveloop"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "LOCATION": "liveloop"}}
# The public phone pages, per group: requests per client address and per viewer (the viewer
# cookie or openid, else the promoter's own-page cookie), as "count/period" (s, m, h, d); an
# empty value turns that limit off. Addresses are generous: in China many phones share one
# carrier NAT address, so the per-viewer limit is the tight one.
LIVELOOP_RATE_LIMITS = {
    "join": {"ip": env_str("LIVELOOP_RATE_JOIN_IP", "120/m"),
             "viewer": env_str("LIVELOOP_RATE_JOIN_VIEWER", "20/m"),
             # Per mobile number posted, whichever address it comes from: a person joins a few
             # lives a week, a script trying one number from many addresses is stopped here.
             "phone": env_str("LIVELOOP_RATE_JOIN_PHONE", "10/h")},
    # Asking for a one-time code (each one reaches a real person's phone) and trying one.
    "join_code": {"ip": env_str("LIVELOOP_RATE_JOIN_CODE_IP", "30/h"),
                  "viewer": env_str("LIVELOOP_RATE_JOIN_CODE_VIEWER", "10/h"),
                  "phone": env_str("LIVELOOP_RATE_JOIN_CODE_PHONE", "5/h")},
    "join_verify": {"ip": env_str("LIVELOOP_RATE_JOIN_VERIFY_IP", "60/h"),
                    "viewer": env_str("LIVELOOP_RATE_JOIN_VERIFY_VIEWER", "20/h"),
                    "phone": env_str("LIVELOOP_RATE_JOIN_VERIFY_PHONE", "10/h")},
    "invite": {"ip": env_str("LIVELOOP_RATE_INVITE_IP", "600/m"),
               "viewer": env_str("LIVELOOP_RATE_INVITE_VIEWER", "30/m")},
    "own": {"ip": env_str("LIVELOOP_RATE_OWN_IP", "240/m"),
            "viewer": env_str("LIVELOOP_RATE_OWN_VIEWER", "60/m")},
    # WeChat's return from web login, and the mini-program's reservation reports.
    "wx_login": {"ip": env_str("LIVELOOP_RATE_WX_LOGIN_IP", "240/m")},
    "mp_report": {"ip": env_str("LIVELOOP_RATE_MP_REPORT_IP", "600/m")},
}
# The request header holding the client address when a proxy sits in front (e.g. HTTP_X_REAL_IP);
# empty: the connection's own address (REMOTE_ADDR).
LIVELOOP_CLIENT_IP_HEADER = env_str("LIVELOOP_CLIENT_IP_HEADER", "")
# When the cache cannot count (Redis down), the pages answer without a limit rather than refuse.
RATELIMIT_FAIL_OPEN = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Own-page links and join tokens in request paths ("Not Found: /me/…/") are credentials.
    "filters": {"redact": {"()": "liveloop.logredact.RedactFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LIVELOOP_LOG_LEVEL", "WARNING")},
    # On the loggers that name request paths too: Django's own handlers (its console one when
    # DEBUG, mail_admins) see the record before it reaches ours. runserver's request lines go
    # through our handler rather than Django's.
    "loggers": {"django.request": {"filters": ["redact"]},
                "django.security.csrf": {"filters": ["redact"]},
                "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False,
                                  "filters": ["redact"]}},
}

# WeChat shop (docs/operations.md). The API base is overridden to point at the local emulator.
LIVELOOP_WECHAT_API_BASE = env_str("LIVELOOP_WECHAT_API_BASE", "")
LIVELOOP_WECHAT_MAX_ATTEMPTS = int(env_str("LIVELOOP_WECHAT_MAX_ATTEMPTS", "8"))
LIVELOOP_WECHAT_HTTP_RETRIES = int(env_str("LIVELOOP_WECHAT_HTTP_RETRIES", "3"))
LIVELOOP_WECHAT_HTTP_BACKOFF = float(env_str("LIVELOOP_WECHAT_HTTP_BACKOFF", "0.5"))

# Notices (docs/operations.md): the WeCom API base (a local fake in tests) and the attempts
# before a notice is given up into the dead-letter list.
LIVELOOP_WECOM_API_BASE = env_str("LIVELOOP_WECOM_API_BASE", "https://qyapi.weixin.qq.com")
LIVELOOP_NOTICE_MAX_ATTEMPTS = int(env_str("LIVELOOP_NOTICE_MAX_ATTEMPTS", "8"))
# How long one HTTP call of a channel may take, and how long a worker's claim on a notice lasts.
LIVELOOP_NOTICE_TIMEOUT_SECONDS = float(env_str("LIVELOOP_NOTICE_TIMEOUT_SECONDS", "5"))
LIVELOOP_NOTICE_LEASE_SECONDS = int(env_str("LIVELOOP_NOTICE_LEASE_SECONDS", "600"))
