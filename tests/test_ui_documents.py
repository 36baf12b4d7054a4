"""The Documents tab's and the chat filters' handlers, called as Gradio calls them, over a real index.

The fake encoder keeps each rebuild quick: these tests check who may add and remove, what
the page is told and which documents are listed or searched, not retrieval quality.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import MINI_DIR, MINI_LAW, FakeEncoder

from policyqa import Assistant, Settings
from policyqa_app import AppSettings
from policyqa_app.config import key_digest
from policyqa_app.security import Identity
from policyqa_app.service import Service
from policyqa_app.ui_handlers import FORBIDDEN, READ_ONLY_REFUSAL, UIHandlers

pytest.importorskip("gradio", reason="the UI needs the 'serve' extra")

READER_KEY = "reader-key-Tq4Wm8Zp2Lx6"
ADMIN_KEY = "admin-key-Hs3Nv7Bc1Kd9"
NEW_TEXT = "# 数据要素流通办法\n\n第一条 为促进数据要素流通，制定本办法。\n\n第二条 数据交易场所应当公开交易规则。\n"


def request_with(key: str | None = None, cookies: dict[str, str] | None = None) -> SimpleNamespace:
    """What a Gradio event's ``gr.Request`` offers the handlers."""
    headers = {"host": "127.0.0.1:8000"} | ({"x-api-key": key} if key else {})
    return SimpleNamespace(
        headers=headers, cookies=cookies or {}, client=SimpleNamespace(host="127.0.0.1"), username=None
    )


@pytest.fixture()
def handlers(tmp_path: Path) -> Iterator[UIHandlers]:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    settings = Settings(
        corpus_dirs=(corpus,),
        index_dir=tmp_path / "index",
        managed_dir=tmp_path / "managed",
        encoder=FakeEncoder.encoder_id,
    )
    security = AppSettings(
        api_key_digests=frozenset({key_digest(READER_KEY)}),
        admin_key_digests=frozenset({key_digest(ADMIN_KEY)}),
        feedback_db=tmp_path / "feedback.sqlite3",
    )
    service = Service.create(Assistant(settings, encoder=FakeEncoder()), security)
    service.assistant.documents()
    yield UIHandlers(service)


