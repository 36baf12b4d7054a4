"""Exceptions raised by policyqa.

Every error the package raises on purpose derives from :class:`PolicyQAError`,
so callers (the CLI, the HTTP API) can turn them into clean messages::

    PolicyQAError
    ├── ConfigError          bad settings or arguments (a value out of range, a missing folder)
    ├── QuestionError        a question that cannot be asked (empty, too long)
    ├── CorpusError          no readable document in the configured corpus
    ├── GenerationError      the LLM endpoint failed (refused, timed out, 429/5xx, garbage, breaker open)
    ├── StoreError           the Milvus store cannot be reached, or refuses a request
    └── IndexUnusableError          base for index problems
        ├── IndexMissingError   no index has been built yet
        ├── IndexMismatchError  the index was built by another encoder, chunker or version
        └── IndexCorruptError   a file of the index is truncated, tampered or unreadable
"""

from __future__ import annotations


class PolicyQAError(Exception):
    """Base class of every error policyqa raises on purpose."""


class ConfigError(PolicyQAError, ValueError):
    """A setting or argument has a value that cannot work."""


class StoreError(PolicyQAError):
    """The store named by ``POLICYQA_STORE`` (Milvus) cannot be reached or refuses a request."""


class QuestionError(PolicyQAError, ValueError):
    """A question is empty, too long or otherwise unusable."""


class CorpusError(PolicyQAError):
    """The corpus holds no document that can be indexed."""


class GenerationError(PolicyQAError):
    """The LLM endpoint could not give a usable generation; the answer falls back to quotes."""


class IndexUnusableError(PolicyQAError):
    """Base class of problems with a persisted index."""

    rebuild_hint = "Run `policyqa index` to rebuild it."

    def __str__(self) -> str:
        return f"{super().__str__()} {self.rebuild_hint}"


class IndexMissingError(IndexUnusableError):
    """No index exists at the configured location."""


class IndexMismatchError(IndexUnusableError):
    """The index was built with other settings or by another version."""


class IndexCorruptError(IndexUnusableError):
    """A file of the index fails its checksum or cannot be parsed."""
