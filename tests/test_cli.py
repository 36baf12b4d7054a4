"""Command line: ``policyqa`` on the mini corpus, in this process and as the real console script.

Each test runs both ways (the ``cli`` fixture): in this process, ``policyqa.cli.main`` with the
streams, environment and logging a fresh process has, which is quick; and as the installed
console script in a subprocess, which costs ~2 s of imports a run, so that variant is marked
``slow`` (``make test`` runs it) except for ``--version`` and one bad ``--k``: they load no
encoder and keep the real entry point in the fast run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import MINI_DIR, squash

from policyqa import __version__
from policyqa.cli import main
from policyqa.documents import load_document

CITATION_KEYS = {"n", "doc_id", "title", "section", "text", "char_start", "char_end", "score"}
PASSAGE_KEYS = {"chunk_id", "doc_id", "title", "section", "text", "char_start", "char_end", "score"}

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("policyqa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "policyqa.cli"]


def _environment() -> dict[str, str]:
    """The caller's environment without POLICYQA_* settings, so only the arguments count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``policyqa`` console script in a new process."""
    return subprocess.run(
        [*_command(), *args],
        capture_output=True,
        text=True,
        env=_environment(),
        cwd=cwd,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def _fresh_process_state() -> Iterator[None]:
    """The environment without POLICYQA_*, and a root logger without handlers, as a new process has.

    pytest keeps its own handlers on the root logger, which would make the CLI's
    ``logging.basicConfig`` a no-op; without them the CLI's warnings reach stderr as they do
    in a real process. Everything is put back afterwards.
    """
    saved_environment = {k: v for k, v in os.environ.items() if k.startswith("POLICYQA_")}
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    for name in saved_environment:
        del os.environ[name]
    root.handlers = []
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        os.environ.update(saved_environment)


def _stream(errors: str) -> io.TextIOWrapper:
    """A UTF-8 text stream over bytes, so output a real stdout could not encode fails here too."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, newline="\n")


def _written(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.detach()
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


def run_cli_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``policyqa.cli.main(args)`` in this process: (exit status, stdout, stderr) as ``run_cli`` gives.

    stdout is strict UTF-8 and stderr backslash-escapes, as Python's own streams in a UTF-8 locale.
    """
    stdout, stderr = _stream("strict"), _stream("backslashreplace")
    with _fresh_process_state(), redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse: --version, usage errors
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["policyqa", *args], status, _written(stdout), _written(stderr))


IN_PROCESS = "in-process"
SUBPROCESS = "subprocess"
# Every test both ways; the subprocess variant (~2 s of imports a run) only in the full run.
both_ways = pytest.mark.parametrize(
    "cli", [IN_PROCESS, pytest.param(SUBPROCESS, marks=pytest.mark.slow)], indirect=True
)


@pytest.fixture(scope="module")
def cli(request: pytest.FixtureRequest) -> Runner:
    """How ``policyqa`` is run: in this process or as the console script (parametrised per test)."""
    return run_cli if request.param == SUBPROCESS else run_cli_in_process


@pytest.fixture(scope="module")
def index_dir(cli: Runner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index folder of the module's own, one for each way of running."""
    return tmp_path_factory.mktemp("cli-index")


@pytest.fixture(scope="module")
def indexed(cli: Runner, index_dir: Path) -> subprocess.CompletedProcess[str]:
    """``policyqa index`` run once for the module (each way); the other commands reuse its index."""
    return cli("index", "--corpus", str(MINI_DIR), "--index-dir", str(index_dir), "-q")


def _corpus_args(index_dir: Path) -> list[str]:
    return ["--corpus", str(MINI_DIR), "--index-dir", str(index_dir)]


def _assert_quotes_source(item: dict[str, object]) -> None:
    """The passage text is the source at [char_start, char_end) up to whitespace (and dropped footers)."""
    [path] = [p for p in MINI_DIR.iterdir() if p.stem == item["doc_id"] and p.suffix in (".txt", ".md")]
    source = load_document(path)
    start, end = int(item["char_start"]), int(item["char_end"])  # type: ignore[call-overload]
    assert 0 <= start < end <= len(source.text)
    quoted, stretch = squash(str(item["text"])), squash(source.text[start:end])
    assert quoted, "a cited passage is never empty"
    assert stretch.startswith(quoted[:10]) and stretch.endswith(quoted[-10:])
    remaining = iter(stretch)
    assert all(ch in remaining for ch in quoted), "the passage quotes the source in order"


@both_ways
def test_index_prints_counts(indexed: subprocess.CompletedProcess[str], index_dir: Path) -> None:
    assert indexed.returncode == 0, indexed.stderr
    match = re.search(r"Indexed (\d+) documents, (\d+) chunks", indexed.stdout)
    assert match, indexed.stdout
    assert int(match.group(1)) == 2 and int(match.group(2)) > 5
    assert str(index_dir) in indexed.stdout
    assert indexed.stderr == "", "a quiet build prints nothing on stderr"


@both_ways
def test_ask_json_cites_the_article_with_exact_offsets(
    cli: Runner, indexed: subprocess.CompletedProcess[str], index_dir: Path
) -> None:
    result = cli("ask", "高校转化科技成果的收入中，奖励科研人员的比例是多少？", "--json", *_corpus_args(index_dir))

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"answer", "abstained", "citations"} <= set(answer)
    assert answer["abstained"] is False
    assert answer["citations"], answer
    for citation in answer["citations"]:
        assert CITATION_KEYS <= set(citation)
        _assert_quotes_source(citation)
    assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    assert "[1]" in answer["answer"]
    [article] = [c for c in answer["citations"] if c["section"] == "第二章 技术权益 > 第四条"]
    assert "百分之五十" in article["text"]
    law = load_document(MINI_DIR / "model-transfer-regulation.md").text
    assert squash(law[article["char_start"] : article["char_end"]]) == squash(article["text"])


