"""Shared fixtures: the mini corpus, the real default encoder, real indexes and a fake encoder.

The real encoder and the real index of the mini corpus are built once per session;
tests that change an index or a corpus work on copies under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings

from policyqa.assistant import Assistant
from policyqa.embed import Encoder, get_encoder
from policyqa.index import build_index
from policyqa.index.manifest import sha256_file
from policyqa.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
MINI_DIR = DATA_DIR / "mini"
MINI_PAPER = MINI_DIR / "tech-maturity-policy.txt"
MINI_LAW = MINI_DIR / "model-transfer-regulation.md"
PAPER = REPO_ROOT / "corpus" / "bai2026-sci-tech-industry-integration.txt"
# The law texts stay in the shared folder beside the repository; they are never copied into it.
POLICY_TEXTS = REPO_ROOT.parent / "shared" / "policy-texts"
# The real library, as a tarball there too; tests read it from the tarball or unpack it into a temporary folder.
LIBRARY = REPO_ROOT.parent / "shared" / "library"
# CI sets CI=true (GitHub Actions, GitLab, most others); there a quality gate must never skip.
CI_VALUES = {"true", "1", "yes"}

# Hypothesis: `make test-fast` sets HYPOTHESIS_PROFILE=fast, which caps the property tests' examples
# for the edit-test loop; `make test` (and CI) leaves it unset: each test's own max_examples hold.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "")
FAST_HYPOTHESIS_EXAMPLES = 15
hypothesis_settings.register_profile("fast", max_examples=FAST_HYPOTHESIS_EXAMPLES)
if HYPOTHESIS_PROFILE:
    hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def hypothesis_examples(full: int) -> int:
    """A property test's ``max_examples``: ``full``, or at most ``FAST_HYPOTHESIS_EXAMPLES`` in the fast run."""
    return min(full, FAST_HYPOTHESIS_EXAMPLES) if HYPOTHESIS_PROFILE == "fast" else full


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def require_policy_texts() -> Path:
    """The shared law texts folder for a quality gate; without it, fail under CI and skip locally.

    Call it at the start of a test or fixture, or mark a test ``@needs_policy_texts``.
    """
    if POLICY_TEXTS.is_dir():
        return POLICY_TEXTS
    missing = (
        f"the shared law texts are not at {POLICY_TEXTS} "
        "(../shared/policy-texts beside the repository, which the quality gates need)"
    )
    if running_in_ci():
        pytest.fail(f"CI=true and {missing}: the gate must run in CI, not skip", pytrace=False)
    pytest.skip(missing)


def require_library_tarball() -> Path:
    """The newest library tarball (../shared/library/*.tar.xz); without it, fail under CI and skip locally."""
    tarballs = sorted(LIBRARY.glob("*.tar.xz"))
    if tarballs:
        return tarballs[-1]
    missing = f"the library tarball is not at {LIBRARY}/*.tar.xz (../shared/library beside the repository)"
    if running_in_ci():
        pytest.fail(f"CI=true and {missing}: the gate must run in CI, not skip", pytrace=False)
    pytest.skip(missing)


@pytest.fixture()
def policy_texts() -> Path:
    """The shared law texts folder (see ``require_policy_texts``)."""
    return require_policy_texts()


needs_policy_texts = pytest.mark.usefixtures("policy_texts")


def built_corpus(
    tmp_path: Path,
    encoder: Encoder,
    files: dict[str, str],
    metadata: dict[str, dict[str, object]] | None = None,
    **settings: object,
) -> Settings:
    """A corpus of ``files`` (name stem -> text) under ``tmp_path``, indexed with ``encoder``; its settings.

    ``metadata`` (name stem -> fields) is written as sidecars, as a law collection's folders give
    kinds and regions.
    """
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for stem, text in files.items():
        (corpus / f"{stem}.txt").write_text(f"{text}\n", encoding="utf-8")
    for stem, fields in (metadata or {}).items():
        (corpus / f"{stem}.meta.json").write_text(json.dumps(fields, ensure_ascii=False), encoding="utf-8")
    built = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index", **settings)  # type: ignore[arg-type]
    build_index(built, encoder)
    return built


