"""The document routes against real uvicorn servers: upload, remove, metadata, the original file, roles.

Two servers. ``real_server`` answers with the real encoder over a copy of the mini corpus's
index (its embedding cache embeds only what a test adds): the tests that ask about an
uploaded document run there. ``fake_server`` uses the deterministic ``FakeEncoder`` and
checks plumbing only (limits, a search during a slow add, a build published by another
process); its answers mean nothing. Both have a reader key and an admin key.
"""

from __future__ import annotations

import hashlib
import html
import http.client
import io
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from app_fixtures import KEY, RunningServer, serve
from conftest import MINI_DIR, BuiltIndex, FakeEncoder

from policyqa import Assistant, ConfigError, Settings
from policyqa.embed import Encoder
from policyqa.library import DocumentLibrary
from policyqa_app import AppSettings
from policyqa_app.config import key_digest
from policyqa_app.documents_api import MAX_UPLOAD_FILES, safe_file_name

pytest_plugins = ["app_fixtures"]

ADMIN_KEY = "admin-key-Qz8Lp3Rt6Wn1Ys4V"
ADMIN = {"X-API-Key": ADMIN_KEY}
READER = {"X-API-Key": KEY}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DRONE_TITLE = "城市低空无人机飞行管理办法"
DRONE_ARTICLES = [
    "第一条 为了规范低空无人机飞行管理，保障公共安全，制定本办法。",
    "第二条 无人机在城市建成区上空飞行的，操控人应当提前三日向所在地公安机关申请飞行许可。",
    "第三条 未经许可在机场净空保护区内放飞无人机的，由公安机关处二千元以上五千元以下罚款。",
]
DRONE_QUESTION = "无人机在城市上空飞行要提前几天申请许可？"
HARBOUR_TITLE = "关于港口岸电设施建设的通知"
HARBOUR_TEXT = "各港口企业应当在二〇二七年底前完成集装箱码头岸电设施改造，靠港船舶应当优先使用岸电。"
HARBOUR_QUESTION = "集装箱码头岸电设施改造要在什么时候之前完成？"
FAKE_MAX_UPLOAD = 50_000
SLOW_MARK = "慢速建库测试"


def sha_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def chromium_pdf(tmp_path: Path, title: str, text: str) -> bytes:
    """A PDF with a text layer, printed by headless Chromium (as tests/test_formats.py does)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (make setup-browser)")
    source = tmp_path / "notice.html"
    source.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><style>body {{ font-family: "Noto Sans CJK SC", '
        f"sans-serif; }}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>",
        encoding="utf-8",
    )
    target = tmp_path / "notice.pdf"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", f"--print-to-pdf={target}"]
        + [source.as_uri()],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return target.read_bytes()


def encrypted_pdf() -> bytes:
    """A PDF whose /Encrypt dictionary the empty password cannot open (as in tests/test_formats.py)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<" % (len(objects) + 1)
    out += b"0f" * 16 + b"> <" + b"0f" * 16 + b">] >>\n"
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


def upload(client: httpx.Client, files: list[tuple[str, bytes]], headers: dict[str, str] = ADMIN) -> httpx.Response:
    return client.post("/api/v1/documents", files=[("files", (name, data)) for name, data in files], headers=headers)


