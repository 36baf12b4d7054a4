"""Learned maps that move a question's vector towards the passages that answer it.

The bundled encoder puts an English question near Chinese text on its subject, but coarsely:
within a law it tells the article asked about from the law's other articles far worse for an
English question than for the same question in Chinese. A linear map, trained on English
questions whose answering passages are known (``python -m policyqa_tools.train_query_map``), pulls
each question's vector towards those passages and away from their documents' other passages
and from the passages the ranking put first (a contrastive loss, the map kept near the identity:
cross-lingual embedding alignment in the manner of Conneau et al., 2018, learned on retrieval
pairs). The mapped vector only ranks: what verification and the relevance floor read is the
question's own vector, so the map moves no question between answered and not covered by itself.

A Chinese question gains too, less: the encoder puts a question and the article that answers it
further apart than two articles of one law. Each language has its own map.

The maps belong to the encoder they were trained with; with any other encoder there are none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np

QUERY_MAP_FILE = "data/query_map.npz"
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class QueryMap:
    """For each language, ``vector + vector @ delta`` normalised: maps kept as their difference from the identity."""

    encoder_id: str
    deltas: dict[str, np.ndarray]

    def ranking_vector(self, vector: np.ndarray, language: str, weight: float) -> np.ndarray | None:
        """The question's vector moved ``weight`` of the way towards its mapped vector, normalised.

        None for a language the map has not learnt.
        """
        delta = self.deltas.get(language)
        if delta is None:
            return None
        mapped = vector + vector @ delta
        mapped = mapped / np.linalg.norm(mapped)
        blended = (1.0 - weight) * vector + weight * mapped
        return (blended / np.linalg.norm(blended)).astype(np.float32)


def read_query_map(source: Path | IO[bytes]) -> QueryMap:
    """A map from its ``.npz`` file (a path or a file object); ``ValueError`` for anything else.

    The file is read without pickle: it holds plain arrays, the encoder's name and one matrix per language.
    """
    try:
        loaded = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"not a query map file: {error}") from error
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("a query map file is an .npz archive of arrays")
    with loaded:
        names = [f"delta_{language}" for language in LANGUAGES if f"delta_{language}" in loaded.files]
        if "encoder" not in loaded.files or not names:
            raise ValueError("a query map file holds the array 'encoder' and one 'delta_<language>' or more")
        try:
            encoder = loaded["encoder"]
            deltas = {name.removeprefix("delta_"): loaded[name] for name in names}
        except ValueError as error:  # an array of objects, which only pickle could read
            raise ValueError(f"not a query map file: {error}") from error
    if encoder.dtype.kind != "U" or encoder.ndim != 0:
        raise ValueError("a query map names its encoder in one string")
    shapes = {delta.shape for delta in deltas.values()}
    for delta in deltas.values():
        if delta.dtype.kind != "f" or delta.ndim != 2 or delta.shape[0] != delta.shape[1] or len(shapes) > 1:
            raise ValueError("a query map is one square matrix of numbers per language, all of one size")
        if not np.isfinite(delta).all():
            raise ValueError("a query map's numbers are finite")
    return QueryMap(str(encoder), {language: delta.astype(np.float32) for language, delta in deltas.items()})


def write_query_map(path: Path, query_map: QueryMap) -> None:
    arrays = {f"delta_{language}": delta.astype(np.float32) for language, delta in query_map.deltas.items()}
    with path.open("wb") as stream:
        np.savez(stream, encoder=np.array(query_map.encoder_id), **arrays)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _packaged() -> QueryMap:
    with resources.files("policyqa").joinpath(QUERY_MAP_FILE).open("rb") as stream:
        return read_query_map(stream)


def query_map_for(encoder_id: str, dimension: int) -> QueryMap | None:
    """The packaged map when it was trained with this encoder for vectors of this size, else None."""
    query_map = _packaged()
    size = next(iter(query_map.deltas.values())).shape[0]
    if query_map.encoder_id != encoder_id or size != dimension:
        return None
    return query_map
