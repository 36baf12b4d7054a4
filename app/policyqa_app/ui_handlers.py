"""The UI's event handlers: one call into the ``Service``, then the result rendered by ``present``.

Every string they put in the page passes through ``present`` and is HTML-escaped there:
the Chatbot renders its messages as HTML (Markdown is off), so answers, passages and
even the user's own question are escaped before they reach it.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import hashlib  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402

from policyqa import ConfigError, DocumentInfo, PolicyQAError, QuestionError  # noqa: E402
from policyqa.documents import decode_bytes  # noqa: E402
from policyqa.text import is_chinese  # noqa: E402

from .feedback import MAX_COMMENT_CHARS, FeedbackRecord  # noqa: E402
from .present import (  # noqa: E402
    answer_html,
    answer_sentences,
    citation_card_html,
    citation_label,
    context_html,
    copy_text,
    documents_html,
    escape_text,
    placeholder_card_html,
)
from .service import Service, key_term_glosses  # noqa: E402

log = logging.getLogger("policyqa.app")

CARD_HINT = "点击答案中的引用编号查看出处。\nClick a citation number in an answer to see its source."
MAX_GLOSSED_QUOTES = 3


class SourceTexts:
    """Source documents for the "full context" view, read on demand and cached for one loaded index.

    A text is kept only when its file still holds the bytes the index recorded (same SHA-256),
    so a passage's offsets point into it; when another index goes live the cache starts over.
    Safe to call from Gradio's worker threads at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._texts: dict[str, str] = {}

    def get(self, generation: str, document: DocumentInfo) -> str | None:
        """The text of ``document`` of the index ``generation``; None when its file is gone or changed."""
        with self._lock:
            if generation != self._generation:
                self._generation = generation
                self._texts.clear()
            cached = self._texts.get(document.doc_id)
        if cached is not None:
            return cached
        text = _read_source(document)  # outside the lock: one slow disk does not hold up the others
        if text is not None:
            with self._lock:
                # Not cached when another index went live during the read: it may describe the file otherwise.
                if generation == self._generation:
                    self._texts.setdefault(document.doc_id, text)
        return text


def _read_source(document: DocumentInfo) -> str | None:
    try:
        raw = Path(document.path).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(raw).hexdigest() != document.sha256:
        log.warning("%s changed since it was indexed; its full context is not shown.", document.doc_id)
        return None
    try:  # decoded as the index decoded it (GB18030 too), so the passage's offsets hold
        return decode_bytes(raw)[0]
    except ValueError:
        return None


def user_name(request: gr.Request | None, service: Service) -> str:
    """Who sent a UI event, as the feedback store records it."""
    if request is None:
        return "anonymous"
    if getattr(request, "username", None):
        return str(request.username)
    try:
        client = request.client.host if request.client else None
        identity = service.authenticator.identify(Headers(headers=dict(request.headers)), client, dict(request.cookies))
    except Exception:  # a missing attribute on an unusual request: record it as anonymous
        identity = None
    return identity.name if identity else "anonymous"


def english_reader(answer: dict[str, Any] | None) -> bool:
    """Whether the answer's question was asked in English (its card then glosses Chinese terms)."""
    return bool(answer) and not is_chinese(str(answer.get("question", "")))  # type: ignore[union-attr]


def citation_choices(answer: dict[str, Any] | None, value: str | None = None) -> Any:
    citations = (answer or {}).get("citations") or []
    english = english_reader(answer)
    return gr.Radio(choices=[(citation_label(c, english), str(c["n"])) for c in citations], value=value)


