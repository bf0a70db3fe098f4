"""Configuration: a class of safe defaults, overridden by the environment, checked at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Native names of every language the service knows; which ones are served is configuration.
LANGUAGE_NAMES: dict[str, str] = {
    "vi": "Tiếng Việt",
    "en": "English",
    "ko": "한국어",
    "zh": "中文（简体）",  # noqa: RUF001 - native punctuation
    "ja": "日本語",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
    "ru": "Русский",
    "it": "Italiano",
    "th": "ไทย",
    "pt": "Português",
}

#: Payment methods an order can name; each is usable once enabled here and registered.
PAYMENT_METHODS = ("cash", "vietqr", "stripe")

INSECURE_DEV_SECRET = "dev-only-not-secret-change-me"  # noqa: S105 - refused in production


#: A CSP frame-ancestors source: 'self', or a scheme and host (a leading *. allowed), no path.
_FRAME_ORIGIN = re.compile(r"'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?")


class ConfigError(RuntimeError):
    """The configuration cannot start the app; the message says what to set."""


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Config:
    """Defaults that run on a fresh machine: SQLite under instance/, no Redis."""

    APP_ENV = "development"
    SECRET_KEY = INSECURE_DEV_SECRET
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled from instance_path when unset
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    # A pooled connection idle for longer than this is checked before use (app.db.ping_after_idle).
    DB_PING_AFTER_IDLE_S = 10.0
    REDIS_URL: str | None = None
    PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    MEDIA_DIR: str | None = None  # default: <instance>/media

    LANGUAGES = ["vi", "en", "ko", "zh", "ja", "fr", "de", "es", "ru"]
    SOURCE_LANGUAGE = "vi"
    FALLBACK_CHAIN = ["en", "vi"]

    TOKEN_TTL_HOURS = 12
    DEVICE_TOKEN_TTL_DAYS = 365
    # How long a process may go on accepting an inspector device's token after it was revoked
    # (or expired) by another process; the revoking process forgets it at once. Gates scan
    # many times a second, so their token lookup is skipped within this window.
    DEVICE_TOKEN_CACHE_TTL_S = 5.0
    MAX_PER_PAGE = 100
    DEFAULT_PER_PAGE = 20
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    # How often a worker process re-reads the catalogue version from the database; writes made
    # in the same process are seen at once, writes from other processes within this delay.
    CATALOGUE_VERSION_TTL_S = 1.0
    LOGIN_RATE_LIMIT = "10 per minute"
    TIMEZONE = "Asia/Ho_Chi_Minh"  # the town's zone: local days of dated tickets and counts

    # Tickets. Private signing keys live in TICKET_KEYS_DIR (default <instance>/ticket-keys) or
    # in TICKET_SIGNING_KEYS ("<id>:<base64url seed>,..."), never in the database.
    TICKET_KEYS_DIR: str | None = None
    TICKET_SIGNING_KEYS: str | None = None
    TICKET_KEYS_CACHE_TTL_S = 5.0
    TICKET_ORDER_TTL_MINUTES = 30
    TICKET_PAYMENT_METHODS = ["cash"]
    ORDER_RATE_LIMIT = "30 per minute"

    # Payments (payments/). Stripe: card payment, needs the secret key and the webhook
    # endpoint's signing secret. VietQR: transfers to the town's account (bank BIN and account
    # number); bank notifications are signed with VIETQR_NOTIFY_SECRET (see README "Payments").
    STRIPE_SECRET_KEY: str | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_WEBHOOK_TOLERANCE_S = 300
    STRIPE_TIMEOUT_S = 20
    STRIPE_MAX_NETWORK_RETRIES = 2
    VIETQR_BANK_BIN: str | None = None
    VIETQR_ACCOUNT: str | None = None
    VIETQR_ACCOUNT_NAME: str | None = None
    VIETQR_NOTIFY_SECRET: str | None = None
    VIETQR_NOTIFY_TOLERANCE_S = 300
    VIETQR_REFERENCE_PREFIX = "HA"

    # The speech pipeline (guides/, worker.py): jobs run in the interpreter
    # of the speech venv, never in the web process.
    SPEECH_PYTHON: str | None = None
    PIPELINE_QUEUE = "guides"
    PIPELINE_LEASE_S = 120.0
    PIPELINE_MAX_ATTEMPTS = 3
    PIPELINE_RETRY_BASE_S = 10.0
    PIPELINE_MAX_UPLOAD_MB = 50.0
    IMAGE_MAX_MB = 15.0  # a site image upload (content/images.py)
    IMAGE_MAX_PIXELS = 40_000_000  # decoded size; more is refused before decoding (image bombs)
    PIPELINE_WORKER_IDLE_S = 5.0
    AUTO_PUBLISH = False
    PIPELINE_SPAWN_WORKERS = True
    # `flask models download/bundle`: another catalogue file, and a mirror of the publishers'
    # files (`<mirror>/<model id>/<file>`), for a town that keeps its own copy.
    MODEL_CATALOGUE: str | None = None
    MODEL_MIRROR: str | None = None
    LOG_JSON = True
    LOG_LEVEL = "INFO"

    # The staff console (/console/): a login lasts CONSOLE_SESSION_HOURS at most and ends after
    # CONSOLE_IDLE_MINUTES without a page; the roles in CONSOLE_TOTP_ROLES must use a second
    # factor (TOTP); anyone who enrolled one always uses it.
    CONSOLE_SESSION_HOURS = 12
    CONSOLE_IDLE_MINUTES = 30
    CONSOLE_TOTP_ROLES: list[str] = []
    CONSOLE_LANGUAGES = ["vi", "en"]  # the console's own words; the first is the default
    SESSION_COOKIE_NAME = "hoian_console"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # True in production (load_config)
    WTF_CSRF_CHECK_DEFAULT = False  # the console checks its own forms; the API uses tokens
    WTF_CSRF_TIME_LIMIT = None  # a form is valid as long as its session
    # Background jobs (app/tasks.py): rq, thread or inline; unset: rq with REDIS_URL, else
    # thread. Mail to buyers (mail/): SMTP when SMTP_HOST is set, else .eml files in MAIL_DIR
    # (default <instance>/mail). SMTP_TLS: starttls, ssl (implicit TLS) or none.
    TASK_RUNNER: str | None = None
    TASKS_QUEUE = "tasks"
    SMTP_HOST: str | None = None
    SMTP_PORT = 587
    SMTP_TLS = "starttls"
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_CA_FILE: str | None = None
    SMTP_TIMEOUT_S = 30.0
    MAIL_FROM = "Hội An tickets <tickets@localhost>"
    MAIL_DIR: str | None = None
    MAIL_MAX_ATTEMPTS = 5
    MAIL_RETRY_BASE_S = 30.0
    # Hostile input and headers (app/guards.py, app/security.py, README "Reliability"): the
    # largest JSON body; who may frame the tourist pages and plaques (CSP origins, none by
    # default); the login limit per account, on top of LOGIN_RATE_LIMIT per address; the
    # memory a pipeline task may use before it fails as out_of_memory (0: no cap).
    MAX_JSON_BYTES = 2 * 1024 * 1024
    FRAME_ANCESTORS: list[str] = []
    LOGIN_ACCOUNT_RATE_LIMIT = "20 per hour"
    PIPELINE_TASK_MEMORY_MB = 4096

    # The inspector's scanner (/scan/): a pairing code works once, for DEVICE_PAIRING_MINUTES;
    # a device may annul its own check-in for CHECKIN_ANNUL_MINUTES after the entry.
    DEVICE_PAIRING_MINUTES = 10
    CHECKIN_ANNUL_MINUTES = 5

    # Insights (insights/): listening events per client, a batch's largest body, how long raw
    # events are kept (`flask insights prune-events`); feedback per client; the longest report.
    EVENTS_RATE_LIMIT = "120 per minute"
    EVENTS_MAX_BYTES = 64 * 1024
    EVENTS_RETENTION_DAYS = 90
    FEEDBACK_RATE_LIMIT = "10 per hour"
    REPORT_MAX_DAYS = 366
    # The tourist map (/ and /tours/<slug>): tiles from this URL template ({z}, {x}, {y}; an
    # https:// URL or a path on this server), shown with this attribution (HTML: a link to the
    # tiles' licence). OpenStreetMap's standard tiles by default; a town's own tile server
    # must answer with CORS (Access-Control-Allow-Origin) so the phone can keep its tiles.
    MAP_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    MAP_TILE_ATTRIBUTION = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )

    # 360° views (content/panoramas.py): an upload's size, its pixels (read from the header
    # before decoding), and its least width.
    PANORAMA_MAX_MB = 40.0
    PANORAMA_MAX_PIXELS = 8192 * 4096
    PANORAMA_MIN_WIDTH = 1024

    JSON_SORT_KEYS = False
    API_TITLE = "Hội An heritage guide API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"


class TestingConfig(Config):
    APP_ENV = "testing"
    LOG_JSON = False
    LOGIN_RATE_LIMIT = "1000 per minute"
    LOGIN_ACCOUNT_RATE_LIMIT = "1000 per minute"
    ORDER_RATE_LIMIT = "100000 per minute"
    EVENTS_RATE_LIMIT = "100000 per minute"
    FEEDBACK_RATE_LIMIT = "100000 per minute"
    PIPELINE_SPAWN_WORKERS = False
    TASK_RUNNER = "inline"


# Environment variable -> (config key, parser)
_ENV: dict[str, tuple[str, Any]] = {
    "APP_ENV": ("APP_ENV", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "REDIS_URL": ("REDIS_URL", str),
    "PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", str),
    "MEDIA_DIR": ("MEDIA_DIR", str),
    "HOIAN_LANGUAGES": ("LANGUAGES", _csv),
    "HOIAN_SOURCE_LANGUAGE": ("SOURCE_LANGUAGE", str),
    "HOIAN_FALLBACK_CHAIN": ("FALLBACK_CHAIN", _csv),
    "HOIAN_TOKEN_TTL_HOURS": ("TOKEN_TTL_HOURS", int),
    "HOIAN_DEVICE_TOKEN_TTL_DAYS": ("DEVICE_TOKEN_TTL_DAYS", int),
    "HOIAN_DEVICE_TOKEN_CACHE_TTL_S": ("DEVICE_TOKEN_CACHE_TTL_S", float),
    "HOIAN_DB_PING_AFTER_IDLE_S": ("DB_PING_AFTER_IDLE_S", float),
    "HOIAN_LOGIN_RATE_LIMIT": ("LOGIN_RATE_LIMIT", str),
    "HOIAN_CATALOGUE_VERSION_TTL_S": ("CATALOGUE_VERSION_TTL_S", float),
    "HOIAN_TIMEZONE": ("TIMEZONE", str),
    "HOIAN_TICKET_KEYS_DIR": ("TICKET_KEYS_DIR", str),
    "HOIAN_TICKET_SIGNING_KEYS": ("TICKET_SIGNING_KEYS", str),
    "HOIAN_TICKET_KEYS_CACHE_TTL_S": ("TICKET_KEYS_CACHE_TTL_S", float),
    "HOIAN_ORDER_TTL_MINUTES": ("TICKET_ORDER_TTL_MINUTES", int),
    "HOIAN_PAYMENT_METHODS": ("TICKET_PAYMENT_METHODS", _csv),
    "HOIAN_ORDER_RATE_LIMIT": ("ORDER_RATE_LIMIT", str),
    "HOIAN_EVENTS_RATE_LIMIT": ("EVENTS_RATE_LIMIT", str),
    "HOIAN_EVENTS_MAX_KB": ("EVENTS_MAX_BYTES", lambda v: int(float(v) * 1024)),
    "HOIAN_EVENTS_RETENTION_DAYS": ("EVENTS_RETENTION_DAYS", int),
    "HOIAN_FEEDBACK_RATE_LIMIT": ("FEEDBACK_RATE_LIMIT", str),
    "HOIAN_REPORT_MAX_DAYS": ("REPORT_MAX_DAYS", int),
    "STRIPE_SECRET_KEY": ("STRIPE_SECRET_KEY", str),
    "STRIPE_PUBLISHABLE_KEY": ("STRIPE_PUBLISHABLE_KEY", str),
    "STRIPE_WEBHOOK_SECRET": ("STRIPE_WEBHOOK_SECRET", str),
    "STRIPE_WEBHOOK_TOLERANCE_S": ("STRIPE_WEBHOOK_TOLERANCE_S", int),
    "STRIPE_TIMEOUT_S": ("STRIPE_TIMEOUT_S", float),
    "STRIPE_MAX_NETWORK_RETRIES": ("STRIPE_MAX_NETWORK_RETRIES", int),
    "VIETQR_BANK_BIN": ("VIETQR_BANK_BIN", str),
    "VIETQR_ACCOUNT": ("VIETQR_ACCOUNT", str),
    "VIETQR_ACCOUNT_NAME": ("VIETQR_ACCOUNT_NAME", str),
    "VIETQR_NOTIFY_SECRET": ("VIETQR_NOTIFY_SECRET", str),
    "VIETQR_NOTIFY_TOLERANCE_S": ("VIETQR_NOTIFY_TOLERANCE_S", int),
    "VIETQR_REFERENCE_PREFIX": ("VIETQR_REFERENCE_PREFIX", str),
    "HOIAN_SPEECH_PYTHON": ("SPEECH_PYTHON", str),
    "HOIAN_PIPELINE_QUEUE": ("PIPELINE_QUEUE", str),
    "HOIAN_PIPELINE_LEASE_S": ("PIPELINE_LEASE_S", float),
    "HOIAN_PIPELINE_MAX_ATTEMPTS": ("PIPELINE_MAX_ATTEMPTS", int),
    "HOIAN_PIPELINE_RETRY_BASE_S": ("PIPELINE_RETRY_BASE_S", float),
    "HOIAN_MAX_UPLOAD_MB": ("PIPELINE_MAX_UPLOAD_MB", float),
    "HOIAN_IMAGE_MAX_MB": ("IMAGE_MAX_MB", float),
    "HOIAN_IMAGE_MAX_PIXELS": ("IMAGE_MAX_PIXELS", int),
    "HOIAN_PIPELINE_WORKER_IDLE_S": ("PIPELINE_WORKER_IDLE_S", float),
    "HOIAN_MODEL_CATALOGUE": ("MODEL_CATALOGUE", str),
    "HOIAN_MODEL_MIRROR": ("MODEL_MIRROR", str),
    "HOIAN_AUTO_PUBLISH": ("AUTO_PUBLISH", lambda v: v.lower() in {"1", "true", "yes"}),
    "HOIAN_CONSOLE_SESSION_HOURS": ("CONSOLE_SESSION_HOURS", int),
    "HOIAN_CONSOLE_IDLE_MINUTES": ("CONSOLE_IDLE_MINUTES", int),
    "HOIAN_CONSOLE_TOTP_ROLES": ("CONSOLE_TOTP_ROLES", _csv),
    "HOIAN_TASK_RUNNER": ("TASK_RUNNER", str),
    "HOIAN_TASKS_QUEUE": ("TASKS_QUEUE", str),
    "HOIAN_SMTP_HOST": ("SMTP_HOST", str),
    "HOIAN_SMTP_PORT": ("SMTP_PORT", int),
    "HOIAN_SMTP_TLS": ("SMTP_TLS", str),
    "HOIAN_SMTP_USERNAME": ("SMTP_USERNAME", str),
    "HOIAN_SMTP_PASSWORD": ("SMTP_PASSWORD", str),
    "HOIAN_SMTP_CA_FILE": ("SMTP_CA_FILE", str),
    "HOIAN_SMTP_TIMEOUT_S": ("SMTP_TIMEOUT_S", float),
    "HOIAN_MAIL_FROM": ("MAIL_FROM", str),
    "HOIAN_MAIL_DIR": ("MAIL_DIR", str),
    "HOIAN_MAIL_MAX_ATTEMPTS": ("MAIL_MAX_ATTEMPTS", int),
    "HOIAN_MAIL_RETRY_BASE_S": ("MAIL_RETRY_BASE_S", float),
    "HOIAN_MAX_JSON_KB": ("MAX_JSON_BYTES", lambda v: int(float(v) * 1024)),
    "HOIAN_FRAME_ANCESTORS": ("FRAME_ANCESTORS", lambda v: v.replace(",", " ").split()),
    "HOIAN_LOGIN_ACCOUNT_RATE_LIMIT": ("LOGIN_ACCOUNT_RATE_LIMIT", str),
    "HOIAN_TASK_MEMORY_MB": ("PIPELINE_TASK_MEMORY_MB", int),
    "HOIAN_DEVICE_PAIRING_MINUTES": ("DEVICE_PAIRING_MINUTES", int),
    "HOIAN_CHECKIN_ANNUL_MINUTES": ("CHECKIN_ANNUL_MINUTES", int),
    "HOIAN_MAP_TILE_URL": ("MAP_TILE_URL", str),
    "HOIAN_MAP_TILE_ATTRIBUTION": ("MAP_TILE_ATTRIBUTION", str),
    "HOIAN_PANORAMA_MAX_MB": ("PANORAMA_MAX_MB", float),
    "HOIAN_PANORAMA_MAX_PIXELS": ("PANORAMA_MAX_PIXELS", int),
    "LOG_LEVEL": ("LOG_LEVEL", str),
    "LOG_JSON": ("LOG_JSON", lambda v: v.lower() in {"1", "true", "yes"}),
}


def load_config(
    *, instance_path: str, overrides: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Merge defaults, environment and explicit overrides, then check the result."""
    base = TestingConfig if environ.get("APP_ENV") == "testing" else Config
    values = {key: getattr(base, key) for key in dir(base) if key.isupper()}
    for env_name, (key, parse) in _ENV.items():
        if env_name in environ and environ[env_name] != "":
            try:
                values[key] = parse(environ[env_name])
            except ValueError as exc:
                raise ConfigError(f"{env_name}={environ[env_name]!r} is not valid: {exc}") from exc
    values.update(overrides or {})
    if not values.get("SQLALCHEMY_DATABASE_URI"):
        values["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(instance_path) / "hoian.db")
    uri = values["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        # psycopg 3 is the driver we ship; accept the common URL spelling.
        values["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if not values.get("MEDIA_DIR"):
        values["MEDIA_DIR"] = str(Path(instance_path) / "media")
    if values["APP_ENV"] == "production":
        values["SESSION_COOKIE_SECURE"] = True
    if not values.get("TICKET_KEYS_DIR"):
        values["TICKET_KEYS_DIR"] = str(Path(instance_path) / "ticket-keys")
    if not values.get("MAIL_DIR"):
        values["MAIL_DIR"] = str(Path(instance_path) / "mail")
    check_config(values)
    return values


def check_config(values: Mapping[str, Any]) -> None:
    """Refuse to start with settings that would be unsafe or inconsistent."""
    languages = values["LANGUAGES"]
    unknown = [code for code in languages if code not in LANGUAGE_NAMES]
    if unknown:
        raise ConfigError(
            f"HOIAN_LANGUAGES has unknown codes {unknown}; known: {sorted(LANGUAGE_NAMES)}"
        )
    if values["SOURCE_LANGUAGE"] not in languages:
        raise ConfigError("HOIAN_SOURCE_LANGUAGE must be one of HOIAN_LANGUAGES")
    missing = [code for code in values["FALLBACK_CHAIN"] if code not in languages]
    if missing:
        raise ConfigError(f"HOIAN_FALLBACK_CHAIN has codes not in HOIAN_LANGUAGES: {missing}")
    try:
        ZoneInfo(values["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"HOIAN_TIMEZONE={values['TIMEZONE']!r} is not a known zone") from exc
    unknown_methods = sorted(set(values["TICKET_PAYMENT_METHODS"]) - set(PAYMENT_METHODS))
    if unknown_methods:
        raise ConfigError(
            f"HOIAN_PAYMENT_METHODS has unknown methods {unknown_methods}; known: "
            f"{', '.join(PAYMENT_METHODS)}"
        )
    _check_payment_config(values)
    _check_mail_config(values)
    bad_origins = [o for o in values["FRAME_ANCESTORS"] if not _FRAME_ORIGIN.fullmatch(o)]
    if bad_origins:
        raise ConfigError(
            f"HOIAN_FRAME_ANCESTORS has entries that are not origins: {bad_origins}; "
            "give https://host names (or 'self'), separated by spaces or commas"
        )
    tiles = str(values["MAP_TILE_URL"])
    if not re.fullmatch(r"(https?://[A-Za-z0-9.-]+(:\d{1,5})?)?/\S*", tiles) or not all(
        part in tiles for part in ("{z}", "{x}", "{y}")
    ):
        raise ConfigError(
            f"HOIAN_MAP_TILE_URL={tiles!r} must be an http(s) URL or a path with {{z}}, {{x}} "
            "and {y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        )
    if values["APP_ENV"] == "production":
        secret = values.get("SECRET_KEY") or ""
        if secret == INSECURE_DEV_SECRET or len(secret) < 32:
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters in "
                "production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if values["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            raise ConfigError("DATABASE_URL must point at PostgreSQL in production")
        if not str(values["PUBLIC_BASE_URL"]).startswith("https://"):
            raise ConfigError("PUBLIC_BASE_URL must be an https:// URL in production")


def _check_payment_config(values: Mapping[str, Any]) -> None:
    """Each enabled payment method needs its settings; production needs real secrets."""
    methods = values["TICKET_PAYMENT_METHODS"]
    production = values["APP_ENV"] == "production"
    if "vietqr" in methods:
        if not re.fullmatch(r"\d{6}", values.get("VIETQR_BANK_BIN") or ""):
            raise ConfigError("vietqr is enabled: set VIETQR_BANK_BIN to the bank's 6-digit BIN")
        if not re.fullmatch(r"[0-9A-Za-z]{1,19}", values.get("VIETQR_ACCOUNT") or ""):
            raise ConfigError("vietqr is enabled: set VIETQR_ACCOUNT to the account number")
        if not re.fullmatch(r"[0-9A-Z]{1,4}", values["VIETQR_REFERENCE_PREFIX"]):
            raise ConfigError("VIETQR_REFERENCE_PREFIX must be 1-4 upper-case letters or digits")
        if production and len(values.get("VIETQR_NOTIFY_SECRET") or "") < 32:
            raise ConfigError(
                "vietqr is enabled: set VIETQR_NOTIFY_SECRET (at least 32 characters, shared "
                "with the bank's notification service) in production"
            )
    if "stripe" in methods:
        key = values.get("STRIPE_SECRET_KEY") or ""
        if not key.startswith(("sk_", "rk_")):
            raise ConfigError("stripe is enabled: set STRIPE_SECRET_KEY (sk_... or rk_...)")
        if not (values.get("STRIPE_WEBHOOK_SECRET") or "").startswith("whsec_"):
            raise ConfigError(
                "stripe is enabled: set STRIPE_WEBHOOK_SECRET to the endpoint's signing "
                "secret (whsec_...)"
            )
        if production and "_test_" in key:
            raise ConfigError("STRIPE_SECRET_KEY is a test key; production needs a live key")


def _check_mail_config(values: Mapping[str, Any]) -> None:
    """The task runner and the SMTP settings are ones we know how to use."""
    if values.get("TASK_RUNNER") not in (None, "", "rq", "thread", "inline"):
        raise ConfigError("HOIAN_TASK_RUNNER must be rq, thread or inline")
    if values.get("TASK_RUNNER") == "rq" and not values.get("REDIS_URL"):
        raise ConfigError("HOIAN_TASK_RUNNER=rq needs REDIS_URL")
    if values["SMTP_TLS"] not in ("starttls", "ssl", "none"):
        raise ConfigError("HOIAN_SMTP_TLS must be starttls, ssl (implicit TLS) or none")
    if bool(values.get("SMTP_USERNAME")) != bool(values.get("SMTP_PASSWORD")):
        raise ConfigError("set both HOIAN_SMTP_USERNAME and HOIAN_SMTP_PASSWORD, or neither")
    if values.get("SMTP_USERNAME") and values["SMTP_TLS"] == "none":
        raise ConfigError("SMTP credentials are never sent in clear: set HOIAN_SMTP_TLS")
    if values["MAIL_MAX_ATTEMPTS"] < 1 or values["MAIL_RETRY_BASE_S"] < 0:
        raise ConfigError("HOIAN_MAIL_MAX_ATTEMPTS must be >= 1, HOIAN_MAIL_RETRY_BASE_S >= 0")
