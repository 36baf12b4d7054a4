"""Load stage: discovery, decoding, metadata, and skipping bad files without stopping."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from conftest import MINI_DIR, MINI_LAW, MINI_PAPER

from policyqa.documents import MAX_FILE_BYTES, decode_bytes, list_corpus_files, load_corpus, load_document
from policyqa.errors import CorpusError

GOOD_TEXT = "一、总则\n\n科技成果转化应当遵循市场规律。\n"


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_mini_corpus_loads_txt_and_md_and_ignores_readme() -> None:
    documents, skipped = load_corpus([MINI_DIR])

    assert skipped == []
    assert sorted(d.doc_id for d in documents) == ["model-transfer-regulation", "tech-maturity-policy"]
    assert all(Path(d.path).name != "README.md" for d in documents)


def test_discovery_finds_text_pdf_docx_html_and_skips_hidden_paths(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", GOOD_TEXT)
    _write(tmp_path, "nested/b.md", "# 标题\n\n正文。\n")
    _write(tmp_path, "c.pdf", b"%PDF-1.4")
    _write(tmp_path, "a.meta.json", "{}")
    _write(tmp_path, "notes.rst", "text")
    _write(tmp_path, ".hidden.txt", GOOD_TEXT)
    _write(tmp_path, ".ipynb_checkpoints/a-checkpoint.txt", GOOD_TEXT)
    _write(tmp_path, ".github/PULL_REQUEST_TEMPLATE.md", "# Template\n")

    names = [p.relative_to(tmp_path).as_posix() for p in list_corpus_files([tmp_path])]

    assert names == ["a.txt", "c.pdf", "nested/b.md"]


@pytest.mark.parametrize("name", ["README.md", "SOURCES.md", "readme.md", "_index.md"])
def test_folder_documentation_is_not_corpus(tmp_path: Path, name: str) -> None:
    _write(tmp_path, "law.md", "# 某法\n\n第一条 正文。\n")
    _write(tmp_path, name, "# About this folder\n\nWhere the texts come from.\n")

    documents, skipped = load_corpus([tmp_path])

    assert [d.doc_id for d in documents] == ["law"]
    assert skipped == []


def test_sidecar_gives_title_and_metadata() -> None:
    doc = load_document(MINI_PAPER)

    assert doc.title == "技术成熟度视角下的区域创新政策设计"
    assert doc.metadata["authors"] == ["张明", "李华"]
    assert doc.kind == "paper"
    assert doc.sha256 == hashlib.sha256(MINI_PAPER.read_bytes()).hexdigest()


def test_markdown_title_is_first_heading() -> None:
    doc = load_document(MINI_LAW)

    assert doc.title == "示范市科技成果转化促进条例"
    assert doc.is_markdown
    # Without a sidecar, the metadata is what the text states (metadata.infer_metadata).
    assert doc.kind == doc.metadata["kind"] == "local_regulation"


def test_title_falls_back_to_first_line_without_sidecar(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.txt", "\n\n  关于促进技术转移的若干意见  \n\n正文。\n")

    assert load_document(path).title == "关于促进技术转移的若干意见"


def test_broken_sidecar_is_ignored_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "doc.txt", GOOD_TEXT)
    _write(tmp_path, "doc.meta.json", "{not json")

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        doc = load_document(path)

    assert doc.title == "doc"  # its first line is a heading (一、总则), so the file name
    assert "title" not in doc.metadata and "authors" not in doc.metadata  # nothing from the broken sidecar
    assert "doc.meta.json" in caplog.text


def test_gb18030_file_decodes(tmp_path: Path) -> None:
    text = "第一条 国家鼓励科技成果转化。\n第二条 本法所称科技成果，是指具有实用价值的成果。\n"
    path = _write(tmp_path, "gbk-law.txt", text.encode("gb18030"))

    doc = load_document(path)

    assert doc.encoding == "gb18030"
    assert doc.text == text


def test_utf8_bom_and_crlf_are_normalised(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.txt", "\ufeff标题\r\n\r\n正文。\r\n".encode())

    doc = load_document(path)

    assert doc.encoding == "utf-8"
    assert doc.text == "标题\n\n正文。\n"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n\t\n", "whitespace"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("controls.txt", bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 16]) * 20, "binary"),
        ("garbled.txt", b"\xff\xfe\xfd\xfc" * 10, "neither UTF-8 nor GB18030"),
    ],
)
def test_unusable_file_is_skipped_with_warning_while_others_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, data: bytes, reason: str
) -> None:
    _write(tmp_path, "good.txt", GOOD_TEXT)
    bad = _write(tmp_path, name, data)

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        documents, skipped = load_corpus([tmp_path])

    assert [d.doc_id for d in documents] == ["good"]
    assert [s.path for s in skipped] == [str(bad)]
    assert reason in skipped[0].reason
    assert name in caplog.text


def _folder_named_like_a_file(path: Path) -> None:
    path.mkdir()


def _broken_link(path: Path) -> None:
    path.symlink_to(path.with_name("gone.md"))


def _link_to_a_device(path: Path) -> None:
    path.symlink_to("/dev/null")


def _huge_file(path: Path) -> None:
    with path.open("wb") as handle:  # sparse: over the limit without writing it
        handle.truncate(MAX_FILE_BYTES + 1)


# Tests run as root, which reads a chmod 000 file anyway: these are the unreadable entries root meets.
@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("notes.md", _folder_named_like_a_file, "a folder, not a file"),
        ("moved.md", _broken_link, "a broken symbolic link"),
        ("device.txt", _link_to_a_device, "not a regular file"),
        ("huge.txt", _huge_file, f"exceeds the {MAX_FILE_BYTES:,}-byte limit"),
    ],
)
def test_unreadable_or_oversized_entry_is_skipped_by_name_while_others_load(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    make,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    _write(tmp_path, "good.txt", GOOD_TEXT)
    make(tmp_path / name)

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        documents, skipped = load_corpus([tmp_path])

    assert [d.doc_id for d in documents] == ["good"]
    [entry] = skipped
    assert entry.path == str(tmp_path / name) and reason in entry.reason
    assert any(f"{name}: skipped (" in line and reason in line for line in caplog.text.splitlines())


def test_decode_bytes_rejects_nul_bytes() -> None:
    with pytest.raises(ValueError, match="binary"):
        decode_bytes(b"abc\x00def")


def test_decode_bytes_rejects_many_control_characters_but_keeps_breaks_tabs_and_a_few_strays() -> None:
    with pytest.raises(ValueError, match="control characters"):
        decode_bytes(("第一条" + "\x01\x02\x1b" * 10).encode("utf-8"))

    text = "第一条\t规定。\r\n第二条\f办法。\x07\x0b" + "正文。" * 100
    assert decode_bytes(text.encode("utf-8")) == (text.replace("\r\n", "\n"), "utf-8")


def test_same_document_id_twice_keeps_the_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, "a/policy.txt", GOOD_TEXT)
    _write(tmp_path, "b/policy.md", "# 另一个\n\n正文。\n")

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        documents, skipped = load_corpus([tmp_path])

    assert [d.path for d in documents] == [str(tmp_path / "a/policy.txt")]
    assert skipped[0].path == str(tmp_path / "b/policy.md")
    assert "same document id" in skipped[0].reason


def test_hidden_characters_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "zw.txt", "正文\u200b含有零宽字符。\n")

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        doc = load_document(path)

    assert "\u200b" in doc.text  # indexed as it is, but not silently
    assert "zw.txt" in caplog.text and "hidden" in caplog.text


def test_corpus_of_only_unusable_files_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "empty.txt", b"")
    _write(tmp_path, "binary.txt", b"\x00\x01\x02")

    with pytest.raises(CorpusError, match="No readable"):
        load_corpus([tmp_path])


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError):
        load_corpus([tmp_path])


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-corpus"

    with pytest.raises(CorpusError, match="no-such-corpus"):
        load_corpus([missing])


def test_several_folders_are_loaded_together(tmp_path: Path) -> None:
    _write(tmp_path / "extra", "extra-policy.md", "# 补充政策\n\n第一条 正文。\n")

    documents, _ = load_corpus([MINI_DIR, tmp_path / "extra"])

    assert {d.doc_id for d in documents} == {"model-transfer-regulation", "tech-maturity-policy", "extra-policy"}


def test_sidecar_kind_overrides_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path, "law.txt", "第一条 正文。\n")
    _write(tmp_path, "law.meta.json", json.dumps({"kind": "law", "title": "某条例"}, ensure_ascii=False))

    doc = load_document(path)

    assert doc.kind == "law"
    assert doc.title == "某条例"


def test_the_same_content_in_two_folders_is_indexed_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "patent-law.md").write_bytes(MINI_LAW.read_bytes())
    (second / "专利法(2020-10-17).md").write_bytes(MINI_LAW.read_bytes())

    documents, skipped = load_corpus([first, second])

    assert [d.doc_id for d in documents] == ["patent-law"]
    assert [s.path for s in skipped] == [str(second / "专利法(2020-10-17).md")]
    assert "same content as" in skipped[0].reason and "patent-law.md" in skipped[0].reason
