"""App settings: access control, embedding and feedback storage, read from the environment in one place.

``AppSettings.from_env()`` is the only function of the app that reads ``os.environ``
(the core's ``Settings.from_env()`` reads the core's own variables). Everything else
receives an ``AppSettings`` explicitly.

Variables::

    POLICYQA_API_KEYS                 comma-separated API keys (raw keys or sha256 hex digests)
    POLICYQA_API_KEYS_FILE            file with one key or sha256 hex digest per line (# comments)
    POLICYQA_ADMIN_KEYS               comma-separated admin keys: they may also add and remove documents
    POLICYQA_ADMIN_KEYS_FILE          file of admin keys, in the format of POLICYQA_API_KEYS_FILE
    POLICYQA_MAX_UPLOAD_BYTES         largest document file an upload may carry (default 20 MB, the loader's limit)
    POLICYQA_TRUSTED_IDENTITY_HEADER  header carrying the user name set by the portal's reverse proxy
    POLICYQA_TRUSTED_PROXIES          comma-separated addresses or CIDR ranges that may set that header
    POLICYQA_CORS_ORIGINS             comma-separated origins allowed to call the API from a browser
    POLICYQA_FRAME_ANCESTORS          comma-separated CSP frame-ancestors sources (default 'self')
    POLICYQA_FEEDBACK_DB              SQLite file for feedback (default var/feedback.sqlite3)
    POLICYQA_FEEDBACK_URL             postgresql://user@host/db: feedback in PostgreSQL, shared by every replica
                                      (default: the SQLite file above)
    POLICYQA_LOG_FORMAT               json: one JSON object per log line, with the request id (default text)
    POLICYQA_SESSION_TTL              lifetime of a browser login session in seconds (default 28800)
    POLICYQA_COOKIE_SECURE            1/0: force the Secure cookie flag (default: set when served over https)
    POLICYQA_ALLOWED_HOSTS            comma-separated host names the server answers to, or * for any (default:
                                      loopback names and IP addresses; any name when keys are on and the
                                      server listens beyond loopback)
    POLICYQA_RATE_LIMIT               requests per client and period, e.g. 60/minute (default: none)
    POLICYQA_MAX_CONCURRENCY          API and UI requests processed at once (default 8)
    POLICYQA_MAX_QUEUE                requests waiting for a turn before 503 (default 64)
    POLICYQA_QUEUE_TIMEOUT            seconds a request may wait for a turn before 503 (default 30)
    POLICYQA_REDIS_URL                redis://host:port/db: rate limits, sessions, the request queue and the
                                      index signal shared by every worker and replica (see ``state``)
    POLICYQA_STATE_DB                 SQLite file for the same on one machine without Redis (``policyqa serve
                                      --workers N`` sets var/state.sqlite3); unset: each process its own
    POLICYQA_READ_ONLY                1: a replica that serves the published index and never builds or
                                      takes documents (default 0)
    POLICYQA_MALLOC_ARENAS            malloc arenas the server's request threads share, glibc only
                                      (default 1; 0: the C library's default, up to eight a core)
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from policyqa import ConfigError
from policyqa.documents import MAX_FILE_BYTES

from .limits import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE, DEFAULT_QUEUE_TIMEOUT_SECONDS, Rate

ENV_PREFIX = "POLICYQA_"
ANY_HOST = "*"
LOG_FORMATS = ("text", "json")
DEFAULT_FEEDBACK_DB = Path("var/feedback.sqlite3")
DEFAULT_FRAME_ANCESTORS = ("'self'",)
DEFAULT_SESSION_TTL_SECONDS = 8 * 3600
DEFAULT_MALLOC_ARENAS = 1  # see allocator.py
# A larger upload could never be added: the loader refuses files over this size.
DEFAULT_MAX_UPLOAD_BYTES = MAX_FILE_BYTES
MIN_KEY_CHARS = 16
_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
_HOST = re.compile(r"^(?:[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*|\[[0-9A-Fa-f:.]+\])$")
# CSP source expressions we accept for frame-ancestors: keywords, schemes and host sources.
_FRAME_SOURCE = re.compile(r"^(?:'self'|'none'|https?:|https?://[A-Za-z0-9.*\-\[\]:]+)$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def key_digest(key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored and compared."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key_entry(entry: str, source: str) -> str:
    """Turn one configured key (raw, hex digest or ``sha256:``-prefixed digest) into its digest."""
    entry = entry.strip()
    if match := _DIGEST.match(entry):
        return match.group(1).lower()
    if len(entry) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{source}: an API key must have at least {MIN_KEY_CHARS} characters "
            f"(or be a 64-digit sha256 hex digest). Currently, one has {len(entry)}."
        )
    return key_digest(entry)


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def read_key_file_digests(path: Path, variable: str = "API_KEYS_FILE") -> frozenset[str]:
    """The digests of the keys in a key file (``POLICYQA_API_KEYS_FILE``, ``POLICYQA_ADMIN_KEYS_FILE``)."""
    return frozenset(parse_key_entry(k, f"{ENV_PREFIX}{variable}") for k in _read_key_file(path, variable))


def _read_key_file(path: Path, variable: str = "API_KEYS_FILE") -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{ENV_PREFIX}{variable}={str(path)!r} cannot be read: {exc.strerror}.") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class AppSettings:
    """How the server admits requests, who may frame it, where feedback goes.

    ``api_key_digests`` are the keys that may read; ``admin_key_digests`` may also add and
    remove documents, and are counted among the readers' (so they authenticate everywhere).

    Example:
        >>> AppSettings(api_key_digests=frozenset({key_digest("a-long-random-key-123")}))
    """

    api_key_digests: frozenset[str] = frozenset()
    admin_key_digests: frozenset[str] = frozenset()
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    trusted_identity_header: str | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    cors_origins: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = DEFAULT_FRAME_ANCESTORS
    feedback_db: Path = DEFAULT_FEEDBACK_DB
    # May carry a password: kept out of repr.
    feedback_url: str | None = field(default=None, repr=False)
    log_format: str = "text"
    session_ttl_seconds: int = DEFAULT_SESSION_TTL_SECONDS
    cookie_secure: bool | None = None
    allowed_hosts: tuple[str, ...] = ()
    rate_limit: Rate | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_queue: int = DEFAULT_MAX_QUEUE
    queue_timeout_seconds: float = DEFAULT_QUEUE_TIMEOUT_SECONDS
    redis_url: str | None = None
    state_db: Path | None = None
    read_only: bool = False
    malloc_arenas: int = DEFAULT_MALLOC_ARENAS
    # Re-read while serving (``security.Authenticator``): a key taken out of them is refused within seconds.
    api_keys_file: Path | None = None
    admin_keys_file: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "feedback_db", Path(self.feedback_db))
        if self.state_db is not None:
            object.__setattr__(self, "state_db", Path(self.state_db))
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"{ENV_PREFIX}REDIS_URL must be a redis://, rediss:// or unix:// URL. "
                f"Currently, it starts {self.redis_url[:8]!r}."
            )
        object.__setattr__(self, "allowed_hosts", tuple(h.lower() for h in self.allowed_hosts))
        for host in self.allowed_hosts:
            if host != ANY_HOST and not _HOST.match(host):
                raise ConfigError(
                    f"allowed_hosts must list host names like policyqa.example.org (no port, no scheme), or *. "
                    f"Currently, one is {host!r}."
                )
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1. Currently, it is {self.max_concurrency}.")
        if self.malloc_arenas < 0:
            raise ConfigError(f"malloc_arenas must be 0 or more. Currently, it is {self.malloc_arenas}.")
        if self.max_queue < 0:
            raise ConfigError(f"max_queue must be 0 or more. Currently, it is {self.max_queue}.")
        if not self.queue_timeout_seconds > 0:
            raise ConfigError(f"queue_timeout_seconds must be positive. Currently, it is {self.queue_timeout_seconds}.")
        object.__setattr__(self, "admin_key_digests", frozenset(d.lower() for d in self.admin_key_digests))
        for digest in self.admin_key_digests:
            if not _DIGEST.match(digest):
                raise ConfigError(
                    f"admin_key_digests must hold sha256 hex digests. Currently, one is {digest[:8]!r}..."
                )
        # An admin may read: access control knows every key by ``api_key_digests``.
        readers = frozenset(d.lower() for d in self.api_key_digests) | self.admin_key_digests
        object.__setattr__(self, "api_key_digests", readers)
        for digest in self.api_key_digests:
            if not _DIGEST.match(digest):
                raise ConfigError(f"api_key_digests must hold sha256 hex digests. Currently, one is {digest[:8]!r}...")
        if not 1 <= self.max_upload_bytes <= MAX_FILE_BYTES:
            raise ConfigError(
                f"max_upload_bytes must be between 1 and {MAX_FILE_BYTES:,} (the loader's limit). "
                f"Currently, it is {self.max_upload_bytes:,}."
            )
        header = self.trusted_identity_header
        if header is not None and not _HEADER_NAME.match(header):
            raise ConfigError(f"trusted_identity_header must be an HTTP header name. Currently, it is {header!r}.")
        if header and not self.trusted_proxies:
            raise ConfigError(
                f"{ENV_PREFIX}TRUSTED_IDENTITY_HEADER is set but {ENV_PREFIX}TRUSTED_PROXIES is empty: "
                "name the reverse proxy's address, or the header would be honoured from no one."
            )
        for origin in self.cors_origins:
            if not _ORIGIN.match(origin):
                raise ConfigError(
                    f"cors_origins must list origins like https://portal.example.org (no '*', no path). "
                    f"Currently, one is {origin!r}."
                )
        if not self.frame_ancestors:
            raise ConfigError("frame_ancestors must name at least one source; use 'none' to forbid framing.")
        for source in self.frame_ancestors:
            if not _FRAME_SOURCE.match(source):
                raise ConfigError(
                    "frame_ancestors must hold CSP sources like 'self', 'none' or https://portal.example.org. "
                    f"Currently, one is {source!r}."
                )
        if self.session_ttl_seconds < 60:
            raise ConfigError(f"session_ttl_seconds must be at least 60. Currently, it is {self.session_ttl_seconds}.")
        if self.feedback_url is not None and not self.feedback_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                f"{ENV_PREFIX}FEEDBACK_URL must be a postgresql:// URL. "
                f"Currently, it starts {self.feedback_url[:11]!r}."
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be 'text' or 'json'. Currently, it is {self.log_format!r}.")

    @property
    def keys_configured(self) -> bool:
        return bool(self.api_key_digests)

    @property
    def auth_required(self) -> bool:
        """True when requests must show a key, a session or a trusted identity."""
        return bool(self.api_key_digests) or bool(self.trusted_identity_header)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> AppSettings:
        """Read the ``POLICYQA_*`` variables listed in the module docstring; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        digests = {parse_key_entry(k, f"{ENV_PREFIX}API_KEYS") for k in _split(env.get(ENV_PREFIX + "API_KEYS"))}
        if key_file := env.get(ENV_PREFIX + "API_KEYS_FILE"):
            digests |= read_key_file_digests(Path(key_file))
            values["api_keys_file"] = Path(key_file)
        values["api_key_digests"] = frozenset(digests)
        admins = {parse_key_entry(k, f"{ENV_PREFIX}ADMIN_KEYS") for k in _split(env.get(ENV_PREFIX + "ADMIN_KEYS"))}
        if admin_file := env.get(ENV_PREFIX + "ADMIN_KEYS_FILE"):
            admins |= read_key_file_digests(Path(admin_file), "ADMIN_KEYS_FILE")
            values["admin_keys_file"] = Path(admin_file)
        values["admin_key_digests"] = frozenset(admins)
        if header := (env.get(ENV_PREFIX + "TRUSTED_IDENTITY_HEADER") or "").strip():
            values["trusted_identity_header"] = header
        values["trusted_proxies"] = parse_networks(_split(env.get(ENV_PREFIX + "TRUSTED_PROXIES")))
        values["cors_origins"] = tuple(o.rstrip("/") for o in _split(env.get(ENV_PREFIX + "CORS_ORIGINS")))
        if ancestors := _split(env.get(ENV_PREFIX + "FRAME_ANCESTORS")):
            values["frame_ancestors"] = tuple(a.rstrip("/") for a in ancestors)
        if db := env.get(ENV_PREFIX + "FEEDBACK_DB"):
            values["feedback_db"] = Path(db)
        if url := (env.get(ENV_PREFIX + "FEEDBACK_URL") or "").strip():
            values["feedback_url"] = url
        if log_format := (env.get(ENV_PREFIX + "LOG_FORMAT") or "").strip().lower():
            values["log_format"] = log_format
        if ttl := env.get(ENV_PREFIX + "SESSION_TTL"):
            try:
                values["session_ttl_seconds"] = int(ttl)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}SESSION_TTL={ttl!r} is not a whole number of seconds.") from exc
        if (secure := env.get(ENV_PREFIX + "COOKIE_SECURE")) is not None and secure.strip():
            flag = secure.strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ConfigError(f"{ENV_PREFIX}COOKIE_SECURE={secure!r} must be 1 or 0.")
            values["cookie_secure"] = flag in _TRUE
        values["allowed_hosts"] = tuple(_split(env.get(ENV_PREFIX + "ALLOWED_HOSTS")))
        if rate := (env.get(ENV_PREFIX + "RATE_LIMIT") or "").strip():
            values["rate_limit"] = Rate.parse(rate)
        for name, field_name, convert in (
            ("MAX_CONCURRENCY", "max_concurrency", int),
            ("MAX_QUEUE", "max_queue", int),
            ("QUEUE_TIMEOUT", "queue_timeout_seconds", float),
            ("MAX_UPLOAD_BYTES", "max_upload_bytes", int),
            ("MALLOC_ARENAS", "malloc_arenas", int),
        ):
            if raw := (env.get(ENV_PREFIX + name) or "").strip():
                try:
                    values[field_name] = convert(raw)
                except ValueError as exc:
                    kind = "whole number" if convert is int else "number of seconds"
                    raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} is not a {kind}.") from exc
        if url := (env.get(ENV_PREFIX + "REDIS_URL") or "").strip():
            values["redis_url"] = url
        if state_db := (env.get(ENV_PREFIX + "STATE_DB") or "").strip():
            values["state_db"] = Path(state_db)
        if (read_only := env.get(ENV_PREFIX + "READ_ONLY")) is not None and read_only.strip():
            flag = read_only.strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ConfigError(f"{ENV_PREFIX}READ_ONLY={read_only!r} must be 1 or 0.")
            values["read_only"] = flag in _TRUE
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR ranges, e.g. ``10.0.0.5`` or ``10.0.0.0/24``."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR range.") from exc
    return tuple(networks)
