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
import time
from dataclasses import dataclass, field

from policyqa import Assistant, DocumentInfo, PolicyQAError

from .config import AppSettings
from .feedback import FeedbackStore
from .security import Authenticator

log = logging.getLogger("policyqa.app")

WARMUP_QUESTION = "预热 warm-up"
# An English question loads what only English questions use (the CC-CEDICT index).
WARMUP_QUESTION_EN = "warm-up of the policy index"
# How often a request looks for a build another process published (``policyqa add``).
REFRESH_INTERVAL_SECONDS = 1.0


@dataclass
class Service:
    """The assistant with the app's settings, feedback store, authenticator and readiness."""

    assistant: Assistant
    settings: AppSettings
    feedback: FeedbackStore
    authenticator: Authenticator
    refresh_interval: float = REFRESH_INTERVAL_SECONDS
    refreshed_at: float = field(default=float("-inf"), repr=False)
    refreshing: threading.Lock = field(default_factory=threading.Lock, repr=False)
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

    def refresh_index(self, force: bool = False) -> bool:
        """Serve the build another process (``policyqa add``) or a request published; True when one went live.

        Requests call it (in a worker thread) before they use the index: at most once per
        ``refresh_interval`` it reads the ``CURRENT`` pointer, and loads the new build when
        there is one. While one request loads it, the others go on with the loaded build
        instead of waiting. ``force``: check now, and wait for a load in progress (after an
        add or remove of this process, so that its answer is served by the next request).
        A failed load is logged; the loaded build stays in service.
        """
        if not force and time.monotonic() - self.refreshed_at < self.refresh_interval:
            return False
        if not self.refreshing.acquire(blocking=force):
            return False
        try:
            self.refreshed_at = time.monotonic()
            changed = self.assistant.refresh()
        except Exception as exc:  # the loaded build keeps answering; the next check tries again
            log.error("Loading the new index build failed: %s", exc)
            return False
        finally:
            self.refreshing.release()
        if changed:
            log.info("Serving index build %s.", self.assistant.generation)
        return changed

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
