"""policyqa: cited answers from Chinese policy texts, in Chinese or English.

Example:
    >>> from policyqa import Assistant
    >>> Assistant().ask("What policy fits a technology in the trough of disillusionment?").answer
"""

from __future__ import annotations

from .assistant import Assistant
from .errors import (
    ConfigError,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    PolicyQAError,
    QuestionError,
)
from .settings import Settings
from .types import Answer, BuildReport, Citation, DocumentInfo, Passage, SearchFilter, SearchResult, Trace
from .version import __version__

__all__ = [
    "Answer",
    "Assistant",
    "BuildReport",
    "Citation",
    "DocumentInfo",
    "ConfigError",
    "CorpusError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "Passage",
    "PolicyQARetriever",
    "PolicyQAError",
    "QuestionError",
    "SearchFilter",
    "SearchResult",
    "Settings",
    "Trace",
    "__version__",
]


def __getattr__(name: str) -> object:
    # The LangChain retriever pulls in langchain-core's retriever machinery (about
    # half a second); only code that uses it pays for the import.
    if name == "PolicyQARetriever":
        from .langchain_retriever import PolicyQARetriever

        return PolicyQARetriever
    raise AttributeError(f"module 'policyqa' has no attribute {name!r}")
