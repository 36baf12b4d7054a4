"""What the API and the UI share: the assistant, the app settings, feedback, access control, readiness.

Both front ends reach the core through one ``Service``, so the corpus is listed in one
place and both see the same readiness.

Example:
    >>> service = Service.create(Assistant(Settings.from_env()), AppSettings.from_env())
    >>> service.document_listing()[0]["doc_id"]
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from policyqa import Assistant, DocumentInfo, PolicyQAError

from .config import AppSettings
from .feedback import FeedbackStore
from .security import Authenticator

log = logging.getLogger("policyqa.app")

WARMUP_QUESTION = "预热 warm-up"
# An English question loads what only English questions use (the CC-CEDICT index).
WARMUP_QUESTION_EN = "warm-up of the policy index"


@dataclass
class Service:
    """The assistant with the app's settings, feedback store, authenticator and readiness."""

    assistant: Assistant
    settings: AppSettings
    feedback: FeedbackStore
    authenticator: Authenticator
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str | None = None

    @classmethod
    def create(cls, assistant: Assistant, settings: AppSettings) -> Service:
        """A service for ``assistant``, with the feedback store and authenticator ``settings`` describe."""
        return cls(assistant, settings, FeedbackStore(settings.feedback_db), Authenticator(settings))

    def warm_up(self) -> None:
        """Load (or build) the index and the encoder, so the first question is fast."""
        try:
            self.assistant.search(WARMUP_QUESTION, k=1)
            self.assistant.search(WARMUP_QUESTION_EN, k=1)
            self.load_error = None
            self.ready.set()
        except Exception as exc:  # reported by /readyz; requests retry the load themselves
            log.error("Loading the index failed: %s", exc)
            self.load_error = str(exc) if isinstance(exc, PolicyQAError) else f"{type(exc).__name__}: {exc}"

    def start_warm_up(self) -> None:
        """Warm up in a background thread: the server answers /healthz and /readyz meanwhile."""
        threading.Thread(target=self.warm_up, name="policyqa-warmup", daemon=True).start()

    def document_ids(self) -> set[str]:
        return {d.doc_id for d in self.assistant.documents()}

    def document_listing(self) -> list[dict[str, object]]:
        """The indexed documents as the API and the UI list them.

        The server's file paths stay out: the listing goes to every client.
        """
        return [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "chars": d.chars,
                "passages": d.passages,
                "sha256": d.sha256,
                "metadata": d.metadata,
                "sections": list(d.sections),
            }
            for d in self.assistant.documents()
        ]

    def indexed_document(self, doc_id: str) -> tuple[str, DocumentInfo | None]:
        """The generation of the loaded index and its record of ``doc_id``, both read from the same index.

        Read together, so that a rebuild going live between the two cannot pair one index's
        generation with another's record.
        """
        index = self.assistant.index
        return index.generation, index.documents.get(doc_id)