def built_assistant(
    tmp_path: Path, encoder: Encoder, files: dict[str, str], metadata: dict[str, dict[str, object]] | None = None
) -> Assistant:
    """An assistant over a corpus of ``files`` (``built_corpus``, with ``metadata`` sidecars), with ``encoder``."""
    return Assistant(built_corpus(tmp_path, encoder, files, metadata), encoder=encoder, auto_build=False)


def local_regulation(title: str, council: str, articles: str) -> str:
    """A local regulation's text as the library writes it: its title, the line saying which people's
    congress adopted it (the kind and region are read from it), and its ``articles``."""
    return f"# {title}\n\n（2019年1月14日{council}人民代表大会常务委员会第十次会议通过）\n\n{articles}"


def squash(text: str) -> str:
    """The text without any whitespace: how passages are compared with their source."""
    return "".join(ch for ch in text if not ch.isspace())


class FakeEncoder(Encoder):
    """A deterministic fake encoder for plumbing tests only: it knows no meaning.

    Character bigrams are hashed (CRC-32, stable across processes) into 64 signed
    dimensions, so equal texts get equal vectors and texts sharing bigrams are
    similar. Use it where a test checks caching, manifests or atomic builds, never
    where retrieval quality matters (use the session's ``use_encoder`` there).
    """

    encoder_id = "fake-bigrams-64"
    dimension = 64

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = [text[i : i + 2] for i in range(len(text) - 1)] or [text]
            for gram in grams:
                h = zlib.crc32(gram.encode("utf-8"))
                out[row, h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        return out


class CountingEncoder(Encoder):
    """Wraps an encoder and records every batch it is asked to embed."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.encoder_id = inner.encoder_id
        self.dimension = inner.dimension
        self.batches: list[list[str]] = []

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def texts_encoded(self) -> int:
        return sum(len(b) for b in self.batches)

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner._encode(texts, is_query=is_query)


@dataclass(frozen=True)
class BuiltIndex:
    """An index built for a test: its settings, the encoder that built it and the build folder."""

    settings: Settings
    encoder: Encoder
    folder: Path


@pytest.fixture(scope="session")
def use_encoder() -> Encoder:
    """The real default encoder (multilingual USE v3), loaded once per session."""
    return get_encoder("use-multilingual-v3")


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def mini_index(tmp_path_factory: pytest.TempPathFactory, use_encoder: Encoder) -> BuiltIndex:
    """A real index (real encoder, real FAISS, real BM25) of the mini corpus, built once.

    Read-only for the tests: copy ``settings.index_dir`` before changing anything.
    """
    index_dir = tmp_path_factory.mktemp("mini-index")
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=index_dir)
    folder, skipped = build_index(settings, use_encoder)
    assert skipped == []
    return BuiltIndex(settings, use_encoder, folder)


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, target)
    return target


@pytest.fixture()
def fake_settings(tmp_path: Path, corpus_copy: Path) -> Settings:
    """Settings over a writable copy of the mini corpus with an empty index folder."""
    return Settings(corpus_dirs=(corpus_copy,), index_dir=tmp_path / "index", encoder=FakeEncoder.encoder_id)


@pytest.fixture(scope="session")
def mini_assistant(mini_index: BuiltIndex) -> Assistant:
    """An Assistant over the mini corpus's real index (never rebuilds it)."""
    return Assistant(mini_index.settings, encoder=mini_index.encoder, auto_build=False)


def count_hashes(monkeypatch: pytest.MonkeyPatch, module: object) -> list[Path]:
    """Every file ``module`` hashes from now on, in order (the real hash still runs)."""
    seen: list[Path] = []

    def counting(path: Path) -> str:
        seen.append(path)
        return sha256_file(path)

    monkeypatch.setattr(module, "sha256_file", counting)
    return seen
