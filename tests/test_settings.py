"""Settings: one frozen object, read from the environment in one place, validated on construction."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from policyqa.errors import ConfigError
from policyqa.settings import DEFAULT_CORPUS_DIR, DEFAULT_ENCODER, DEFAULT_TOP_K, Settings, check_top_k


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.corpus_dirs == (DEFAULT_CORPUS_DIR,)
    assert settings.encoder == DEFAULT_ENCODER
    assert settings.top_k == DEFAULT_TOP_K


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().top_k = 3  # type: ignore[misc]


def test_corpus_dirs_are_split_on_pathsep() -> None:
    settings = Settings.from_env({"POLICYQA_CORPUS_DIRS": os.pathsep.join(["corpus", "/srv/laws", ""])})

    assert settings.corpus_dirs == (Path("corpus"), Path("/srv/laws"))


def test_extra_corpus_dirs_add_to_the_default() -> None:
    settings = Settings.from_env({"POLICYQA_EXTRA_CORPUS_DIRS": f"../shared/policy-texts{os.pathsep}/srv/more"})

    assert settings.corpus_dirs == (DEFAULT_CORPUS_DIR, Path("../shared/policy-texts"), Path("/srv/more"))


def test_extra_corpus_dirs_add_to_configured_dirs() -> None:
    settings = Settings.from_env({"POLICYQA_CORPUS_DIRS": "/a", "POLICYQA_EXTRA_CORPUS_DIRS": "/b"})

    assert settings.corpus_dirs == (Path("/a"), Path("/b"))


def test_numbers_and_strings_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "POLICYQA_INDEX_DIR": "/var/policyqa",
            "POLICYQA_ENCODER": "e5-small-q4",
            "POLICYQA_CHUNK_CHARS": "200",
            "POLICYQA_TOP_K": "7",
            "POLICYQA_LEXICAL_WEIGHT": "0.4",
            "POLICYQA_TOP_K_UNRELATED": "ignored",
            "POLICYQA_CANDIDATES": "",  # empty means unset
        }
    )

    assert settings.index_dir == Path("/var/policyqa")
    assert settings.encoder == "e5-small-q4"
    assert settings.chunk_chars == 200
    assert settings.top_k == 7
    assert settings.lexical_weight == pytest.approx(0.4)
    assert settings.candidates == Settings().candidates


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", False), ("false", False), ("OFF", False), ("1", True), ("yes", True)]
)
def test_use_glossary_flag(raw: str, expected: bool) -> None:
    assert Settings.from_env({"POLICYQA_USE_GLOSSARY": raw}).use_glossary is expected


@pytest.mark.parametrize(("raw", "expected"), [("0", False), ("off", False), ("1", True), ("true", True)])
def test_structured_query_flag(raw: str, expected: bool) -> None:
    assert Settings.from_env({"POLICYQA_STRUCTURED_QUERY": raw}).structured_query is expected
    assert Settings().structured_query is True


@pytest.mark.parametrize("senses", [0, 6])
def test_dictionary_senses_out_of_range_is_a_config_error(senses: int) -> None:
    with pytest.raises(ConfigError, match="dictionary_senses must be between 1 and 5"):
        Settings(dictionary_senses=senses)
    assert Settings.from_env({"POLICYQA_DICTIONARY_SENSES": "3"}).dictionary_senses == 3


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("POLICYQA_CHUNK_CHARS", "many"), ("POLICYQA_TOP_K", "3.5"), ("POLICYQA_LEXICAL_WEIGHT", "heavy")],
)
def test_unparsable_value_is_a_config_error_naming_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({variable: raw})

    assert variable in str(excinfo.value)
    assert repr(raw) in str(excinfo.value)


def test_keyword_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"POLICYQA_TOP_K": "7", "POLICYQA_INDEX_DIR": "/env"}, top_k=3, index_dir=None)

    assert settings.top_k == 3
    assert settings.index_dir == Path("/env"), "an override of None leaves the environment's value"


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYQA_TOP_K", "9")

    assert Settings.from_env().top_k == 9


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"chunk_chars": 12}, "12"),
        ({"chunk_overlap_sentences": 7}, "7"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 51}, "51"),
        ({"top_k": 10, "candidates": 4}, "candidates"),
        ({"lexical_weight": 1.5}, "1.5"),
        ({"retrieval": "telepathy"}, "'telepathy'"),
        ({"passage_context": "everything"}, "'everything'"),
        ({"answer_sentences": 0}, "answer_sentences"),
        ({"corpus_dirs": ()}, "corpus_dirs"),
    ],
)
def test_invalid_value_is_a_config_error_naming_it(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings(**changes)  # type: ignore[arg-type]

    assert named in str(excinfo.value)


def test_invalid_value_from_environment_is_rejected() -> None:
    with pytest.raises(ConfigError, match="0"):
        Settings.from_env({"POLICYQA_TOP_K": "0"})


@pytest.mark.parametrize("top_k", [True, 2.0, "3", None])
def test_top_k_must_be_a_whole_number(top_k: object) -> None:
    with pytest.raises(ConfigError, match="whole number"):
        check_top_k(top_k)  # type: ignore[arg-type]


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Settings(chunk_chars=1)


def test_paths_are_normalised_to_path_objects() -> None:
    settings = Settings(corpus_dirs=["a", "b"], index_dir="idx")  # type: ignore[arg-type]

    assert settings.corpus_dirs == (Path("a"), Path("b"))
    assert settings.index_dir == Path("idx")


def test_replace_validates_and_copies() -> None:
    base = Settings()

    assert base.replace(top_k=3).top_k == 3
    assert base.top_k == DEFAULT_TOP_K
    with pytest.raises(ConfigError):
        base.replace(top_k=0)


def test_index_fingerprint_depends_on_what_shapes_the_index(tmp_path: Path) -> None:
    base = Settings(corpus_dirs=(tmp_path,))

    assert base.index_fingerprint() == Settings(corpus_dirs=(tmp_path,)).index_fingerprint()
    assert base.index_fingerprint() == base.replace(top_k=9, lexical_weight=0.5).index_fingerprint()
    others = {
        base.replace(encoder="e5-small-q4").index_fingerprint(),
        base.replace(chunk_chars=200).index_fingerprint(),
        base.replace(chunk_overlap_sentences=0).index_fingerprint(),
        base.replace(passage_context="none").index_fingerprint(),
        base.replace(corpus_dirs=(tmp_path, tmp_path / "more")).index_fingerprint(),
    }
    assert base.index_fingerprint() not in others and len(others) == 5
    assert "/" not in Settings(encoder="st:/models/minilm").index_fingerprint()


def test_to_dict_is_json_friendly() -> None:
    data = Settings(corpus_dirs=(Path("a"),), index_dir=Path("i")).to_dict()

    assert data["corpus_dirs"] == ["a"]
    assert data["index_dir"] == "i"