def raw_request(server: RunningServer, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send ``path`` and headers exactly as written (httpx normalises ``..`` and checks Content-Length)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def security(root: Path, **changes: object) -> AppSettings:
    return AppSettings(
        api_key_digests=frozenset({key_digest(KEY)}),
        admin_key_digests=frozenset({key_digest(ADMIN_KEY)}),
        feedback_db=root / "feedback.sqlite3",
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def real_server(mini_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Real encoder, the mini corpus (read-only) plus a managed folder, reader and admin keys."""
    root = tmp_path_factory.mktemp("documents-real")
    shutil.copytree(mini_index.settings.index_dir, root / "index")
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=root / "index", managed_dir=root / "managed")
    assistant = Assistant(settings, encoder=mini_index.encoder)
    with serve(assistant, security(root), with_ui=False) as running:
        yield running


class SlowEncoder(Encoder):
    """The fake encoder, but a batch of passages holding ``SLOW_MARK`` waits until released."""

    def __init__(self) -> None:
        self.inner = FakeEncoder()
        self.encoder_id, self.dimension = self.inner.encoder_id, self.inner.dimension
        self.waiting, self.release = threading.Event(), threading.Event()

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if not is_query and any(SLOW_MARK in t for t in texts):
            self.waiting.set()
            assert self.release.wait(300), "never released"
        return self.inner._encode(texts, is_query=is_query)


@pytest.fixture(scope="module")
def slow_encoder() -> SlowEncoder:
    return SlowEncoder()


@pytest.fixture(scope="module")
def fake_settings_module(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("documents-fake")
    corpus = root / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    return Settings(
        corpus_dirs=(corpus,), index_dir=root / "index", managed_dir=root / "managed", encoder=FakeEncoder.encoder_id
    )


@pytest.fixture(scope="module")
def fake_server(
    fake_settings_module: Settings, slow_encoder: SlowEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """FakeEncoder (plumbing only), small upload limit, and a refresh check on every request."""

    def every_request(app: object) -> None:
        app.state.service.refresh_interval = 0.0  # type: ignore[attr-defined]

    root = tmp_path_factory.mktemp("documents-fake-security")
    assistant = Assistant(fake_settings_module, encoder=slow_encoder)
    with serve(
        assistant, security(root, max_upload_bytes=FAKE_MAX_UPLOAD), with_ui=False, prepare=every_request
    ) as running:
        yield running


# --- real encoder: uploads that answer questions ---------------------------------------------------------


def test_uploaded_docx_is_added_asked_about_and_cited(real_server: RunningServer) -> None:
    data = docx_bytes(DRONE_TITLE, DRONE_ARTICLES)
    with real_server.client() as client:
        before = client.post("/api/v1/ask", json={"question": DRONE_QUESTION}, headers=READER).json()
        added = upload(client, [(f"{DRONE_TITLE}.docx", data)])
        answer = client.post("/api/v1/ask", json={"question": DRONE_QUESTION}, headers=READER).json()
        again = upload(client, [(f"copy of {DRONE_TITLE}.docx", data)])
    assert added.status_code == 201, added.text
    assert added.json() == {
        "files": [{"source": f"{DRONE_TITLE}.docx", "status": "added", "doc_id": sha_id(data), "reason": None}],
        "indexed": True,
    }
    assert sha_id(data) not in [c["doc_id"] for c in before["citations"]]
    assert not answer["abstained"]
    assert answer["citations"][0]["doc_id"] == sha_id(data)
    assert answer["citations"][0]["title"] == DRONE_TITLE
    assert "提前三日" in answer["answer"]
    # The same bytes again, under another name: a duplicate, nothing built.
    assert again.status_code == 200
    assert again.json()["files"] == [
        {"source": f"copy of {DRONE_TITLE}.docx", "status": "duplicate", "doc_id": sha_id(data), "reason": None}
    ]
    assert again.json()["indexed"] is False


@pytest.mark.browser
def test_uploaded_pdf_is_cited_and_served_back_as_the_original_file(real_server: RunningServer, tmp_path: Path) -> None:
    data = chromium_pdf(tmp_path, HARBOUR_TITLE, HARBOUR_TEXT)
    with real_server.client(headers=READER) as client:
        added = upload(client, [("港口岸电 通知.pdf", data)])
        answer = client.post("/api/v1/ask", json={"question": HARBOUR_QUESTION}).json()
        original = client.get(f"/api/v1/documents/{sha_id(data)}/file")
        meta = client.get(f"/api/v1/documents/{sha_id(data)}").json()
    assert added.status_code == 201, added.text
    assert not answer["abstained"]
    assert answer["citations"][0]["doc_id"] == sha_id(data)
    assert answer["citations"][0]["page"] == 1
    assert original.content == data
    assert original.headers["content-type"] == "application/pdf"
    assert meta["title"] == HARBOUR_TITLE and meta["pages"] == 1 and meta["managed"] is True


def test_bad_files_are_reported_one_by_one_and_the_good_one_goes_in(real_server: RunningServer) -> None:
    good = "第一条 城市绿道养护经费由区财政统筹保障，每年列入部门预算。\n".encode()
    docx_as_pdf = docx_bytes("不是PDF", ["这是一个伪装成 PDF 的 Word 文件。"])
    with real_server.client() as client:
        mixed = upload(
            client,
            [("locked.pdf", encrypted_pdf()), ("wrong-magic.pdf", docx_as_pdf), ("绿道养护办法.txt", good)],
        )
        only_bad = upload(client, [("locked.pdf", encrypted_pdf()), ("notes.xyz", b"plain words")])
    assert mixed.status_code == 201, mixed.text
    rows = mixed.json()["files"]
    assert [(r["source"], r["status"]) for r in rows] == [
        ("locked.pdf", "error"),
        ("wrong-magic.pdf", "error"),
        ("绿道养护办法.txt", "added"),
    ]
    assert "encrypted" in rows[0]["reason"]
    assert rows[1]["reason"] and rows[2]["doc_id"] == sha_id(good)
    assert not any("policyqa-upload-" in (r["reason"] or "") for r in rows)  # no server paths
    assert only_bad.status_code == 422
    body = only_bad.json()
    assert body["error"]["code"] == "no_document_added"
    assert [r["status"] for r in body["files"]] == ["error", "error"]
    assert "unsupported format" in body["files"][1]["reason"]


def test_metadata_and_original_file_of_an_uploaded_docx(real_server: RunningServer) -> None:
    data = docx_bytes("街道办事处档案管理规定", ["第一条 街道办事处的文书档案应当在次年六月底前移交区档案馆。"])
    with real_server.client(headers=READER) as client:
        assert upload(client, [("../../etc/街道档案.docx", data)]).status_code == 201
        meta = client.get(f"/api/v1/documents/{sha_id(data)}")
        original = client.get(f"/api/v1/documents/{sha_id(data)}/file")
        corpus_doc = client.get("/api/v1/documents/tech-maturity-policy")
    assert meta.status_code == 200
    body = meta.json()
    assert {"title", "kind", "region", "year", "issuer", "doc_number", "pages", "chunks", "sections"} <= set(body)
    assert body["title"] == "街道办事处档案管理规定"
    assert body["chunks"] >= 1 and body["managed"] is True and "path" not in body
    assert original.status_code == 200
    assert original.content == data
    assert original.headers["content-type"] == DOCX_TYPE
    assert original.headers["x-content-type-options"] == "nosniff"
    disposition = original.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{sha_id(data)}.docx"')
    assert "filename*=UTF-8''" in disposition and ".." not in disposition and "/" not in disposition
    assert corpus_doc.status_code == 200 and corpus_doc.json()["managed"] is False


def test_delete_takes_a_document_out_of_search(real_server: RunningServer) -> None:
    data = "第一条 社区食堂的餐具应当每餐消毒，消毒记录保存六个月。\n".encode()
    doc_id = sha_id(data)
    question = {"question": "社区食堂的消毒记录保存多久？", "doc_ids": [doc_id]}
    with real_server.client(headers=ADMIN) as client:
        assert upload(client, [("社区食堂卫生规定.txt", data)]).status_code == 201
        found = client.post("/api/v1/search", json=question)
        removed = client.delete(f"/api/v1/documents/{doc_id}")
        after = client.post("/api/v1/search", json=question)
        listing = client.get("/api/v1/documents").json()["documents"]
        again = client.delete(f"/api/v1/documents/{doc_id}")
        corpus_doc = client.delete("/api/v1/documents/tech-maturity-policy")
        gone_file = client.get(f"/api/v1/documents/{doc_id}/file")
    assert found.status_code == 200 and found.json()["passages"][0]["doc_id"] == doc_id
    assert removed.status_code == 200 and removed.json() == {"removed": doc_id}
    assert after.status_code == 422 and after.json()["error"]["code"] == "unknown_document"
    assert doc_id not in {d["doc_id"] for d in listing}
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert corpus_doc.status_code == 409 and corpus_doc.json()["error"]["code"] == "not_managed"
    assert str(MINI_DIR) not in corpus_doc.text  # no server path in the message
    assert gone_file.status_code == 404


def test_reader_keys_may_not_add_or_remove_and_no_key_is_unauthorized(real_server: RunningServer) -> None:
    data = "第一条 读者密钥不能上传文件。\n".encode()
    with real_server.client() as client:
        as_reader = upload(client, [("reader.txt", data)], headers=READER)
        remove_as_reader = client.delete("/api/v1/documents/tech-maturity-policy", headers=READER)
        anonymous = upload(client, [("anonymous.txt", data)], headers={})
        remove_anonymous = client.delete("/api/v1/documents/tech-maturity-policy")
        wrong = upload(client, [("wrong.txt", data)], headers={"X-API-Key": "not-a-key-of-this-server"})
        admin_reads = client.post("/api/v1/search", json={"question": DRONE_QUESTION}, headers=ADMIN)
        listing = client.get("/api/v1/documents", headers=READER).json()["documents"]
    for response in (as_reader, remove_as_reader):
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    for response in (anonymous, remove_anonymous, wrong):
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert admin_reads.status_code == 200  # an admin key reads too
    assert sha_id(data) not in {d["doc_id"] for d in listing}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/documents/../../etc/passwd/file",
        "/api/v1/documents/..%2F..%2Fetc%2Fpasswd/file",
        "/api/v1/documents/%2e%2e/file",
        "/api/v1/documents/..",
        "/api/v1/documents/%2Fetc%2Fpasswd",
        "/api/v1/documents/tech-maturity-policy.txt/file",
        "/api/v1/documents/tech-maturity-policy.meta/file",
        "/api/v1/documents/" + "a" * 300 + "/file",
    ],
)
def test_traversal_looking_ids_are_not_found(real_server: RunningServer, path: str) -> None:
    assert raw_request(real_server, "GET", path, READER)[0] == 404


# --- fake encoder: plumbing ------------------------------------------------------------------------------


def test_a_file_over_the_upload_limit_is_refused_with_413(fake_server: RunningServer) -> None:
    with fake_server.client() as client:
        small, big = "第一条 小文件。\n".encode(), b"a" * (FAKE_MAX_UPLOAD + 1)
        per_file = upload(client, [("small.txt", small), ("big.txt", big)])
        documents = client.get("/api/v1/documents", headers=READER).json()["documents"]
        too_many = upload(client, [(f"{n}.txt", b"x") for n in range(MAX_UPLOAD_FILES + 1)])
    assert per_file.status_code == 413
    assert per_file.json()["error"]["code"] == "payload_too_large"
    assert "big.txt" in per_file.json()["error"]["message"]
    assert sha_id(small) not in {d["doc_id"] for d in documents}  # nothing of that upload went in
    assert too_many.status_code == 413
    # A body declared larger than the route takes (every file at its largest) is refused unread.
    status, body = raw_request(
        fake_server,
        "POST",
        "/api/v1/documents",
        {**ADMIN, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(10**9)},
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_uploads_must_be_multipart_with_a_file(fake_server: RunningServer) -> None:
    with fake_server.client(headers=ADMIN) as client:
        as_json = client.post("/api/v1/documents", json={"files": []})
        fields_only = client.post(
            "/api/v1/documents",
            content=b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--b--\r\n',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        put = client.put("/api/v1/documents/x")
    assert as_json.status_code == 415 and as_json.json()["error"]["code"] == "unsupported_media_type"
    assert fields_only.status_code == 422 and fields_only.json()["error"]["code"] == "invalid_request"
    assert put.status_code == 405 and set(put.headers["allow"].split(", ")) == {"DELETE", "GET"}


def test_a_search_during_a_slow_add_is_answered_from_the_previous_build(
    fake_server: RunningServer, slow_encoder: SlowEncoder
) -> None:
    data = f"第一条 {SLOW_MARK}：这份文件的段落嵌入时会等待测试放行。\n".encode()
    results: list[httpx.Response] = []

    def add() -> None:
        with fake_server.client() as client:
            results.append(upload(client, [("slow.txt", data)]))

    adding = threading.Thread(target=add)
    adding.start()
    try:
        assert slow_encoder.waiting.wait(300)  # the add is building, its passages not yet embedded
        with fake_server.client(headers=READER) as client:
            during = client.post("/api/v1/search", json={"question": SLOW_MARK})
            listed = client.get("/api/v1/documents").json()["documents"]
    finally:
        slow_encoder.release.set()
        adding.join()
    assert during.status_code == 200
    assert sha_id(data) not in {p["doc_id"] for p in during.json()["passages"]}
    assert sha_id(data) not in {d["doc_id"] for d in listed}
    assert results[0].status_code == 201
    with fake_server.client(headers=READER) as client:
        listed = client.get("/api/v1/documents").json()["documents"]
    assert sha_id(data) in {d["doc_id"] for d in listed}


def test_a_build_published_by_another_process_is_served_without_a_restart(
    fake_server: RunningServer, fake_settings_module: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "命令行添加的文件.txt"
    source.write_text("第一条 命令行添加的文件也应当被服务器找到。\n", encoding="utf-8")
    with fake_server.client(headers=READER) as client:
        client.get("/api/v1/documents")  # loaded
        # What `policyqa add` does, from outside the server: the server's Assistant is not told.
        report = DocumentLibrary(fake_settings_module, FakeEncoder()).add([source])
        assert report.added
        # The request that finds the new build starts loading it and is answered from the old one.
        deadline = time.monotonic() + 30
        while sha_id(source.read_bytes()) not in {
            d["doc_id"] for d in client.get("/api/v1/documents").json()["documents"]
        }:
            assert time.monotonic() < deadline, "the server never served the build published elsewhere"
            time.sleep(0.05)


def test_a_request_that_finds_a_new_build_is_not_held_while_it_loads(
    fake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policyqa_app.service import Service

    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    service = Service.create(
        Assistant(settings, encoder=FakeEncoder()), AppSettings(feedback_db=tmp_path / "f.sqlite3")
    )
    service.refresh_interval = 0.0
    before = service.assistant.generation  # loaded
    source = tmp_path / "新文件.txt"
    source.write_text("第一条 新文件在后台载入。\n", encoding="utf-8")
    assert DocumentLibrary(settings, FakeEncoder()).add([source]).added
    loading, release = threading.Event(), threading.Event()
    real_refresh = service.assistant.refresh

    def slow_refresh() -> bool:
        loading.set()
        assert release.wait(30)
        return real_refresh()

    monkeypatch.setattr(service.assistant, "refresh", slow_refresh)
    assert service.refresh_index() is False  # returns while the load is held
    assert loading.wait(30)
    assert service.assistant.generation == before  # meanwhile answered from the loaded build
    assert service.refresh_index() is False  # a second request starts no second load
    release.set()
    deadline = time.monotonic() + 30
    while service.assistant.generation == before:
        assert time.monotonic() < deadline, "the background load never finished"
        time.sleep(0.02)


def test_without_keys_admin_routes_are_for_loopback_only(fake_settings_module: Settings, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from policyqa_app import create_app

    assistant = Assistant(fake_settings_module, encoder=FakeEncoder())
    app = create_app(security=AppSettings(feedback_db=tmp_path / "f.sqlite3"), assistant=assistant, with_ui=False)
    remote = TestClient(app, base_url="http://127.0.0.1", client=("192.0.2.10", 50000))
    local = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    rebinding = TestClient(app, base_url="http://10.0.0.5", client=("127.0.0.1", 50000))
    refused = remote.delete("/api/v1/documents/no-such-document")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert rebinding.delete("/api/v1/documents/no-such-document").status_code == 403
    assert local.delete("/api/v1/documents/no-such-document").status_code == 404  # admitted, then not found
    assert remote.get("/api/v1/documents/tech-maturity-policy").status_code == 200  # reading stays open


# --- settings ------------------------------------------------------------------------------------------


def test_admin_keys_and_upload_limit_are_read_from_the_environment(tmp_path: Path) -> None:
    admin_file = tmp_path / "admin-keys.txt"
    admin_file.write_text(f"# admins\n{key_digest('second-admin-key-Lk2Jx9')}\n", encoding="utf-8")
    settings = AppSettings.from_env(
        environ={
            "POLICYQA_ADMIN_KEYS": ADMIN_KEY,
            "POLICYQA_ADMIN_KEYS_FILE": str(admin_file),
            "POLICYQA_MAX_UPLOAD_BYTES": "1000000",
        }
    )
    admins = {key_digest(ADMIN_KEY), key_digest("second-admin-key-Lk2Jx9")}
    assert settings.admin_key_digests == admins
    assert admins <= settings.api_key_digests and settings.keys_configured  # admins read too
    assert settings.max_upload_bytes == 1_000_000
    assert AppSettings().max_upload_bytes == 20 * 1024 * 1024
    with pytest.raises(ConfigError, match="POLICYQA_ADMIN_KEYS: an API key must have at least 16"):
        AppSettings.from_env(environ={"POLICYQA_ADMIN_KEYS": "short"})
    with pytest.raises(ConfigError, match="POLICYQA_ADMIN_KEYS_FILE="):
        AppSettings.from_env(environ={"POLICYQA_ADMIN_KEYS_FILE": str(tmp_path / "missing.txt")})
    with pytest.raises(ConfigError, match="max_upload_bytes must be between 1 and"):
        AppSettings.from_env(environ={"POLICYQA_MAX_UPLOAD_BYTES": "0"})
    with pytest.raises(ConfigError, match="POLICYQA_MAX_UPLOAD_BYTES='20MB' is not a whole number"):
        AppSettings.from_env(environ={"POLICYQA_MAX_UPLOAD_BYTES": "20MB"})


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\办法.docx", "办法.docx"),
        (".hidden.pdf", "hidden.pdf"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("", "upload"),
        ("..", "upload"),
        ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_upload_file_names_are_made_safe(given: str, safe: str) -> None:
    assert safe_file_name(given) == safe


def test_json_error_shape_of_a_refused_upload_is_the_apis(real_server: RunningServer) -> None:
    with real_server.client(headers=READER) as client:
        body = upload(client, [("x.txt", b"x")], headers=READER).json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert json.dumps(body)  # plain JSON