def uploaded(name: str, data: bytes) -> str:
    """A file where Gradio's upload route puts one: a folder of its own in Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    import tempfile

    path = Path(tempfile.mkdtemp(dir=folder)) / name
    path.write_bytes(data)
    return str(path)


def listed_ids(handlers: UIHandlers, **filters: object) -> list[str]:
    page = handlers.list_documents(
        filters.get("kinds"),  # type: ignore[arg-type]
        filters.get("regions"),  # type: ignore[arg-type]
        filters.get("years"),  # type: ignore[arg-type]
        filters.get("text"),  # type: ignore[arg-type]
    )
    ids = [d.doc_id for d in handlers.service.assistant.documents()]
    return [doc_id for doc_id in ids if f"<code>{doc_id}</code>" in page]


def test_the_list_shows_every_document_and_the_filters_narrow_it(handlers: UIHandlers) -> None:
    documents = handlers.service.assistant.documents()
    law = next(d for d in documents if d.path.endswith(MINI_LAW.name))
    assert sorted(listed_ids(handlers)) == sorted(d.doc_id for d in documents)
    assert listed_ids(handlers, kinds=[law.kind]) == [law.doc_id]
    assert listed_ids(handlers, text=law.title[:4]) == [law.doc_id]
    assert listed_ids(handlers, text="不存在的标题") == []
    assert "year filter" in handlers.list_documents(None, None, "twenty", None)


def test_a_reader_sees_the_list_but_no_admin_controls_and_is_refused(handlers: UIHandlers) -> None:
    reader = request_with(READER_KEY)
    outputs = handlers.on_load(None, None, None, None, reader)  # type: ignore[arg-type]
    assert outputs[7].visible is False  # the upload and remove controls
    assert "<table" in outputs[3]
    path = uploaded("办法.md", NEW_TEXT.encode("utf-8"))
    before = {d.doc_id for d in handlers.service.assistant.documents()}
    assert "403" in handlers.add_documents([path], reader)  # type: ignore[arg-type]
    assert not Path(path).exists()  # the upload is not left behind
    any_id = next(iter(before))
    assert FORBIDDEN.split(":")[0] in handlers.remove_document(any_id, reader)  # type: ignore[arg-type]
    assert {d.doc_id for d in handlers.service.assistant.documents()} == before


def test_an_admin_session_adds_reports_duplicates_and_bad_files_then_removes(handlers: UIHandlers) -> None:
    service = handlers.service
    identity = service.authenticator.check_key(ADMIN_KEY)
    assert identity is not None and identity.admin
    token = service.authenticator.sessions.create(identity)
    admin = request_with(cookies={"policyqa_session": token})
    assert handlers.on_load(None, None, None, None, admin)[7].visible is True  # type: ignore[arg-type]
    generation = service.assistant.generation
    report = handlers.add_documents(
        [
            uploaded("数据办法.md", NEW_TEXT.encode("utf-8")),
            uploaded("again.md", NEW_TEXT.encode("utf-8")),
            uploaded("broken.pdf", b"%PDF-1.4 not really"),
            uploaded("law-copy.md", MINI_LAW.read_bytes()),
        ],
        admin,  # type: ignore[arg-type]
    )
    lines = report.split("<li")[1:]
    assert "数据办法.md: 已添加 added as" in lines[0]
    assert "again.md" in lines[1] and "duplicate of" in lines[1]  # same content in one upload: indexed once
    assert "broken.pdf" in lines[2] and "error: truncated PDF" in lines[2] and "upload-" not in lines[2]
    assert "law-copy.md" in lines[3] and "duplicate of" in lines[3]  # already in the corpus
    assert service.assistant.generation != generation and "is live" in report
    added = next(d for d in service.assistant.documents() if d.title == "数据要素流通办法")
    assert listed_ids(handlers, text="数据要素") == [added.doc_id]
    answer = service.assistant.ask("数据交易场所应当公开什么？", where=None)
    assert answer.citations  # the new build answers
    removable = handlers.on_load(None, None, None, None, admin)[8]  # type: ignore[arg-type]
    assert [value for _, value in removable.choices] == [added.doc_id]
    assert "removed" in handlers.remove_document(added.doc_id, admin)  # type: ignore[arg-type]
    assert added.doc_id not in {d.doc_id for d in service.assistant.documents()}


def test_a_read_only_replica_shows_admins_no_controls_and_refuses_their_changes(handlers: UIHandlers) -> None:
    service = handlers.service
    service.settings = dataclasses.replace(service.settings, read_only=True)
    admin = request_with(ADMIN_KEY)
    outputs = handlers.on_load(None, None, None, None, admin)  # type: ignore[arg-type]
    assert outputs[7].visible is False
    assert "Read-only replica" in outputs[6]
    before = {d.doc_id for d in service.assistant.documents()}
    path = uploaded("办法.md", NEW_TEXT.encode("utf-8"))
    assert READ_ONLY_REFUSAL.split(":")[0] in handlers.add_documents([path], admin)  # type: ignore[arg-type]
    assert not Path(path).exists()
    removal = handlers.remove_document(next(iter(before)), admin)  # type: ignore[arg-type]
    assert "add and remove documents on the builder" in removal
    assert {d.doc_id for d in service.assistant.documents()} == before


def test_only_an_admin_key_makes_an_admin(handlers: UIHandlers) -> None:
    assert Identity("key:abc", "key").admin is False
    assert handlers.is_admin(request_with(READER_KEY)) is False  # type: ignore[arg-type]
    assert handlers.is_admin(request_with(ADMIN_KEY)) is True  # type: ignore[arg-type]


def test_the_kind_filter_restricts_the_answers_citations(handlers: UIHandlers) -> None:
    documents = {d.doc_id: d for d in handlers.service.assistant.documents()}
    law = next(d for d in documents.values() if d.path.endswith(MINI_LAW.name))
    steps = list(
        handlers.respond("职务科技成果转化的奖励是多少？", [], [], 5, None, [law.kind], None, None)  # type: ignore[arg-type]
    )
    history, answers = steps[-1][0], steps[-1][1]
    citations = answers[-1]["citations"]
    assert citations and {documents[c["doc_id"]].kind for c in citations} == {law.kind}
    assert "筛选 Filtered" in history[-1]["content"]
    bad = list(handlers.respond("奖励？", [], [], 5, None, None, None, "twenty"))  # type: ignore[arg-type]
    assert "year filter" in bad[-1][0][-1]["content"]


@pytest.mark.parametrize(
    ("identity", "status"), [(None, 404), (Identity("key:r", "key"), 404), (Identity("key:a", "key", admin=True), 200)]
)
def test_gradio_upload_route_opens_to_admin_identities_only(identity: Identity | None, status: int) -> None:
    import asyncio

    from policyqa_app.middleware import ClosedRoutesMiddleware

    sent: list[int] = []

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message) -> None:  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    state = {"policyqa_identity": identity} if identity else {}
    for path in ("/gradio_api/upload", "/gradio_api/process_recording"):
        scope = {"type": "http", "path": path, "method": "POST", "headers": [], "state": dict(state)}
        asyncio.run(ClosedRoutesMiddleware(app)(scope, receive, send))
    assert sent == [status, 404]  # recordings are closed to everyone
    # On a read-only replica (admin_open empty) the upload route is closed to admins too.
    scope = {"type": "http", "path": "/gradio_api/upload", "method": "POST", "headers": [], "state": dict(state)}
    asyncio.run(ClosedRoutesMiddleware(app, admin_open=frozenset())(scope, receive, send))
    assert sent[-1] == 404


def test_a_worker_that_lost_the_session_keeps_the_earlier_turns_apart(handlers: UIHandlers) -> None:
    """A new build's worker (or a restarted server) gets the page's chat but none of its answers."""
    import gradio as gr

    question = "职务科技成果转化的奖励是多少？"
    first = list(handlers.respond(question, [], [], 5, None))  # type: ignore[arg-type]
    history, answers = first[-1][0], first[-1][1]
    assert len(answers) == 1 and "#pq-cite-0-" in history[-1]["content"]
    # The same page asks again of a worker that has no answers for it.
    second = list(handlers.respond(question, history, [], 5, None))  # type: ignore[arg-type]
    history, answers = second[-1][0], second[-1][1]
    assert answers[0] is None and answers[1]["citations"]
    assert "#pq-cite-1-" in history[-1]["content"] and "#pq-cite-0-" not in history[-1]["content"]
    # The first answer's links open nothing rather than the second answer's cards ...
    assert handlers.open_cited("0:1", answers, False) == (gr.skip(),) * 4
    assert handlers.open_cited("1:1", answers, False)[0] is answers[1]
    # ... and rating the first answer records nothing rather than rating the second.
    like = SimpleNamespace(index=1, liked=True)
    rated, note = handlers.rate(answers, {}, like, request_with(READER_KEY))  # type: ignore[arg-type]
    assert rated == {} and note == gr.skip()


def test_another_worker_opens_the_cards_of_answers_it_never_gave(tmp_path: Path, handlers: UIHandlers) -> None:
    """Two workers' handlers share one state file: the conversation goes on where the other left it."""
    import gradio as gr

    from policyqa_app.state import SqliteState

    state = SqliteState(tmp_path / "state.sqlite3")
    first_worker = handlers
    first_worker.service.state = state
    second_worker = UIHandlers(dataclasses.replace(first_worker.service))
    page = SimpleNamespace(**vars(request_with(READER_KEY)), session_hash="page-1")
    question = "职务科技成果转化的奖励是多少？"
    history, answers = list(first_worker.respond(question, [], [], 5, None, request=page))[-1][:2]
    history, answers = list(first_worker.respond(question, history, answers, 5, None, request=page))[-1][:2]
    # The second worker has none of the page's answers in memory, as after a new build's fork.
    opened = second_worker.open_cited("0:1", [], False, page)
    assert opened[0] == answers[0] and "pq-card" in opened[2]
    history, answers_now = list(second_worker.respond(question, history, [], 5, None, request=page))[-1][:2]
    assert answers_now[:2] == answers and answers_now[2]["citations"]
    assert "#pq-cite-2-" in history[-1]["content"]
    # Another page, or another person on the same page's session id, finds nothing of it.
    other_page = SimpleNamespace(**vars(request_with(READER_KEY)), session_hash="page-2")
    assert second_worker.open_cited("0:1", [], False, other_page) == (gr.skip(),) * 4
    anonymous = SimpleNamespace(**vars(request_with(None)), session_hash="page-1")
    assert second_worker.open_cited("0:1", [], False, anonymous) == (gr.skip(),) * 4
