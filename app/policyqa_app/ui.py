"""The chat UI (Gradio), mounted at ``/`` of the FastAPI app, server-side rendering off.

This module is the layout and its wiring; the event handlers are in ``ui_handlers``.
Every string shown in the page passes through ``present`` and is HTML-escaped there.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from fastapi import FastAPI, HTTPException, Query  # noqa: E402
from fastapi.responses import FileResponse, Response  # noqa: E402

from .feedback import MAX_COMMENT_CHARS  # noqa: E402
from .present import MAX_PAGE_QUOTES, placeholder_card_html  # noqa: E402
from .security import LOGOUT_PATH  # noqa: E402
from .service import MAX_QUOTE_CHARS, PageNotFoundError, Service  # noqa: E402
from .ui_handlers import CARD_HINT, UIHandlers  # noqa: E402

UI_MAX_TOP_K = 20
PAGE_ROUTE = "/ui/page/{doc_id}/{page:int}.png"
FILE_ROUTE = "/ui/file/{doc_id}"
MAX_PAGE_NUMBER = 100_000
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
.pq-partial { color: #92400e; border-left: 3px solid #f59e0b; padding-left: 0.5em; }
.pq-hidden { color: #b45309; font-size: .8em; }
.pq-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .8rem 1rem;
           line-height: 1.6; background: var(--background-fill-primary); }
.pq-card-empty { color: var(--body-text-color-subdued); }
.pq-card-head { font-size: 1.05rem; }
.pq-card-n { font-weight: 700; }
.pq-card-doc { font-weight: 700; }
.pq-card-kind { display: inline-block; font-size: .8em; padding: 0 .4em; border-radius: 4px;
                background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.pq-card-title { font-size: .9em; }
.pq-card-section { color: var(--body-text-color-subdued); margin: .2rem 0; }
.pq-card-glosses { margin-top: .6rem; font-size: .9em; }
.pq-card-glosses-label { font-weight: 600; }
.pq-gloss-quote { color: var(--body-text-color-subdued); margin-top: .3rem; }
.pq-card-glosses ul { margin: .1rem 0 .3rem 1.2rem; padding: 0; }
.pq-card-grounded { margin-top: .6rem; font-size: .9em; }
.pq-card-grounded-label { font-weight: 600; }
.pq-card-grounded ul { margin: .1rem 0 .3rem 1.2rem; padding: 0; }
.pq-grounded-source { color: var(--body-text-color-subdued); }
.pq-card-page { margin: .8rem 0 0 0; }
.pq-card-page img { max-width: 100%; height: auto; border: 1px solid var(--border-color-primary); }
.pq-card-page figcaption, .pq-card-file { font-size: .85em; color: var(--body-text-color-subdued); }
#pq-chat a.pq-marker { text-decoration: none; cursor: pointer; }
#pq-chat a.pq-marker:hover, #pq-chat a.pq-marker:focus { text-decoration: underline; }
#pq-chat .pq-sources { font-size: .85em; margin-top: .4rem; color: var(--body-text-color-subdued); }
#pq-chat .pq-sources ul { list-style: none; margin: .2rem 0 0 0; padding: 0; }
#pq-chat .pq-sources li { margin: .15rem 0; }
#pq-chat .pq-sources a, #pq-chat a.pq-marker { color: var(--link-text-color); }
#pq-card { overflow-wrap: anywhere; }
.pq-card { max-width: 100%; box-sizing: border-box; overflow-wrap: anywhere; }
/* A narrow frame (a portal's sidebar): one column, the card below the chat and never wider than the frame. */
@media (max-width: 640px) {
  #pq-ask-row { flex-direction: column; }
  #pq-ask-row > div { min-width: 0 !important; width: 100%; }
  #pq-question-row { flex-wrap: wrap; }
  #pq-question-row > * { min-width: 0 !important; flex-basis: 100%; }
  #pq-header .pq-logout { float: none; display: block; text-align: right; }
}
.pq-card-meta { font-size: .85em; color: var(--body-text-color-subdued); margin-bottom: .5rem; }
.pq-card-passage mark { background: #fde68a; color: inherit; padding: 0 .1em; }
.pq-card-context-label { margin-top: .8rem; font-weight: 600; }
.pq-card-context { font-size: .92em; }
.pq-context-passage { background: #e0f2fe; }
.pq-doc-table { width: 100%; border-collapse: collapse; font-size: .9em; }
.pq-doc-table th, .pq-doc-table td { text-align: left; vertical-align: top; padding: .35rem .4rem; }
.pq-doc { border-bottom: 1px solid var(--border-color-primary); }
.pq-filters, .pq-index-status, .pq-live { font-size: .85em; color: var(--body-text-color-subdued); }
.pq-add-error { color: #b00020; }
.pq-doc-title { font-weight: 600; }
.pq-doc-meta { font-size: .85em; color: var(--body-text-color-subdued); }
"""
# One click handler for the whole page: a citation link in any answer ("#pq-cite-TURN-N") opens
# that answer's card n. The links carry numbers only; the handler passes "TURN:N" to the
# hidden button's event and brings the card into view (below the chat in a narrow frame).
CITE_JS = """
() => {
  if (window.__pqCiteHandler) { return; }
  window.__pqCiteHandler = true;
  document.addEventListener("click", (event) => {
    const path = event.composedPath ? event.composedPath() : [event.target];
    const link = path.find((el) => el instanceof Element && el.matches("a.pq-marker, a.pq-cite"));
    if (!link) { return; }
    const match = /^#pq-cite-(\\d+)-(\\d+)$/.exec(link.getAttribute("href") || "");
    if (!match) { return; }
    event.preventDefault();
    const root = link.getRootNode && link.getRootNode().querySelector ? link.getRootNode() : document;
    const button = root.querySelector("#pq-open-cite") || document.querySelector("#pq-open-cite");
    if (!button) { return; }
    window.__pqCite = match[1] + ":" + match[2];
    button.click();
  }, true);
}
"""
OPEN_CITE_JS = "(target, answers, context) => [window.__pqCite || '', answers, context]"
SHOW_CARD_JS = """
() => {
  const card = document.querySelector("#pq-card");
  if (!card) { return; }
  const top = card.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight - 48) { card.scrollIntoView({ block: "start" }); }
}
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


def _filter_controls(kind_id: str, region_id: str, year_id: str) -> tuple[gr.Dropdown, gr.Dropdown, gr.Textbox]:
    """The kind, region and year filters of the chat and of the Documents tab, in the current row."""
    kinds = gr.Dropdown(label="类型 Kind", choices=[], multiselect=True, elem_id=kind_id)
    regions = gr.Dropdown(label="地区 Region", choices=[], multiselect=True, elem_id=region_id)
    years = gr.Textbox(label="年份 Years", placeholder="2019 / 2015-2021", max_lines=1, max_length=20, elem_id=year_id)
    return kinds, regions, years


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
                with gr.Row(equal_height=False, elem_id="pq-ask-row"):
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
                        with gr.Row(elem_id="pq-question-row"):
                            question = gr.Textbox(
                                label="问题 Question",
                                placeholder="中文或英文提问 Ask in Chinese or English",
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
                        # What the copy button copies; rendered (so the button's script can read it), never shown.
                        copy_box = gr.Textbox(elem_id="pq-copy-text", visible="hidden", interactive=False)
                        # Where the page's citation links send "TURN:N" (see CITE_JS).
                        cite_target = gr.Textbox(elem_id="pq-cite-target", visible="hidden")
                        open_cite = gr.Button("打开引用 Open citation", elem_id="pq-open-cite", visible="hidden")
                        with gr.Accordion("意见 Comment on the last rated answer", open=False):
                            comment = gr.Textbox(
                                label="意见（可选）Comment (optional)",
                                max_length=MAX_COMMENT_CHARS,
                                lines=2,
                                elem_id="pq-comment",
                            )
                            send_comment = gr.Button("提交意见 Send comment", size="sm", elem_id="pq-send-comment")
                        feedback_note = gr.HTML(elem_id="pq-feedback-note")
                        with gr.Accordion("筛选 Filters", open=False, elem_id="pq-filters"):
                            with gr.Row():
                                kind_filter, region_filter, year_filter = _filter_controls(
                                    "pq-kind-filter", "pq-region-filter", "pq-year-filter"
                                )
                            doc_filter = gr.Dropdown(
                                label="文档（不选即全部）Documents (none = all)",
                                choices=[],
                                multiselect=True,
                                elem_id="pq-docs-filter",
                            )
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
                            # Generated answers need POLICYQA_LLM_URL; without it the answer says so and quotes.
                            answer_mode = gr.Radio(
                                [("引用原文 Quotes", "extractive"), ("生成并核实 Generated, verified", "llm")],
                                value="extractive",
                                label="回答方式 Answer",
                                elem_id="pq-answer-mode",
                            )
            with gr.Tab("文档 Documents", id="documents"):
                index_status = gr.HTML(elem_id="pq-index-status")
                with gr.Row():
                    list_kinds, list_regions, list_years = _filter_controls(
                        "pq-list-kinds", "pq-list-regions", "pq-list-years"
                    )
                    list_text = gr.Textbox(
                        label="标题搜索 Title contains", max_lines=1, max_length=100, elem_id="pq-list-text"
                    )
                # Shown to admin identities only; the handlers check again (a hidden control can still be called).
                with gr.Column(visible=False, elem_id="pq-admin") as admin_column:
                    with gr.Row():
                        upload = gr.File(
                            label="添加文档 Add documents (PDF, DOCX, HTML, TXT, MD)",
                            file_count="multiple",
                            file_types=[".pdf", ".docx", ".html", ".htm", ".txt", ".md"],
                            elem_id="pq-upload",
                        )
                        with gr.Column():
                            add_button = gr.Button("添加到索引 Add to the index", variant="primary", elem_id="pq-add")
                            removable = gr.Dropdown(
                                label="删除文档 Remove a document", choices=[], elem_id="pq-remove-pick"
                            )
                            remove_button = gr.Button("删除 Remove", variant="stop", elem_id="pq-remove")
                    admin_report = gr.HTML(elem_id="pq-admin-report")
                documents_view = gr.HTML(placeholder_card_html("正在加载… Loading…"), elem_id="pq-documents")

        ask_inputs = [
            question, chatbot, answers, top_k, doc_filter, kind_filter, region_filter, year_filter, answer_mode
        ]  # fmt: skip
        ask_outputs = [chatbot, answers, question, current, citation_pick, card, copy_box]
        for trigger in (send.click, question.submit):
            trigger(handlers.respond, ask_inputs, ask_outputs, api_visibility="private")
        open_cite.click(
            handlers.open_cited,
            [cite_target, answers, with_context],
            [current, citation_pick, card, copy_box],
            js=OPEN_CITE_JS,
            api_visibility="private",
        ).then(None, None, None, js=SHOW_CARD_JS)
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
        list_inputs = [list_kinds, list_regions, list_years, list_text]
        refreshed = [
            doc_filter,
            kind_filter,
            region_filter,
            documents_view,
            list_kinds,
            list_regions,
            index_status,
            admin_column,
            removable,
        ]
        demo.load(handlers.on_load, list_inputs, refreshed, api_visibility="private")
        for trigger in (list_kinds.change, list_regions.change, list_years.submit, list_text.change):
            trigger(handlers.list_documents, list_inputs, documents_view, api_visibility="private")
        # One add or remove at a time, in a queue of its own: questions go on meanwhile, from the live build.
        add_button.click(
            handlers.add_documents,
            [upload],
            admin_report,
            api_visibility="private",
            concurrency_id="documents",
            concurrency_limit=1,
        ).then(lambda: None, None, upload, api_visibility="private").then(
            handlers.on_load, list_inputs, refreshed, api_visibility="private"
        )
        remove_button.click(
            handlers.remove_document,
            [removable],
            admin_report,
            api_visibility="private",
            concurrency_id="documents",
            concurrency_limit=1,
        ).then(handlers.on_load, list_inputs, refreshed, api_visibility="private")
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

    def page_image(doc_id: str, page: int, q: list[str] = Query(default=[])) -> Response:  # noqa: B008
        # A PDF page of the index with the quotes highlighted, for a citation card. Sync: FastAPI
        # runs it in its thread pool, and the renderer serialises PDFium itself.
        if not 1 <= page <= MAX_PAGE_NUMBER:
            raise HTTPException(status_code=404, detail="no such page")
        quotes = [text[:MAX_QUOTE_CHARS] for text in q[:MAX_PAGE_QUOTES]]
        try:
            png = service.page_png(doc_id, page, quotes)
        except PageNotFoundError as exc:
            raise HTTPException(status_code=404, detail="no such page") from exc
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    def original_file(doc_id: str) -> FileResponse:
        # The indexed file itself: a PDF opens in the browser, anything else downloads (never rendered
        # as a page of this origin: an HTML source could carry scripts).
        try:
            document = service.original_file(doc_id)
        except PageNotFoundError as exc:
            raise HTTPException(status_code=404, detail="no such document") from exc
        path = Path(document.path)
        pdf = path.suffix.lower() == ".pdf"
        return FileResponse(
            path,
            media_type="application/pdf" if pdf else "application/octet-stream",
            filename=path.name,
            content_disposition_type="inline" if pdf else "attachment",
            headers={"Cache-Control": "private, no-cache"},
        )

    # Added before Gradio's mount at "/", which would take every path; the app's access
    # control (security.AccessControlMiddleware) guards them as it guards the UI.
    app.add_api_route(PAGE_ROUTE, page_image, methods=["GET"], include_in_schema=False)
    app.add_api_route(FILE_ROUTE, original_file, methods=["GET"], include_in_schema=False)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth_dependency=service.authenticator.gradio_user if service.settings.auth_required else None,
        ssr_mode=False,
        footer_links=["settings"],  # the REST API is documented at /docs; the UI's events are private
        run_history=False,
        max_file_size=service.settings.max_upload_bytes,  # admins only (middleware.ClosedRoutesMiddleware)
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        css=CSS,
        js=CITE_JS,
        theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]),
    )
