"""policyqa: cited answers from Chinese policy texts, in Chinese or English.

Example:
    >>> from policyqa import Assistant
    >>> Assistant().ask("What policy fits a technology in the trough of disillusionment?").answer
"""

from __future__ import annotations

__version__ = "0.1.0"

from .answer import Answer, Citation  # noqa: E402
from .assistant import Assistant, BuildReport, SearchResult  # noqa: E402
from .errors import (  # noqa: E402
    ConfigError,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    PolicyQAError,
    QuestionError,
)
from .retrieve import Passage  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = [
    "Answer",
    "Assistant",
    "BuildReport",
    "Citation",
    "ConfigError",
    "CorpusError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "Passage",
    "PolicyQARetriever",
    "PolicyQAError",
    "QuestionError",
    "SearchResult",
    "Settings",
    "__version__",
]


def __getattr__(name: str) -> object:
    # The LangChain retriever pulls in langchain-core's retriever machinery (about
    # half a second); only code that uses it pays for the import.
    if name == "PolicyQARetriever":
        from .langchain_retriever import PolicyQARetriever

        return PolicyQARetriever
    raise AttributeError(f"module 'policyqa' has no attribute {name!r}")
