"""Document names in questions (《劳动合同法》, "the Food Safety Law") and the documents they lift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import built_corpus

from policyqa import Assistant
from policyqa.embed import Encoder
from policyqa.named import document_names, kind_endings, title_has_ending


@pytest.mark.parametrize(
    ("question", "names"),
    [
        (
            "Under the Administrative Penalty Law, how long can a violation go undetected?",
            ["Administrative Penalty Law"],
        ),
        (
            "How do the consumer protection law and the Food Safety Law differ on punitive damages?",
            ["Food Safety Law", "consumer protection law"],
        ),
        ("What does Article 120 of the Labour Contract Law say?", ["Labour Contract Law"]),
        ("What does the Law on the Protection of Minors require of schools?", ["Law on the Protection of Minors"]),
        ("《劳动合同法》所称的无固定期限劳动合同是指什么？", ["劳动合同法"]),
        ("What does the relevant law say about it?", []),  # a law in general names none
        ("Which rate applies under these laws?", []),
        ("What steps must the wine go through under the city's protection regulation?", []),
        ("What does the paper recommend?", []),
    ],
)
def test_names_of_documents_are_found_in_both_languages(question: str, names: list[str]) -> None:
    assert document_names(question) == names


def test_a_named_document_is_lifted_and_a_question_naming_none_lifts_nothing(mini_assistant: Assistant) -> None:
    retriever = mini_assistant.retriever
    titles = [mini_assistant.index.documents[d].title for d in retriever._doc_ids]
    named = retriever._named_documents("《示范市科技成果转化促进条例》对奖励比例有什么规定？")
    assert [t for t, n in zip(titles, named, strict=True) if n] == ["示范市科技成果转化促进条例"]
    english = retriever._named_documents(
        "What does the Model City Regulations on Promoting the Transformation of Scientific Achievements say?"
    )
    assert "示范市科技成果转化促进条例" in [t for t, n in zip(titles, english, strict=True) if n]
    assert not np.any(retriever._named_documents("What should the government do in the trough of disillusionment?"))


@pytest.mark.parametrize(
    ("name", "endings", "title", "of_kind"),
    [
        ("Road Traffic Safety Law", ("法",), "中华人民共和国道路交通安全法", True),
        ("Road Traffic Safety Law", ("法",), "聊城市道路交通安全条例", False),
        ("Labour Contract Law", ("法",), "中华人民共和国劳动合同法实施条例", True),  # the rules implementing it
        ("consumer protection law", ("法",), "中华人民共和国刑法（2020年修正）", True),
        ("重庆市志愿服务条例", ("条例",), "重庆市志愿服务条例", True),
        ("Civil Code", (), "", False),  # "Code" names no kind by which titles end
        ("民法典", (), "", False),
    ],
)
def test_a_name_gives_the_kind_of_its_document(name: str, endings: tuple[str, ...], title: str, of_kind: bool) -> None:
    found = kind_endings(name)
    assert bool(found) == bool(endings) and all(e in found for e in endings)
    if title:
        assert title_has_ending(title, found) == of_kind


def test_an_english_law_name_lifts_the_law_not_a_citys_regulation_with_a_nearer_title(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "national": "# 中华人民共和国道路交通安全法\n\n第五十一条 摩托车驾驶人及乘坐人员应当按规定戴安全头盔。",
        "city": "# 聊城市道路交通安全条例\n\n第三十二条 未经登记的三轮车、摩托车，不得在禁止其通行的道路上行驶。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    retriever = assistant.retriever
    titles = [assistant.index.documents[d].title for d in retriever._doc_ids]
    name = "Road Traffic Safety Law"
    similarity = retriever._title_vectors @ use_encoder.encode_documents([name])[0]
    assert titles[int(np.argmax(similarity))] == "聊城市道路交通安全条例"  # the encoder alone prefers the city's
    named = retriever._named_documents(f"What does the {name} require of motorcycle riders?")
    assert [t for t, n in zip(titles, named, strict=True) if n] == ["中华人民共和国道路交通安全法"]


def test_a_name_is_encoded_once_and_alone(mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = mini_assistant.retriever
    encoder = retriever.encoder
    names = ["Model Property Regulation", "Food Safety Law"]
    expected = np.stack([encoder.encode_documents([name])[0] for name in names])
    encoded: list[list[str]] = []
    original = encoder.encode_documents

    def counted(texts: list[str]) -> np.ndarray:
        encoded.append(list(texts))
        return original(texts)

    monkeypatch.setattr(encoder, "encode_documents", counted)
    retriever._name_vector.cache_clear()
    first = retriever._name_vectors(names)
    again = retriever._name_vectors(list(reversed(names)))
    assert encoded == [[names[0]], [names[1]]]  # each alone: its vector does not depend on its company
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected[::-1])
