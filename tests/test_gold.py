"""The public gold set is well formed and every evidence string is verbatim in its source."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
from conftest import require_library_tarball, require_policy_texts, squash

from policyqa.errors import ConfigError
from policyqa.evaluate import GoldQuestion, load_gold, run_eval

ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "eval"
POLICY_TEXTS = ROOT.parent / "shared" / "policy-texts"
TYPES = {"fact", "concept", "framework", "case", "bottleneck", "multi", "unanswerable"}
# The library gold set asks about the real library (../shared/library/*.tar.xz, never unpacked
# here); its `doc` is a file's path inside the tarball, " | " between the two of a comparison.
LIBRARY_GOLD_DIR = GOLD_DIR / "library"
DOC_SEPARATOR = " | "
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def _sources() -> dict[str, str]:
    files = sorted((ROOT / "corpus").glob("*.txt")) + sorted(POLICY_TEXTS.glob("*.md"))
    return {f.stem: f.read_text(encoding="utf-8") for f in files if f.name != "SOURCES.md"}


def test_gold_set_loads_with_unique_ids_and_known_types():
    gold = load_gold([GOLD_DIR])
    assert len(gold) >= 100
    assert len({g.id for g in gold}) == len(gold)
    assert {g.type for g in gold} <= TYPES
    assert {g.lang for g in gold} == {"en", "zh"}


def test_gold_set_has_the_promised_mix():
    gold = load_gold([GOLD_DIR])
    paper = [g for g in gold if g.id.startswith("paper-")]
    laws = [g for g in gold if g.id.startswith("law-")]
    assert len(paper) >= 70 and len(laws) >= 30
    assert abs(sum(g.lang == "en" for g in paper) - sum(g.lang == "zh" for g in paper)) <= 2
    assert sum(g.type == "multi" for g in paper) >= 8
    assert sum(g.type == "unanswerable" for g in paper) >= 10
    stages = {
        "萌芽期": "innovation-trigger",
        "期望膨胀期": "inflated expectations",
        "泡沫破裂低谷期": "disillusionment",
        "稳步爬升复苏期": "enlightenment",
        "生产成熟期": "plateau of productivity",
    }
    for chinese, english in stages.items():
        assert any(chinese in g.question + g.answer for g in paper if g.lang == "zh"), chinese
        assert any(english in (g.question + g.answer).lower() for g in paper if g.lang == "en"), english


def test_unanswerable_questions_have_no_evidence_and_answerable_ones_do():
    for g in load_gold([GOLD_DIR, LIBRARY_GOLD_DIR]):
        assert (g.type == "unanswerable") == (not g.evidence), g.id
        if g.type == "unanswerable":
            assert not g.key_points, g.id


def test_every_evidence_string_and_key_point_is_verbatim_in_a_source():
    require_policy_texts()
    sources = _sources()
    for g in load_gold([GOLD_DIR]):
        if not g.evidence:
            continue
        candidates = [sources[g.doc]] if g.type != "multi" and g.doc in sources else list(sources.values())
        for evidence in g.evidence:
            assert any(evidence in text for text in candidates), f"{g.id}: {evidence!r} is not in its source"
        for point in g.key_points:
            assert any(point in text for text in candidates), f"{g.id}: key point {point!r} is not in its source"


def test_gold_files_are_json_lines_in_utf8():
    for path in sorted(GOLD_DIR.glob("*.jsonl")) + sorted(LIBRARY_GOLD_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert isinstance(json.loads(line), dict)


def _library_gold() -> list[GoldQuestion]:
    return load_gold([LIBRARY_GOLD_DIR])


def _docs(g: GoldQuestion) -> list[str]:
    return g.doc.split(DOC_SEPARATOR) if g.doc else []


def test_library_gold_set_has_the_promised_mix():
    gold = _library_gold()
    assert len(gold) >= 48
    assert all(re.fullmatch(r"lib-\d{3}", g.id) for g in gold)
    assert not {g.id for g in gold} & {g.id for g in load_gold([GOLD_DIR])}
    assert {g.type for g in gold} <= TYPES
    english = [g for g in gold if g.lang == "en"]
    assert abs(len(english) - sum(g.lang == "zh" for g in gold)) <= 2
    for g in english:  # natural English, as policy staff ask: no Chinese words in the question
        assert not CJK.search(g.question), g.id
    assert sum(g.type == "unanswerable" for g in gold) >= 10
    multi = [g for g in gold if g.type == "multi"]
    assert len(multi) >= 4 and all(len(set(_docs(g))) == 2 for g in multi)
    docs = {d for g in gold for d in _docs(g)}
    assert sum(d.startswith("DLC/") for d in docs) >= 4, "local regulations of named provinces and cities"
    assert sum(d.startswith("司法解释/") for d in docs) >= 4, "judicial interpretations"
    assert sum(d.startswith("行政法规/") for d in docs) >= 4, "administrative regulations"


@pytest.fixture(scope="module")
def library_texts() -> dict[str, str]:
    """The library documents the gold set names, read straight from the .tar.xz in one pass.

    Without the tarball: a failure under CI, a skip elsewhere.
    """
    tarball = require_library_tarball()
    wanted = {d for g in _library_gold() for d in _docs(g)}
    texts: dict[str, str] = {}
    with tarfile.open(tarball, mode="r:xz") as archive:
        for member in archive:  # streamed: only the named members are read
            name = member.name.removeprefix("./")
            if name in wanted and member.isfile():
                file = archive.extractfile(member)
                assert file is not None
                texts[name] = file.read().decode("utf-8")
    assert not wanted - texts.keys(), f"not in {tarball.name}: {sorted(wanted - texts.keys())}"
    return texts


def test_every_library_evidence_string_and_key_point_is_in_its_document(library_texts):
    for g in _library_gold():
        docs = _docs(g)
        if not g.evidence:
            assert not docs, g.id
            continue
        assert docs, f"{g.id}: an answerable question names its document"
        sources = {d: squash(library_texts[d]) for d in docs}
        for evidence in g.evidence:  # as the evaluation matches: whitespace ignored
            assert any(squash(evidence) in text for text in sources.values()), f"{g.id}: {evidence!r} is not in {g.doc}"
        for d, text in sources.items():
            assert any(squash(e) in text for e in g.evidence), f"{g.id}: no evidence from {d}"
        for point in g.key_points:
            assert any(point in e for e in g.evidence), f"{g.id}: key point {point!r} is not in its evidence"


def test_library_questions_are_about_documents_beyond_the_policy_texts(library_texts):
    require_policy_texts()
    shipped = {_title(f.read_text(encoding="utf-8")) for f in POLICY_TEXTS.glob("*.md") if f.name != "SOURCES.md"}
    shipped |= {_title(f.read_text(encoding="utf-8")) for f in (ROOT / "corpus").glob("*.txt")}
    for name, text in library_texts.items():
        assert _title(text) not in shipped, f"{name} is one of the texts in corpus/ or ../shared/policy-texts"


def _title(text: str) -> str:
    return next((line.lstrip("#").strip() for line in text.splitlines() if line.strip()), "")


def _write_gold(path: Path, *records: dict[str, object]) -> Path:
    base = {"lang": "zh", "key_points": [], "answer": "无法回答。", "type": "unanswerable", "evidence": []}
    path.write_text("\n".join(json.dumps(base | r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"answerable_with": "示范市条例"}, "list of document titles"),
        ({"answerable_with": [""]}, "list of document titles"),
        ({"answerable_with": ["示范市条例"], "evidence": ["第一条"], "type": "fact"}, "for unanswerable questions"),
    ],
)
def test_answerable_with_is_checked_when_loading(tmp_path: Path, record: dict[str, object], message: str) -> None:
    gold = _write_gold(tmp_path / "gold.jsonl", {"id": "q1", "question": "问题？"} | record)
    with pytest.raises(ConfigError, match=message):
        load_gold([gold])


def test_a_question_that_an_indexed_document_answers_is_left_out(mini_assistant, tmp_path: Path) -> None:
    gold = load_gold(
        [
            _write_gold(
                tmp_path / "gold.jsonl",
                {
                    "id": "answered-here",
                    "question": "示范市的奖励比例是多少？",
                    "answerable_with": ["示范市科技成果转化促进条例"],
                },
                {
                    "id": "answered-elsewhere",
                    "question": "邻市的奖励比例是多少？",
                    "answerable_with": ["邻市科技成果转化条例"],
                },
            )
        ]
    )
    report = run_eval(mini_assistant, gold)
    assert report["left_out"] == ["answered-here"]
    assert [q["id"] for q in report["per_question"]] == ["answered-elsewhere"]
    assert report["overall"]["questions"] == 1


def test_documents_that_answer_unanswerable_questions_are_in_the_library() -> None:
    marked = {t for g in load_gold([GOLD_DIR]) for t in g.answerable_with}
    assert marked, "the seven-text gold set names the library documents that answer some of its questions"
    tarball = require_library_tarball()
    with tarfile.open(tarball, mode="r:xz") as archive:
        names = [Path(m.name).stem for m in archive if m.isfile()]
    for title in marked:
        assert any(title in name for name in names), f"{title} is in no file name of {tarball.name}"
