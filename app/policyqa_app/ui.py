"""The chat UI (Gradio), mounted at ``/`` of the FastAPI app, server-side rendering off.

Every string shown in the page passes through ``present`` and is HTML-escaped there:
the Chatbot renders its messages as HTML (Markdown is off), so answers, passages and
even the user's own question are escaped before they reach it.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import logging  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import FileResponse  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402

from policyqa import ConfigError, PolicyQAError, QuestionError  # noqa: E402
from policyqa.documents import decode_bytes  # noqa: E402

from .config import AppSettings  # noqa: E402
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
from .security import LOGOUT_PATH  # noqa: E402

if TYPE_CHECKING:
    from .server import Service

log = logging.getLogger("policyqa.app")

UI_MAX_TOP_K = 20
EXAMPLES = [
    "What policy fits a technology in the trough of disillusionment?",
    "技术处于泡沫破裂低谷期时需要什么政策？",
    "职务科技成果转让给他人实施的，应当给完成人员多少奖励？",
]
CARD_HINT = "点击答案下方的引用编号查看出处。\nClick a citation number under an answer to see its source."
CSS = """
#pq-header h1 { font-size: 1.5rem; margin: .2rem 0; }
#pq-header p { margin: 0; color: var(--body-text-color-subdued); }
#pq-header .pq-logout { float: right; }
.pq-not-covered { color: #9a3412; }
.pq-hidden { color: #b45309; font-size: .8em; }
.pq-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .8rem 1rem;
           line-height: 1.6; background: var(--background-fill-primary); }
.pq-card-empty { color: var(--body-text-color-subdued); }
.pq-card-n { font-weight: 700; font-size: 1.1rem; }
.pq-card-title { font-weight: 600; }
.pq-card-section { color: var(--body-text-color-subdued); margin: .2rem 0; }
.pq-card-meta { font-size: .85em; color: var(--body-text-color-subdued); margin-bottom: .5rem; }
.pq-card-passage mark { background: #fde68a; color: inherit; padding: 0 .1em; }
.pq-card-context-label { margin-top: .8rem; font-weight: 600; }
.pq-card-context { font-size: .92em; }
.pq-context-passage { background: #e0f2fe; }
.pq-doc { border-bottom: 1px solid var(--border-color-primary); padding: .6rem 0; }
.pq-doc-title { font-weight: 600; }
.pq-doc-meta { font-size: .85em; color: var(--body-text-color-subdued); }
"""
COPY_JS = """
(text) => {
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
  };
  if (!text) { return; }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).catch(fallback);
  } else { fallback(); }
}
"""


class _SourceTexts:
    """Source documents read on demand for the "full context" view, cached by content hash."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[tuple[str, str], str | None] = {}

    def get(self, path: str, sha256: str) -> str | None:
        key = (path, sha256)
        with self._lock:
            if key in self._texts:
                return self._texts[key]
        try:  # decoded as the index decoded it (GB18030 too), so the passage's offsets hold
            text: str | None = decode_bytes(Path(path).read_bytes())[0]
        except (OSError, ValueError):
            text = None
        with self._lock:
            self._texts[key] = text
        return text


def _user_name(request: gr.Request | None, service: Service) -> str:
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


