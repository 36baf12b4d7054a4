"""The Milvus store on milvus-lite (real, embedded) beside the default FAISS store, on the mini corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import BuiltIndex

from policyqa import Assistant
from policyqa.errors import ConfigError, StoreError
from policyqa.lexical import tokenize
from policyqa.settings import Settings
from policyqa.stores import CandidateStore, LocalStore, open_store
from policyqa.types import SearchFilter

pytest.importorskip("pymilvus", reason="pip install 'policyqa[milvus]'")
from policyqa.stores.milvus import MilvusStore, filter_expression, parse_store  # noqa: E402

QUESTIONS = ["技术萌芽阶段政府应当如何支持基础研究？", "转化收入中奖励科研人员的比例不低于多少？"]


@pytest.fixture(scope="module")
def lite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("milvus") / "policyqa.db"


@pytest.fixture(scope="module")
def assistants(mini_index: BuiltIndex, lite_path: Path) -> dict[str, Assistant]:
    faiss = Assistant(mini_index.settings, encoder=mini_index.encoder, auto_build=False)
    milvus_settings = mini_index.settings.replace(store=f"milvus-lite:{lite_path}")
    milvus = Assistant(milvus_settings, encoder=mini_index.encoder, auto_build=True)
    return {"faiss": faiss, "milvus-lite": milvus}


@pytest.fixture(params=["faiss", "milvus-lite"])
def store(request: pytest.FixtureRequest, assistants: dict[str, Assistant]) -> CandidateStore:
    return assistants[request.param].retriever.store


def test_the_store_setting_picks_the_backend(assistants: dict[str, Assistant]) -> None:
    assert isinstance(assistants["faiss"].retriever.store, LocalStore)
    assert isinstance(assistants["milvus-lite"].retriever.store, MilvusStore)


def test_every_chunk_is_in_the_store(store: CandidateStore, assistants: dict[str, Assistant]) -> None:
    assert store.count() == len(assistants["faiss"].index.chunks)


@pytest.mark.parametrize("question", QUESTIONS)
def test_milvus_finds_the_same_documents_as_faiss(assistants: dict[str, Assistant], question: str) -> None:
    found = {name: [p.chunk_id for p in a.search(question, k=3).passages] for name, a in assistants.items()}
    assert found["milvus-lite"] and found["milvus-lite"][0] == found["faiss"][0]
    docs = {name: {p.doc_id for p in a.search(question, k=5).passages} for name, a in assistants.items()}
    assert docs["milvus-lite"] == docs["faiss"]


def test_bm25_finds_an_exact_chinese_term(store: CandidateStore, assistants: dict[str, Assistant]) -> None:
    index = assistants["faiss"].index
    tokens = tokenize("失败案例库")
    rows, scores = store.lexical(tokens, 1, None)
    assert len(rows) == 1 and scores[0] > 0
    assert "失败案例库" in index.chunks[int(rows[0])].text
    np.testing.assert_allclose(store.lexical_scores(tokens, rows.tolist()), scores, rtol=1e-4)


def test_filters_by_kind_and_year(store: CandidateStore, assistants: dict[str, Assistant]) -> None:
    index = assistants["faiss"].index
    vector = assistants["faiss"].prepare("科技成果转化").vector
    for kind in sorted({d.kind for d in index.documents.values()}):
        rows, _ = store.dense(vector, 10, SearchFilter(kinds=(kind,)))
        assert len(rows) and {index.documents[index.chunks[r].doc_id].kind for r in rows.tolist()} == {kind}
    rows, _ = store.dense(vector, 10, SearchFilter(year_from=1900, year_to=1901))
    assert len(rows) == 0
    years = {d.metadata.get("year") for d in index.documents.values()} - {None}
    for year in years:
        rows, _ = store.dense(vector, 10, SearchFilter(year_from=year, year_to=year))  # type: ignore[arg-type]
        assert {index.documents[index.chunks[r].doc_id].metadata.get("year") for r in rows.tolist()} == {year}


def test_filters_by_region_and_document(store: CandidateStore, assistants: dict[str, Assistant]) -> None:
    index = assistants["faiss"].index
    vector = assistants["faiss"].prepare("科技成果转化").vector
    rows, _ = store.dense(vector, 10, SearchFilter(regions=("不存在的地方",)))
    assert len(rows) == 0
    doc_id = sorted(index.documents)[0]
    rows, _ = store.lexical(["科技"], 10, None, [doc_id])
    assert {index.chunks[r].doc_id for r in rows.tolist()} <= {doc_id}
    rows, _ = store.dense(vector, 10, None, [doc_id])
    assert len(rows) and {index.chunks[r].doc_id for r in rows.tolist()} == {doc_id}


def test_republishing_is_idempotent(assistants: dict[str, Assistant], lite_path: Path) -> None:
    index = assistants["milvus-lite"].index
    store = MilvusStore.connect(f"milvus-lite:{lite_path}")
    assert store.publish(index) is False  # the fixture's load published it already
    store.attach(index)
    assert store.count() == len(index.chunks)


def test_hybrid_search_fuses_dense_and_bm25(assistants: dict[str, Assistant]) -> None:
    store = assistants["milvus-lite"].retriever.store
    assert isinstance(store, MilvusStore)
    query = assistants["milvus-lite"].prepare(QUESTIONS[1])
    for ranker in ("rrf", "weighted"):
        rows, scores = store.hybrid(query.vector, list(query.tokens), 5, ranker=ranker)
        assert len(rows) == 5 and list(scores) == sorted(scores, reverse=True)


def test_an_unpublished_build_without_auto_build_is_a_clear_error(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = mini_index.settings.replace(store=f"milvus-lite:{tmp_path / 'empty.db'}")
    with pytest.raises(StoreError, match="policyqa index"):
        Assistant(settings, encoder=mini_index.encoder, auto_build=False).search("科技成果转化")


def test_bad_store_values_are_clear_errors(mini_index: BuiltIndex) -> None:
    with pytest.raises(ConfigError, match="mongo://x"):
        Settings(store="mongo://x")
    with pytest.raises(ConfigError, match="no valid port"):
        parse_store("milvus://localhost:port")
    with pytest.raises(ConfigError, match="password"):
        parse_store("milvus://user:secret@localhost:19530")
    assert parse_store("milvus://db.example:19531/policy").uri == "http://db.example:19531"
    # Nothing listens on port 1: the error names the server, and comes before any search.
    with pytest.raises(StoreError, match="127.0.0.1:1"):
        open_store("milvus://127.0.0.1:1", Assistant(mini_index.settings, encoder=mini_index.encoder).index)


def test_filter_expressions_quote_strings() -> None:
    expression = filter_expression(SearchFilter(doc_ids=('a"b',), kinds=("law",), year_to=2020), ["c"])
    assert expression == 'doc_id in ["c"] and doc_id in ["a\\"b"] and kind in ["law"] and year > 0 and year <= 2020'


def test_pymilvus_is_imported_only_by_the_milvus_store() -> None:
    from test_architecture import PACKAGE_ROOTS, ImportGraph, in_package

    graph = ImportGraph.of(PACKAGE_ROOTS)
    importers = {found.importer for found in graph.imports if in_package(found.target, "pymilvus")}
    assert importers == {"policyqa.stores.milvus"}


def test_a_document_with_a_long_chinese_name_is_published(tmp_path: Path, mini_index: BuiltIndex) -> None:
    # Library file names are long Chinese titles with a date; each character is three bytes.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = (
        "全国人民代表大会常务委员会关于修改《中华人民共和国农村土地承包经营纠纷调解仲裁法》"
        "等若干部法律的决定之附件说明(2020-12-29)"
    )
    (corpus / f"{name}.md").write_text(f"# {name}\n\n第一条 为正确审理案件，制定本解释。\n", encoding="utf-8")
    settings = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index", store=f"milvus-lite:{tmp_path / 'l.db'}")
    passages = Assistant(settings, encoder=mini_index.encoder).search("审理案件", k=1).passages
    assert passages and passages[0].doc_id == name
