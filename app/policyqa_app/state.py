"""State that workers and replicas share: rate buckets, sign-ins, sessions, embed tokens, queue slots, the index signal.

One process keeps all of it in memory (``limits.RateLimiter``, ``limits.AttemptThrottle``,
``security.SessionStore``, ``embed.EmbedTokenStore``, ``limits.ConcurrencyLimiter``): that is the
in-process backend and the
default. Several processes share it through a :class:`SharedState`:

* :class:`RedisState` when ``POLICYQA_REDIS_URL`` is set (replicas on several machines): every
  operation is one atomic Lua script or one command, and every key expires;
* :class:`SqliteState` when ``POLICYQA_STATE_DB`` names a file (``policyqa serve --workers N``
  sets ``var/state.sqlite3`` when no Redis is configured): one machine, WAL mode, each
  operation one ``BEGIN IMMEDIATE`` transaction.

The adapters :class:`SharedRateLimiter`, :class:`SharedAttemptThrottle`,
:class:`SharedSessionStore` and :class:`SharedEmbedTokenStore` have the methods of the
in-process classes, so their callers do not change (an embed token that a portal got from one
replica signs its frame in on another); the concurrency limiter asks :meth:`SharedState.enter` for a slot first.

Queue slots are leased per process: a process's count lives under its own key (row) with an
expiry that a heartbeat thread renews every few seconds and resets to the process's own count,
so the slots of a worker that crashed come back within ``SLOT_LEASE_SECONDS`` and a count that
drifted (a release lost while the store was down) is corrected. A state made before a fork (the
supervisor of ``policyqa serve --workers N`` builds the app once for every worker) gives each
child its own owner, lease and connections.

When the store cannot be reached, operations raise :class:`StateUnavailableError`, which
:class:`StateErrorMiddleware` answers with 503 ``state_unavailable``; the next request tries
again, so service resumes by itself when the store is back.

Example:
    >>> state = open_state(AppSettings.from_env())   # None: in-process
    >>> SharedRateLimiter(state, Rate.parse("60/minute")).take("key:0a1b2c3d")
    0.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import secrets
import socket
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .embed import EMBED_TOKEN_TTL_SECONDS, embed_token_error, new_embed_token
from .limits import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS, Rate
from .security import Identity, error_body
from .sqlite_files import opened_while_locked

if TYPE_CHECKING:
    from .config import AppSettings

log = logging.getLogger("policyqa.app")

# A crashed process's queue slots come back after this long; a live one renews its lease every third of it.
SLOT_LEASE_SECONDS = 15.0
# A store that does not answer within this long is down for this request (503), not waited for.
REDIS_TIMEOUT_SECONDS = 1.0
REDIS_PREFIX = "policyqa:"
# A spent or expired embed token is remembered this long after it expires, so that a second
# use is refused as "used" or "expired" (with advice) rather than as never issued.
EMBED_TOKEN_MEMORY_SECONDS = 600.0
SQLITE_BUSY_MS = 5_000
UNAVAILABLE_MESSAGE = "The shared state store (rate limits, sessions, request queue) cannot be reached. Retry shortly."


class StateUnavailableError(RuntimeError):
    """The shared store (Redis or the SQLite file) did not answer; the request gets 503."""


class SharedState(Protocol):
    """What workers and replicas share. Times are seconds; every entry expires by itself."""

    backend: str  # "redis" or "sqlite", as /readyz reports it

    def take(self, key: str, rate: Rate) -> float:
        """Spend one token of ``key``'s bucket: 0.0 when admitted, else seconds until a token is back."""
        ...

    def attempt(self, key: str, attempts: int, window: float) -> float:
        """Count an attempt, at most ``attempts`` per ``window``: 0.0 when counted, else seconds to wait."""
        ...

    def refund(self, key: str) -> None:
        """Uncount the latest attempt of ``key`` (it succeeded)."""
        ...

    def put_session(self, digest: str, identity: str, ttl: int) -> None:
        """Keep a session (``identity`` serialised) under its token's digest for ``ttl`` seconds."""
        ...

    def get_session(self, digest: str) -> str | None: ...

    def drop_session(self, digest: str) -> None: ...

    def put_embed_token(self, digest: str, identity: str, ttl: float) -> None:
        """Keep an embed token (``identity`` serialised) under its digest, redeemable once within ``ttl`` seconds."""
        ...

    def put_conversation(self, key: str, answers: str, ttl: int) -> None:
        """Keep a chat UI conversation's answers (JSON) under ``key`` for ``ttl`` seconds."""
        ...

    def get_conversation(self, key: str) -> str | None: ...

    def redeem_embed_token(self, digest: str) -> tuple[str, str | None]:
        """Spend an embed token: ``("ok", identity)``, or ``("unknown" | "used" | "expired", None)``."""
        ...

    def enter(self, capacity: int) -> bool:
        """Take a queue slot when fewer than ``capacity`` are taken across all processes."""
        ...

    def leave(self) -> None:
        """Give back a slot this process took."""
        ...

    def publish_generation(self, generation: str) -> None:
        """Announce the index build now live (the builder calls it after an add or a remove)."""
        ...

    def generation(self) -> str | None:
        """The index build last announced, or ``None``."""
        ...

    def ping(self) -> None:
        """Raise :class:`StateUnavailableError` when the store cannot be reached."""
        ...

    def close(self) -> None: ...


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _begin_in_each_forked_child(state: RedisState | SqliteState) -> None:
    """Give ``state`` a process of its own again in every child forked after this call.

    ``policyqa serve --workers N`` builds the app, and with it the state, before it forks the
    workers, so that they share its pages: each worker must still own its queue slots (its own
    owner and lease) and its own connections.
    """
    own = weakref.ref(state)

    def begin() -> None:
        alive = own()
        if alive is not None:
            alive._begin_process()

    os.register_at_fork(after_in_child=begin)