def build_ui(service: Service, security: AppSettings) -> gr.Blocks:
    """The Blocks app: chat with citations, settings, feedback, and a documents tab."""
    assistant = service.assistant
    default_k = min(assistant.settings.top_k, UI_MAX_TOP_K)
    max_chars = assistant.settings.max_question_chars
    sources = _SourceTexts()

    def documents_info() -> dict[str, Any]:
        return {d.doc_id: d for d in assistant.documents()}

    def on_load() -> tuple[Any, str]:
        try:
            docs = assistant.documents()
        except PolicyQAError as exc:
            return gr.CheckboxGroup(choices=[], value=[]), placeholder_card_html(f"索引不可用 Index unavailable: {exc}")
        choices = [(f"{d.title} ({d.doc_id})", d.doc_id) for d in docs]
        listing = [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "chars": d.chars,
                "passages": d.passages,
                "metadata": d.metadata,
                "sections": list(d.sections),
            }
            for d in docs
        ]
        return gr.CheckboxGroup(choices=choices, value=[d.doc_id for d in docs]), documents_html(listing)

    def citation_choices(answer: dict[str, Any] | None) -> Any:
        citations = (answer or {}).get("citations") or []
        return gr.Radio(choices=[(citation_label(c), str(c["n"])) for c in citations], value=None)

    def card_for(answer: dict[str, Any] | None, n: str | None, with_context: bool) -> str:
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
            info = documents_info().get(str(citation["doc_id"]))
            source = sources.get(info.path, info.sha256) if info else None
            if source is None:
                context = escape_text("原文不可读。The source document cannot be read.")
            else:
                context = context_html(source, int(citation["char_start"]), int(citation["char_end"]))
        return citation_card_html(citation, context)

    def respond(
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
            answer = assistant.ask(question, k=int(k), doc_ids=list(doc_ids) if doc_ids else None)
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
        pieces = answer_sentences(answer.answer)
        for count in range(1, len(pieces)):
            partial = {"role": "assistant", "content": answer_html(" ".join(pieces[:count]), answer.abstained)}
            yield history + [partial], answers, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        final: dict[str, Any] = {"role": "assistant", "content": answer_html(answer.answer, answer.abstained)}
        if answer.citations:
            final["options"] = [
                {"value": f"{turn}:{c.n}", "label": citation_label(c.to_dict())} for c in answer.citations
            ]
        history.append(final)
        yield history, answers, "", data, citation_choices(data), card_for(data, None, False), copy_text(data)

    def open_option(answers: list[dict[str, Any] | None], with_context: bool, evt: gr.SelectData):  # type: ignore[no-untyped-def]
        turn_text, _, n = str(evt.value.get("value") if isinstance(evt.value, dict) else evt.value).partition(":")
        try:
            answer = answers[int(turn_text)]
        except (ValueError, IndexError):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        radio = (
            gr.Radio(choices=[(citation_label(c), str(c["n"])) for c in answer["citations"]], value=n)
            if answer
            else gr.skip()
        )
        return answer, radio, card_for(answer, n, with_context), copy_text(answer) if answer else ""

    def open_citation(current: dict[str, Any] | None, n: str | None, with_context: bool) -> str:
        return card_for(current, n, with_context)

    def rate(
        answers: list[dict[str, Any] | None], rated: dict[str, int], data: gr.LikeData, request: gr.Request
    ) -> tuple[dict[str, int], str]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn = index // 2  # each question gets exactly one reply: user, assistant, user, assistant...
        answer = answers[turn] if 0 <= turn < len(answers) else None
        if answer is None or data.liked not in (True, False):
            return rated, gr.skip()
        rating = "up" if data.liked else "down"
        rated = dict(rated or {})
        row = rated.get(str(turn))
        if row is not None and service.feedback.update(row, rating=rating):
            pass
        else:
            record = FeedbackRecord(
                question=str(answer["question"]),
                answer=str(answer["answer"]),
                abstained=bool(answer["abstained"]),
                citations=list(answer["citations"]),
                rating=rating,
                user=_user_name(request, service),
            )
            rated[str(turn)] = service.feedback.add(record)
        rated["last"] = turn
        return rated, placeholder_card_html("已记录反馈，谢谢！Feedback saved, thank you.")

    def comment_on(
        answers: list[dict[str, Any] | None], rated: dict[str, int], comment: str, request: gr.Request
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
        if row is None or not service.feedback.update(row, comment=comment[:MAX_COMMENT_CHARS]):
            answer = answers[turn]
            assert answer is not None
            rated[str(turn)] = service.feedback.add(
                FeedbackRecord(
                    question=str(answer["question"]),
                    answer=str(answer["answer"]),
                    abstained=bool(answer["abstained"]),
                    citations=list(answer["citations"]),
                    rating=None,
                    comment=comment[:MAX_COMMENT_CHARS],
                    user=_user_name(request, service),
                )
            )
        return rated, "", placeholder_card_html("已保存意见，谢谢！Comment saved, thank you.")

    def clear() -> tuple[list[Any], list[Any], dict[str, int], None, Any, str, str]:
        return [], [], {}, None, citation_choices(None), placeholder_card_html(CARD_HINT), ""

    logout = f'<a class="pq-logout" href="{LOGOUT_PATH}">退出 Sign out</a>' if security.keys_configured else ""
    with gr.Blocks(title="政策问答 PolicyQA", analytics_enabled=False) as demo:
        answers = gr.State([])
        current = gr.State(None)
        rated = gr.State({})
        gr.HTML(
            f'<div id="pq-header">{logout}<h1>政策问答 PolicyQA</h1>'
            "<p>基于政策文献的问答，每句答案都注明出处。"
            "Answers quoted from the policy corpus, every sentence cited.</p></div>"
        )
        with gr.Tabs():
            with gr.Tab("问答 Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话 Conversation",
                            elem_id="pq-chat",
                            height=480,
                            render_markdown=False,
                            sanitize_html=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            buttons=[],
                            feedback_options=("Like", "Dislike"),
                            placeholder="请提问，中文或英文均可。Ask in Chinese or English.",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                label="问题 Question",
                                placeholder="例如 e.g. What policy fits a technology in the trough of disillusionment?",
                                elem_id="pq-question",
                                max_length=max_chars,
                                lines=1,
                                scale=5,
                            )
                            send = gr.Button("提问 Ask", variant="primary", elem_id="pq-send", scale=1)
                        gr.Examples(
                            examples=[[q] for q in EXAMPLES], inputs=[question], label="示例问题 Example questions"
                        )
                        with gr.Row():
                            copy_button = gr.Button(
                                "复制答案与引用 Copy answer with citations", elem_id="pq-copy", size="sm"
                            )
                            clear_button = gr.Button("清空对话 Clear conversation", size="sm")
                        with gr.Accordion("可复制的答案 Answer text to copy", open=False):
                            copy_box = gr.Textbox(
                                label="答案与引用 Answer with citations",
                                elem_id="pq-copy-text",
                                lines=6,
                                interactive=False,
                                buttons=["copy"],
                            )
                        with gr.Accordion("意见 Comment on the last rated answer", open=False):
                            comment = gr.Textbox(
                                label="意见（可选）Comment (optional)",
                                max_length=MAX_COMMENT_CHARS,
                                lines=2,
                                elem_id="pq-comment",
                            )
                            send_comment = gr.Button("提交意见 Send comment", size="sm", elem_id="pq-send-comment")
                        feedback_note = gr.HTML(elem_id="pq-feedback-note")
                    with gr.Column(scale=2):
                        citation_pick = gr.Radio(label="引用 Citations", choices=[], elem_id="pq-citations")
                        with_context = gr.Checkbox(
                            label="显示完整上下文 Show full context", value=False, elem_id="pq-context"
                        )
                        card = gr.HTML(placeholder_card_html(CARD_HINT), elem_id="pq-card")
                        with gr.Accordion("设置 Settings", open=False):
                            top_k = gr.Slider(
                                1, UI_MAX_TOP_K, value=default_k, step=1, label="检索段落数 Passages to use (top-k)"
                            )
                            doc_filter = gr.CheckboxGroup(
                                label="检索的文档（全不选即全部）Documents to search (none ticked = all)",
                                choices=[],
                                elem_id="pq-docs-filter",
                            )
            with gr.Tab("文档 Documents", id="documents"):
                documents_view = gr.HTML(placeholder_card_html("正在加载… Loading…"), elem_id="pq-documents")

        ask_inputs = [question, chatbot, answers, top_k, doc_filter]
        ask_outputs = [chatbot, answers, question, current, citation_pick, card, copy_box]
        for trigger in (send.click, question.submit):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private")
        chatbot.option_select(
            open_option, [answers, with_context], [current, citation_pick, card, copy_box], api_visibility="private"
        )
        citation_pick.select(open_citation, [current, citation_pick, with_context], card, api_visibility="private")
        with_context.change(open_citation, [current, citation_pick, with_context], card, api_visibility="private")
        chatbot.like(rate, [answers, rated], [rated, feedback_note], api_visibility="private")
        send_comment.click(
            comment_on, [answers, rated, comment], [rated, comment, feedback_note], api_visibility="private"
        )
        clear_button.click(
            clear, None, [chatbot, answers, rated, current, citation_pick, card, copy_box], api_visibility="private"
        )
        chatbot.clear(
            clear, None, [chatbot, answers, rated, current, citation_pick, card, copy_box], api_visibility="private"
        )
        copy_button.click(None, [copy_box], None, js=COPY_JS)
        demo.load(on_load, None, [doc_filter, documents_view], api_visibility="private")
    # The UI's events wait in Gradio's own queue, bounded like the API's (POLICYQA_MAX_*).
    demo.queue(default_concurrency_limit=security.max_concurrency, max_size=max(1, security.max_queue))
    return demo


def mount_ui(app: FastAPI, service: Service, security: AppSettings) -> None:
    """Mount the UI at ``/`` with SSR off, behind the same access control as the API."""
    demo = build_ui(service, security)
    loader = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"

    async def web_component_loader() -> FileResponse:
        # The <gradio-app> web component's loader, served by this server instead of a CDN.
        return FileResponse(loader, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    if loader.is_file():
        app.add_api_route("/gradio.js", web_component_loader, methods=["GET"], include_in_schema=False)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth_dependency=service.authenticator.gradio_user if security.auth_required else None,
        ssr_mode=False,
        footer_links=["settings"],  # the REST API is documented at /docs; the UI's events are private
        run_history=False,
        max_file_size="1mb",
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        css=CSS,
        theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]),
    )
