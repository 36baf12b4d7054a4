"""Document names in questions (《劳动合同法》, "the Food Safety Law") and the documents they lift."""

from __future__ import annotations

import numpy as np
import pytest

from policyqa import Assistant
from policyqa.named import document_names


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
