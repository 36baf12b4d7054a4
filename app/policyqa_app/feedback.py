"""Feedback on answers (thumbs up/down, optional comment), behind one small storage interface.

``FeedbackBackend`` is the interface (add, update, count, export). Two backends satisfy it
and pass the same tests (tests/test_feedback_postgres.py):

* ``FeedbackStore`` (SQLite, the default, ``POLICYQA_FEEDBACK_DB``): one file on one host.
  The database runs in WAL mode so that concurrent writers wait for each other instead of
  failing, and every write is committed before the call returns. Each call opens its own
  connection: there is no shared connection to guard.
* ``PostgresFeedbackStore`` (``feedback_postgres``, ``POLICYQA_FEEDBACK_URL=postgresql://…``):
  one table every replica writes to, so feedback survives replicas and hosts.

``open_feedback_store(settings)`` picks the backend from the app settings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from policyqa import ConfigError

from .sqlite_files import opened_while_locked

if TYPE_CHECKING:
    from .config import AppSettings

MAX_COMMENT_CHARS = 2000
MAX_TEXT_CHARS = 20_000
RATINGS = ("up", "down")
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user TEXT NOT NULL,
    source TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL,
    rating TEXT CHECK (rating IN ('up', 'down') OR rating IS NULL),
    comment TEXT NOT NULL DEFAULT ''
)
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class FeedbackRecord:
    """What a user thought of one answer."""

    question: str
    answer: str
    abstained: bool
    citations: Sequence[dict[str, object]]
    rating: str | None
    comment: str = ""
    user: str = "anonymous"
    source: str = "ui"

    def __post_init__(self) -> None:
        if self.rating is not None and self.rating not in RATINGS:
            raise ConfigError(f"rating must be 'up', 'down' or None. Currently, it is {self.rating!r}.")
        if len(self.comment) > MAX_COMMENT_CHARS:
            raise ConfigError(f"A comment has at most {MAX_COMMENT_CHARS} characters. Currently, {len(self.comment)}.")


def stored_citations(record: FeedbackRecord) -> list[dict[str, object]]:
    """The fields of a record's citations that are kept: enough to find the cited span again."""
    return [
        {k: c.get(k) for k in ("n", "chunk_id", "doc_id", "section", "char_start", "char_end")}
        for c in record.citations
    ]


def check_update(rating: str | None, comment: str | None) -> None:
    """Refuse a rating or comment no backend may store (ConfigError naming the value)."""
    if rating is not None and rating not in RATINGS:
        raise ConfigError(f"rating must be 'up' or 'down'. Currently, it is {rating!r}.")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise ConfigError(f"A comment has at most {MAX_COMMENT_CHARS} characters. Currently, {len(comment)}.")


@runtime_checkable
class FeedbackBackend(Protocol):
    """Where feedback records are kept. Every write is durable when the call returns.

    ``export`` yields plain dictionaries, oldest first, with the keys ``id``, ``created_at``,
    ``updated_at`` (UTC, ISO 8601 with milliseconds), ``user``, ``source``, ``question``,
    ``answer``, ``abstained`` (bool), ``citations`` (list), ``rating`` and ``comment``.
    """

    def add(self, record: FeedbackRecord) -> int:
        """Store a record; return its id."""
        ...

    def update(self, row_id: int, *, rating: str | None = None, comment: str | None = None) -> bool:
        """Change the rating or the comment of a stored record; False when there is no such record."""
        ...

    def count(self) -> int:
        """How many records are stored."""
        ...

    def export(self) -> Iterator[dict[str, object]]:
        """Every record, oldest first."""
        ...


def export_jsonl(store: FeedbackBackend) -> Iterator[str]:
    """Every record of ``store`` as one line of JSON."""
    for item in store.export():
        yield json.dumps(item, ensure_ascii=False) + "\n"


def open_feedback_store(settings: AppSettings) -> FeedbackBackend:
    """The backend ``settings`` name: PostgreSQL for ``feedback_url``, else the SQLite file ``feedback_db``."""
    if settings.feedback_url:
        from .feedback_postgres import PostgresFeedbackStore

        return PostgresFeedbackStore(settings.feedback_url)
    return FeedbackStore(settings.feedback_db)


class FeedbackStore:
    """An append-mostly table of feedback records in a SQLite file (the default backend).

    Example:
        >>> store = FeedbackStore(Path("var/feedback.sqlite3"))
        >>> row = store.add(FeedbackRecord("q", "a [1]", False, [], "up"))
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        opened_while_locked(self._create, _BUSY_TIMEOUT_MS / 1000)

    def _create(self) -> None:
        """Put the file in WAL mode and create the table if it is new."""
        with closing(self._connect()) as db:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ConfigError(f"The feedback database {self.path} cannot use WAL mode (got {mode!r}).")
            db.execute(_SCHEMA)
            db.commit()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level="DEFERRED")
        db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def add(self, record: FeedbackRecord) -> int:
        """Store a record; return its id."""
        now = _now()
        citations = stored_citations(record)
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, updated_at, user, source, question, answer, abstained,"
                " citations, rating, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    now,
                    record.user,
                    record.source,
                    record.question[:MAX_TEXT_CHARS],
                    record.answer[:MAX_TEXT_CHARS],
                    int(record.abstained),
                    json.dumps(citations, ensure_ascii=False),
                    record.rating,
                    record.comment,
                ),
            )
            return int(cursor.lastrowid or 0)

    def update(self, row_id: int, *, rating: str | None = None, comment: str | None = None) -> bool:
        """Change the rating or the comment of a stored record; False when there is no such record."""
        check_update(rating, comment)
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "UPDATE feedback SET rating = COALESCE(?, rating), comment = COALESCE(?, comment), updated_at = ?"
                " WHERE id = ?",
                (rating, comment, _now(), row_id),
            )
            return cursor.rowcount == 1

    def count(self) -> int:
        """How many records are stored."""
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def export(self) -> Iterator[dict[str, object]]:
        """Every record, oldest first, as plain dictionaries."""
        # Rows are read at once: a streaming response may resume the generator on another
        # thread, and a SQLite connection belongs to the thread that opened it.
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        for row in rows:
            item = dict(row)
            item["abstained"] = bool(item["abstained"])
            item["citations"] = json.loads(item["citations"])
            yield item


SqliteFeedbackStore = FeedbackStore
