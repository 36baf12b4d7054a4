"""The chat UI (Gradio), mounted at ``/`` of the FastAPI app, server-side rendering off.

This module is the layout and its wiring; the event handlers are in ``ui_handlers``.
Every string shown in the page passes through ``present`` and is HTML-escaped there.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import FileResponse  # noqa: E402

from .feedback import MAX_COMMENT_CHARS  # noqa: E402
from .present import placeholder_card_html  # noqa: E402
from .security import LOGOUT_PATH  # noqa: E402
from .service import Service  # noqa: E402
from .ui_handlers import CARD_HINT, UIHandlers  # noqa: E402

UI_MAX_TOP_K = 20
EXAMPLES = [
    "What policy fits a technology in the trough of disillusionment?",
    "技术处于泡沫破裂低谷期时需要什么政策？",
    "职务科技成果转让给他人实施的，应当给完成人员多少奖励？",
]
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


def build_ui(service: Service) -> gr.Blocks:
    """The Blocks app: chat with citations, settings, feedback, and a documents tab."""
    settings = service.settings
    handlers = UIHandlers(service)
    default_k = min(service.assistant.settings.top_k, UI_MAX_TOP_K)
    max_chars = service.assistant.settings.max_question_chars

    logout = f'<a class="pq-logout" href="{LOGOUT_PATH}">退出 Sign out</a>' if settings.keys_configured else ""
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
            trigger(handlers.respond, ask_inputs, ask_outputs, api_visibility="private")
        chatbot.option_select(
            handlers.open_option,
            [answers, with_context],
            [current, citation_pick, card, copy_box],
            api_visibility="private",
        )
        citation_pick.select(
            handlers.open_citation, [current, citation_pick, with_context], card, api_visibility="private"
        )
        with_context.change(
            handlers.open_citation, [current, citation_pick, with_context], card, api_visibility="private"
        )
        chatbot.like(handlers.rate, [answers, rated], [rated, feedback_note], api_visibility="private")
        send_comment.click(
            handlers.comment_on, [answers, rated, comment], [rated, comment, feedback_note], api_visibility="private"
        )
        clear_button.click(
            handlers.clear,
            None,
            [chatbot, answers, rated, current, citation_pick, card, copy_box],
            api_visibility="private",
        )
        chatbot.clear(
            handlers.clear,
            None,
            [chatbot, answers, rated, current, citation_pick, card, copy_box],
            api_visibility="private",
        )
        copy_button.click(None, [copy_box], None, js=COPY_JS)
        demo.load(handlers.on_load, None, [doc_filter, documents_view], api_visibility="private")
    # The UI's events wait in Gradio's own queue, bounded like the API's (POLICYQA_MAX_*).
    demo.queue(default_concurrency_limit=settings.max_concurrency, max_size=max(1, settings.max_queue))
    return demo


def mount_ui(app: FastAPI, service: Service) -> None:
    """Mount the UI at ``/`` with SSR off, behind the same access control as the API."""
    demo = build_ui(service)
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
        auth_dependency=service.authenticator.gradio_user if service.settings.auth_required else None,
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
