"""Bad input through every door: the HTTP API, the CLI, and the corpus folder.

The API answers a JSON 4xx and keeps serving; the CLI prints one ``error:`` line and exits
non-zero; a corpus file that cannot be used is skipped with a warning that names it, and the
others are indexed, both by ``policyqa index`` and by the server's first build. The cases the
API tests in ``test_api.py`` already hold (empty, 100 KB, ``k`` of 0, -1 and 10^6, wrong types,
malformed JSON, wrong content types) are not repeated here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from app_fixtures import RunningServer, serve
from conftest import MINI_DIR
from test_cli import _assert_clean_error, _command, _environment, run_cli, run_cli_in_process

from policyqa import Assistant, Settings
from policyqa.documents import MAX_FILE_BYTES
from policyqa_app import AppSettings

pytest_plugins = ["app_fixtures"]

HOSTILE_DOC = Path(__file__).resolve().parent / "data" / "hostile" / "data-security-notice.md"
GB18030_TEXT = (
    "关于推进科技成果转化的通知\n\n"
    "第一条 科研单位应当建立科技成果转化年度报告制度，每年三月底前报送上一年度的转化情况。\n"
)
GB18030_QUESTION = "科技成果转化年度报告什么时候报送？"
JSON = {"Content-Type": "application/json"}

# --- the HTTP API ----------------------------------------------------------------------------------

REFUSED = [
    ("10,000 Chinese characters without punctuation", json.dumps({"question": "政" * 10_000}), 422, "invalid_request"),
    ("only control characters", '{"question": "\\u0000\\u0001\\u001b\\u007f \\t"}', 422, "invalid_question"),
    ("a lone surrogate", '{"question": "\\ud800"}', 422, "invalid_request"),
    ("a lone surrogate among text", '{"question": "\\udc80技术复苏基金"}', 422, "invalid_request"),
    ("JSON nested 60,000 deep", "[" * 60_000, 400, "malformed_json"),
    ("bytes that are not UTF-8", b'{"question": "\xff\xfe\xfd"}', 400, "malformed_json"),
    ("an empty body", "", 422, "invalid_request"),
    ("JSON null", "null", 422, "invalid_request"),
    ("k is NaN", '{"question": "政策", "k": NaN}', 422, "invalid_request"),
    ("k is 1e400", '{"question": "政策", "k": 1e400}', 422, "invalid_request"),
    ("k has 30 digits", '{"question": "政策", "k": 999999999999999999999999999999}', 422, "invalid_request"),
    ("k is true", '{"question": "政策", "k": true}', 422, "invalid_request"),
    ("doc_ids holds 101 ids", json.dumps({"question": "政策", "doc_ids": ["x"] * 101}), 422, "invalid_request"),
]


@pytest.mark.parametrize("path", ["/api/v1/ask", "/api/v1/search"])
@pytest.mark.parametrize(("case", "body", "status", "code"), REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_questions_get_a_json_4xx_and_the_server_keeps_serving(
    open_server: RunningServer, path: str, case: str, body: str | bytes, status: int, code: str
) -> None:
    content = body.encode("utf-8") if isinstance(body, str) else body
    with open_server.client() as client:
        response = client.post(path, content=content, headers=JSON)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == code
        assert "Traceback" not in response.text and len(response.content) < 2000
        assert client.post(path, json={"question": "技术复苏基金", "k": 1}).status_code == 200


ACCEPTED = [
    ("control characters inside", "技术\x00复苏\x07基金\x1b是什么？", "技术 复苏 基金 是什么？"),
    ("emoji", "🚀 技术复苏基金是什么？😀", "🚀 技术复苏基金是什么？😀"),
    ("a direction override and zero-width space", "技术\u202e复苏\u200b基金", "技术\u202e复苏\u200b基金"),
    ("an escaped surrogate pair", "\ud83d\ude80 技术复苏基金", "🚀 技术复苏基金"),
]


@pytest.mark.parametrize(("case", "question", "cleaned"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_odd_but_meaningful_questions_are_answered(
    open_server: RunningServer, case: str, question: str, cleaned: str
) -> None:
    # json.dumps escapes everything outside ASCII, so the pair travels as \\ud83d\\ude80.
    body = json.dumps({"question": question.encode("utf-16", "surrogatepass").decode("utf-16")})
    with open_server.client() as client:
        response = client.post("/api/v1/ask", content=body.encode("utf-8"), headers=JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["question"] == cleaned
    assert answer["citations"] and "技术复苏基金" in answer["answer"]


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture()
def cli(mini_index):  # type: ignore[no-untyped-def]
    """``policyqa`` in this process over the mini index: (exit status, stdout, stderr)."""
    common = ["--corpus", str(MINI_DIR), "--index-dir", str(mini_index.settings.index_dir)]

    def run(*args: str, index_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        options = common if index_dir is None else [*common[:-1], str(index_dir)]
        return run_cli_in_process(*args, *options)

    return run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "x" * 100_000], "100,000 characters; the limit is 2,000"),
        (["ask", "政" * 10_000], "10,000 characters; the limit is 2,000"),
        (["ask", "\x01\x02\x1b\x7f"], "The question is empty"),
        (["search", "政策", "--k", "1000000"], "top_k must be between 1 and 50"),
        (["search", "政策", "--k", "five"], "argument --k: invalid int value: 'five'"),
        (["ask", "政策", "--top-k", "5"], "unrecognized arguments: --top-k 5"),
        (["ask"], "the following arguments are required: question"),
    ],
    ids=["100 KB", "10,000 characters", "control characters", "k 10^6", "k not a number", "unknown option", "none"],
)
def test_bad_cli_input_is_one_error_line_and_a_non_zero_exit(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)

    _assert_clean_error(result)
    assert message in result.stderr


def test_a_failing_file_system_is_one_error_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "index-is-a-file"
    blocked.write_text("not a folder", encoding="utf-8")

    result = cli("index", "-q", index_dir=blocked)

    _assert_clean_error(result)
    assert result.returncode == 1 and "index-is-a-file" in result.stderr


def _ask_in_process(argv: list[bytes]) -> subprocess.CompletedProcess[bytes]:
    """As a process would: its argv bytes decoded by ``os.fsdecode`` (surrogateescape), its output UTF-8."""
    result = run_cli_in_process(*map(os.fsdecode, argv))
    return subprocess.CompletedProcess(argv, result.returncode, result.stdout.encode(), result.stderr.encode())


def _ask_in_a_process(argv: list[bytes]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*map(os.fsencode, _command()), *argv], capture_output=True, env=_environment(), timeout=120, check=False
    )


@pytest.mark.parametrize(
    "run", [_ask_in_process, pytest.param(_ask_in_a_process, marks=pytest.mark.slow)], ids=["in-process", "subprocess"]
)
def test_cli_answers_emoji_and_bytes_that_are_not_utf8(mini_index, run) -> None:  # type: ignore[no-untyped-def]
    """argv bytes that are not UTF-8 arrive as lone surrogates (surrogateescape), in a real process too."""
    question = "🚀 技术复苏基金 ".encode() + b"\xff\xfe"
    common = [b"--corpus", os.fsencode(MINI_DIR), b"--index-dir", os.fsencode(mini_index.settings.index_dir)]
    result = run([b"ask", question, b"--json", *common])

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.decode("utf-8"))
    assert answer["question"] == "🚀 技术复苏基金 \ufffd\ufffd" and answer["citations"]


# --- corpus files ---------------------------------------------------------------------------------

BAD_FILES = {
    "empty.txt": "empty file",
    "image.txt": "binary content",
    "huge.txt": "exceeds the",
    "folder.md": "a folder, not a file",
    "broken-link.md": "a broken symbolic link",
    "kernel-file.txt": "empty file",
}


def make_bad_corpus(folder: Path) -> Path:
    """The mini corpus plus a GB18030 file, the hostile file and one of every kind of bad file."""
    shutil.copytree(MINI_DIR, folder, ignore=shutil.ignore_patterns("README.md"))
    (folder / "gb18030-notice.txt").write_bytes(GB18030_TEXT.encode("gb18030"))
    shutil.copy(HOSTILE_DOC, folder / HOSTILE_DOC.name)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with (folder / "huge.txt").open("wb") as huge:  # sparse: over the limit without writing 20 MB
        huge.truncate(MAX_FILE_BYTES + 1)
    (folder / "folder.md").mkdir()  # a name the loader would read, on something that is not a file
    (folder / "broken-link.md").symlink_to(folder / "no-such-target.md")  # unreadable, even as root
    # A file that even root may not read (EACCES), as a chmod 000 file is for anyone else. The loader
    # skips it (it reports 0 bytes), and hashing the corpus for the manifest once stopped the build on it.
    (folder / "kernel-file.txt").symlink_to("/proc/1/mem")
    return folder


def _assert_every_bad_file_is_named(text: str) -> None:
    for name, reason in BAD_FILES.items():
        line = next((line for line in text.splitlines() if f"{name}: skipped (" in line), None)
        assert line is not None and reason in line, (name, text)


@pytest.mark.parametrize(
    "run", [run_cli_in_process, pytest.param(run_cli, marks=pytest.mark.slow)], ids=["in-process", "subprocess"]
)
def test_policyqa_index_skips_each_bad_file_by_name_and_indexes_the_rest(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    corpus = make_bad_corpus(tmp_path / "corpus")

    result = run("index", "-q", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"))

    assert result.returncode == 0, result.stderr
    assert "Indexed 4 documents" in result.stdout
    _assert_every_bad_file_is_named(result.stderr)
    assert f"Skipped {len(BAD_FILES)} file(s)" in result.stderr
    assert f"{HOSTILE_DOC.name}: 40 hidden characters" in result.stderr
    assert "Traceback" not in result.stderr
    assistant = Assistant(Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index"), auto_build=False)
    titles = {d.doc_id: d.title for d in assistant.documents()}
    assert titles["gb18030-notice"] == "关于推进科技成果转化的通知"  # decoded, not mojibake
    assert assistant.search(GB18030_QUESTION, k=1).passages[0].doc_id == "gb18030-notice"


def test_the_servers_first_build_skips_bad_files_by_name_and_serves_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_bad_corpus(tmp_path / "corpus")
    settings = Settings.from_env(environ={}, corpus_dirs=(corpus,), index_dir=tmp_path / "index")
    security = AppSettings(feedback_db=tmp_path / "feedback.sqlite3")

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        with serve(Assistant(settings), security, with_ui=False) as server, server.client() as client:
            documents = client.get("/api/v1/documents").json()["documents"]
            answer = client.post("/api/v1/ask", json={"question": GB18030_QUESTION}).json()

    assert {d["doc_id"] for d in documents} == {
        "tech-maturity-policy",
        "model-transfer-regulation",
        "gb18030-notice",
        HOSTILE_DOC.stem,
    }
    assert answer["citations"][0]["doc_id"] == "gb18030-notice"
    _assert_every_bad_file_is_named(caplog.text)
    assert f"{HOSTILE_DOC.name}: 40 hidden characters" in caplog.text


def test_document_ids_that_look_like_paths_are_unknown_documents(open_server: RunningServer) -> None:
    with open_server.client() as client:
        for doc_id in ["../../etc/passwd", "/etc/passwd", "corpus/bai2026-sci-tech-industry-integration.txt"]:
            response = client.post("/api/v1/search", json={"question": "政策", "doc_ids": [doc_id]})
            assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_document"
    assert httpx.get(f"{open_server.url}/healthz").status_code == 200
