"""The learned query map: English questions ranked by a vector moved towards their answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import built_corpus

from policyqa.assistant import Assistant
from policyqa.embed import Encoder
from policyqa.errors import ConfigError
from policyqa.query_map import QueryMap, query_map_for, read_query_map, write_query_map
from policyqa.settings import DEFAULT_ENCODER, Settings


def test_the_packaged_map_is_the_default_encoders(use_encoder: Encoder) -> None:
    query_map = query_map_for(DEFAULT_ENCODER, use_encoder.dimension)
    assert query_map is not None
    assert set(query_map.deltas) == {"en", "zh"}
    for delta in query_map.deltas.values():
        assert delta.shape == (use_encoder.dimension, use_encoder.dimension)
    # A map learned in one encoder's space means nothing in another's.
    assert query_map_for("e5-small-q4", 384) is None
    assert query_map_for(DEFAULT_ENCODER, 384) is None


def test_the_ranking_vector_moves_the_weight_asked_and_stays_normalised(use_encoder: Encoder) -> None:
    query_map = query_map_for(DEFAULT_ENCODER, use_encoder.dimension)
    assert query_map is not None
    vector = use_encoder.encode_query("How long does a trademark registration stay valid?")
    unmoved = query_map.ranking_vector(vector, "en", 0.0)
    assert unmoved is not None
    np.testing.assert_allclose(unmoved, vector, atol=1e-6)
    half, whole = query_map.ranking_vector(vector, "en", 0.5), query_map.ranking_vector(vector, "en", 1.0)
    assert half is not None and whole is not None
    for moved in (half, whole):
        assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-5)
    # Half way lies between the question's own vector and the mapped one.
    assert float(whole @ vector) < float(half @ vector) < 1.0 - 1e-4


def _npz(**arrays: np.ndarray) -> io.BytesIO:
    stream = io.BytesIO()
    np.savez(stream, **arrays)  # type: ignore[arg-type]
    stream.seek(0)
    return stream


@pytest.mark.parametrize(
    "stream",
    [
        io.BytesIO(b"not an archive"),
        _npz(delta=np.zeros((4, 4), dtype=np.float32)),
        _npz(encoder=np.array("use-multilingual-v3"), delta_en=np.zeros((4, 3), dtype=np.float32)),
        _npz(encoder=np.array("use-multilingual-v3"), delta_en=np.full((2, 2), np.nan, dtype=np.float32)),
        _npz(
            encoder=np.array("use-multilingual-v3"),
            delta_en=np.zeros((2, 2), dtype=np.float32),
            delta_zh=np.zeros((3, 3), dtype=np.float32),
        ),
        _npz(encoder=np.array(["a", "b"]), delta_en=np.zeros((2, 2), dtype=np.float32)),
        # An array of objects could only be read by unpickling it: refused.
        _npz(encoder=np.array("use-multilingual-v3"), delta_en=np.array([[object()]], dtype=object)),
    ],
)
def test_a_malformed_map_file_is_refused_with_a_clear_error(stream: io.BytesIO) -> None:
    with pytest.raises(ValueError, match="query map"):
        read_query_map(stream)


def test_a_map_written_is_read_back(tmp_path: Path) -> None:
    delta = np.arange(9, dtype=np.float32).reshape(3, 3) / 10
    write_query_map(tmp_path / "map.npz", QueryMap("some-encoder", {"en": delta}))
    read = read_query_map(tmp_path / "map.npz")
    assert read.encoder_id == "some-encoder"
    assert set(read.deltas) == {"en"}
    np.testing.assert_array_equal(read.deltas["en"], delta)
    # A language the map has not learnt is ranked by the question's own vector.
    assert read.ranking_vector(np.ones(3, dtype=np.float32) / np.sqrt(3), "zh", 0.5) is None


def test_each_language_has_its_ranking_vector_and_a_weight_of_zero_turns_them_off(mini_assistant: Assistant) -> None:
    for question in ("What policy fits a technology in the trough of disillusionment?", "泡沫破裂低谷期适合什么政策？"):
        query = mini_assistant.prepare(question)
        assert query.ranking_vector is not None
        assert not np.allclose(query.ranking_vector, query.vector)
        off = Assistant(
            mini_assistant.settings.replace(query_map_weight=0.0), encoder=mini_assistant.encoder, auto_build=False
        )
        assert off.prepare(question).ranking_vector is None


def test_the_map_ranks_but_the_relevance_floor_reads_the_questions_own_vector(mini_assistant: Assistant) -> None:
    question = "How are research results turned into products, and who benefits?"
    off = Assistant(
        mini_assistant.settings.replace(query_map_weight=0.0), encoder=mini_assistant.encoder, auto_build=False
    )
    mapped = {p.chunk_id: p.dense_score for p in mini_assistant.search(question, k=10).passages}
    unmapped = {p.chunk_id: p.dense_score for p in off.search(question, k=10).passages}
    shared = mapped.keys() & unmapped.keys()
    assert shared
    for chunk_id in shared:
        assert mapped[chunk_id] == pytest.approx(unmapped[chunk_id], abs=1e-6)


def test_the_settings_refuse_a_weight_outside_zero_to_one() -> None:
    with pytest.raises(ConfigError, match="query_map_weight"):
        Settings(query_map_weight=1.5)


LAWS = {
    "trademarks": (
        "# 商标管理条例\n\n第一条 为了加强商标管理，制定本条例。\n\n"
        "第二条 注册商标的有效期为十年，自核准注册之日起计算。\n\n"
        "第三条 注册商标有效期满，需要继续使用的，应当在期满前十二个月内申请续展注册。\n\n"
        "第四条 商标局应当对申请注册的商标进行审查。"
    ),
    "parking": (
        "# 停车场管理办法\n\n第一条 为了规范停车场管理，制定本办法。\n\n"
        "第二条 停车场经营者应当公示收费标准。\n\n"
        "第三条 在禁止停车的路段停车的，处二百元罚款。\n\n"
        "第四条 停车场应当设置消防设施。"
    ),
}
TRAINING = [
    {"lang": "en", "question": "How long is a registered trademark valid?", "evidence": ["注册商标的有效期为十年"]},
    {
        "lang": "en",
        "question": "When must the owner apply to renew a trademark?",
        "evidence": ["期满前十二个月内申请续展注册"],
    },
    {"lang": "en", "question": "What is the fine for parking where it is forbidden?", "evidence": ["处二百元罚款"]},
    {
        "lang": "en",
        "question": "What must a car park operator make public?",
        "evidence": ["停车场经营者应当公示收费标准"],
    },
]


@pytest.mark.slow
def test_training_is_deterministic_and_ranks_the_answers_higher(tmp_path: Path, use_encoder: Encoder) -> None:
    pytest.importorskip("torch")
    from policyqa_tools import train_query_map

    settings = built_corpus(tmp_path, use_encoder, LAWS)
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in TRAINING), encoding="utf-8")
    no_gold = tmp_path / "gold"
    no_gold.mkdir()
    common = ["--questions", str(questions), "--gold", str(no_gold), "--index-dir", str(settings.index_dir)]
    common += [arg for corpus in settings.corpus_dirs for arg in ("--corpus", str(corpus))]
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    assert train_query_map.main([*common, "--out", str(first)]) == 0
    assert train_query_map.main([*common, "--out", str(second)]) == 0
    learned = read_query_map(first)
    assert learned.encoder_id == DEFAULT_ENCODER
    assert set(learned.deltas) == {"en"}  # no Chinese training question, no Chinese map
    np.testing.assert_array_equal(learned.deltas["en"], read_query_map(second).deltas["en"])
    # On its own questions the map ranks each answer above the passages it was told apart from.
    assistant = Assistant(settings.replace(query_map_weight=0.0), encoder=use_encoder, auto_build=False)
    pairs = train_query_map.pairs(assistant, train_query_map.training_questions(questions, no_gold))
    assert len(pairs) == len(TRAINING)

    def answer_margin(delta: np.ndarray) -> float:
        margins = []
        for pair in pairs:
            mapped = pair.vector + pair.vector @ delta
            scores = pair.passages @ (mapped / np.linalg.norm(mapped))
            margins.append(float(scores[: pair.positives].max() - scores[pair.positives :].max()))
        return float(np.mean(margins))

    assert answer_margin(learned.deltas["en"]) > answer_margin(np.zeros_like(learned.deltas["en"]))
