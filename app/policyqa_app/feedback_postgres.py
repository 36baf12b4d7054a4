"""Feedback in PostgreSQL (``POLICYQA_FEEDBACK_URL=postgresql://…``): one table for every replica.

The same records and export as the SQLite ``FeedbackStore``; psycopg 3 is imported here
only (the ``scale`` extra). Each call opens its own short connection: feedback comes at
the pace of people clicking, a connection costs about a millisecond on a LAN, and no pool
thread or shared connection has to be guarded across uvicorn's worker threads and
processes. The table is created when missing, under an advisory lock, so that replicas
starting together do not race on ``CREATE TABLE``.

Example:
    >>> store = PostgresFeedbackStore("postgresql://policyqa@db/policyqa")
    >>> row = store.add(FeedbackRecord("q", "a [1]", False, [], "up"))
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from policyqa import ConfigError

from .feedback import MAX_TEXT_CHARS, FeedbackRecord, check_update, stored_citations

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 10
# Any constant shared by the replicas: it names the lock that serialises schema creation.
_SCHEMA_LOCK = 0x706F6C6963797161  # "policyqa"
# "user" is a reserved word in PostgreSQL: quoted everywhere.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS policyqa_feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    "user" TEXT NOT NULL,
    source TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained BOOLEAN NOT NULL,
    citations JSONB NOT NULL,
    rating TEXT CHECK (rating IN ('up', 'down') OR rating IS NULL),
    comment TEXT NOT NULL DEFAULT ''
)
"""
_COLUMNS = 'id, created_at, updated_at, "user", source, question, answer, abstained, citations, rating, comment'


def _timestamp(value: datetime) -> str:
    """The SQLite backend's format: UTC, ISO 8601, milliseconds."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class PostgresFeedbackStore:
    """Feedback records in the PostgreSQL database of ``url`` (table ``policyqa_feedback``)."""

    def __init__(self, url: str) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            scheme = url.split(":")[0]
            raise ConfigError(f"The feedback URL must start with postgresql://. Currently, it starts {scheme!r}.")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "POLICYQA_FEEDBACK_URL names PostgreSQL, which needs psycopg: pip install 'policyqa[scale]'"
            ) from exc
        self.url = url
        with self._connect() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute(_SCHEMA)

    def __repr__(self) -> str:
        # The URL may carry a password: never shown.
        return f"{type(self).__name__}(table=policyqa_feedback)"

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="policyqa")
        except psycopg.OperationalError as exc:
            raise ConfigError(f"The feedback database cannot be reached: {exc}".strip()) from exc

    def add(self, record: FeedbackRecord) -> int:
        """Store a record; return its id."""
        from psycopg.types.json import Jsonb

        now = datetime.now(UTC)
        with self._connect() as db:
            row = db.execute(
                'INSERT INTO policyqa_feedback (created_at, updated_at, "user", source, question, answer, abstained,'
                " citations, rating, comment) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    now,
                    now,
                    record.user,
                    record.source,
                    record.question[:MAX_TEXT_CHARS],
                    record.answer[:MAX_TEXT_CHARS],
                    record.abstained,
                    Jsonb(stored_citations(record)),
                    record.rating,
                    record.comment,
                ),
            ).fetchone()
        return int(row[0]) if row else 0

    def update(self, row_id: int, *, rating: str | None = None, comment: str | None = None) -> bool:
        """Change the rating or the comment of a stored record; False when there is no such record."""
        check_update(rating, comment)
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE policyqa_feedback SET rating = COALESCE(%s, rating), comment = COALESCE(%s, comment),"
                " updated_at = %s WHERE id = %s",
                (rating, comment, datetime.now(UTC), row_id),
            )
            return cursor.rowcount == 1

    def count(self) -> int:
        """How many records are stored."""
        with self._connect() as db:
            row = db.execute("SELECT COUNT(*) FROM policyqa_feedback").fetchone()
        return int(row[0]) if row else 0

    def export(self) -> Iterator[dict[str, object]]:
        """Every record, oldest first, as plain dictionaries (the SQLite backend's keys and formats)."""
        # Read at once, then the connection is closed: a streaming response may resume the
        # generator much later, on another thread.
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM policyqa_feedback ORDER BY id").fetchall()
        names = [c.strip().strip('"') for c in _COLUMNS.split(",")]
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["created_at"] = _timestamp(item["created_at"])
            item["updated_at"] = _timestamp(item["updated_at"])
            yield item