class _SlotLease:
    """This process's count of queue slots and the heartbeat that renews its lease in the store."""

    def __init__(self, renew: Any, lease_seconds: float) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self._renew = renew  # called with the count, under the lock
        self._lease_seconds = lease_seconds
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="policyqa-slot-lease", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            try:
                with self.lock:
                    self._renew(self.count)
            except StateUnavailableError:
                pass  # renewed at the next beat; meanwhile requests get 503 anyway
            except Exception:  # the heartbeat must outlive any one failure
                log.exception("Renewing the queue-slot lease failed")

    def stop(self) -> None:
        self._stop.set()


# --- Redis --------------------------------------------------------------------------------------

# Token bucket in Redis's own clock (TIME), so replicas whose clocks differ share one bucket.
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = tonumber(redis.call('HGET', KEYS[1], 't'))
local updated = tonumber(redis.call('HGET', KEYS[1], 'u'))
if tokens == nil or updated == nil then tokens = capacity; updated = now end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * per_ms)
local wait_ms = 0
if tokens >= 1 then tokens = tokens - 1 else wait_ms = (1 - tokens) / per_ms end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
return tostring(wait_ms)
"""
# A fixed window of attempts: the count and its expiry are one key.
_ATTEMPT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then redis.call('DEL', KEYS[1]); left = 0 end
  return math.max(left, 1)
end
redis.call('INCR', KEYS[1])
if n == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# Take one back, never below zero: a refunded sign-in attempt, a queue slot left.
_DECREMENT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""
# An embed token: its identity, its expiry in Redis's clock, whether it was spent.
_PUT_EMBED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'i', ARGV[1], 'e', tostring(now + tonumber(ARGV[2])), 'u', '0')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
return 0
"""
# Spent in the same script that checks it: two replicas redeeming one token at once admit one.
_REDEEM_EMBED = """
local fields = redis.call('HMGET', KEYS[1], 'i', 'e', 'u')
if not fields[1] then return {'unknown'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(fields[2]) then return {'expired'} end
if fields[3] == '1' then return {'used'} end
redis.call('HSET', KEYS[1], 'u', '1')
return {'ok', fields[1]}
"""
# KEYS[1]: the set of every process's slot key; KEYS[2]: this process's. A key that expired
# (its process is gone) leaves the set and its slots with it.
_ENTER = """
local total = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local n = redis.call('GET', key)
  if n then total = total + tonumber(n) else redis.call('SREM', KEYS[1], key) end
end
if total >= tonumber(ARGV[1]) then return 0 end
redis.call('SADD', KEYS[1], KEYS[2])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""
# The heartbeat: this process's true count, with a fresh lease.
_RENEW = """
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[1], KEYS[2])
return 0
"""


class RedisState:
    """:class:`SharedState` on one Redis server (``redis://host:6379/0``); keys under ``policyqa:``.

    Example:
        >>> state = RedisState("redis://127.0.0.1:6379/0")
    """

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX, lease_seconds: float = SLOT_LEASE_SECONDS) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ImportError("POLICYQA_REDIS_URL needs redis-py: pip install 'policyqa[scale]'") from exc
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        # One immediate retry: a pooled connection that died with a Redis restart is replaced, not reported.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        self._prefix = prefix
        self._lease_seconds = lease_seconds
        self._lease_ms = int(lease_seconds * 1000)
        self._slots_key = f"{prefix}slots"
        self._take = self._client.register_script(_TAKE)
        self._attempt = self._client.register_script(_ATTEMPT)
        self._refund = self._client.register_script(_DECREMENT)
        self._enter = self._client.register_script(_ENTER)
        self._leave = self._client.register_script(_DECREMENT)
        self._renew = self._client.register_script(_RENEW)
        self._put_embed = self._client.register_script(_PUT_EMBED)
        self._redeem_embed = self._client.register_script(_REDEEM_EMBED)
        self._begin_process()
        _begin_in_each_forked_child(self)

    def _begin_process(self) -> None:
        """This process's slot key and lease (redis-py opens new connections in a forked child itself)."""
        self._own_slot_key = f"{self._prefix}slot:{_owner_id()}"
        self._lease = _SlotLease(self._renew_lease, self._lease_seconds)

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except self._errors as exc:
            raise StateUnavailableError(f"Redis: {exc}") from exc

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    def take(self, key: str, rate: Rate) -> float:
        per_ms = rate.count / (rate.seconds * 1000)
        wait_ms = self._call(self._take, keys=[self._key("rate", key)], args=[rate.count, repr(per_ms)])
        return float(wait_ms) / 1000

    def attempt(self, key: str, attempts: int, window: float) -> float:
        wait_ms = self._call(self._attempt, keys=[self._key("attempt", key)], args=[attempts, int(window * 1000)])
        return int(wait_ms) / 1000

    def refund(self, key: str) -> None:
        self._call(self._refund, keys=[self._key("attempt", key)])

    def put_session(self, digest: str, name: str, ttl: int) -> None:
        self._call(self._client.set, self._key("session", digest), name, ex=ttl)

    def get_session(self, digest: str) -> str | None:
        value = self._call(self._client.get, self._key("session", digest))
        return None if value is None else str(value)

    def drop_session(self, digest: str) -> None:
        self._call(self._client.delete, self._key("session", digest))

    def put_conversation(self, key: str, answers: str, ttl: int) -> None:
        self._call(self._client.set, self._key("conversation", key), answers, ex=ttl)

    def get_conversation(self, key: str) -> str | None:
        value = self._call(self._client.get, self._key("conversation", key))
        return None if value is None else str(value)

    def put_embed_token(self, digest: str, identity: str, ttl: float) -> None:
        args = [identity, int(ttl * 1000), int(EMBED_TOKEN_MEMORY_SECONDS * 1000)]
        self._call(self._put_embed, keys=[self._key("embed", digest)], args=args)

    def redeem_embed_token(self, digest: str) -> tuple[str, str | None]:
        reply = self._call(self._redeem_embed, keys=[self._key("embed", digest)])
        return str(reply[0]), (str(reply[1]) if len(reply) > 1 else None)

    def enter(self, capacity: int) -> bool:
        self._lease.start()
        with self._lease.lock:
            keys = [self._slots_key, self._own_slot_key]
            if not int(self._call(self._enter, keys=keys, args=[capacity, self._lease_ms])):
                return False
            self._lease.count += 1
        return True

    def leave(self) -> None:
        with self._lease.lock:
            self._lease.count = max(0, self._lease.count - 1)
            self._call(self._leave, keys=[self._own_slot_key])

    def _renew_lease(self, count: int) -> None:
        self._call(self._renew, keys=[self._slots_key, self._own_slot_key], args=[count, self._lease_ms])

    def publish_generation(self, generation: str) -> None:
        self._call(self._client.set, f"{self._prefix}generation", generation)

    def generation(self) -> str | None:
        value = self._call(self._client.get, f"{self._prefix}generation")
        return None if value is None else str(value)

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._lease.stop()
        self._client.close()


# --- SQLite -------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY, name TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS embed_tokens (
    digest TEXT PRIMARY KEY, identity TEXT NOT NULL, expires REAL NOT NULL, used INTEGER NOT NULL, forget REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS slots (owner TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS signals (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, answers TEXT NOT NULL, expires REAL NOT NULL);
"""
# Expired rows are deleted every this many writes, so the file stays small.
_PRUNE_EVERY = 500
# Connections a forked child inherited: kept referenced, so that they are never closed there.
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []


class SqliteState:
    """:class:`SharedState` in one SQLite file (WAL mode) that the workers of one machine open.

    Times are the machine's wall clock, which every worker shares.

    Example:
        >>> state = SqliteState(Path("var/state.sqlite3"))
    """

    backend = "sqlite"

    def __init__(self, path: Path, *, lease_seconds: float = SLOT_LEASE_SECONDS) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened here so that a bad file fails at start-up; each process then opens a connection
        # of its own at its first use, since SQLite's connections must not cross a fork.
        opened_while_locked(self._open, SQLITE_BUSY_MS / 1000).close()
        self._lease_seconds = lease_seconds
        self._writes = 0
        self._db: sqlite3.Connection | None = None
        self._begin_process()
        _begin_in_each_forked_child(self)

    def _begin_process(self) -> None:
        """This process's lock, slot owner and lease, and no connection until its first use.

        A connection inherited from the parent is neither used nor closed here: closing it
        could checkpoint the WAL and remove the files that the other processes have open.
        """
        if self._db is not None:
            _INHERITED_CONNECTIONS.append(self._db)
        self._lock = threading.Lock()
        self._db = None
        self._owner = _owner_id()
        self._lease = _SlotLease(self._renew_lease, self._lease_seconds)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = opened_while_locked(self._open, SQLITE_BUSY_MS / 1000)
        return self._db

    def _open(self) -> sqlite3.Connection:
        """A connection to the file in WAL mode, its tables created if it is new."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=SQLITE_BUSY_MS / 1000)
        try:
            db.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # limits and sessions, not records: a power cut may lose some
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _transaction(self, work: Any) -> Any:
        """Run ``work(db, now)`` in one write transaction (other processes wait for the file lock)."""
        with self._lock:
            try:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db, time.time())
                    self._writes += 1
                    if self._writes % _PRUNE_EVERY == 0:
                        self._prune(db, time.time())
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StateUnavailableError(f"{self.path}: {exc}") from exc
            return result

    @staticmethod
    def _prune(db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM attempts WHERE expires <= ?", (now,))
        db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
        db.execute("DELETE FROM slots WHERE expires <= ?", (now,))
        db.execute("DELETE FROM embed_tokens WHERE forget <= ?", (now,))
        db.execute("DELETE FROM conversations WHERE expires <= ?", (now,))
        # A bucket untouched for a day is full again whatever its rate (the longest period is a day).
        db.execute("DELETE FROM buckets WHERE updated <= ?", (now - 86400,))

    def take(self, key: str, rate: Rate) -> float:
        per_second = rate.count / rate.seconds

        def work(db: sqlite3.Connection, now: float) -> float:
            row = db.execute("SELECT tokens, updated FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, updated = (float(rate.count), now) if row is None else row
            tokens = min(float(rate.count), tokens + max(0.0, now - updated) * per_second)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / per_second
            db.execute("INSERT OR REPLACE INTO buckets (key, tokens, updated) VALUES (?, ?, ?)", (key, tokens, now))
            return wait

        return float(self._transaction(work))

    def attempt(self, key: str, attempts: int, window: float) -> float:
        def work(db: sqlite3.Connection, now: float) -> float:
            row = db.execute("SELECT count, expires FROM attempts WHERE key = ?", (key,)).fetchone()
            count, expires = (0, now + window) if row is None or row[1] <= now else row
            if count >= attempts:
                return max(float(expires - now), 0.001)
            db.execute("INSERT OR REPLACE INTO attempts VALUES (?, ?, ?)", (key, count + 1, expires))
            return 0.0

        return float(self._transaction(work))

    def refund(self, key: str) -> None:
        self._transaction(
            lambda db, _now: db.execute("UPDATE attempts SET count = count - 1 WHERE key = ? AND count > 0", (key,))
        )

    def put_session(self, digest: str, name: str, ttl: int) -> None:
        self._transaction(
            lambda db, now: db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", (digest, name, now + ttl))
        )

    def get_session(self, digest: str) -> str | None:
        return self._unexpired("SELECT name FROM sessions WHERE digest = ? AND expires > ?", digest)

    def _unexpired(self, select: str, key: str) -> str | None:
        """The value ``select`` (with the parameters key, now) finds for ``key`` before it expires, or None."""

        def work(db: sqlite3.Connection, now: float) -> str | None:
            row = db.execute(select, (key, now)).fetchone()
            return None if row is None else str(row[0])

        result: str | None = self._transaction(work)
        return result

    def drop_session(self, digest: str) -> None:
        self._transaction(lambda db, _now: db.execute("DELETE FROM sessions WHERE digest = ?", (digest,)))

    def put_conversation(self, key: str, answers: str, ttl: int) -> None:
        self._transaction(
            lambda db, now: db.execute(
                "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?)", (key, answers, now + ttl)
            )
        )

    def get_conversation(self, key: str) -> str | None:
        return self._unexpired("SELECT answers FROM conversations WHERE key = ? AND expires > ?", key)

    def put_embed_token(self, digest: str, identity: str, ttl: float) -> None:
        self._transaction(
            lambda db, now: db.execute(
                "INSERT OR REPLACE INTO embed_tokens VALUES (?, ?, ?, 0, ?)",
                (digest, identity, now + ttl, now + ttl + EMBED_TOKEN_MEMORY_SECONDS),
            )
        )

    def redeem_embed_token(self, digest: str) -> tuple[str, str | None]:
        def work(db: sqlite3.Connection, now: float) -> tuple[str, str | None]:
            row = db.execute(
                "SELECT identity, expires, used FROM embed_tokens WHERE digest = ? AND forget > ?", (digest, now)
            ).fetchone()
            if row is None:
                return "unknown", None
            identity, expires, used = row
            if now >= expires:
                return "expired", None
            if used:
                return "used", None
            db.execute("UPDATE embed_tokens SET used = 1 WHERE digest = ?", (digest,))
            return "ok", str(identity)

        result: tuple[str, str | None] = self._transaction(work)
        return result

    def enter(self, capacity: int) -> bool:
        self._lease.start()

        def work(db: sqlite3.Connection, now: float) -> bool:
            (taken,) = db.execute("SELECT COALESCE(SUM(count), 0) FROM slots WHERE expires > ?", (now,)).fetchone()
            if taken >= capacity:
                return False
            db.execute(
                "INSERT INTO slots VALUES (?, 1, ?) ON CONFLICT(owner) DO UPDATE SET "
                "count = CASE WHEN expires > ? THEN count + 1 ELSE 1 END, expires = excluded.expires",
                (self._owner, now + self._lease_seconds, now),
            )
            return True

        with self._lease.lock:
            if not self._transaction(work):
                return False
            self._lease.count += 1
        return True

    def leave(self) -> None:
        with self._lease.lock:
            self._lease.count = max(0, self._lease.count - 1)
            self._transaction(
                lambda db, _now: db.execute(
                    "UPDATE slots SET count = count - 1 WHERE owner = ? AND count > 0", (self._owner,)
                )
            )

    def _renew_lease(self, count: int) -> None:
        self._transaction(
            lambda db, now: db.execute(
                "INSERT OR REPLACE INTO slots VALUES (?, ?, ?)", (self._owner, count, now + self._lease_seconds)
            )
        )

    def publish_generation(self, generation: str) -> None:
        self._transaction(
            lambda db, _now: db.execute("INSERT OR REPLACE INTO signals VALUES ('generation', ?)", (generation,))
        )

    def generation(self) -> str | None:
        def work(db: sqlite3.Connection, _now: float) -> str | None:
            row = db.execute("SELECT value FROM signals WHERE name = 'generation'").fetchone()
            return None if row is None else str(row[0])

        result: str | None = self._transaction(work)
        return result

    def ping(self) -> None:
        self._transaction(lambda db, _now: db.execute("SELECT 1"))

    def close(self) -> None:
        self._lease.stop()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def open_state(settings: AppSettings) -> SharedState | None:
    """The shared store ``settings`` name: Redis, else the SQLite file, else ``None`` (in-process)."""
    if settings.redis_url:
        return RedisState(settings.redis_url)
    if settings.state_db is not None:
        return SqliteState(settings.state_db)
    return None


# --- adapters with the in-process classes' methods -------------------------------------------------


class SharedRateLimiter:
    """``limits.RateLimiter``'s ``take`` on a shared store: one bucket per client across processes."""

    def __init__(self, state: SharedState, rate: Rate) -> None:
        self.state = state
        self.rate = rate

    def take(self, client: str) -> float:
        return self.state.take(client, self.rate)


class SharedAttemptThrottle:
    """``limits.AttemptThrottle`` on a shared store, in fixed windows of ``window`` seconds."""

    def __init__(
        self, state: SharedState, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS
    ) -> None:
        self.state = state
        self.attempts = attempts
        self.window = window

    def acquire(self, client: str) -> float:
        return self.state.attempt(client, self.attempts, self.window)

    def refund(self, client: str) -> None:
        self.state.refund(client)


class SharedSessionStore:
    """``security.SessionStore`` on a shared store: the token's SHA-256 maps to the identity, expiring."""

    def __init__(self, state: SharedState, ttl_seconds: int) -> None:
        self.state = state
        self.ttl_seconds = ttl_seconds

    def create(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        # Every field of the identity, so that one added later (a role) survives the round trip.
        self.state.put_session(_digest(token), json.dumps(dataclasses.asdict(identity)), self.ttl_seconds)
        return token

    def lookup(self, token: str) -> Identity | None:
        stored = self.state.get_session(_digest(token))
        if stored is None:
            return None
        try:
            fields = json.loads(stored)
            return Identity(**{**fields, "method": "session"})
        except (ValueError, TypeError):  # written by another version: sign in again
            return None

    def revoke(self, token: str) -> None:
        self.state.drop_session(_digest(token))


class SharedEmbedTokenStore:
    """``embed.EmbedTokenStore`` on a shared store: a token issued by one replica is redeemed on any, once."""

    def __init__(self, state: SharedState, ttl_seconds: float = EMBED_TOKEN_TTL_SECONDS) -> None:
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive. Currently, it is {ttl_seconds}.")
        self.state = state
        self.ttl_seconds = ttl_seconds

    def issue(self, identity: Identity) -> str:
        token = new_embed_token()
        self.state.put_embed_token(_digest(token), json.dumps(dataclasses.asdict(identity)), self.ttl_seconds)
        return token

    def redeem(self, token: str) -> Identity:
        outcome, stored = self.state.redeem_embed_token(_digest(token))
        if outcome == "ok" and stored is not None:
            try:
                return Identity(**json.loads(stored))
            except (ValueError, TypeError):  # written by another version: the portal asks for a new one
                outcome = "unknown"
        raise embed_token_error(outcome if outcome in ("used", "expired") else "unknown", self.ttl_seconds)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class StateErrorMiddleware:
    """Answers 503 ``state_unavailable`` (with ``Retry-After``) when the shared store fails a request."""

    def __init__(self, app: ASGIApp, retry_after: float = 1.0) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except StateUnavailableError as exc:
            log.warning("Shared state unavailable: %s", exc)
            if started:
                raise
            body = error_body("state_unavailable", UNAVAILABLE_MESSAGE)
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(max(1, math.ceil(self.retry_after))).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


READ_ONLY_MESSAGE = (
    "This replica serves a published index read-only (POLICYQA_READ_ONLY): add and remove documents on the builder."
)


class ReadOnlyMiddleware:
    """Refuses writes to the documents routes (403 ``read_only``) on a replica that never builds.

    Installed innermost, after access control: a client learns it is on a replica only once
    it has proved who it is.
    """

    def __init__(self, app: ASGIApp, prefix: str = "/api/v1/documents") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS")
            and scope["path"].startswith(self.prefix)
        ):
            body = error_body("read_only", READ_ONLY_MESSAGE)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
