"""The UI's event handlers: one call into the ``Service``, then the result rendered by ``present``.

Every string they put in the page passes through ``present`` and is HTML-escaped there:
the Chatbot renders its messages as HTML (Markdown is off), so answers, passages and
even the user's own question are escaped before they reach it.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402

from policyqa import ConfigError, DocumentInfo, PolicyQAError, QuestionError  # noqa: E402
from policyqa.documents import decode_bytes  # noqa: E402
from policyqa.filters import make_filter  # noqa: E402
from policyqa.library import ADDED, DUPLICATE, AddReport, DocumentNotFoundError, NotManagedError  # noqa: E402
from policyqa.text import is_chinese  # noqa: E402
from policyqa.types import PARTIAL, GroundedSentence  # noqa: E402

from .documents_api import MAX_UPLOAD_FILES, client_reason, safe_file_name  # noqa: E402
from .feedback import MAX_COMMENT_CHARS, FeedbackRecord  # noqa: E402
from .metrics import observe_answer  # noqa: E402
from .present import (  # noqa: E402
    add_report_html,
    answer_html,
    answer_sentences,
    citation_card_html,
    citation_label,
    context_html,
    copy_text,
    documents_html,
    escape_text,
    filter_html,
    filter_text,
    kind_text,
    placeholder_card_html,
)
from .security import Identity  # noqa: E402
from .service import Service, key_term_glosses  # noqa: E402
from .state import StateUnavailableError  # noqa: E402

log = logging.getLogger("policyqa.app")

CARD_HINT = "点击答案中的引用编号查看出处。\nClick a citation number in an answer to see its source."
MAX_GLOSSED_QUOTES = 3
# Turns of a conversation kept for the other workers; older ones are kept as unknown (their cards close).
MAX_REMEMBERED_TURNS = 50


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


def request_identity(request: gr.Request | None, service: Service) -> Identity | None:
    """Who sent a UI event, found as access control finds it (key, session, proxy; None: nobody)."""
    if request is None:
        return None
    try:
        client = request.client.host if request.client else None
        return service.authenticator.identify(Headers(headers=dict(request.headers)), client, dict(request.cookies))
    except Exception:  # a missing attribute on an unusual request: nobody
        return None


def user_name(request: gr.Request | None, service: Service) -> str:
    """Who sent a UI event, as the feedback store records it."""
    if request is not None and getattr(request, "username", None):
        return str(request.username)
    identity = request_identity(request, service)
    return identity.name if identity else "anonymous"


FORBIDDEN = (
    "⛔ 403 无权限 Forbidden: 添加和删除文档需要管理员密钥登录。"
    "Adding and removing documents needs a sign-in with an admin key (POLICYQA_ADMIN_KEYS)."
)


READ_ONLY_REFUSAL = (
    "⛔ 只读副本 Read-only replica: 此服务器只提供已发布的索引，请在构建服务器上添加或删除文档。"
    "This server serves a published index read-only: add and remove documents on the builder."
)


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

    # --- the Documents tab and the chat's filter choices ----------------------------------------

    def is_admin(self, request: gr.Request | None) -> bool:
        """True for an identity holding an admin key; without keys nobody is (see ``ClosedRoutesMiddleware``)."""
        identity = request_identity(request, self.service)
        return bool(identity and identity.admin)

    def may_manage(self, request: gr.Request | None) -> bool:
        """An admin on a server that builds: a read-only replica shows no add or remove controls."""
        return self.is_admin(request) and not self.service.settings.read_only

    def refusal(self, request: gr.Request) -> str | None:
        """Why this request may not add or remove documents, as a card; ``None`` when it may."""
        if not self.is_admin(request):
            return placeholder_card_html(FORBIDDEN)
        if self.service.settings.read_only:
            return placeholder_card_html(READ_ONLY_REFUSAL)
        return None

    def on_load(
        self,
        kinds: list[str] | None,
        regions: list[str] | None,
        years: str | None,
        text: str | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """Every control that depends on the corpus or on who is asking (see ``REFRESHED`` in ``ui``).

        The chat's document, kind and region choices, the tab's table (with its filters),
        its kind and region choices, the index line, the admin controls' visibility and the
        removable documents.
        """
        admin = self.may_manage(request)
        try:
            listing = self.service.document_listing()
        except PolicyQAError as exc:
            unavailable = placeholder_card_html(f"索引不可用 Index unavailable: {exc}")
            empty = gr.Dropdown(choices=[], value=[])
            return empty, empty, empty, unavailable, empty, empty, "", gr.Column(visible=admin), gr.Dropdown(choices=[])
        documents = [(f"{d['title']} ({d['doc_id']})", str(d["doc_id"])) for d in listing]
        kind_choices = [(kind_text(k, english=True), k) for k in sorted({str(d["kind"]) for d in listing})]
        region_choices = sorted({str(d["region"]) for d in listing if d.get("region")})
        removable = [(f"{d['title']} ({d['doc_id']})", str(d["doc_id"])) for d in listing if d.get("added")]
        generation = self.service.assistant.generation
        status = escape_text(f"索引版本 Index generation {generation} · {len(listing)} 篇文档 documents")
        if self.service.settings.read_only:
            status += escape_text(" · 只读副本 Read-only replica: documents are added on the builder")
        return (
            gr.Dropdown(choices=documents),
            gr.Dropdown(choices=kind_choices),
            gr.Dropdown(choices=region_choices),
            self.list_documents(kinds, regions, years, text),
            gr.Dropdown(choices=kind_choices),
            gr.Dropdown(choices=region_choices),
            f'<p class="pq-index-status">{status}</p>',
            gr.Column(visible=admin),
            gr.Dropdown(choices=removable, value=None),
        )

    def list_documents(
        self, kinds: Sequence[str] | None, regions: Sequence[str] | None, years: str | None, text: str | None
    ) -> str:
        """The tab's table: the documents the core's own filter admits, whose title or id holds ``text``."""
        try:
            where = make_filter(kinds=kinds or (), regions=regions or (), years=years)
        except QuestionError as exc:
            return placeholder_card_html(str(exc))
        try:
            admitted = {d.doc_id for d in self.service.assistant.documents() if where.admits(d)}
            listing = self.service.document_listing()
        except PolicyQAError as exc:
            return placeholder_card_html(f"索引不可用 Index unavailable: {exc}")
        needle = (text or "").strip().casefold()
        rows = [
            d
            for d in listing
            if d["doc_id"] in admitted
            and (not needle or needle in str(d["title"]).casefold() or needle in str(d["doc_id"]).casefold())
        ]
        return documents_html(rows)

    def add_documents(
        self,
        files: list[str] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio finds its tracker by this default
    ) -> str:
        """Add the uploaded files (admin only): saving, reading, indexing, then the new build is live.

        ``files`` are the paths Gradio wrote its uploads to; each is moved into a private
        folder under its safe name (as the API's upload does) and deleted whatever happens.
        """
        paths = [Path(f) for f in files or []]
        try:
            if refused := self.refusal(request):
                return refused
            if not paths:
                return placeholder_card_html("请先选择文件。Choose files first.")
            if len(paths) > MAX_UPLOAD_FILES:
                return placeholder_card_html(
                    f"一次最多 {MAX_UPLOAD_FILES} 个文件。At most {MAX_UPLOAD_FILES} files at once."
                )
            with tempfile.TemporaryDirectory(prefix="policyqa-upload-") as folder:
                progress(0.05, desc="保存 Saving")
                names, copies = _take_uploads(paths, Path(folder))
                progress(0.15, desc="读取 Reading")
                before = self.service.assistant.generation

                def indexing(stage: str, done: int, total: int) -> None:
                    progress((done, total), desc=f"索引 Indexing: {stage} (answers come from {before} meanwhile)")

                report = self.service.add_documents(copies, indexing)
                progress(1.0, desc="完成 Done")
                return _add_report(report, names, folder, self.service)
        except UploadError as exc:
            return placeholder_card_html(str(exc))
        except PolicyQAError as exc:
            log.error("adding documents failed: %s", exc)
            return placeholder_card_html(f"⚠ 添加失败 Adding failed: {exc}")
        finally:
            for path in paths:
                _discard_upload(path)

    def remove_document(
        self,
        doc_id: str | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio finds its tracker by this default
    ) -> str:
        """Remove a document of the managed folder (admin only) and serve the build without it."""
        if refused := self.refusal(request):
            return refused
        if not doc_id:
            return placeholder_card_html("请先选择文档。Choose a document first.")
        try:
            self.service.remove_document(
                doc_id, lambda stage, done, total: progress((done, total), desc=f"索引 Indexing: {stage}")
            )
        except DocumentNotFoundError:
            return placeholder_card_html(f"没有此文档 No document has the id {doc_id}.")
        except NotManagedError:  # its message names the server's path: not for the page
            return placeholder_card_html(
                f"{doc_id} 属于语料目录，不能在此删除。{doc_id} is part of a corpus folder: it cannot be removed here."
            )
        except PolicyQAError as exc:
            log.error("removing %s failed: %s", doc_id, exc)
            return placeholder_card_html(f"⚠ 删除失败 Removing failed: {exc}")
        live = f"新索引已上线 Index generation {self.service.assistant.generation} is live."
        return add_report_html([("removed", f"{doc_id}: 已删除 removed")], live)

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
        made = answer.get("generation") or {}
        grounded = [
            (str(s["text"]), str(s["source"]["sentence"]))
            for s in made.get("sentences") or []
            if str(s["source"]["n"]) == str(n) and not made.get("fallback")
        ]
        return citation_card_html(
            citation,
            context,
            english=english,
            glosses=glosses,
            with_page=isinstance(citation.get("page"), int),
            with_file=True,
            grounded=grounded,
        )

    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        answers: list[dict[str, Any] | None],
        k: float,
        doc_ids: list[str] | None,
        kinds: list[str] | None = None,
        regions: list[str] | None = None,
        years: str | None = None,
        mode: str = "extractive",
        request: gr.Request = None,  # type: ignore[assignment]
    ):  # type: ignore[no-untyped-def]
        # ``mode``: the answer toggle (extractive | llm), the last input of the ask controls.
        question = (message or "").strip()
        if not question:
            gr.Warning("请输入问题。Please type a question.")
            yield history, answers, message, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = list(history or [])
        # A worker that has lost the session (restarted, or replaced by a new build's) starts with no
        # answers while the page still shows the earlier ones: they come back from the shared store,
        # or are kept as unknown, so that the new answer's turn, its citation links and its rating
        # are its own, not an earlier one's.
        replies = _replies(history)
        answers = self.conversation(request, answers, replies)
        answers += [None] * (replies - len(answers))
        history.append({"role": "user", "content": escape_text(question)})
        turn = len(answers)
        yield history, answers, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            # The Filters accordion: the core's own filter, so a bad year range is the API's message.
            where = make_filter(kinds=kinds or (), regions=regions or (), years=years, doc_ids=doc_ids or ())
            # A short follow-up ("那成长期呢？") is resolved against the earlier questions.
            earlier = [str(a.get("resolved_question") or a.get("question")) for a in answers if a]
            stream = self.service.assistant.ask_stream(
                question, k=int(k), where=None if where.is_empty else where, earlier=earlier, mode=mode
            )
            # A generated answer is shown sentence by sentence as each passes verification.
            written: list[str] = []
            for item in stream:
                if isinstance(item, GroundedSentence):
                    written.append(item.text)
                    shown = answer_html(" ".join(written), False, turn, (), not is_chinese(question))
                    yield history + [{"role": "assistant", "content": shown}], answers, "", *[gr.skip()] * 4
                else:
                    answer = item
            observe_answer(answer)
        except (QuestionError, ConfigError) as exc:
            history.append({"role": "assistant", "content": f"<p>⚠ {escape_text(str(exc))}</p>"})
            answers.append(None)
            self.remember(request, answers)
            yield history, answers, "", None, citation_choices(None), placeholder_card_html(CARD_HINT), ""
            return
        except PolicyQAError as exc:
            log.error("ask failed: %s", exc)
            history.append(
                {"role": "assistant", "content": f"<p>⚠ 服务暂不可用 Service unavailable: {escape_text(str(exc))}</p>"}
            )
            answers.append(None)
            self.remember(request, answers)
            yield history, answers, "", None, citation_choices(None), placeholder_card_html(CARD_HINT), ""
            return
        data = answer.to_dict()
        answers.append(data)
        self.remember(request, answers)
        english = english_reader(data)
        citations: list[dict[str, Any]] = data["citations"]  # type: ignore[assignment]
        # Quotes are revealed one by one too, unless the generated sentences were already.
        pieces = (
            []
            if written and not (answer.generation and answer.generation.fallback)
            else answer_sentences(answer.answer)
        )
        for count in range(1, len(pieces)):
            partial = {
                "role": "assistant",
                "content": answer_html(
                    " ".join(pieces[:count]), answer.abstained, turn, (), english, answer.outcome == PARTIAL
                ),
            }
            yield history + [partial], answers, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        content = answer_html(answer.answer, answer.abstained, turn, citations, english, answer.outcome == PARTIAL)
        content = filter_html(filter_text(kinds or (), regions or (), years, len(doc_ids or ()))) + content
        if answer.generation is not None and answer.generation.note:
            # Why a generated answer fell back to quotes, or what the verifier left out.
            content = f'<p class="pq-note">{escape_text(answer.generation.note)}</p>{content}'
        if answer.resolved_question:
            # Show what was searched, so the user sees how the follow-up was read.
            content = f'<p class="pq-resolved">检索问题 Searched: {escape_text(answer.resolved_question)}</p>{content}'
        final = {"role": "assistant", "content": content}
        history.append(final)
        yield history, answers, "", data, citation_choices(data), self.card_for(data, None, False), copy_text(data)

    def open_cited(  # type: ignore[no-untyped-def]
        self,
        target: str,
        answers: list[dict[str, Any] | None],
        with_context: bool,
        request: gr.Request = None,  # type: ignore[assignment]
    ):
        """Open card n of answer ``turn``: ``target`` is "TURN:N", sent by the page's click handler."""
        turn_text, _, n = str(target or "").partition(":")
        try:
            turn = int(turn_text)
            answers = self.conversation(request, answers, turn + 1)
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
        answers = self.conversation(request, answers, turn + 1)
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
        answers = self.conversation(request, answers, (turn or 0) + 1)
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

    # --- the conversation, kept in the shared store for the other workers ------------------------

    def conversation(
        self, request: gr.Request | None, answers: list[dict[str, Any] | None] | None, turns: int
    ) -> list[dict[str, Any] | None]:
        """The session's answers: this worker's, or the shared store's when it holds more of the ``turns`` asked for.

        Gradio keeps them in this worker's memory: a worker started in place of another (a new
        build, a crash, a restart) has none for a page that shows some.
        """
        answers = list(answers or [])
        if len(answers) >= turns and all(a is not None for a in answers[:turns]):
            return answers
        key = self._conversation_key(request)
        if key is None:
            return answers
        try:
            stored = self.service.state.get_conversation(key)  # type: ignore[union-attr]
        except StateUnavailableError as exc:
            log.warning("conversation not read: %s", exc)
            return answers
        kept = json.loads(stored) if stored else []
        return kept if isinstance(kept, list) and len(kept) > len(answers) else answers

    def remember(self, request: gr.Request | None, answers: list[dict[str, Any] | None]) -> None:
        """Keep the session's answers in the shared store, for as long as a sign-in lasts."""
        key = self._conversation_key(request)
        if key is None:
            return
        try:
            kept = [None] * max(0, len(answers) - MAX_REMEMBERED_TURNS) + answers[-MAX_REMEMBERED_TURNS:]
            body = json.dumps(kept, ensure_ascii=False)
            self.service.state.put_conversation(key, body, self.service.settings.session_ttl_seconds)  # type: ignore[union-attr]
        except StateUnavailableError as exc:  # the answer is shown all the same; only another worker misses it
            log.warning("conversation not kept: %s", exc)

    def _conversation_key(self, request: gr.Request | None) -> str | None:
        """The store's key for this browser session: its Gradio session and who is signed in, hashed."""
        session = getattr(request, "session_hash", None)
        if self.service.state is None or not session:
            return None
        identity = request_identity(request, self.service)
        owner = identity.name if identity else "anonymous"
        return hashlib.sha256(f"{owner}\x00{session}".encode()).hexdigest()

    def clear(self) -> tuple[list[Any], list[Any], dict[str, int], None, Any, str, str]:
        return [], [], {}, None, citation_choices(None), placeholder_card_html(CARD_HINT), ""


def _replies(history: Sequence[Any]) -> int:
    """How many answers the chat shows: its assistant messages (dicts, or Gradio's message objects)."""
    roles = (m.get("role") if isinstance(m, dict) else getattr(m, "role", None) for m in history)
    return sum(1 for role in roles if role == "assistant")


class UploadError(Exception):
    """An upload the Documents tab cannot take; the message is for the page."""


def _take_uploads(paths: Sequence[Path], folder: Path) -> tuple[list[str], list[Path]]:
    """Move Gradio's uploads into ``folder``, one numbered sub-folder each, under their safe names.

    Only files in Gradio's upload folder are taken: an event's payload names the paths,
    and nothing else on the server may be moved in or deleted.
    """
    names, copies = [], []
    for slot, path in enumerate(paths):
        if not _is_upload(path):
            raise UploadError(f"{safe_file_name(path.name)}: 不是上传的文件 not an uploaded file.")
        name = safe_file_name(path.name)
        target = folder / str(slot)
        target.mkdir(mode=0o700)
        shutil.move(path, target / name)
        names.append(name)
        copies.append(target / name)
    return names, copies


def _is_upload(path: Path) -> bool:
    from gradio.utils import get_upload_folder

    try:
        return path.resolve().is_relative_to(Path(get_upload_folder()).resolve()) and path.is_file()
    except OSError:
        return False


def _discard_upload(path: Path) -> None:
    """Delete Gradio's copy of an upload (already moved when it was taken) and its now empty folder."""
    if not _is_upload(path) and path.exists():
        return
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # Gradio keeps each upload in a folder of its own
    except OSError:
        pass


def _add_report(report: AddReport, names: Sequence[str], folder: str, service: Service) -> str:
    """The library's verdict on each file, by the name it was uploaded under, and the build now live."""
    lines = []
    for row, name in zip(report.files, names, strict=True):
        if row.status == ADDED:
            lines.append((row.status, f"{name}: 已添加 added as {row.doc_id}"))
        elif row.status == DUPLICATE:
            lines.append((row.status, f"{name}: 内容重复，未再索引 duplicate of {row.doc_id}, not indexed again"))
        else:
            lines.append((row.status, f"{name}: 错误 error: {client_reason(row.reason, folder)}"))
    if report.build is not None:
        live = (
            f"新索引已上线 Index generation {service.assistant.generation} is live: "
            f"{report.build.documents} 篇文档 documents, {report.build.chunks} 段 passages."
        )
    else:
        live = "索引未变 The index is unchanged."
    return add_report_html(lines, live)
