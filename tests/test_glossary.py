"""Glossary: English phrases of the field name their Chinese terms for the lexical index."""

from __future__ import annotations

import pytest
from conftest import PAPER

from policyqa.glossary import chinese_terms, load_glossary, phrases_with_terms


def test_glossary_loads_from_package_data() -> None:
    entries = load_glossary()

    assert len(entries) > 20
    assert all(entry.english and entry.chinese for entry in entries)
    assert all(phrase == phrase.lower().strip() for entry in entries for phrase in entry.english)


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("What policy fits a technology in the trough of disillusionment?", "泡沫破裂低谷期"),
        ("How does TECHNOLOGY TRANSFER work?", "科技成果转化"),
        ("Which stage follows the hype cycle peak?", "技术成熟度曲线"),
        # Terms of art of the law whose dictionary senses are others ("authority": 当局, 权威).
        ("Which department is the competent authority for the industry?", "主管部门"),
        ("How long is the probation of newly hired civil servants?", "公务员"),
        ("Who pays the stamp tax on securities transactions?", "证券"),
        ("Which body was in charge of product quality supervision nationwide?", "主管"),
        ("How long must a draft regulation be open for public comment?", "征求意见"),
    ],
)
def test_english_phrase_names_its_chinese_term(question: str, term: str) -> None:
    assert term in chinese_terms(question)


def test_phrases_match_whole_words_only() -> None:
    assert "期望膨胀期" not in chinese_terms("That is hyperbole.")
    assert "期望膨胀期" in chinese_terms("Is this just hype?")


def test_question_without_glossary_phrase_gives_nothing() -> None:
    assert chinese_terms("What will the weather be tomorrow?") == []
    assert chinese_terms("") == []


def test_terms_are_not_repeated() -> None:
    terms = chinese_terms("trough of disillusionment, the trough, disillusionment")

    assert terms.count("泡沫破裂低谷期") == 1
    assert len(terms) == len(set(terms))


def test_stage_terms_occur_in_the_paper() -> None:
    text = PAPER.read_text(encoding="utf-8")

    for question in ("trough of disillusionment", "peak of inflated expectations", "plateau of productivity"):
        assert all(term in text for term in chinese_terms(question)), question


def test_a_short_alternative_matches_whole_words_only() -> None:
    # "AI" is one of "artificial intelligence"'s alternatives; "Shanghai" ends in the same letters.
    assert "人工智能" in chinese_terms("How do the rules treat AI?")
    assert "人工智能" not in chinese_terms("What is Shanghai's minimum wage?")


def test_a_term_of_the_ise_family_is_found_in_any_of_its_forms_and_spellings() -> None:
    for said in ("commercialising", "commercializing", "commercialised", "commercializations"):
        assert "科技成果转化" in chinese_terms(f"What was the rate of {said} research results?"), said
    # The form the question uses is the phrase it gives back.
    assert ("commercialised", ("科技成果转化",)) in phrases_with_terms("How were the results commercialised?")
    # Another word that merely begins alike is no form of the term; a word that merely ends in -ise
    # ("enterprise") is no verb's, and keeps its number.
    assert "科技成果转化" not in chinese_terms("What did the commercial bank report?")
    assert "主体地位" not in chinese_terms("Why are enterprises as the main body of innovation weak?")