@both_ways
def test_ask_prints_answer_and_numbered_sources(
    cli: Runner, indexed: subprocess.CompletedProcess[str], index_dir: Path
) -> None:
    result = cli("ask", "泡沫破裂低谷期政府应该做什么？", *_corpus_args(index_dir))

    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout
    assert "characters" in result.stdout


@both_ways
def test_search_json_lists_passages_with_offsets(
    cli: Runner, indexed: subprocess.CompletedProcess[str], index_dir: Path
) -> None:
    result = cli(
        "search",
        "What should governments do in the trough of disillusionment?",
        "--json",
        "--k",
        "3",
        *_corpus_args(index_dir),
    )

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    passages = data["passages"]
    assert 1 <= len(passages) <= 3
    for passage in passages:
        assert PASSAGE_KEYS <= set(passage)
        _assert_quotes_source(passage)
    assert passages[0]["section"].endswith("1. 托底与重启")
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)


@both_ways
def test_search_can_be_limited_to_one_document(
    cli: Runner, indexed: subprocess.CompletedProcess[str], index_dir: Path
) -> None:
    result = cli("search", "科技成果转化", "--json", "--doc", "model-transfer-regulation", *_corpus_args(index_dir))

    assert result.returncode == 0, result.stderr
    passages = json.loads(result.stdout)["passages"]
    assert passages and {p["doc_id"] for p in passages} == {"model-transfer-regulation"}


def _assert_clean_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr


@both_ways
@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_a_one_line_error(cli: Runner, index_dir: Path, question: str) -> None:
    result = cli("ask", question, *_corpus_args(index_dir))

    _assert_clean_error(result)
    assert "empty" in result.stderr


@pytest.mark.parametrize(
    ("cli", "k"),
    [(IN_PROCESS, k) for k in ("0", "51", "-3")]
    + [(SUBPROCESS, "0")]
    + [pytest.param(SUBPROCESS, k, marks=pytest.mark.slow) for k in ("51", "-3")],
    indirect=["cli"],
)
def test_out_of_range_k_is_a_one_line_error(cli: Runner, index_dir: Path, k: str) -> None:
    result = cli("search", "科技成果转化", "--k", k, *_corpus_args(index_dir))

    _assert_clean_error(result)
    assert k in result.stderr


def test_index_extends_with_an_added_file_unless_full(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    args = ["index", "-q", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")]
    assert run_cli_in_process(*args).returncode == 0
    (corpus / "added.md").write_text("# 新增办法\n\n第一条 数据交易场所应当公开交易规则。\n", encoding="utf-8")
    extended = run_cli_in_process(*args)
    assert extended.returncode == 0, extended.stderr
    assert "Extended the index to 3 documents" in extended.stdout
    full = run_cli_in_process(*args, "--full")
    assert re.search(r"^Indexed 3 documents", full.stdout), full.stdout


@both_ways
def test_missing_corpus_folder_is_an_error_without_traceback(cli: Runner, tmp_path: Path) -> None:
    result = cli("index", "-q", "--corpus", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path / "idx"))

    _assert_clean_error(result)
    assert "nowhere" in result.stderr


@pytest.mark.parametrize("cli", [IN_PROCESS, SUBPROCESS], indirect=True)  # both in the fast run
def test_version(cli: Runner) -> None:
    result = cli("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"policyqa {__version__}"