class UIHandlers:
    """The handlers of one UI, bound to its service; ``ui.build_ui`` wires them to the components."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sources = SourceTexts()

    def on_load(self) -> tuple[Any, str]:
        try:
            listing = self.service.document_listing()
        except PolicyQAError as exc:
            return gr.CheckboxGroup(choices=[], value=[]), placeholder_card_html(f"索引不可用 Index unavailable: {exc}")
        ids = [str(d["doc_id"]) for d in listing]
        choices = [(f"{d['title']} ({doc_id})", doc_id) for d, doc_id in zip(listing, ids, strict=True)]
        return gr.CheckboxGroup(choices=choices, value=ids), documents_html(listing)

    def card_for(self, answer: dict[str, Any] | None, n: str | None, with_context: bool) -> str:
        if not answer or not n:
            if answer and answer.get("abstained"):
                return placeholder_card_html(
                    "语料未涵盖此问题，没有可引用的段落。\nNot covered by the corpus: nothing to cite."
                )
            return placeholder_card_html(CARD_HINT)
        citation = next((c for c in answer.get("citations") or [] if str(c["n"]) == str(n)), None)
        if citation is None:
            return placeholder_card_html(CARD_HINT)
        context = None
        if with_context:
            generation, document = self.service.indexed_document(str(citation["doc_id"]))
            source = self.sources.get(generation, document) if document else None
            if source is None:
                context = escape_text("原文不可读。The source document cannot be read.")
            else:
                context = context_html(source, int(citation["char_start"]), int(citation["char_end"]))
        english = english_reader(answer)
        glosses = []
        if english:
            try:
                glosses = [(q, key_term_glosses(q)) for q in list(citation.get("quotes") or [])[:MAX_GLOSSED_QUOTES]]
            except Exception as exc:  # the card still shows without them
                log.warning("glossing a quote failed: %s", exc)
        return citation_card_html(
            citation,
            context,
            english=english,
            glosses=glosses,
            with_page=isinstance(citation.get("page"), int),
            with_file=True,
        )

    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        answers: list[dict[str, Any] | None],
        k: float,
        doc_ids: list[str] | None,
    ):  # type: ignore[no-untyped-def]
        question = (message or "").strip()
        if not question:
            gr.Warning("请输入问题。Please type a question.")
            yield history, answers, message, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = list(history or []) + [{"role": "user", "content": escape_text(question)}]
        answers = list(answers or [])
        turn = len(answers)
        yield history, answers, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            # A short follow-up ("那成长期呢？") is resolved against the earlier questions.
            earlier = [str(a.get("resolved_question") or a.get("question")) for a in answers if a]
            answer = self.service.assistant.ask(
                question, k=int(k), doc_ids=list(doc_ids) if doc_ids else None, earlier=earlier
            )
        except (QuestionError, ConfigError) as exc:
            history.append({"role": "assistant", "content": f"<p>⚠ {escape_text(str(exc))}</p>"})
            answers.append(None)
            yield history, answers, "", None, citation_choices(None), placeholder_card_html(CARD_HINT), ""
            return
        except PolicyQAError as exc:
            log.error("ask failed: %s", exc)
            history.append(
                {"role": "assistant", "content": f"<p>⚠ 服务暂不可用 Service unavailable: {escape_text(str(exc))}</p>"}
            )
            answers.append(None)
            yield history, answers, "", None, citation_choices(None), placeholder_card_html(CARD_HINT), ""
            return
        data = answer.to_dict()
        answers.append(data)
        english = english_reader(data)
        citations: list[dict[str, Any]] = data["citations"]  # type: ignore[assignment]
        pieces = answer_sentences(answer.answer)
        for count in range(1, len(pieces)):
            partial = {
                "role": "assistant",
                "content": answer_html(" ".join(pieces[:count]), answer.abstained, turn, (), english),
            }
            yield history + [partial], answers, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        content = answer_html(answer.answer, answer.abstained, turn, citations, english)
        if answer.resolved_question:
            # Show what was searched, so the user sees how the follow-up was read.
            content = f'<p class="pq-resolved">检索问题 Searched: {escape_text(answer.resolved_question)}</p>{content}'
        final = {"role": "assistant", "content": content}
        history.append(final)
        yield history, answers, "", data, citation_choices(data), self.card_for(data, None, False), copy_text(data)

    def open_cited(self, target: str, answers: list[dict[str, Any] | None], with_context: bool):  # type: ignore[no-untyped-def]
        """Open card n of answer ``turn``: ``target`` is "TURN:N", sent by the page's click handler."""
        turn_text, _, n = str(target or "").partition(":")
        try:
            turn = int(turn_text)
            answer = answers[turn] if turn >= 0 else None
        except (ValueError, IndexError, TypeError):
            answer = None
        if not answer or not n.isdigit():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return answer, citation_choices(answer, n), self.card_for(answer, n, with_context), copy_text(answer)

    def open_citation(self, current: dict[str, Any] | None, n: str | None, with_context: bool) -> str:
        return self.card_for(current, n, with_context)

    def rate(
        self, answers: list[dict[str, Any] | None], rated: dict[str, int], data: gr.LikeData, request: gr.Request
    ) -> tuple[dict[str, int], str]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn = index // 2  # each question gets exactly one reply: user, assistant, user, assistant...
        answer = answers[turn] if 0 <= turn < len(answers) else None
        if answer is None or data.liked not in (True, False):
            return rated, gr.skip()
        rating = "up" if data.liked else "down"
        rated = dict(rated or {})
        row = rated.get(str(turn))
        if row is not None and self.service.feedback.update(row, rating=rating):
            pass
        else:
            record = FeedbackRecord(
                question=str(answer["question"]),
                answer=str(answer["answer"]),
                abstained=bool(answer["abstained"]),
                citations=list(answer["citations"]),
                rating=rating,
                user=user_name(request, self.service),
            )
            rated[str(turn)] = self.service.feedback.add(record)
        rated["last"] = turn
        return rated, placeholder_card_html("已记录反馈，谢谢！Feedback saved, thank you.")

    def comment_on(
        self, answers: list[dict[str, Any] | None], rated: dict[str, int], comment: str, request: gr.Request
    ) -> tuple[dict[str, int], str, str]:
        comment = (comment or "").strip()
        if not comment:
            return rated, comment, placeholder_card_html("请先填写意见。Please write a comment first.")
        rated = dict(rated or {})
        turn = rated.get("last")
        if turn is None:
            turn = max((i for i, a in enumerate(answers or []) if a is not None), default=None)
        if turn is None:
            return rated, comment, placeholder_card_html("还没有可评价的答案。There is no answer to comment on yet.")
        row = rated.get(str(turn))
        if row is None or not self.service.feedback.update(row, comment=comment[:MAX_COMMENT_CHARS]):
            answer = answers[turn]
            assert answer is not None
            rated[str(turn)] = self.service.feedback.add(
                FeedbackRecord(
                    question=str(answer["question"]),
                    answer=str(answer["answer"]),
                    abstained=bool(answer["abstained"]),
                    citations=list(answer["citations"]),
                    rating=None,
                    comment=comment[:MAX_COMMENT_CHARS],
                    user=user_name(request, self.service),
                )
            )
        return rated, "", placeholder_card_html("已保存意见，谢谢！Comment saved, thank you.")

    def clear(self) -> tuple[list[Any], list[Any], dict[str, int], None, Any, str, str]:
        return [], [], {}, None, citation_choices(None), placeholder_card_html(CARD_HINT), ""
